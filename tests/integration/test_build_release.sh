#!/usr/bin/env bash
# A packager's build: `cmake -DCMAKE_BUILD_TYPE=Release` configures and compiles the whole
# tree (agent, controller, BPF objects, tests, benchmarks) with warnings as errors
# (FL_WERROR=ON), in a temporary build directory removed at the end. Optimisation finds
# warnings the default RelWithDebInfo build does not (-Wformat-truncation and
# -Wmaybe-uninitialized follow inlining), so the project's own build alone does not prove it.
# No root and no namespace needed; it runs as an integration test because it takes a while.
. "$(dirname "$0")/lib.sh"

fl_require_cmd cmake
fl_tmpdir dir
jobs=$(nproc)
start=$(date +%s)
if ! timeout 240 cmake -S "$FL_SOURCE_DIR" -B "$dir/build" -DCMAKE_BUILD_TYPE=Release \
	-DFL_WERROR=ON >"$dir/configure.log" 2>&1; then
	cat "$dir/configure.log" >&2
	fl_fail "cmake -DCMAKE_BUILD_TYPE=Release -DFL_WERROR=ON does not configure"
fi
cache=$dir/build/CMakeCache.txt
fl_assert_eq "$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$cache")" Release "build type in the cache"
fl_assert_eq "$(sed -n 's/^FL_WERROR:BOOL=//p' "$cache")" ON "FL_WERROR in the cache"
# Bounded, generously (CTest allows 1000 s): the whole tree at -O3 took over 240 s
# beside seven other builds and test suites.
rc=0
timeout 900 cmake --build "$dir/build" -j"$jobs" >"$dir/build.log" 2>&1 || rc=$?
if ((rc == 124)); then
	tail -n 5 "$dir/build.log" >&2
	fl_fail "the Release build did not finish within 900 s"
elif ((rc)); then
	grep -E 'error:|warning:' "$dir/build.log" | head -40 >&2
	fl_fail "the Release build with FL_WERROR=ON does not compile (errors above)"
fi
# The compile commands prove the flags were in force: optimised, NDEBUG, warnings as errors.
cmds=$dir/build/compile_commands.json
for flag in -O3 -DNDEBUG -Werror; do
	grep -q -- "$flag" "$cmds" || fl_fail "no compile command carries $flag"
done
for bin in agent/faultlined ctl/faultctl; do
	[ -x "$dir/build/$bin" ] || fl_fail "$bin was not built"
done
fl_log "Release build with FL_WERROR=ON: $(($(date +%s) - start)) s, $(jq length "$cmds") compile commands"
