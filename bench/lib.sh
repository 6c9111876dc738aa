# shellcheck shell=bash
# Shared preamble of the benchmarks (bench/*.sh): sourced, never run. It brings the integration
# tests' helpers (tests/integration/lib.sh: namespaces, agents, the teardown at exit, also on
# failure) and what every benchmark computes the same way, so that a figure means the same in
# each section.
. "$(dirname "${BASH_SOURCE[0]}")/../tests/integration/lib.sh"

# bench_options ARGS...: the options of a section script that bench/run.sh drives: --quick
# (QUICK=1: short runs, for a smoke test) and --rows FILE (ROWS_FILE, emptied here: the rows
# the section writes for bench/run.sh's table). Anything else is refused, naming the option.
# shellcheck disable=SC2034 # QUICK is read by the sourcing script
bench_options() {
	QUICK=0 ROWS_FILE=
	while [ $# -gt 0 ]; do
		case "$1" in
		--quick) QUICK=1 ;;
		--rows)
			[ $# -ge 2 ] || fl_fail "--rows needs a file"
			ROWS_FILE=$2
			shift
			;;
		*) fl_fail "unknown option '$1' (use --quick, --rows FILE)" ;;
		esac
		shift
	done
	[ -z "$ROWS_FILE" ] || : >"$ROWS_FILE"
}

# bench_row SECTION FIGURE VALUE REFERENCE RATIO: one row of the table on stdout, and in
# ROWS_FILE (when given) as "SECTION|FIGURE|VALUE|REFERENCE|RATIO" for bench/run.sh.
bench_row() {
	printf '  %-58s %14s  ref %14s  ratio %s\n' "$2" "$3" "$4" "$5"
	[ -z "${ROWS_FILE:-}" ] || printf '%s|%s|%s|%s|%s\n' "$1" "$2" "$3" "$4" "$5" >>"$ROWS_FILE"
}

# ratio A B: A / B with three decimals, "n/a" when B is 0.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.3f", a / b }'; }
# median, maximum: of the numbers on stdin, separated by spaces or newlines (the lower median
# of an even count, so that a figure is always one that was measured).
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
maximum() { tr ' ' '\n' | grep -v '^$' | sort -g | tail -n 1; }
# now_us: microseconds of the wall clock (the clock the agent stamps its events with), without
# forking.
now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }
