#!/usr/bin/env bash
# Configures and builds faultline into build/ (or $FL_BUILD_DIR). Quiet unless something fails.
# Warnings are errors here (FL_WERROR=ON); a plain cmake build keeps them as warnings.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${FL_BUILD_DIR:-build}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFL_WERROR=ON "$@" &&
	cmake --build "$build" -j"$(nproc)"; } >"$log" 2>&1; then
	cat "$log" >&2
	echo "build.sh: build failed" >&2
	exit 1
fi
