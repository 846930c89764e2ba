# bnlab: two commands for a fresh Debian machine (as root):
#   make demo   installs what is missing, builds, runs the BN-on vs BN-off comparison
#   make test   installs what is missing, builds, runs every test through ctest
# Everything else here wraps CMake.

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_RUNS    ?= 10000000
ASAN_FUZZ_SECONDS ?= 5
FUZZ_TARGETS ?= fuzz_idx fuzz_cifar fuzz_safetensors fuzz_image fuzz_json
JOBS       ?= $(shell nproc)
CMAKE_FLAGS ?=

# Debian packages bnlab needs to build, test and plot (python3-torch is only for
# `make fixtures`, `make bench-compare` and `make claims-twin`, installed on demand there).
PACKAGES := g++ cmake make pkg-config libopenblas-dev libopenblas-openmp-dev libblis-dev libblis-openmp-dev libblis4-openmp catch2 libcli11-dev libstb-dev zlib1g-dev \
            nlohmann-json3-dev libfmt-dev gnuplot-nox dataset-fashion-mnist \
            openmpi-bin libopenmpi-dev graphviz clang libomp-dev

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# The demo: mnist-cnn on Fashion-MNIST without and with BatchNorm, 3 paired seeds each.
DEMO_OUT  ?= demo
DEMO_ARGS ?= --dataset fashion-mnist --model mnist-cnn --arms none,bn --seeds 3 \
             --limit 30000 --test-limit 5000 --epochs 1 --eval-every 20 --lr 0.05 --momentum 0.9

.PHONY: deps configure build test test-asan fuzz fuzz-build demo fixtures bench bench-busy bench-compare torch claims claims-twin claims-index clean

# Installs only what is missing; runs `apt-get update` only when something is.
deps:
	@missing=""; for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "deps: all $(words $(PACKAGES)) packages present"; fi

configure: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Builds only the `bnlab` program (not the tests and benchmarks); a rerun replaces $(DEMO_OUT).
demo: configure
	cmake --build $(BUILD) -j $(JOBS) --target bnlab_cli
	@start=$$(date +%s); \
	$(BUILD)/bnlab compare $(DEMO_ARGS) --force --out $(DEMO_OUT) && \
	echo "demo finished in $$(( $$(date +%s) - start ))s: open $(DEMO_OUT)/report.md and $(DEMO_OUT)/plots/*.png"

# AddressSanitizer + UndefinedBehaviorSanitizer build of everything, then every test.
test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBNLAB_SANITIZE=ON $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j $(JOBS)
	$(MAKE) fuzz FUZZ_SECONDS=$(ASAN_FUZZ_SECONDS)

# The libFuzzer targets (fuzz/README.md), clang + ASan + UBSan, in their own build folder.
fuzz-build: deps
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ -DBNLAB_FUZZ=ON \
	  -DBNLAB_TESTS=OFF -DBNLAB_BENCHMARKS=OFF $(CMAKE_FLAGS)
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_targets

# Runs each target for FUZZ_SECONDS or FUZZ_RUNS executions, whichever comes first (issue 17's
# bar: 10 million or 30 minutes each), on fuzz/corpus/<name> (read only) plus what it finds
# (kept in $(FUZZ_BUILD)/corpus/<name>); a crash, leak, hang or UB stops with the input
# saved under $(FUZZ_BUILD)/crashes/.
fuzz: fuzz-build
	@mkdir -p $(FUZZ_BUILD)/crashes
	@for target in $(FUZZ_TARGETS); do name=$${target#fuzz_}; mkdir -p $(FUZZ_BUILD)/corpus/$$name; \
	  echo "== $$target: $(FUZZ_SECONDS) s"; \
	  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 OMP_NUM_THREADS=1 \
	  $(FUZZ_BUILD)/$$target -max_total_time=$(FUZZ_SECONDS) -runs=$(FUZZ_RUNS) -timeout=10 -rss_limit_mb=2560 -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_BUILD)/crashes/$$name- $(FUZZ_BUILD)/corpus/$$name fuzz/corpus/$$name \
	    > $(FUZZ_BUILD)/$$name.log 2>&1; status=$$?; \
	  grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb)" $(FUZZ_BUILD)/$$name.log; \
	  if [ $$status -ne 0 ]; then tail -n 60 $(FUZZ_BUILD)/$$name.log; exit 1; fi; done

# Debian's python3-torch: the reference for fixtures and benchmarks, never a test dependency.
torch:
	@dpkg-query -W -f='$${Status}' python3-torch 2>/dev/null | grep -q "install ok installed" || \
	  { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq python3-torch; }

# Regenerates the PyTorch parity fixtures.
fixtures: torch
	cd tests/fixtures && for script in *_fixtures.py; do /usr/bin/python3 $$script || exit 1; done

# bnlab's training/inference rows and the sgemm micro-benchmark at every core (bench/README.md).
bench: build
	$(BUILD)/bench_sgemm
	$(BUILD)/bench_train

# Default threads vs --threads 1 with a CPU-bound neighbour on one core (issue 15's <= 1.2x);
# also part of bench-compare. Run on an otherwise quiet machine.
bench-busy: build
	/usr/bin/python3 bench/busy_machine.py --build $(BUILD)

# bnlab vs PyTorch side by side, 2 and 1 threads: writes bench/results.md (< 10 minutes).
bench-compare: build torch
	/usr/bin/python3 bench/compare.py --build $(BUILD) --out bench/results.md

# Three claims (convergence, learning-rate, batch-size) run the same way in bnlab and PyTorch:
# same data, initial weights and batch order (experiments/claims/twins.h, experiments/twins/twin.py),
# key numbers and verdicts side by side in results/claims/twins.md.
TWIN_DIR     ?= $(BUILD)/twins
TWIN_THREADS ?= 1
claims-twin: build torch
	$(BUILD)/bnlab claims twin-run --out $(TWIN_DIR) --threads $(TWIN_THREADS) --force
	/usr/bin/python3 experiments/twins/twin.py $(TWIN_DIR)
	$(BUILD)/bnlab claims twin-report $(TWIN_DIR) --out results/claims/twins.md

# Every claim's default profile (CLAIM=name for one) into results/claims, then the index and
# the README table. Where Open MPI is installed the claims' runs are spread over one rank per
# core (mpirun -np $(JOBS), one thread each; the reports are the one-process ones). RESUME=1
# continues an interrupted run (runs it finished are read back); otherwise reports are replaced.
CLAIM       ?= all
CLAIMS_DATA ?= $(firstword $(wildcard ../shared/data))
CLAIMS_MPIRUN := $(shell command -v mpirun >/dev/null 2>&1 && echo "mpirun -np $(JOBS) --oversubscribe --bind-to none")
claims: build
	OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 $(CLAIMS_MPIRUN) $(BUILD)/bnlab claims run $(CLAIM) \
	    --threads 1 --out results/claims $(if $(CLAIMS_DATA),--data-dir $(CLAIMS_DATA)) $(if $(RESUME),--resume,--force)
	$(MAKE) claims-index

# results/claims/index.md from the claims' summaries, and the same table in the README (between
# its claims-index markers, links made relative to the project root).
claims-index: configure
	cmake --build $(BUILD) -j $(JOBS) --target bnlab_cli
	$(BUILD)/bnlab claims index --out results/claims
	@awk 'BEGIN { while ((getline line < "results/claims/index.md") > 0) \
	        if (line ~ /^\|/ || line ~ /^Total/) table = table (line ~ /^Total/ ? "\n" : "") line "\n" } \
	      /<!-- claims-index:end -->/ { skip = 0 } \
	      !skip { print } \
	      /<!-- claims-index:begin -->/ { skip = 1; gsub(/\]\(/, "](results/claims/", table); printf "%s", table }' \
	  README.md > README.md.tmp && mv README.md.tmp README.md
	@echo "README.md: claims table updated from results/claims/index.md"

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
