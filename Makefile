# Thin front door over CMake. `make` builds build/mwscope, `make test` runs
# every test (BPF tests need root), `make demo` profiles the built-in demo
# server, `make bench` prints overhead ratios measured side by side, `make fuzz`
# runs every fuzzer for longer than `make test` does.
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps configure test unit-test sanitized-unit-test bpf-test fuzz demo bench soak clean

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

# Every fuzzer for FUZZ_SECONDS each (`make test` runs them for a few
# seconds): from its seeds (build/fuzz/NAME_seeds, made at build time) and
# what earlier runs found (build/fuzz/NAME_work, kept). A crash stops here
# and leaves its input in build/fuzz/artifacts/.
FUZZ_SECONDS ?= 60
FUZZERS ?= gopclntab target_memory buildinfo go_types closure_names go_offsets proc_maps
fuzz: all
	@mkdir -p $(BUILD)/fuzz/artifacts
	@for f in $(FUZZERS); do \
	  seeds=$(BUILD)/fuzz/$${f}_seeds; test -d $$seeds || seeds=; \
	  mkdir -p $(BUILD)/fuzz/$${f}_work; \
	  echo "fuzz_$$f: $(FUZZ_SECONDS) s"; \
	  $(BUILD)/fuzz/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
	    -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/artifacts/ $(BUILD)/fuzz/$${f}_work $$seeds \
	    2>$(BUILD)/fuzz/$$f.log || { tail -40 $(BUILD)/fuzz/$$f.log; exit 1; }; \
	  grep -h "stat::number_of_executed_units\|stat::peak_rss_mb" $(BUILD)/fuzz/$$f.log; \
	done

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
	bash scripts/soak-serve.sh $(BUILD) $(or $(SOAK_RESTARTS),20) $(or $(SOAK_SERVE_KILLS),5)

clean:
	rm -rf $(BUILD)
