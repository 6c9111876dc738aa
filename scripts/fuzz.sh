#!/usr/bin/env bash
# Fuzz the two decoders of untrusted input: scripts/fuzz.sh [SECONDS] (default 60).
#   1. configures a clang build with libFuzzer, ASan and UBSan in build-fuzz/
#   2. builds tests/fuzz/fuzz_exp_load (experiment files and API fault bodies) and
#      tests/fuzz/fuzz_http (the agent API's HTTP codec)
#   3. seeds the loader's corpus with experiments/ and the bad-input fixtures of the unit
#      tests, the codec's with tests/fuzz/http-seeds/
#   4. fuzzes the loader for SECONDS and the codec for SECONDS/2; any crash, leak,
#      sanitizer report or failed check fails the run
# The crashing input (crash-*, leak-*, timeout-*) is kept in build-fuzz/findings/.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-60}
case "$secs" in
'' | *[!0-9]*)
	echo "usage: scripts/fuzz.sh [SECONDS]" >&2
	exit 2
	;;
esac

build=build-fuzz
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFL_WERROR=ON \
	-DFL_UNIT_ONLY=ON -DFL_FUZZ=ON >/dev/null
cmake --build "$build" --target fuzz_exp_load fuzz_http -j"$(nproc)" >/dev/null

corpus=$(mktemp -d)
http_corpus=$(mktemp -d)
trap 'rm -rf "$corpus" "$http_corpus"' EXIT
cp experiments/*.yaml experiments/*.json "$corpus"/
if [ -d tests/unit/data ]; then
	find tests/unit/data -maxdepth 1 -type f \( -name '*.yaml' -o -name '*.json' \) \
		-exec cp {} "$corpus"/ \;
fi

findings="$build/findings"
mkdir -p "$findings"
echo "fuzz.sh: fuzzing the experiment loader for ${secs}s ($(ls "$corpus" | wc -l) seeds)"
# Inputs up to 64 KiB: enough for every structure the format has, small enough to be fast.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	"$build/tests/fuzz/fuzz_exp_load" "$corpus" -dict=tests/fuzz/exp.dict \
	-max_total_time="$secs" -max_len=65536 \
	-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$findings/"
echo "fuzz.sh: fuzzing the HTTP codec for $((secs / 2))s"
cp tests/fuzz/http-seeds/* "$http_corpus"/
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	"$build/tests/fuzz/fuzz_http" "$http_corpus" -max_total_time="$((secs / 2 > 0 ? secs / 2 : 1))" \
	-max_len=16384 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	-artifact_prefix="$findings/"
echo "fuzz.sh: no findings"
