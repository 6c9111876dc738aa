#!/usr/bin/env bash
# Latency fidelity and throughput under delay, faultline against plain netem, on Debian's stock
# kernel: this host's kernel has neither sch_netem nor sch_fq, so bench/latency_vm.sh runs in
# the vm stage's guest (tests/vm/run.sh: qemu TCG, the host root shared read-only).
#
#   sudo bench/latency.sh [--quick] [--rows FILE]
#
# Rows "latency|figure|value|reference|ratio" go to FILE when given (bench/run.sh reads them)
# and are printed as a table on stdout; the guest's console goes to stderr. Exit 77 when qemu
# or the guest kernel is missing (scripts/vm-kernel.sh fetches the kernel), as tests/vm/run.sh.
# About 6 minutes (`--quick`: about 2, with the boot).
. "$(dirname "$0")/lib.sh"
fl_require_root
fl_require_build

bench_options "$@"
QUICK_ARGS=()
[ "$QUICK" = 0 ] || QUICK_ARGS=(--quick)

fl_tmpdir dir
# The console streams to stderr as it comes, without the rows.
export FL_BUILD_DIR FL_SOURCE_DIR # for the guest
set +e
FL_VM_TIMEOUT=${FL_VM_TIMEOUT:-1500} bash "$FL_SOURCE_DIR/tests/vm/run.sh" \
	"$FL_SOURCE_DIR/bench/latency_vm.sh" "${QUICK_ARGS[@]}" 2>&1 |
	tee "$dir/console" | grep --line-buffered -v '^fl-bench-row|' >&2
rc=${PIPESTATUS[0]}
set -e
case $rc in
0) ;;
"$FL_SKIP") fl_skip "$(sed -n 's/^vm: SKIP: //p; s/^SKIP: [^:]*: //p' "$dir/console" | head -1)" ;;
*) fl_fail "the benchmark in the vm failed (exit $rc)" ;;
esac
sed -n 's/^fl-bench-row|//p' "$dir/console" >"$dir/rows"
[ -s "$dir/rows" ] || fl_fail "the vm printed no rows"
printf '%-52s %14s %14s %8s\n' figure value reference ratio
while IFS='|' read -r _ name v ref r; do
	printf '%-52s %14s %14s %8s\n' "$name" "$v" "$ref" "$r"
done <"$dir/rows"
[ -z "$ROWS_FILE" ] || cp "$dir/rows" "$ROWS_FILE"
