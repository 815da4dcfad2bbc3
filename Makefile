# Thin front door over CMake. `make` builds build/mwscope, `make test` runs
# every test (BPF tests need root), `make demo` profiles the built-in demo
# server, `make bench` prints overhead ratios measured side by side.
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps configure test unit-test sanitized-unit-test bpf-test demo bench soak clean

all: configure
	cmake --build $(BUILD) -j$(JOBS)

deps:
	@bash scripts/install-deps.sh

configure: deps
	@test -f $(BUILD)/CMakeCache.txt || cmake -S . -B $(BUILD) -G "Unix Makefiles"

# Every test: the unit tests also under AddressSanitizer and
# UndefinedBehaviorSanitizer (their own build), then the whole suite.
test: all sanitized-unit-test
	cd $(BUILD) && ctest --output-on-failure

SANITIZED_BUILD ?= build-sanitized
sanitized-unit-test: deps
	@test -f $(SANITIZED_BUILD)/CMakeCache.txt || cmake -S . -B $(SANITIZED_BUILD) -G "Unix Makefiles" \
	  -DCMAKE_BUILD_TYPE=SanitizedDebug -DMWS_FUZZ=OFF -DMWS_GO_MATRIX=OFF
	cmake --build $(SANITIZED_BUILD) -j$(JOBS) --target unit_tests
	cd $(SANITIZED_BUILD) && ctest --output-on-failure -L unit

unit-test: all
	cd $(BUILD) && ctest --output-on-failure -L unit

bpf-test: all
	cd $(BUILD) && ctest --output-on-failure -L bpf

# Only what the demo runs: mwscope, the demo server and the load generator.
demo: configure
	cmake --build $(BUILD) -j$(JOBS) --target mwscope fixture_allocserver fixture_loadgen
	bash scripts/demo.sh $(BUILD)

bench: all
	bash scripts/bench.sh $(BUILD)

# The reliability campaign: attach/detach cycles and kill -9 under load, then
# what must hold (nothing left attached, target unharmed). SOAK_CYCLES, SOAK_KILLS.
soak: all
	bash scripts/soak.sh $(BUILD) $(or $(SOAK_CYCLES),20) $(or $(SOAK_KILLS),10)

clean:
	rm -rf $(BUILD)
