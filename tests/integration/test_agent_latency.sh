#!/usr/bin/env bash
# network.latency through the real agent API, on a kernel with sch_fq and sch_netem (the vm
# stage: Debian's 6.1 under qemu TCG). The agent runs in namespace A, its peer in B, over a
# veth pair; ping from A to B measures the RTT, whose added part is the injected delay:
#   - 50 ms +- 10 ms jitter, uniform and normal, on egress by EDT (eBPF timestamps under
#     sch_fq) and by netem (HTB class steered by the eBPF program), and normal on ingress
#     (netem on an IFB device): the median RTT minus the baseline median is within 2 ms of
#     what the kernel's own netem (set up by tc on a second veth pair, C -> D, and pinged at
#     the same time) adds with the same parameters;
#   - reordering only where jitter demands it: EDT never reorders a flow (30 ms and 5 ms
#     spacing); netem reorders pings 5 ms apart under a 20 ms jitter range, as the drawn
#     delays demand, and nothing without jitter;
#   - untargeted traffic (another address) is not delayed;
#   - bulk TCP sent from A under a 100 ms delay, EDT and netem, reaches at least a third of
#     what the kernel's netem gives the same iperf3 run (TCP Small Queues would hold an EDT
#     flow to a thousandth of it if the held packets kept their socket);
#   - the status names the mechanism and why; the EDT rule's delayed counter equals matched;
#     mechanism edt on ingress is refused (422);
#   - after every revert, and after kill -9 plus restart, `tc -d qdisc show`, `tc -d class
#     show`, `tc filter show` (root, ingress, egress) and the IFB devices are byte-for-byte
#     what they were: over the default root, over a prior fq root with non-default parameters
#     (EDT) and over a prior tbf root (netem).
# On a kernel without sch_fq or sch_netem (this project's host kernel) it skips with the reason;
# test_agent_network.sh asserts the agent's refusal there.
#
# Timing: under TCG on a shared host, every qdisc timer fires late, by 3-15 ms at the median
# depending on the host's load (measured on both paths and on the reference alike), so 50 ms
# alone cannot be the yardstick; the reference measured at the same moment is. Medians are over
# 1,200 samples (4 ping flows of 300 at 30 ms spacing, so EDT's per-flow ordering never holds a
# sparse ping back). The check passes when the difference of the two medians is within 2 ms,
# or, when TCG's stalls make the medians that uncertain, when the difference's 99.9 %
# distribution-free interval reaches into [-2, 2] ms (the log says which, and the point
# estimate against 2 ms); an added median below 48 ms always fails. The dense netem run expects
# ~28 % of pings overtaken ((15/20)^2 / 2); asserting at least 1 of 200 cannot fail by chance.
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/ping_lib.sh
. "$(dirname "$0")/ping_lib.sh"
fl_require_root
fl_require_cmd ip tc ping socat ss awk curl jq timeout nsenter sort iperf3
fl_require_build

fl_netns A a
fl_netns B b
# The kernel features, asked of the kernel itself in the test's own namespace.
for kind in fq netem; do
	tc -n "$A" qdisc add dev lo root handle 1: $kind 2>/dev/null ||
		fl_skip "the kernel has no sch_$kind (tc: qdisc kind unknown); the vm stage runs this test"
	tc -n "$A" qdisc del dev lo root
done
for ns in "$A" "$B"; do
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1
done
fl_veth "$A" "$B" 10.79.0.1/24 10.79.0.2/24
ip -n "$B" addr add 10.79.0.3/24 dev "$FL_ID-b"
DEV=$FL_ID-a
# A veth hands each packet to the backlog of the CPU that sends it, so two packets sent from
# different CPUs (the qdisc's timer fires on any CPU) can swap on the way: reordering that no
# delay caused. RPS on both ends puts every packet in CPU 0's backlog, in the order sent.
ip netns exec "$A" sh -c "echo 1 >/sys/class/net/$DEV/queues/rx-0/rps_cpus"
ip netns exec "$B" sh -c "echo 1 >/sys/class/net/$FL_ID-b/queues/rx-0/rps_cpus"
# The reference: the kernel's own netem, set up by tc on a second veth pair (C -> D) and
# measured at the same time as the agent's fault. Under qemu TCG on a loaded host every
# qdisc timer fires late (by 3-6 ms at the median, measured); the reference shows by how
# much at that moment, so the check compares like with like.
fl_netns C c
fl_netns D d
ip link add "$FL_ID-c" netns "$C" type veth peer name "$FL_ID-d" netns "$D"
ip -n "$C" addr add 10.80.0.1/24 dev "$FL_ID-c"
ip -n "$D" addr add 10.80.0.2/24 dev "$FL_ID-d"
ip -n "$C" link set "$FL_ID-c" up
ip -n "$D" link set "$FL_ID-d" up
ip netns exec "$C" sh -c "echo 1 >/sys/class/net/$FL_ID-c/queues/rx-0/rps_cpus"
ip netns exec "$D" sh -c "echo 1 >/sys/class/net/$FL_ID-d/queues/rx-0/rps_cpus"
fl_tmpdir dir
sock=$dir/agent.sock
state=$dir/state
export SSH_CONNECTION="10.79.0.3 61002 10.79.0.1 2222"

api() { FL_API_TIMEOUT=60 fl_api "$@"; }

# latency DIRECTION CIDR PARAMS_JSON [PROTOCOL]: the body of a latency fault on A's veth
# (protocol icmp unless given).
latency() {
	printf '{"name": "t", "type": "network.latency", "duration": "10m", "target": {"interface": "%s", "direction": "%s", "cidrs": ["%s"], "protocol": "%s"}, "params": %s}' \
		"$DEV" "$1" "$2" "${4:-icmp}" "$3"
}

apply() {
	api POST "/v1/leases/$LEASE/faults" "$1"
	[ "$HTTP_STATUS" = 201 ] || fl_fail "apply: HTTP $HTTP_STATUS: $API_BODY"
	FID=$(jq -r .fault.id <<<"$API_BODY")
}

revert() {
	api DELETE "/v1/faults/$1"
	[ "$HTTP_STATUS" = 200 ] || fl_fail "revert $1: HTTP $HTTP_STATUS: $API_BODY"
}

status() {
	api GET "/v1/faults/$1"
	jq -r ".fault.status$2" <<<"$API_BODY"
}

journal_count() { fl_journal_count "$state/journal"; }

tc_state() {
	tc -n "$A" -d qdisc show dev "$DEV" 2>&1
	tc -n "$A" -d class show dev "$DEV" 2>&1
	tc -n "$A" filter show dev "$DEV" 2>&1
	tc -n "$A" filter show dev "$DEV" ingress 2>&1
	tc -n "$A" filter show dev "$DEV" egress 2>&1
	ip -n "$A" -o link show type ifb 2>&1
}

# pings TAG ADDR FLOWS COUNT INTERVAL: ping_flows from A, waited for.
pings() {
	PIDS=()
	ping_flows "$A" "$@"
	wait "${PIDS[@]}" || true
}

SPARSE="4 300 0.03" # flows, pings per flow, spacing (s): 1,200 samples in ~9 s

# measure TAG DIST [ingress]: sparse pings to 10.79.0.2 and, at the same time, through the
# reference netem (50 ms +- 10 ms of DIST on C's egress, or with "ingress" on an IFB device C's
# ingress is redirected to, as the agent does); sets ADDED and REF_ADDED (medians minus
# baselines).
measure() {
	local n m r dev=$FL_ID-c
	if [ "${3:-}" = ingress ]; then
		dev=$FL_ID-r
		tc -n "$C" qdisc del dev "$FL_ID-c" root 2>/dev/null || true
		ip -n "$C" link add "$dev" type ifb
		ip -n "$C" link set "$dev" up
		tc -n "$C" qdisc add dev "$FL_ID-c" ingress
		tc -n "$C" filter add dev "$FL_ID-c" parent ffff: protocol ip u32 match u32 0 0 \
			action mirred egress redirect dev "$dev"
	fi
	tc -n "$C" qdisc replace dev "$dev" root netem limit 50000 delay 50ms 10ms \
		$([ "$2" = uniform ] || echo distribution "$2")
	PIDS=()
	ping_flows "$A" "$1" 10.79.0.2 $SPARSE
	ping_flows "$C" "ref-$1" 10.80.0.2 $SPARSE
	wait "${PIDS[@]}" || true
	n=$(samples "$1")
	m=$(median "$1")
	r=$(median "ref-$1")
	((n >= 1180)) || fl_fail "$1: only $n of 1200 replies"
	ADDED=$(awk -v m="$m" -v b="$BASE" 'BEGIN { printf "%.2f", m - b }')
	REF_ADDED=$(awk -v m="$r" -v b="$REF_BASE" 'BEGIN { printf "%.2f", m - b }')
	fl_log "$1: $n replies, median RTT $m ms ($(spread "$1")), added $ADDED ms;" \
		"reference netem at the same time: added $REF_ADDED ms ($(spread "ref-$1"));" \
		"$(reorders "$1") reordered"
}

# The added median against 50 ms plus the lateness the reference shows at the same time: the
# difference of the two medians must be within 2 ms, or, when TCG's stalls make the medians
# that uncertain, the difference's 99.9 % interval (from the two medians' intervals) must
# reach into [-2, 2] ms. The point estimate is reported against the plain 2 ms either way.
check_added() { # check_added TAG WHAT
	local alo ahi rlo rhi
	read -r alo ahi < <(median_ci "$1")
	read -r rlo rhi < <(median_ci "ref-$1")
	awk -v a="$ADDED" -v r="$REF_ADDED" -v alo="$alo" -v ahi="$ahi" -v rlo="$rlo" -v rhi="$rhi" \
		-v b="$BASE" -v rb="$REF_BASE" -v what="$2" 'BEGIN {
		d = a - r; lo = (alo - b) - (rhi - rb); hi = (ahi - b) - (rlo - rb)
		printf "[check] %s: added %.2f ms, reference %.2f ms: difference %+.2f ms (%s 2 ms); 99.9%% interval of the difference [%+.2f, %+.2f] ms\n",
			what, a, r, d, (d >= -2 && d <= 2) ? "inside" : "OUTSIDE", lo, hi
		exit !(a >= 48 && lo <= 2 && hi >= -2) }' ||
		fl_fail "$2: added RTT median $ADDED ms is not within 2 ms of the reference's $REF_ADDED ms" \
			"(or below 48 ms)"
}

start=$SECONDS
pristine=$(tc_state)
fl_start_agent "$A" "$sock" "$dir/agent.log" --log-level debug
# The test's own lease outlives the test (the vm stage's CTest bound is 1,200 s; under a
# loaded host the guest took 665 s, and a 10-minute lease reverted its faults under it).
api POST /v1/leases '{"ttl_ms": 3600000}'
fl_assert_eq "$HTTP_STATUS" 201 "create lease"
LEASE=$(jq -r .lease.id <<<"$API_BODY")

PIDS=()
ping_flows "$A" base 10.79.0.2 $SPARSE
ping_flows "$C" ref-base 10.80.0.2 $SPARSE
wait "${PIDS[@]}" || true
BASE=$(median base)
REF_BASE=$(median ref-base)
fl_log "baseline: $(samples base) replies, median RTT $BASE ms ($(spread base)); reference" \
	"path: median $REF_BASE ms ($(spread ref-base))"
fl_assert_eq "$(reorders base)" 0 "reordered replies without a fault"

# --- refusals: EDT cannot delay ingress ---------------------------------------------------------
api POST "/v1/leases/$LEASE/faults" "$(latency ingress 10.79.0.2 '{"delay": "50ms", "mechanism": "edt"}')"
fl_assert_eq "$HTTP_STATUS" 422 "edt on ingress ($API_BODY)"
grep -q 'edt delays egress only' <<<"$API_BODY" || fl_fail "edt on ingress: $API_BODY"
fl_assert_eq "$(tc_state)" "$pristine" "tc state after the refusal"

# --- EDT: the default choice on this kernel --------------------------------------------------------
for dist in uniform normal; do
	apply "$(latency egress 10.79.0.2 "{\"delay\": \"50ms\", \"jitter\": \"10ms\", \"distribution\": \"$dist\"}")"
	fl_assert_eq "$(status "$FID" .egress.mechanism)" edt "default mechanism with sch_fq"
	[ "$dist" = uniform ] && fl_log "EDT: why: $(status "$FID" .egress.why)"
	grep -q '^qdisc fq fa17: root' <<<"$(tc -n "$A" qdisc show dev "$DEV")" || fl_fail "no fq at the root"
	fl_log "EDT fq: $(tc -n "$A" qdisc show dev "$DEV" | head -1)"
	measure "edt-$dist" "$dist"
	check_added "edt-$dist" "EDT $dist"
	fl_assert_eq "$(reorders "edt-$dist")" 0 "EDT $dist: reordered replies at 30 ms spacing"
	if [ "$dist" = uniform ]; then
		pings edt-untargeted 10.79.0.3 4 100 0.03
		u=$(median edt-untargeted)
		fl_log "EDT: untargeted address median RTT $u ms (baseline $BASE ms)"
		awk -v u="$u" -v b="$BASE" 'BEGIN { exit !(u < b + 5) }' || fl_fail "untargeted traffic delayed: $u ms"
		pings edt-dense 10.79.0.2 1 200 0.005
		fl_log "EDT dense (5 ms spacing): $(samples edt-dense) replies, $(reorders edt-dense) reordered"
		fl_assert_eq "$(reorders edt-dense)" 0 "EDT: reordered replies of one flow at 5 ms spacing"
	fi
	matched=$(status "$FID" .counters.matched)
	((matched >= 800)) || fl_fail "EDT rule matched only $matched"
	fl_assert_eq "$(status "$FID" .counters.delayed)" "$matched" "EDT: delayed vs matched"
	fl_assert_eq "$(status "$FID" .distribution)" "$dist" "distribution in the status"
	revert "$FID"
	fl_assert_eq "$(tc_state)" "$pristine" "tc state after EDT $dist"
done

# EDT over a prior fq root with non-default parameters: put back exactly.
tc -n "$A" qdisc add dev "$DEV" root handle 1: fq limit 5000 flow_limit 77 quantum 6000 horizon 3s horizon_cap
before=$(tc_state)
apply "$(latency egress 10.79.0.2 '{"delay": "50ms", "jitter": "10ms", "mechanism": "edt"}')"
fl_assert_eq "$(status "$FID" .egress.replaced)" "root qdisc fq 1:" "replaced root (fq)"
fl_assert_eq "$(status "$FID" .egress.why)" "requested (mechanism: edt)" "why, when requested"
revert "$FID"
fl_assert_eq "$(tc_state)" "$before" "tc state after EDT over an fq root"
tc -n "$A" qdisc del dev "$DEV" root
fl_assert_eq "$(tc_state)" "$pristine" "tc state after removing the test's fq"

# --- netem, by request ----------------------------------------------------------------------------
for dist in uniform normal; do
	apply "$(latency egress 10.79.0.2 "{\"delay\": \"50ms\", \"jitter\": \"10ms\", \"distribution\": \"$dist\", \"mechanism\": \"netem\"}")"
	fl_assert_eq "$(status "$FID" .egress.mechanism)" netem "requested mechanism"
	fl_log "netem: $(tc -n "$A" qdisc show dev "$DEV" | grep netem)"
	measure "netem-$dist" "$dist"
	check_added "netem-$dist" "netem $dist"
	if [ "$dist" = uniform ]; then
		# netem sends in the order of the drawn departure times: pings closer together
		# than the jitter range swap. (Not asserted at 30 ms spacing: when TCG stalls the
		# guest, ping sends late requests back to back, and those may swap too.)
		pings netem-dense 10.79.0.2 1 200 0.005
		r=$(reorders netem-dense)
		fl_log "netem dense (5 ms spacing): $(samples netem-dense) replies, $r reordered (about 28% expected)"
		((r >= 1)) || fl_fail "netem: no reordering at 5 ms spacing under a 20 ms jitter range"
	fi
	revert "$FID"
	fl_assert_eq "$(tc_state)" "$pristine" "tc state after netem $dist"
done

# Without jitter nothing may be reordered, however close the packets.
apply "$(latency egress 10.79.0.2 '{"delay": "50ms", "mechanism": "netem"}')"
pings netem-fixed 10.79.0.2 1 200 0.005
fl_log "netem without jitter, 5 ms spacing: median RTT $(median netem-fixed) ms, $(reorders netem-fixed) reordered"
fl_assert_eq "$(reorders netem-fixed)" 0 "netem without jitter: reordered replies"
revert "$FID"

# netem over a prior tbf root.
tc -n "$A" qdisc add dev "$DEV" root handle 1: tbf rate 1gbit burst 128k latency 20ms
before=$(tc_state)
apply "$(latency egress 10.79.0.2 '{"delay": "50ms", "mechanism": "netem"}')"
fl_assert_eq "$(status "$FID" .egress.replaced)" "root qdisc tbf 1:" "replaced root (tbf)"
revert "$FID"
fl_assert_eq "$(tc_state)" "$before" "tc state after netem over a tbf root"
tc -n "$A" qdisc del dev "$DEV" root

# --- ingress: netem on an IFB device ----------------------------------------------------------------
apply "$(latency ingress 10.79.0.2 '{"delay": "50ms", "jitter": "10ms", "distribution": "normal"}')"
fl_assert_eq "$(status "$FID" .ingress.mechanism)" netem-ifb "ingress mechanism"
measure ingress-normal normal ingress
check_added ingress-normal "ingress netem normal"
revert "$FID"
fl_assert_eq "$(tc_state)" "$pristine" "tc state after the ingress run"
fl_assert_eq "$(journal_count)" 0 "journal records after the runs"

# --- bulk TCP under a 100 ms delay: EDT does not cap it ------------------------------------------
# A socket's packets count against TCP Small Queues until they are freed; fq holds a stamped
# packet for the whole delay, so unless the packet leaves in a socketless copy (as netem's
# skb_orphan_partial() does; bpf/netfault.bpf.c hand_over()) a bulk flow may only have about a
# millisecond of its pacing rate in the host: 0 Mbit/s under 100 ms, measured, against 236
# for netem. Reference: the kernel's netem (limit 50000) on C's egress with the same delay,
# measured just before with the same iperf3 run. Both are bounded by the same window (the two
# namespaces have the default TCP buffers) over the same 100 ms; under TCG the rates swing by
# a factor of about 2 between runs, so EDT must reach a third of the reference: a flow held
# by TSQ reaches a thousandth.
# iperf_mbps NS ADDR SERVER_NS: Mbit/s received by a one-off iperf3 server in SERVER_NS.
iperf_mbps() {
	local out srv i
	ip netns exec "$3" timeout 60 iperf3 -s -1 -B "$2" -p 5301 >/dev/null 2>&1 &
	srv=$!
	fl_on_exit "kill $srv 2>/dev/null || true"
	for ((i = 0; i < 100; i++)); do
		[ -n "$(ip netns exec "$3" ss -Htln "sport = :5301")" ] && break
		sleep 0.1
	done
	out=$(ip netns exec "$1" timeout 40 iperf3 -c "$2" -p 5301 -t 6 -O 2 -J 2>&1) || true
	wait "$srv" 2>/dev/null || true
	jq -r '.end.sum_received.bits_per_second / 1e6 | floor' <<<"$out" 2>/dev/null || echo "none: $out"
}
tc -n "$C" qdisc replace dev "$FL_ID-c" root netem limit 50000 delay 100ms
for mech in edt netem; do
	ref=$(iperf_mbps "$C" 10.80.0.2 "$D")
	apply "$(latency egress 10.79.0.2/32 "{\"delay\": \"100ms\", \"mechanism\": \"$mech\"}" tcp)"
	got=$(iperf_mbps "$A" 10.79.0.2 "$B")
	[[ "$ref" =~ ^[0-9]+$ && "$got" =~ ^[0-9]+$ ]] || fl_fail "iperf3 under $mech: ref '$ref', got '$got'"
	fl_log "bulk TCP under 100 ms, $mech: $got Mbit/s; reference netem: $ref Mbit/s;" \
		"fault qdisc: $(status "$FID" .egress.qdisc.stats | jq -c .)"
	revert "$FID"
	awk -v g="$got" -v r="$ref" 'BEGIN { exit !(r > 0 && g >= r / 3) }' ||
		fl_fail "bulk TCP under a 100 ms $mech delay: $got Mbit/s, under a third of netem's $ref"
done
tc -n "$C" qdisc del dev "$FL_ID-c" root
fl_assert_eq "$(tc_state)" "$pristine" "tc state after the bulk TCP runs"

# --- kill -9 with EDT egress and ingress latency active, then restart ---------------------------------
tc -n "$A" qdisc add dev "$DEV" root handle 1: tbf rate 1gbit burst 128k latency 20ms
before=$(tc_state)
apply "$(latency both 10.79.0.2 '{"delay": "50ms"}')"
f1=$FID
fl_crash_agent "$FL_AGENT_PID"
wait "$FL_AGENT_PID" 2>/dev/null || true
grep -q '^qdisc fq fa17: root' <<<"$(tc -n "$A" qdisc show dev "$DEV")" || fl_fail "no leftover fq after kill -9"
grep -q flifb <<<"$(ip -n "$A" -o link show type ifb)" || fl_fail "no leftover IFB device after kill -9"
fl_start_agent "$A" "$sock" "$dir/agent2.log" --log-level debug
line=$(grep "recovery: fault $f1 " "$dir/agent2.log") || fl_fail "no recovery report for $f1"
fl_log "${line#*recovery: }"
fl_assert_eq "$(tc_state)" "$before" "tc state after crash recovery"
fl_assert_eq "$(journal_count)" 0 "journal records after crash recovery"
tc -n "$A" qdisc del dev "$DEV" root
fl_assert_eq "$(tc_state)" "$pristine" "tc state at the end"

fl_log "done in $((SECONDS - start)) s"
