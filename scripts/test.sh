#!/usr/bin/env bash
# README command (b): set up this machine, build, and run the whole test suite.
#   1. installs the Debian packages (scripts/setup.sh)
#   2. builds the unit tests with AddressSanitizer + UndefinedBehaviorSanitizer and runs them
#   3. fuzzes the experiment loader (FL_FUZZ_SECONDS, default 60) and the HTTP codec (half) under
#      libFuzzer + ASan + UBSan
#   4. builds everything and runs every CTest layer: unit, integration (root, network
#      namespaces) and vm (Debian's stock kernel under qemu)
# Exits non-zero if anything fails. Run as root from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
	echo "test.sh: run as root (sudo $0): it installs packages and the integration tests" \
		"create network namespaces" >&2
	exit 1
fi

echo "== setup"
bash scripts/setup.sh

echo "== unit tests under ASan+UBSan (build-asan/)"
FL_BUILD_DIR=build-asan bash scripts/build.sh -DFL_UNIT_ONLY=ON -DFL_SANITIZE=ON
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	ctest --test-dir build-asan --output-on-failure -L unit -j"$(nproc)"

echo "== bounded fuzz pass of the experiment loader and the API HTTP codec"
bash scripts/fuzz.sh "${FL_FUZZ_SECONDS:-60}" 2>&1 | tail -n 40

echo "== build (build/)"
bash scripts/build.sh

echo "== all layers: unit, integration, vm"
ctest --test-dir build --output-on-failure -j"$(nproc)"
