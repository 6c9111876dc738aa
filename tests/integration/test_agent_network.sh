#!/usr/bin/env bash
# Network faults through the real agent API, the agent running in namespace A ("the faulted
# host"), its peer in namespace B, over a veth pair between them:
#   - loss 10 % on egress and on ingress, 5,000 pings from A each: inside the exact binomial
#     interval, and equal to the fault's dropped counter in GET /v1/faults;
#   - partition (both directions by default) of one address and of one UDP port: 100 % of the
#     matching traffic lost, 0 of the rest (another address, another port); two faults share
#     one program on the interface; counters exact;
#   - control channel: a TCP flow named by $SSH_CONNECTION of the agent, and one named by the
#     requesting curl's, pass a partition of their peer; the same peer on another port does not;
#   - bandwidth 10 mbit, egress and ingress, measured with iperf3: within 10 %; untargeted
#     traffic unshaped; the root qdisc replaced and restored exactly: the default root, a tbf
#     and an htb tree the test installs first; a root with tc filters is refused (409);
#   - after every revert `tc qdisc show`, `tc class show` and `tc filter show` (root, ingress,
#     egress) on A's veth are byte-for-byte what they were, and no IFB device is left;
#   - kill -9 with loss, partition and bandwidth (both directions, over a tbf root) active,
#     then a restart: the recovery reports each fault cleaned and leaves the state as before;
#   - network.latency is refused with 503 and the probe's reason where the kernel has neither
#     sch_netem nor sch_fq (under FL_VM=1, on Debian's kernel, it is applied and reverted);
#     an unknown interface is refused with 422.
# Flake budget: the two binomial checks use the interval at level 0.001/2 each (0.1 % for the
# test); the measured loss is also reported against the plain 99.9 % interval. The bandwidth
# checks have a 10 % margin around a rate HTB holds to ~1 % (goodput is ~4.4 % below the
# wire rate: 1448 payload bytes per 1514-byte frame), 20 % below it in the vm (LOW_PCT); the
# upper bound holds for every run, the lower one for the best of up to 3 (a CPU-starved
# sender falls short, the shaper does not).
# Readiness waits (listeners) are bounded by time and fail when they expire; TCP echoes that
# must pass get 3 tries (tcp_echo_ok). Everything else is exact.
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/iperf_lib.sh
. "$(dirname "$0")/iperf_lib.sh"
fl_require_root
fl_require_cmd ip tc ping socat ss awk curl jq iperf3 timeout nsenter
fl_require_build

N=5000      # pings per loss measurement
ALPHA=0.001 # flake budget of the whole test
CHECKS=2    # binomial checks sharing it
RATE=10000000

fl_netns A a
fl_netns B b
for ns in "$A" "$B"; do
	# No IPv6 on the veths: no neighbour discovery or MLD next to the measured traffic.
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1
done
fl_veth "$A" "$B" 10.78.0.1/24 10.78.0.2/24
ip -n "$B" addr add 10.78.0.3/24 dev "$FL_ID-b"
DEV=$FL_ID-a
fl_tmpdir dir
sock=$dir/agent.sock
state=$dir/state

# The agent's own SSH session: a flow from B's second address, port 61002, to A's port 2222.
# curl inherits it too (the same flow again); one request below names another session.
export SSH_CONNECTION="10.78.0.3 61002 10.78.0.1 2222"

api() { FL_API_TIMEOUT=20 fl_api "$@"; }

# fault TYPE TARGET_JSON [PARAMS_JSON]: the body of a fault on A's veth (or on $IFACE).
fault() {
	printf '{"name": "t", "type": "%s", "duration": "10m", "target": {"interface": "%s", %s}, "params": %s}' \
		"$1" "${IFACE:-$DEV}" "$2" "${3:-{\}}"
}

# apply BODY: sets FID (asserts 201).
apply() {
	api POST "/v1/leases/$LEASE/faults" "$1"
	[ "$HTTP_STATUS" = 201 ] || fl_fail "apply: HTTP $HTTP_STATUS: $API_BODY"
	FID=$(jq -r .fault.id <<<"$API_BODY")
}

revert() {
	api DELETE "/v1/faults/$1"
	[ "$HTTP_STATUS" = 200 ] || fl_fail "revert $1: HTTP $HTTP_STATUS: $API_BODY"
}

# status FID JQ: a field of the fault's live status.
status() {
	api GET "/v1/faults/$1"
	jq -r ".fault.status$2" <<<"$API_BODY"
}

journal_count() { fl_journal_count "$state/journal"; }

tc_state() {
	tc -n "$A" qdisc show dev "$DEV" 2>&1
	tc -n "$A" class show dev "$DEV" 2>&1
	tc -n "$A" filter show dev "$DEV" 2>&1
	tc -n "$A" filter show dev "$DEV" ingress 2>&1
	tc -n "$A" filter show dev "$DEV" egress 2>&1
	ip -n "$A" -o link show type ifb 2>&1
}

# ping_from NS COUNT ADDR: sets TX, RX (bounded by timeout).
ping_from() {
	local out
	out=$(ip netns exec "$1" timeout 60 ping -q -n -c "$2" -i 0.0005 -l 4 -W 1 "$3" 2>&1) ||
		true
	TX=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' <<<"$out")
	RX=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' <<<"$out")
	[ -n "$TX" ] && [ -n "$RX" ] || fl_fail "cannot read ping's summary: $out"
}

# udp_lines PORT...: send 1,000 lines from A to each UDP port of 10.78.0.2; LINES[PORT] is
# how many arrived.
declare -A LINES
udp_lines() {
	local port pids=() i
	for port in "$@"; do
		ip netns exec "$B" timeout 20 socat -u UDP-RECV:$port,bind=10.78.0.2 \
			"OPEN:$dir/udp$port,creat,trunc" &
		pids+=($!)
	done
	for ((i = 0; i < 50; i++)); do
		[ "$(ip netns exec "$B" ss -Hlun | grep -c ':50[0-9][0-9] ')" -ge $# ] && break
		sleep 0.1
	done
	for port in "$@"; do
		# Datagrams of at most 512 bytes: unfragmented, so each one carries its ports.
		seq 1 1000 | ip netns exec "$A" socat -u -b 512 - UDP:10.78.0.2:$port
	done
	sleep 0.5
	kill "${pids[@]}" 2>/dev/null || true
	wait "${pids[@]}" 2>/dev/null || true
	for port in "$@"; do
		LINES[$port]=$(wc -l <"$dir/udp$port")
	done
}

# tcp_echo PORT: "ok" if a line sent from 10.78.0.3:PORT to A's port 2222 comes back. socat
# waits for the echo after sending: the listener forks cat for each connection, which takes
# over a second under qemu TCG, where process start-up alone can take seconds on a loaded
# host (FL_VM=1: every bound 5x). The lost case waits out the connect timeout either way.
# (TCP_SLOW comes from iperf_lib.sh.)
tcp_echo() {
	local out
	out=$(echo "hello $1" | ip netns exec "$B" timeout $((10 * TCP_SLOW)) socat -t $((4 * TCP_SLOW)) - \
		"TCP:10.78.0.1:2222,bind=10.78.0.3:$1,reuseaddr,connect-timeout=$((3 * TCP_SLOW))" 2>/dev/null) || true
	[ "$out" = "hello $1" ] && echo ok || echo lost
}
# tcp_echo_ok PORT: tcp_echo where "ok" is expected, tried up to 3 times within 60 s (x5 in
# the vm): the first echo of a run pays for cold starts (socat, and the cat the listener
# forks, read from the vm's 9p root with the host loaded). A flow the fault really blocks is
# lost every time, so a retry cannot turn a wrong block into a pass; the attempts are logged.
tcp_echo_ok() {
	local try r t0=$SECONDS
	for ((try = 1; try <= 3; try++)); do
		r=$(tcp_echo "$1")
		[ "$r" = ok ] && break
		fl_log "TCP echo from port $1: attempt $try lost after $((SECONDS - t0)) s" >&2
		((SECONDS - t0 < 60 * TCP_SLOW)) || break
		sleep 1
	done
	echo "$r"
}

start=$SECONDS
pristine=$(tc_state)
ping_from "$A" 3 10.78.0.2
[ "$RX" -eq 3 ] || fl_fail "no connectivity over the veth pair"
ping_from "$A" 3 10.78.0.3

echo 'protected_ports: [5003]' >"$dir/policy.yaml"
fl_start_agent "$A" "$sock" "$dir/agent.log" --log-level debug --policy "$dir/policy.yaml"
# Everything below runs after the agent dropped its capabilities: the network types need
# CAP_NET_ADMIN, CAP_BPF and CAP_SYS_PTRACE, and not CAP_PERFMON (the verifier's unprivileged
# checks pass; revert never opens a program by id). CAP_SYS_ADMIN is kept only as their
# optional capability, to setns() into the namespace of a netns or container target
# (test_agent_netns.sh); faults in the agent's own namespace do not use it.
api GET /v1/info
caps=$(jq -r '.capabilities.effective | join(",")' <<<"$API_BODY")
fl_log "agent capabilities after start-up: $caps"
for c in cap_net_admin cap_bpf cap_sys_ptrace; do
	[[ ",$caps," == *",$c,"* ]] || fl_fail "the agent lacks $c"
done
for c in cap_perfmon; do
	[[ ",$caps," != *",$c,"* ]] || fl_fail "the agent kept $c"
done
# The test's own lease outlives the test (the vm stage's CTest bound is 1,200 s; under a
# loaded host the guest took 665 s, and a 10-minute lease reverted its faults under it).
api POST /v1/leases '{"ttl_ms": 3600000}'
fl_assert_eq "$HTTP_STATUS" 201 "create lease"
LEASE=$(jq -r .lease.id <<<"$API_BODY")

# --- refusals ---------------------------------------------------------------------------------
api POST "/v1/leases/$LEASE/faults" "$(IFACE=nosuchif0 fault network.loss '"cidrs": ["10.78.0.2"]' '{"probability": "10%"}')"
fl_assert_eq "$HTTP_STATUS" 422 "unknown interface ($API_BODY)"
grep -q "no interface 'nosuchif0' on this host" <<<"$API_BODY" || fl_fail "unknown interface: $API_BODY"
api POST "/v1/leases/$LEASE/faults" "$(fault network.latency '"cidrs": ["10.78.0.2"]' '{"delay": "50ms"}')"
if [ "${FL_VM:-}" = 1 ]; then
	# Debian's kernel has sch_fq and sch_netem: applied (test_agent_latency.sh measures it).
	fl_assert_eq "$HTTP_STATUS" 201 "network.latency on a kernel with fq and netem ($API_BODY)"
	fl_log "network.latency under FL_VM=1: applied by $(jq -r .fault.status.egress.mechanism <<<"$API_BODY")"
	revert "$(jq -r .fault.id <<<"$API_BODY")"
else
	fl_assert_eq "$HTTP_STATUS" 503 "network.latency ($API_BODY)"
	grep -q 'needs sch_netem or sch_fq' <<<"$API_BODY" || fl_fail "latency reason: $API_BODY"
	fl_log "network.latency refused: $(jq -r .error.message <<<"$API_BODY")"
fi
fl_assert_eq "$(tc_state)" "$pristine" "tc state after refusals"

# --- loss 10 % on egress, then on ingress -----------------------------------------------------
apply "$(fault network.loss '"direction": "egress", "cidrs": ["10.78.0.2"], "protocol": "icmp"' '{"probability": "10%"}')"
ping_from "$A" $N 10.78.0.2
lost=$((TX - RX))
fl_assert_eq "$TX" $N "pings sent"
fl_assert_eq "$(status "$FID" .counters.matched)" $N "egress loss: matched"
fl_assert_eq "$(status "$FID" .counters.dropped)" $lost "egress loss: dropped vs lost in ping"
fl_check_loss "egress loss 10% (ping from the faulted host)" $N 0.1 $lost $ALPHA $CHECKS
revert "$FID"
fl_assert_eq "$(tc_state)" "$pristine" "tc state after the egress loss"

apply "$(fault network.loss '"direction": "ingress", "cidrs": ["10.78.0.2"], "protocol": "icmp"' '{"probability": "10%"}')"
ping_from "$A" $N 10.78.0.2
lost=$((TX - RX))
fl_assert_eq "$(status "$FID" .counters.matched)" $N "ingress loss: matched"
fl_assert_eq "$(status "$FID" .counters.dropped)" $lost "ingress loss: dropped vs lost in ping"
fl_check_loss "ingress loss 10%" $N 0.1 $lost $ALPHA $CHECKS
revert "$FID"
fl_assert_eq "$(tc_state)" "$pristine" "tc state after the ingress loss"
fl_assert_eq "$(journal_count)" 0 "journal records after the loss runs"

# --- partition: one address, one UDP port; the control channel passes -------------------------
# The listener lives until the test ends (the teardown kills what runs in the namespace): the
# steps up to the last echo take minutes in the vm. It must listen before the first echo:
# waited for up to 30 s (x5 in the vm), by time, not by a count of slow ss calls. Its -t is
# the client's: the client's line and EOF arrive together, and with socat's default of 0.5 s
# the listener closed the connection before a freshly started cat had echoed (the vm's first
# echo under load came back empty after 1 s: "expected 'ok', got 'lost'").
ip netns exec "$A" timeout 1800 socat -t $((4 * TCP_SLOW)) TCP-LISTEN:2222,reuseaddr,fork EXEC:cat 2>/dev/null &
t0=$SECONDS
until [ -n "$(ip netns exec "$A" ss -Hltn 'sport = :2222')" ]; do
	((SECONDS - t0 < 30 * TCP_SLOW)) || fl_fail "the echo listener did not listen within $((30 * TCP_SLOW)) s"
	sleep 0.1
done
fl_assert_eq "$(tcp_echo_ok 61001)" ok "TCP echo before any fault"
# This request comes from another SSH session than the agent's (direction: both by default).
SSH_CONNECTION="10.78.0.3 61001 10.78.0.1 2222" api POST "/v1/leases/$LEASE/faults" \
	"$(fault network.partition '"cidrs": ["10.78.0.3"]')"
[ "$HTTP_STATUS" = 201 ] || fl_fail "apply partition: HTTP $HTTP_STATUS: $API_BODY"
fid_addr=$(jq -r .fault.id <<<"$API_BODY")
fl_assert_eq "$(jq -r .fault.spec.target.direction <<<"$API_BODY")" both "partition's default direction"
apply "$(fault network.partition '"cidrs": ["10.78.0.2"], "protocol": "udp", "ports": [5001]')"
fid_port=$FID
fl_assert_eq "$(tc -n "$A" filter show dev "$DEV" egress | grep -c 'handle 0xfa17')" 1 \
	"one shared egress filter for two faults"
ping_from "$A" 1000 10.78.0.2
other_lost=$((TX - RX))
ping_from "$A" 200 10.78.0.3
target_rx=$RX
udp_lines 5001 5002
lines_5001=${LINES[5001]}
lines_5002=${LINES[5002]}
fl_log "partition: other address lost $other_lost of 1000 pings, partitioned address answered" \
	"$target_rx of 200; UDP lines received: $lines_5002/1000 on port 5002, $lines_5001/1000 on 5001"
fl_assert_eq "$other_lost" 0 "pings lost to the address no fault names"
fl_assert_eq "$target_rx" 0 "replies from the partitioned address"
fl_assert_eq "$lines_5002" 1000 "datagrams to the port no fault names"
fl_assert_eq "$lines_5001" 0 "datagrams to the partitioned port"
fl_assert_eq "$(status "$fid_addr" .counters.matched)" 200 "address partition: matched"
fl_assert_eq "$(status "$fid_addr" .counters.dropped)" 200 "address partition: dropped"
# Some datagrams (socat sends what it reads at once, up to 512 bytes), all of them dropped.
port_matched=$(status "$fid_port" .counters.matched)
((port_matched > 0)) || fl_fail "port partition matched nothing"
fl_assert_eq "$(status "$fid_port" .counters.dropped)" "$port_matched" "port partition: dropped"
# Control channel: both sessions pass, the same peer on another port does not.
fl_assert_eq "$(tcp_echo_ok 61001)" ok "the requester's SSH session through the partition"
fl_assert_eq "$(tcp_echo_ok 61002)" ok "the agent's SSH session through the partition"
fl_assert_eq "$(tcp_echo 61003)" lost "another flow of the partitioned peer"
exempted=$(status "$fid_addr" .counters.exempted)
((exempted > 0)) || fl_fail "no exempted packets counted"
fl_assert_eq "$(status "$fid_addr" '.protected | [.[].why | select(test("SSH"))] | sort | join(",")')" \
	"the agent's SSH session,the requester's SSH session" "protected flows in the status"
fl_log "control channel: both SSH flows passed the partition ($exempted packets exempted)," \
	"port 61003 did not"
revert "$fid_port"
[ "$(tc_state)" != "$pristine" ] || fl_fail "filters gone while a fault remains"
fl_assert_eq "$(tcp_echo 61003)" lost "the partition after the other fault's revert"
revert "$fid_addr"
fl_assert_eq "$(tc_state)" "$pristine" "tc state after the partitions"

# The policy (agent started with protected_ports: [5003]) protects a port a fault does not name.
apply "$(fault network.partition '"cidrs": ["10.78.0.2"], "protocol": "udp"')"
udp_lines 5002 5003
fl_log "partition of UDP to 10.78.0.2: ${LINES[5002]}/1000 lines to port 5002, ${LINES[5003]}/1000" \
	"to the policy's protected port 5003"
fl_assert_eq "${LINES[5002]}" 0 "datagrams to a partitioned peer"
fl_assert_eq "${LINES[5003]}" 1000 "datagrams to the policy's protected port"
fl_assert_eq "$(status "$FID" '.protected | map(.why) | index("policy") != null')" true \
	"policy exemptions in the status"
revert "$FID"
fl_assert_eq "$(tc_state)" "$pristine" "tc state after the policy check"
fl_assert_eq "$(journal_count)" 0 "journal records after the partitions"

# --- bandwidth: default root ------------------------------------------------------------------
apply "$(fault network.bandwidth '"direction": "both", "cidrs": ["10.78.0.2"]' '{"rate": "10mbit"}')"
fl_assert_eq "$(status "$FID" .egress.replaced)" "the default root qdisc (noqueue)" "replaced root"
shaped "bandwidth 10mbit egress (A -> B)" "$B" "$A" 10.78.0.2 4 -O 1
shaped "bandwidth 10mbit ingress (B -> A, through the IFB device)" "$B" "$A" 10.78.0.2 4 -O 1 -R
iperf "$B" "$A" 10.78.0.3 1
fl_log "untargeted address: $((BPS / 1000000)) Mbit/s"
((BPS > 10 * RATE)) || fl_fail "untargeted traffic shaped: $BPS bit/s"
eg=$(status "$FID" .egress.shaper.bytes)
in=$(status "$FID" .ingress.shaper.bytes)
((eg > 0 && in > 0)) || fl_fail "shaper counters: egress $eg, ingress $in"
revert "$FID"
fl_assert_eq "$(tc_state)" "$pristine" "tc state after the bandwidth run (default root)"

# --- bandwidth: a tbf root, then an htb tree, restored exactly; filters refused ---------------
tc -n "$A" qdisc add dev "$DEV" root handle 1: tbf rate 1gbit burst 128k latency 20ms
before=$(tc_state)
apply "$(fault network.bandwidth '"cidrs": ["10.78.0.2"]' '{"rate": "10mbit"}')"
fl_assert_eq "$(status "$FID" .egress.replaced)" "root qdisc tbf 1:" "replaced root (tbf)"
# (grep reads a here-string: with pipefail, "tc | grep -q" fails when grep quits first.)
grep -q '^qdisc htb fa17: root' <<<"$(tc -n "$A" qdisc show dev "$DEV")" || fl_fail "shaper not at the root"
revert "$FID"
fl_assert_eq "$(tc_state)" "$before" "tc state after the bandwidth run (tbf root)"
tc -n "$A" qdisc del dev "$DEV" root

tc -n "$A" qdisc add dev "$DEV" root handle 1: htb default 10
tc -n "$A" class add dev "$DEV" parent 1: classid 1:1 htb rate 900mbit quantum 60000
tc -n "$A" class add dev "$DEV" parent 1:1 classid 1:10 htb rate 500mbit ceil 900mbit quantum 60000
tc -n "$A" class add dev "$DEV" parent 1:1 classid 1:20 htb rate 100mbit quantum 60000
tc -n "$A" qdisc add dev "$DEV" parent 1:20 handle 20: pfifo limit 77
before=$(tc_state; tc -n "$A" -d qdisc show dev "$DEV"; tc -n "$A" -d class show dev "$DEV")
apply "$(fault network.bandwidth '"cidrs": ["10.78.0.2"]' '{"rate": "10mbit"}')"
fl_assert_eq "$(status "$FID" .egress.replaced)" "root qdisc htb 1:" "replaced root (htb)"
shaped "bandwidth 10mbit egress over a replaced htb tree" "$B" "$A" 10.78.0.2 4 -O 1
revert "$FID"
fl_assert_eq "$(tc_state; tc -n "$A" -d qdisc show dev "$DEV"; tc -n "$A" -d class show dev "$DEV")" \
	"$before" "tc state after the bandwidth run (htb tree)"

tc -n "$A" filter add dev "$DEV" parent 1: prio 3 protocol ip u32 match ip dst 10.78.0.3/32 flowid 1:20
before=$(tc_state)
api POST "/v1/leases/$LEASE/faults" "$(fault network.bandwidth '"cidrs": ["10.78.0.2"]' '{"rate": "10mbit"}')"
fl_assert_eq "$HTTP_STATUS" 409 "bandwidth over a root with tc filters ($API_BODY)"
grep -q 'tc filters' <<<"$API_BODY" || fl_fail "refusal reason: $API_BODY"
fl_log "refused over a root with filters: $(jq -r .error.message <<<"$API_BODY")"
fl_assert_eq "$(tc_state)" "$before" "tc state after the refusal"
tc -n "$A" qdisc del dev "$DEV" root
fl_assert_eq "$(tc_state)" "$pristine" "tc state after removing the test's htb"
fl_assert_eq "$(journal_count)" 0 "journal records after the bandwidth runs"

# --- kill -9 with faults active, then restart: recovery --------------------------------------
tc -n "$A" qdisc add dev "$DEV" root handle 1: tbf rate 1gbit burst 128k latency 20ms
before=$(tc_state)
apply "$(fault network.loss '"cidrs": ["10.78.0.2"]' '{"probability": "10%"}')"
f1=$FID
apply "$(fault network.partition '"cidrs": ["10.78.0.3"]')"
f2=$FID
apply "$(fault network.bandwidth '"direction": "both", "cidrs": ["10.78.0.2"]' '{"rate": "10mbit"}')"
f3=$FID
fl_assert_eq "$(journal_count)" 3 "journal records with three faults active"
fl_crash_agent "$FL_AGENT_PID"
wait "$FL_AGENT_PID" 2>/dev/null || true
grep -q netfault_out <<<"$(tc -n "$A" filter show dev "$DEV" egress)" ||
	fl_fail "no leftover filter after kill -9"
grep -q flifb <<<"$(ip -n "$A" -o link show type ifb)" || fl_fail "no leftover IFB device after kill -9"
ping_from "$A" 3 10.78.0.3
fl_assert_eq "$RX" 0 "the leftover partition still drops"
fl_start_agent "$A" "$sock" "$dir/agent2.log" --log-level debug --policy "$dir/policy.yaml"
for f in $f1 $f2 $f3; do
	line=$(grep "recovery: fault $f " "$dir/agent2.log") || fl_fail "no recovery report for $f"
	fl_log "${line#*recovery: }"
done
grep -q "cleanup: 3 records from an earlier run, 0 failed" "$dir/agent2.log" ||
	fl_fail "recovery summary: $(grep cleanup: "$dir/agent2.log")"
fl_assert_eq "$(tc_state)" "$before" "tc state after crash recovery"
fl_assert_eq "$(journal_count)" 0 "journal records after crash recovery"
ping_from "$A" 3 10.78.0.3
fl_assert_eq "$RX" 3 "traffic after crash recovery"
tc -n "$A" qdisc del dev "$DEV" root
fl_assert_eq "$(tc_state)" "$pristine" "tc state at the end"

fl_log "done in $((SECONDS - start)) s"
