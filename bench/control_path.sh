#!/usr/bin/env bash
# The control path: apply + revert of one fault through the API (one kept-alive connection,
# bench_ctlpath) vs the same change made by spawning the usual tools, measured in the same run.
#
#   sudo bench/control_path.sh [--quick] [--rows FILE]
#
# One agent in a network namespace this script creates (a veth pair to a second one), and a
# sleeping process it starts with setsid (the process.pause victim, by pid). For
# network.loss, network.partition and network.bandwidth, N pairs of apply + revert vs
# `ip netns exec NS tc qdisc add ... tbf` + `ip netns exec NS tc qdisc del` spawned, and vs
# the same two tc commands spawned directly in the namespace (no `ip netns exec`: the
# stricter reference); for process.pause,
# N pairs vs `/bin/kill -STOP PID` + `/bin/kill -CONT PID` spawned (two processes). Rounds of
# 10 of each alternate (bench_ctlpath.c). Median and p90 per pair. The agent's system calls
# are counted with `strace -f -c` when FL_CTLPATH_STRACE=1: then, after the timed run, 20
# pairs of each type alone with the agent traced, the counts on stderr (not by default:
# strace slows every call, so those pairs are not timed). Rows "ctlpath|figure|value|reference|ratio" go
# to FILE when given (bench/run.sh reads them); progress goes to stderr. Everything
# (namespaces, agent, victim, files) is removed at exit, also on failure. Last, the journal's
# floor (two appends with fdatasync, bench_fsync.c) against network.loss's reference, and tcx
# links vs clsact + cls_bpf, attach + detach alone (bench_tcx.c), on the second namespace's
# device.
. "$(dirname "$0")/../tests/integration/lib.sh"

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
fl_require_root
fl_require_cmd tc ip nsenter setsid awk
fl_require_build
BENCH=$FL_BUILD_DIR/bench/bench_ctlpath
[ -x "$BENCH" ] || fl_fail "bench_ctlpath not built in $FL_BUILD_DIR/bench (scripts/build.sh)"
[ -x /bin/kill ] || fl_skip "no /bin/kill for the process.pause reference"
N=${FL_CTLPATH_N:-200}
[ $QUICK = 1 ] && N=20

[ -z "$ROWS_FILE" ] || : >"$ROWS_FILE"
row() { # row FIGURE VALUE_US REF_US
	local r
	r=$(awk -v a="$2" -v b="$3" 'BEGIN { printf "%.3f", a / b }')
	[ -z "$ROWS_FILE" ] || echo "ctlpath|$1|$2 us|$3 us|$r" >>"$ROWS_FILE"
	printf '  %-62s %10s us  ref %9s us  ratio %s\n' "$1" "$2" "$3" "$r"
}

fl_netns A a
fl_netns B b
fl_veth "$A" "$B" 10.96.0.1/24 10.96.0.2/24
DEV=$FL_ID-a
fl_tmpdir dir
sock=$dir/agent.sock
fl_start_agent "$A" "$sock" "$dir/agent.log"
AGENT=$FL_AGENT_PID
setsid sleep 3600 &
VICTIM=$!
fl_on_exit "kill -KILL $VICTIM"

nsenter --net="/run/netns/$A" "$BENCH" "unix://$sock" "$A" "$DEV" "$VICTIM" "$N" >"$dir/out" ||
	fl_fail "bench_ctlpath failed: $(cat "$dir/out")"
if [ "${FL_CTLPATH_STRACE:-0}" = 1 ]; then
	fl_require_cmd strace
	for type in network.loss network.partition network.bandwidth process.pause; do
		strace -f -c -o "$dir/strace" -p "$AGENT" 2>/dev/null &
		tracer=$!
		sleep 0.5
		# 1 + 20 pairs (the first unmeasured one included), with the references.
		nsenter --net="/run/netns/$A" "$BENCH" "unix://$sock" "$A" "$DEV" "$VICTIM" 20 "$type" >/dev/null ||
			fl_fail "bench_ctlpath under strace failed"
		kill -INT "$tracer"
		wait "$tracer" 2>/dev/null || true
		echo "  $type: agent system calls over 21 pairs (strace -f -c):" >&2
		cat "$dir/strace" >&2
	done
fi
while read -r type med p90 rmed rp90 tmed tp90; do
	case $type in
	process.pause) ref="kill -STOP + kill -CONT" ;;
	*) ref="ip netns exec tc qdisc add + del" ;;
	esac
	row "$type apply+revert median (ref: $ref)" "$med" "$rmed"
	[ "$type" != network.loss ] || loss_ref=$rmed
	row "$type apply+revert p90 (ref: its p90)" "$p90" "$rp90"
	[ -z "$tmed" ] || row "$type apply+revert median (ref: tc add + del, no ip netns)" "$med" "$tmed"
done <"$dir/out"
# The floor under "one fsync per change": the journal's two appends (put, del) with their
# fdatasync on the state directory's file system, against network.loss's reference: no pair
# can get below this ratio (bench_fsync.c).
FSYNC=$FL_BUILD_DIR/bench/bench_fsync
if [ -x "$FSYNC" ] && [ -n "${loss_ref:-}" ]; then
	"$FSYNC" "$dir" "$N" >"$dir/fsync" || fl_fail "bench_fsync failed: $(cat "$dir/fsync")"
	read -r _ smed sp90 <"$dir/fsync"
	row "journal floor: put+del appended, 2 fdatasync, median (ref: loss's)" "$smed" "$loss_ref"
fi
# tcx links (kernel 6.6+) in place of clsact + cls_bpf: attach + detach of an ingress and an
# egress program on the other namespace's device (nothing of the agent's there), vs the
# clsact pair, and the filters alone with clsact kept, same run (bench_tcx.c). Why the agent
# stays on clsact: docs/netfault.md.
TCX=$FL_BUILD_DIR/bench/bench_tcx
if [ -x "$TCX" ]; then
	nsenter --net="/run/netns/$B" "$TCX" "$FL_ID-b" "$([ $QUICK = 1 ] && echo 5 || echo 20)" \
		>"$dir/tcx" || fl_fail "bench_tcx failed: $(cat "$dir/tcx")"
	read -r _ tmed tp90 cmed cp90 kmed kp90 fmed fp90 <"$dir/tcx"
	if [ "$tmed" = unsupported ]; then
		echo "  tcx: not on this kernel ($(cut -d' ' -f3- "$dir/tcx")); rows skipped" >&2
	else
		row "tcx links attach+close, in+out, median (ref: clsact + 2 filters + del)" "$tmed" "$cmed"
		row "tcx links attach+close p90 (ref: its p90)" "$tp90" "$cp90"
		row "tcx attach+close, another link kept per hook, median (ref: clsact)" "$kmed" "$cmed"
		row "2 filters add+del, clsact kept, median (ref: clsact add+del too)" "$fmed" "$cmed"
		row "2 filters add+del, clsact kept, p90 (ref: its p90)" "$fp90" "$cp90"
	fi
fi
[ "$(fl_proc_state "$VICTIM")" = S ] || fl_fail "the victim is left $(fl_proc_state "$VICTIM")"
