#!/usr/bin/env bash
# The control path's floor (docs/netfault.md "Lifetime", docs/api.md "Crash safety"):
#   - an interface's BPF program is loaded and verified once and reused: the second fault on
#     the interface runs the very program (same id) of the first, whose revert left neither a
#     filter nor the clsact it created; the rules of the second fault act (a partition drops
#     pings) and its revert lifts them;
#   - a device that went and came back under the same name (another ifindex) gets a program
#     loaded for it, which acts;
#   - counted with strace over 5 apply + revert pairs after a first one: no BPF_PROG_LOAD,
#     at most 2 fsyncs a pair for network.loss (one fdatasync of the journal's log for the
#     record, one for its removal) and no netlink socket created (the agent's one rtnetlink
#     socket serves the clsact and filter requests), the same syncs for process.pause by pid, which reads no directory (no scan of
#     /proc: getdents64 never called). Without strace that part is skipped, and says so.
. "$(dirname "$0")/lib.sh"
fl_require_root
fl_require_cmd ip tc ping curl jq setsid awk

fl_netns A a
fl_netns B b
fl_veth "$A" "$B" 10.79.0.1/24 10.79.0.2/24
DEV=$FL_ID-a
fl_tmpdir dir
sock=$dir/agent.sock
state=$dir/state
fl_start_agent "$A" "$sock" "$dir/agent.log"
AGENT=$FL_AGENT_PID

fl_api POST /v1/leases '{"ttl_ms": 600000}'
[ "$HTTP_STATUS" = 201 ] || fl_fail "lease: $API_BODY"
LEASE=$(jq -r .lease.id <<<"$API_BODY")
apply() { # apply TYPE TARGET_JSON PARAMS_JSON: sets FID
	fl_api POST "/v1/leases/$LEASE/faults" "$(printf '{"name": "t", "type": "%s", "duration": "10m", "target": %s, "params": %s}' "$1" "$2" "$3")"
	[ "$HTTP_STATUS" = 201 ] || fl_fail "apply $1: HTTP $HTTP_STATUS: $API_BODY"
	FID=$(jq -r .fault.id <<<"$API_BODY")
}
revert() {
	fl_api DELETE "/v1/faults/$FID"
	[ "$HTTP_STATUS" = 200 ] || fl_fail "revert: HTTP $HTTP_STATUS: $API_BODY"
}
partition() { apply network.partition "{\"interface\": \"$DEV\", \"cidrs\": [\"10.79.0.2\"]}" '{}'; }
# The id of the program in our egress filter, empty when there is none.
prog_id() { tc -n "$A" filter show dev "$DEV" egress | sed -n 's/.* id \([0-9]*\) .*/\1/p' | head -1; }
pings() { ip netns exec "$A" ping -n -c 3 -i 0.2 -W 1 10.79.0.2 >/dev/null 2>&1; }
pristine() {
	[ -z "$(tc -n "$A" filter show dev "$DEV" egress)" ] || fl_fail "$1: a filter is left: $(tc -n "$A" filter show dev "$DEV" egress)"
	! tc -n "$A" qdisc show dev "$DEV" | grep >/dev/null clsact || fl_fail "$1: the clsact we created is left"
}

pings || fl_fail "no traffic before any fault"
partition
first=$(prog_id)
[ -n "$first" ] || fl_fail "no filter of ours after the first apply"
! pings || fl_fail "the first partition did not drop pings"
revert
pristine "after the first revert"
pings || fl_fail "traffic did not come back after the first revert"

partition
second=$(prog_id)
fl_assert_eq "$second" "$first" "program id of the second fault (loaded once, reused)"
! pings || fl_fail "the second partition (reused program) did not drop pings"
revert
pristine "after the second revert"
pings || fl_fail "traffic did not come back after the second revert"
grep -q "attached again (program already loaded)" "$dir/agent.log" ||
	fl_fail "the agent did not say it reused the program: $(grep netif "$dir/agent.log" | tail -3)"

# The device goes and comes back under the same name: another device, another program.
old_index=$(ip -n "$A" -o link show dev "$DEV" | cut -d: -f1)
ip -n "$A" link del "$DEV"
fl_veth "$A" "$B" 10.79.0.1/24 10.79.0.2/24
new_index=$(ip -n "$A" -o link show dev "$DEV" | cut -d: -f1)
[ "$new_index" != "$old_index" ] || fl_fail "the new veth has the old index $old_index"
for ((i = 0; i < 50; i++)); do pings && break; sleep 0.1; done
partition
third=$(prog_id)
[ -n "$third" ] && [ "$third" != "$first" ] ||
	fl_fail "program id on the new device: '$third' (first device's: $first)"
! pings || fl_fail "the partition on the new device did not drop pings"
revert
pristine "after the revert on the new device"
pings || fl_fail "traffic did not come back on the new device"

# --- system calls per apply + revert ---
if ! command -v strace >/dev/null; then
	fl_log "strace missing: the system-call counts are not checked (scripts/setup.sh installs it)"
	exit 0
fi
setsid sleep 600 &
VICTIM=$!
fl_on_exit "kill -KILL $VICTIM"
loss() { apply network.loss "{\"interface\": \"$DEV\", \"direction\": \"both\", \"cidrs\": [\"192.0.2.0/24\"]}" '{"probability": "50%"}'; }
pause() { apply process.pause "{\"pid\": $VICTIM, \"all\": true}" '{}'; }
# count KIND: 5 pairs of KIND (after one untraced) with the agent traced; sets LOADS, FSYNCS, DIRS,
# NLSOCKS.
count() {
	local out=$dir/strace.$1 tracer i
	"$1"
	revert
	strace -f -e trace=bpf,fsync,fdatasync,getdents64,socket -o "$out" -p "$AGENT" 2>"$dir/strace.err" &
	tracer=$!
	for ((i = 0; i < 200; i++)); do grep -q attached "$dir/strace.err" && break; sleep 0.05; done
	grep -q attached "$dir/strace.err" || fl_fail "strace did not attach: $(cat "$dir/strace.err")"
	for ((i = 0; i < 5; i++)); do
		"$1"
		[ "$1" != pause ] || [ "$(fl_proc_state "$VICTIM")" = T ] || fl_fail "pause: the victim is not stopped"
		revert
	done
	kill -INT "$tracer"
	wait "$tracer" 2>/dev/null || true
	LOADS=$(grep -c 'BPF_PROG_LOAD' "$out" || true)
	FSYNCS=$(grep -cE '(fsync|fdatasync)\(' "$out" || true)
	DIRS=$(grep -c 'getdents64(' "$out" || true)
	NLSOCKS=$(grep -c 'socket(AF_NETLINK' "$out" || true)
	fl_log "$1: 5 pairs: $LOADS program loads, $FSYNCS fsyncs, $DIRS directory reads, $NLSOCKS netlink sockets"
}
count loss
fl_assert_eq "$LOADS" 0 "BPF programs loaded over 5 network.loss pairs"
fl_assert_eq "$NLSOCKS" 0 "netlink sockets created over 5 network.loss pairs"
[ "$FSYNCS" -le 10 ] || fl_fail "network.loss: $FSYNCS fsyncs over 5 pairs (at most 2 a pair)"
count pause
[ "$FSYNCS" -le 10 ] || fl_fail "process.pause: $FSYNCS fsyncs over 5 pairs (at most 2 a pair)"
fl_assert_eq "$DIRS" 0 "directories read over 5 process.pause pairs by pid"
[ "$(fl_proc_state "$VICTIM")" = S ] || fl_fail "the victim is left $(fl_proc_state "$VICTIM")"
[ "$(fl_journal_count "$state/journal")" = 0 ] || fl_fail "journal records left"
