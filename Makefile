# The two commands of README.md: `make demo` and `make test`.
# Both install the Debian packages the build needs (when run as root),
# configure CMake into build/, build, and run.

BUILD_DIR ?= build
# Release is what users and packagers build; `make test BUILD_TYPE=RelWithDebInfo`
# (with another BUILD_DIR) checks another. Our own builds keep warnings as
# errors (LEASEQ_WERROR; compilers' flow-analysis false positives excepted).
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
DEB_PACKAGES := cmake g++ make pkg-config sqlite3 libsqlite3-dev libsqlitecpp-dev \
	libzmq3-dev cppzmq-dev libgtest-dev libcli11-dev nlohmann-json3-dev \
	help2man dpkg-dev systemd ccache python3-zmq python3-pytest libcpp-httplib-dev \
	iproute2 faketime
# ccache makes a rebuild of unchanged sources (another clone, another run)
# nearly free; paths relative to the clone so that clones share the cache.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1
CMAKE_FLAGS := -DLEASEQ_WERROR=ON $(shell command -v ccache >/dev/null 2>&1 && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# The --http tests (label http): a real Prometheus and a real headless
# Chromium driven by Selenium; `make test` installs them.
HTTP_TEST_PACKAGES := prometheus chromium chromium-driver python3-selenium
BENCH_PACKAGES := python3-distributed beanstalkd
# Only for `make slurm-test` (a one-node Slurm cluster inside the test).
SLURM_PACKAGES := slurm-wlm munge
# Only for `make container-test` (a Debian 12 root for the image's runtime stage).
CONTAINER_PACKAGES := debootstrap
# Only for `make fuzz` (libFuzzer needs clang and its runtime).
FUZZ_PACKAGES := clang libclang-rt-14-dev
FUZZ_SECONDS ?= 60

.PHONY: all deps build test demo bench bench-python bench-many-workers bench-retention asan release fuzz chaos sim netns-test slurm-test container-test clean

all: build

# Installs only what is missing; a no-op on a machine that has everything.
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "missing Debian packages:$$missing (run make as root, or apt-get install them)"; exit 1; \
	  fi; \
	fi

$(BUILD_DIR)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)

# The whole suite (but the Slurm and container tests, which have their own
# targets) on the Release build, then again under ASan+UBSan (a Debug build):
# two build types, two compilers' views of the code.
test: build
	$(MAKE) deps DEB_PACKAGES="$(HTTP_TEST_PACKAGES)"
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 300 -LE "slurm|container|scale"
	$(MAKE) asan

# DEMO_ARGS=--dashboard: watch it in a browser (the URL is printed; the
# broker stays up 5 minutes after the run).
DEMO_ARGS ?=
demo: build
	examples/preemption/run.sh --bin $(BUILD_DIR)/bin $(DEMO_ARGS)
	@echo "To watch the preemptions live in a browser: make demo DEMO_ARGS=--dashboard"

# A long chaos run: CHAOS_SECONDS of seeded faults, then the invariant checker
# (docs/reliability.md). CHAOS_ARGS adds flags, e.g. CHAOS_ARGS="--seed 42".
# CHAOS_NET=1 adds network faults (links cut, all cut, flapping: each process
# in a network namespace of its own); it needs root.
CHAOS_SECONDS ?= 300
CHAOS_ARGS ?=
CHAOS_NET ?=
chaos:
	@if [ "$(CHAOS_NET)" = 1 ] && [ "$$(id -u)" != 0 ]; then \
	  echo "make chaos CHAOS_NET=1 needs root (it makes network namespaces); run it as root, or without CHAOS_NET"; exit 1; \
	fi
	$(MAKE) build
	$(BUILD_DIR)/bin/leaseq-chaos --bin $(BUILD_DIR)/bin --seconds $(CHAOS_SECONDS) \
	  --tasks $$(( $(CHAOS_SECONDS) * 40 )) --progress-seconds 30 $(if $(filter 1,$(CHAOS_NET)),--net-faults) $(CHAOS_ARGS)

# The deterministic simulator (docs/simulation.md): seeds from SIM_FIRST (a
# new range each time unless given) for SIM_SECONDS; a failing seed prints
# its shrunk trace and the command that replays it. ctest runs a fixed range.
SIM_SECONDS ?= 300
SIM_SIZE ?= 1
SIM_FIRST ?= $(shell date +%s)000
sim: build
	$(BUILD_DIR)/bin/leaseq-sim --first $(SIM_FIRST) --seconds $(SIM_SECONDS) --size $(SIM_SIZE) $(SIM_ARGS)

# The tests with hosts: the broker and each worker in a network namespace
# of its own, links cut and healed (tools/testing/netns.h; needs root,
# skipped without), and chaos.net.short (15 s of chaos with network faults).
# Also part of `make test` (about 65 s).
netns-test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L netns

# The unit and integration tests under AddressSanitizer + UndefinedBehaviorSanitizer
# (the chaos run is left to the plain build: it is timing-bound).
asan: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DLEASEQ_SANITIZE=ON $(CMAKE_FLAGS)
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure -j $(JOBS) --timeout 300 -E "^chaos" -LE "scale"

# A Release build with the compiler's defaults (LEASEQ_WERROR off, as a
# packager builds it) and its unit tests.
release: deps
	cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release
	cmake --build build-release -j $(JOBS)
	cd build-release && ctest --output-on-failure -j $(JOBS) --timeout 300 -L unit

# The libFuzzer targets (clang, ASan+UBSan), FUZZ_SECONDS each, in build-fuzz/;
# a crash is kept in tests/fuzz/<target>/ (docs/fuzzing.md).
fuzz:
	$(MAKE) deps DEB_PACKAGES="$(DEB_PACKAGES) $(FUZZ_PACKAGES)"
	fuzz/run.sh --seconds $(FUZZ_SECONDS)

# The benchmark suite (bench/, docs/benchmarks.md): leaseq against Dask and
# beanstalkd measured in the same run, one table. BENCH_ARGS=--quick for a
# smoke check (< 2 min); the full run takes about 15 minutes.
BENCH_PYTHON ?= /usr/bin/python3
BENCH_ARGS ?=
bench: build
	$(MAKE) deps DEB_PACKAGES="$(BENCH_PACKAGES)"
	$(BENCH_PYTHON) bench/leaseq_bench.py --bin $(BUILD_DIR)/bin $(BENCH_ARGS)

# The Python package (python/): Client.map over 100,000 inputs on Python
# workers, against Dask's client.map in the same run (docs/benchmarks.md).
bench-python: build
	$(MAKE) deps DEB_PACKAGES="$(BENCH_PACKAGES)"
	$(BENCH_PYTHON) bench/python_map_bench.py --bin $(BUILD_DIR)/bin $(BENCH_ARGS)

# 1,000 single-slot leaseq-worker processes on one broker: registration,
# idle CPU, dispatch against 2 x 4 slots, a broker SIGKILL with a task on
# every worker (bench/many_workers.py, docs/benchmarks.md): about 3 minutes.
MANY_WORKERS ?= 1000
bench-many-workers: build
	$(BENCH_PYTHON) bench/many_workers.py --bin $(BUILD_DIR)/bin --workers $(MANY_WORKERS)

# Retention (issue 8): 1,000,000 noop tasks as a steady stream through
# --retain 10s, then 200,000 without, file sizes every second (docs/benchmarks.md).
bench-retention: build
	$(BENCH_PYTHON) bench/retention_bench.py --bin $(BUILD_DIR)/bin $(BENCH_ARGS)

# leaseq workers as jobs of a real one-node Slurm cluster, preempted for real
# (tests/deploy/slurm_test.sh, docs/deploy.md): about 5 minutes.
slurm-test: build
	$(MAKE) deps DEB_PACKAGES="$(SLURM_PACKAGES)"
	cd $(BUILD_DIR) && ctest --output-on-failure -L slurm

# deploy/container/Containerfile's runtime stage, run in a debootstrapped
# Debian 12 chroot (no container engine here): about 1-2 minutes.
container-test: build
	$(MAKE) deps DEB_PACKAGES="$(CONTAINER_PACKAGES)"
	cd $(BUILD_DIR) && ctest --output-on-failure -L container

clean:
	rm -rf $(BUILD_DIR) build-asan build-release
