# Thin front door over CMake. `make` builds build/mwscope, `make test` runs
# every test (BPF tests need root), `make demo` profiles the built-in demo
# server, `make bench` prints overhead ratios measured side by side.
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps configure test unit-test bpf-test demo bench clean

all: configure
	cmake --build $(BUILD) -j$(JOBS)

deps:
	@bash scripts/install-deps.sh

configure: deps
	@test -f $(BUILD)/CMakeCache.txt || cmake -S . -B $(BUILD) -G "Unix Makefiles"

test: all
	cd $(BUILD) && ctest --output-on-failure

unit-test: all
	cd $(BUILD) && ctest --output-on-failure -L unit

bpf-test: all
	cd $(BUILD) && ctest --output-on-failure -L bpf

demo: all
	bash scripts/demo.sh $(BUILD)

bench: all
	bash scripts/bench.sh $(BUILD)

clean:
	rm -rf $(BUILD)
