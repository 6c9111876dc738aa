#!/usr/bin/env bash
# Network faults (agent/net/netfault.c, bpf/netfault.bpf.c) on real traffic over a veth pair
# between two namespaces of this test, driven by netfault_tool on side A ("the faulted host"):
#   - loss 10 % on A's egress and on A's ingress, 5,000 pings from A each: the measured loss is
#     inside the exact binomial interval, and equals the rule's dropped counter. Egress loss
#     shows in ping's own statistics: the drop is TC_ACT_STOLEN, not SHOT (ENOBUFS to ping,
#     which then hides the loss by resending);
#   - duplication on egress and ingress: ping's duplicate count equals the copies made, and no
#     copy is matched (let alone copied) again;
#   - corruption on egress and ingress: every corrupted echo request fails the receiver's ICMP
#     checksum (B's and A's InCsumErrors equal the corrupted counters, and the lost pings);
#   - targeting: a partition of one address and of one UDP port leaves other traffic untouched
#     (0 lost pings, every datagram to another port arrives);
#   - hygiene: after each run `tc qdisc show` and `tc filter show` on the veth are byte-for-byte
#     what they were, with and without a clsact and a foreign filter already there; a killed
#     tool's filters are removed by the crash recovery, leaving the same state.
# Flake budget: the two binomial checks use the interval at level 0.001/2 each (0.1 % for the
# test); the measured loss is also reported against the plain 99.9 % interval. All other checks
# are exact.
. "$(dirname "$0")/lib.sh"
fl_require_root
fl_require_cmd ip tc ping socat ss awk timeout mkfifo
TOOL=$FL_BUILD_DIR/tests/integration/netfault_tool
[ -x "$TOOL" ] || fl_fail "netfault_tool not built in $FL_BUILD_DIR"

N=5000       # pings per loss measurement
ALPHA=0.001  # flake budget of the whole test
CHECKS=2     # binomial checks sharing it

fl_netns A a
fl_netns B b
for ns in "$A" "$B"; do
	# No IPv6 on the veths: no neighbour discovery or MLD next to the measured traffic.
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1
done
fl_veth "$A" "$B" 10.77.0.1/24 10.77.0.2/24
ip -n "$B" addr add 10.77.0.3/24 dev "$FL_ID-b"
DEV=$FL_ID-a
fl_tmpdir dir

# Ground truth first: without clsact and cls_bpf there is nothing to test.
if ! tc -n "$A" qdisc add dev "$DEV" clsact 2>/dev/null; then
	fl_skip "this kernel has no clsact qdisc"
fi
tc -n "$A" qdisc del dev "$DEV" clsact

# Both ends of the veth pair, although only A's end is ever hooked.
tc_state() {
	local ns dev
	for ns in "$A:$DEV" "$B:$FL_ID-b"; do
		dev=${ns#*:}
		ns=${ns%%:*}
		tc -n "$ns" qdisc show dev "$dev" 2>&1
		tc -n "$ns" filter show dev "$dev" ingress 2>&1
		tc -n "$ns" filter show dev "$dev" egress 2>&1
	done
}

# start_tool NAME ARGS...: netfault_tool on A's veth with these rules; its stdin is a fifo this
# shell holds open on fd 7, so closing fd 7 ends the tool.
start_tool() {
	local name=$1 i
	shift
	TOOL_NAME=$name
	mkfifo "$dir/$name.in"
	ip netns exec "$A" "$TOOL" -t 90 "$@" "$DEV" <"$dir/$name.in" >"$dir/$name.out" \
		2>"$dir/$name.err" &
	TOOL_PID=$!
	exec 7>"$dir/$name.in"
	for ((i = 0; i < 100; i++)); do
		grep -qs "^ready$" "$dir/$name.out" && return 0
		kill -0 "$TOOL_PID" 2>/dev/null ||
			fl_fail "netfault_tool ($name) exited: $(cat "$dir/$name.err")"
		sleep 0.1
	done
	fl_fail "netfault_tool ($name) not ready within 10 s"
}

stop_tool() {
	local rc
	exec 7>&-
	fl_wait_exit rc "$TOOL_PID" 20
	[ "$rc" -eq 0 ] || fl_fail "netfault_tool ($TOOL_NAME) failed: $(cat "$dir/$TOOL_NAME.err")"
}

# counter SLOT FIELD: a rule counter printed by the last stopped tool.
counter() {
	sed -n "s/^rule $1 .*\b$2=\([0-9]*\).*/\1/p" "$dir/$TOOL_NAME.out"
}

# ping_from NS COUNT ADDR: sets TX, RX, DUPS from ping's summary (bounded by timeout). Four
# echoes in flight (-l 4) keep a lost one from stalling ping; exactly COUNT are sent.
ping_from() {
	local out
	out=$(ip netns exec "$1" timeout 60 ping -q -n -c "$2" -i 0.0005 -l 4 -W 1 "$3" 2>&1) ||
		true
	TX=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' <<<"$out")
	RX=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' <<<"$out")
	DUPS=$(sed -n 's/.* +\([0-9]*\) duplicates.*/\1/p' <<<"$out")
	DUPS=${DUPS:-0}
	if [ -z "$TX" ] || [ -z "$RX" ]; then
		fl_fail "cannot read ping's summary: $out"
	fi
}

icmp_csum_errors() {
	ip netns exec "$1" awk '/^Icmp:/ { if (!h) { for (i = 1; i <= NF; i++) f[$i] = i; h = 1 }
		else print $f["InCsumErrors"] }' /proc/net/snmp
}

start=$SECONDS
pristine=$(tc_state)
ping_from "$A" 3 10.77.0.2 # ARP resolved before anything is measured
[ "$RX" -eq 3 ] || fl_fail "no connectivity over the veth pair"

# --- loss 10 % on egress, then on ingress ---------------------------------------------------
start_tool egress -r "dir=out,action=loss,prob=0.1,proto=icmp,remote=10.77.0.2/32"
ping_from "$A" $N 10.77.0.2
stop_tool
lost=$((TX - RX))
fl_assert_eq "$TX" $N "pings sent"
fl_assert_eq "$(counter 0 matched)" $N "egress rule: matched"
fl_assert_eq "$(counter 0 dropped)" $lost "egress rule: dropped vs lost in ping"
fl_check_loss "egress loss 10% (ping from the faulted host)" $N 0.1 $lost $ALPHA $CHECKS
fl_assert_eq "$(tc_state)" "$pristine" "tc state after the egress run"

start_tool ingress -r "dir=in,action=loss,prob=0.1,proto=icmp,remote=10.77.0.2/32"
ping_from "$A" $N 10.77.0.2
stop_tool
lost=$((TX - RX))
fl_assert_eq "$(counter 0 matched)" $N "ingress rule: matched"
fl_assert_eq "$(counter 0 dropped)" $lost "ingress rule: dropped vs lost in ping"
fl_check_loss "ingress loss 10%" $N 0.1 $lost $ALPHA $CHECKS

# --- duplication: exactly the copies made, never a copy of a copy -----------------------------
start_tool dup -r "dir=out,action=dup,prob=0.5,proto=icmp,remote=10.77.0.2/32" \
	-r "dir=in,action=dup,prob=0.5,proto=icmp,remote=10.77.0.2/32"
ping_from "$A" 2000 10.77.0.2
stop_tool
dup_out=$(counter 0 duplicated)
dup_in=$(counter 1 duplicated)
fl_log "duplicate 50%/50%: ping saw $DUPS duplicates; copies made: $dup_out egress, $dup_in ingress"
fl_assert_eq "$RX" 2000 "replies with duplication"
# ping stops at its 2000th distinct reply, so it can miss up to 3 late copies of the last
# echo (the reply to its egress copy and the ingress copies of both replies); the counters
# below are exact.
copies=$((dup_out + dup_in))
((copies >= DUPS && copies <= DUPS + 3)) ||
	fl_fail "copies made ($copies) vs duplicates seen by ping ($DUPS)"
fl_assert_eq "$(counter 0 matched)" 2000 "egress dup rule matched (copies must pass untouched)"
fl_assert_eq "$(counter 1 matched)" $((2000 + dup_out)) "ingress dup rule matched"

# --- corruption: caught by the receivers' ICMP checksums ---------------------------------------
# Each direction in a run of its own, always corrupting echo requests: ping's raw socket gets
# replies before the kernel checks their checksum, so corrupted replies would reach ping.
b0=$(icmp_csum_errors "$B")
start_tool corrupt_out -r "dir=out,action=corrupt,prob=0.1,proto=icmp,remote=10.77.0.2/32"
ping_from "$A" 2000 10.77.0.2
stop_tool
c_out=$(counter 0 corrupted)
lost_out=$((TX - RX))
b1=$(icmp_csum_errors "$B")
a0=$(icmp_csum_errors "$A")
start_tool corrupt_in -r "dir=in,action=corrupt,prob=0.1,proto=icmp,remote=10.77.0.2/32"
ping_from "$B" 2000 10.77.0.1
stop_tool
c_in=$(counter 0 corrupted)
lost_in=$((TX - RX))
a1=$(icmp_csum_errors "$A")
fl_log "corrupt 10%: egress $c_out of 2000 requests corrupted, B's InCsumErrors +$((b1 - b0))," \
	"$lost_out pings lost; ingress $c_in of 2000 corrupted, A's InCsumErrors +$((a1 - a0))," \
	"$lost_in pings lost"
fl_assert_eq "$((b1 - b0))" "$c_out" "B's ICMP checksum errors vs requests corrupted on egress"
fl_assert_eq "$lost_out" "$c_out" "pings lost vs requests corrupted on egress"
fl_assert_eq "$((a1 - a0))" "$c_in" "A's ICMP checksum errors vs requests corrupted on ingress"
fl_assert_eq "$lost_in" "$c_in" "pings lost vs requests corrupted on ingress"

# --- targeting: one address, one UDP port; everything else untouched ---------------------------
start_tool target -r "dir=both,action=partition,remote=10.77.0.3/32" \
	-r "dir=both,action=partition,proto=udp,rport=5001"
ping_from "$A" 1000 10.77.0.2
other_lost=$((TX - RX))
ping_from "$A" 200 10.77.0.3
target_rx=$RX
rx_pids=()
for port in 5001 5002; do
	ip netns exec "$B" timeout 20 socat -u UDP-RECV:$port,bind=10.77.0.2 \
		"OPEN:$dir/udp$port,creat,trunc" &
	rx_pids+=($!)
done
for ((i = 0; i < 50; i++)); do
	[ "$(ip netns exec "$B" ss -Hlun '( sport = :5001 or sport = :5002 )' | wc -l)" -eq 2 ] && break
	sleep 0.1
done
for port in 5001 5002; do
	seq 1 1000 | ip netns exec "$A" socat -u - UDP:10.77.0.2:$port
done
sleep 0.5
kill "${rx_pids[@]}" 2>/dev/null || true
wait "${rx_pids[@]}" 2>/dev/null || true
stop_tool
lines_5001=$(wc -l <"$dir/udp5001")
lines_5002=$(wc -l <"$dir/udp5002")
fl_log "targeting: other address lost $other_lost of 1000 pings, target address got $target_rx" \
	"of 200 replies; UDP lines received: $lines_5002/1000 on port 5002, $lines_5001/1000 on 5001"
fl_assert_eq "$other_lost" 0 "pings lost to the address no rule names"
fl_assert_eq "$target_rx" 0 "replies from the partitioned address"
fl_assert_eq "$(counter 0 matched)" 200 "the address rule matched only its address"
fl_assert_eq "$lines_5002" 1000 "datagrams to the port no rule names"
fl_assert_eq "$lines_5001" 0 "datagrams to the partitioned port"
[ "$(counter 1 dropped)" -gt 0 ] || fl_fail "the port rule dropped nothing"
fl_assert_eq "$(tc_state)" "$pristine" "tc state after the runs"

# --- clsact and a foreign filter already there: left exactly as they were ---------------------
tc -n "$A" qdisc add dev "$DEV" clsact
tc -n "$A" filter add dev "$DEV" ingress prio 7 protocol ip u32 match ip dst 192.0.2.1/32 \
	classid ffff:1
before=$(tc_state)
start_tool foreign -r "dir=both,action=loss,prob=0.5"
[ "$(tc_state)" != "$before" ] || fl_fail "no filter of ours visible while attached"
stop_tool
fl_assert_eq "$(tc_state)" "$before" "tc state with a pre-existing clsact and filter"
tc -n "$A" qdisc del dev "$DEV" clsact
fl_assert_eq "$(tc_state)" "$pristine" "tc state after removing the foreign clsact"

# --- crash: kill -9 leaves the filters; crash recovery removes them ---------------------------
start_tool crash -r "dir=both,action=partition"
kill -KILL "$TOOL_PID"
wait "$TOOL_PID" 2>/dev/null || true
exec 7>&-
tc -n "$A" filter show dev "$DEV" egress | grep >/dev/null netfault_out ||
	fl_fail "no leftover filter after kill -9"
ping_from "$A" 3 10.77.0.2
fl_assert_eq "$RX" 0 "the leftover partition still drops (programs live on in tc)"
out=$(ip netns exec "$A" "$TOOL" -c "$DEV")
fl_assert_eq "$out" "removed 2" "crash recovery"
fl_assert_eq "$(tc_state)" "$pristine" "tc state after crash recovery"
ping_from "$A" 3 10.77.0.2
fl_assert_eq "$RX" 3 "traffic after crash recovery"

fl_log "done in $((SECONDS - start)) s"
