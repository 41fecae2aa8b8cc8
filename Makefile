# SPDX-License-Identifier: BSD-2-Clause
# Thin wrapper over CMake: `make`, `make test`, `make asan-test`, `make run`, `make bench`, `make fuzz`.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)

.PHONY: all build test asan asan-test valgrind-test run bench clean fuzz demo experiment
all: build

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

asan:
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DVNM_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

# The test command: builds, then runs every unit and integration test.
test: build
	@tests/run-all.sh $(BUILD)

asan-test: asan
	@tests/run-all.sh $(ASAN_BUILD)

# The whole suite with vnetmapd, the tools and the unit tests under valgrind memcheck
# (slow: not in CI; docs/RELIABILITY.md "valgrind")
valgrind-test: build
	@VNM_VALGRIND=1 tests/run-all.sh $(BUILD)

# The main job: a pkt-gen pair over a VALE switch and over a pipe, daemon started for you.
run: build
	@scripts/run-demo.sh $(BUILD)

bench: build
	@bench/run.sh $(BUILD)

# libFuzzer targets (clang), FUZZ_SECONDS each (default 30)
fuzz:
	@fuzz/run.sh

# Two guests on vale0 through vhost-user: ping, iperf3, pkt-gen, live counters (installs what it needs)
demo:
	@scripts/deps.sh
	@$(MAKE) --no-print-directory build >&2
	@scripts/demo.sh $(BUILD)

# The tutorial's results table for this machine (RUNS, SECS): docs/RESULTS.md, docs/results.png
experiment:
	@scripts/deps.sh
	@$(MAKE) --no-print-directory build >&2
	@bench/experiment.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
