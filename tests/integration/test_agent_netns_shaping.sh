#!/usr/bin/env bash
# network.bandwidth and network.latency inside another network namespace than the agent's
# (docs/containers.md, docs/network-faults.md "Other network namespaces"): the agent runs in
# namespace H; the traffic is between namespaces A and B (a veth, 10.83.0.1 and .3 on A,
# 10.83.0.2 on B, B's default route through A), which the agent reaches only through B's
# namespace file. Every fault names `netns: /run/netns/B` and leaves the interface out (B's
# default route's).
#   - GET /v1/info lists cap_sys_admin (setns) as the shaping types' optional capability;
#   - bandwidth 10 mbit both ways, measured with iperf3 from B (egress, HTB at the root of B's
#     veth) and to B (ingress, through an IFB device that is created in B): within
#     [-10 %, +10 %] (iperf_lib.sh says why those bounds); traffic to the untargeted address
#     unshaped; the status's shaper counters (read in B) grow; no IFB device and no qdisc of
#     ours in H or in the initial namespace. The vm stage sets it up and checks the qdiscs
#     only: with the host loaded (load average ~37), TCG starved the ingress path to 5.5-7.0
#     Mbit/s there, and vm.agent_network measures the rates on that kernel already;
#   - after the revert `tc qdisc/class/filter show` and `ip link` in B are byte-for-byte what
#     they were;
#   - with podman (not in the vm): a container run on B's namespace, targeted by its id: the
#     same limit measured on egress, the same state after the revert;
#   - network.latency: on this host's kernel (no sch_netem, no sch_fq) refused with 503 and the
#     probe's reason, as in the agent's own namespace; in the vm stage (FL_VM=1, Debian's
#     kernel) 50 ms both ways (EDT on egress, netem on an IFB device in B on ingress): every
#     ping reply from B takes at least 100 ms, the median less than 200 ms (a delay set in
#     the wrong unit is 1,000x off), then reverted to B's state before;
#   - crash, over a tbf root the test puts on B's veth first: bandwidth both ways active,
#     (1) the agent alone SIGKILLed: its watchdog re-enters B and puts the tbf back, deletes
#     the IFB device and our filters; (2) agent and watchdog SIGKILLed: the leftovers stay
#     until the next start, whose recovery re-enters B and removes them.
# Flake budget: the rate checks as in test_agent_network.sh (upper bound every run, lower bound
# the best of 3); the latency bounds are physical (netem and EDT never send early) or 2x wide.
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/iperf_lib.sh
. "$(dirname "$0")/iperf_lib.sh"
fl_require_root
fl_require_cmd ip tc ping curl jq awk nsenter iperf3 ss timeout
fl_require_build

RATE=10000000

fl_netns H h
fl_netns A a
fl_netns B b
for ns in "$A" "$B"; do
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1
done
fl_veth "$A" "$B" 10.83.0.1/24 10.83.0.2/24
ip -n "$A" addr add 10.83.0.3/24 dev "$FL_ID-a"
BDEV=$FL_ID-b
ip -n "$B" route add default via 10.83.0.1 dev "$BDEV"
fl_tmpdir dir
sock=$dir/agent.sock
state=$dir/state

api() { FL_API_TIMEOUT=30 fl_api "$@"; }
lease() {
	api POST /v1/leases '{"ttl_ms": 600000}'
	fl_assert_eq "$HTTP_STATUS" 201 "lease: $API_BODY"
	LEASE=$(jq -r .lease.id <<<"$API_BODY")
}
# fault TYPE TARGET_JSON PARAMS_JSON: a fault in B, on B's default-route interface.
fault() {
	printf '{"name": "t", "type": "%s", "duration": "10m", "target": {"netns": "/run/netns/%s", %s}, "params": %s}' \
		"$1" "$B" "$2" "$3"
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
status() { api GET "/v1/faults/$1"; jq -r ".fault.status$2" <<<"$API_BODY"; }
# Everything of B's that a shaping fault may change: its veth's qdiscs, classes and filters,
# and its devices (an IFB device of ours would be one more).
state_b() {
	tc -n "$B" -d qdisc show dev "$BDEV" 2>&1
	tc -n "$B" -d class show dev "$BDEV" 2>&1
	tc -n "$B" filter show dev "$BDEV" 2>&1
	tc -n "$B" filter show dev "$BDEV" ingress 2>&1
	tc -n "$B" filter show dev "$BDEV" egress 2>&1
	# (The peer's namespace left out: with namespaces of other tests coming and going, ip may
	# fail to name it, "Peer netns reference is invalid"; a device of ours would still show.)
	# The carrier flags left out too: in the slow vm a veth end just created may still say
	# NO-CARRIER when the pristine state is read, and not after the revert.
	ip -n "$B" -o link show 2>/dev/null |
		sed -e 's/ state [A-Z]* / /' -e 's/ link-netns.*//' -e 's/NO-CARRIER,//' -e 's/,LOWER_UP//'
}
# An IFB device of ours for B's veth anywhere but B: in H (the agent's namespace) or in the
# initial namespace (found by the alias naming B's veth, which no other test uses).
ifb_outside_b() {
	ip -n "$H" -o link show type ifb
	ip -o -d link show type ifb | grep -F "of $BDEV" || true
}
ping_rtts() { # ping_rtts COUNT: B pings A's 10.83.0.1; one RTT in ms a line
	ip netns exec "$B" timeout 120 ping -n -c "$1" -i 0.05 -W 2 10.83.0.1 2>&1 |
		sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p'
}
start_agent() { fl_start_agent "$H" "$sock" "$dir/$1" --log-level debug; }

start=$SECONDS
pristine=$(state_b)
start_agent agent.log
api GET /v1/info
for t in network.bandwidth network.latency; do
	fl_assert_eq "$(jq -r --arg t $t '.fault_types[] | select(.name == $t) | .capabilities_optional' <<<"$API_BODY")" \
		cap_sys_admin "$t's optional capability (setns) in /v1/info"
done
lease

# --- bandwidth 10 mbit both ways in B ---------------------------------------------------------
apply "$(fault network.bandwidth '"direction": "both", "cidrs": ["10.83.0.1"]' '{"rate": "10mbit"}')"
fl_assert_eq "$(jq -r .fault.status.interface <<<"$API_BODY")" "$BDEV" "the default-route interface"
fl_assert_eq "$(jq -r .fault.status.netns.inode <<<"$API_BODY")" "$(stat -L -c %i "/run/netns/$B")" "netns inode in the status"
fl_assert_eq "$(status "$FID" .egress.replaced)" "the default root qdisc (noqueue)" "replaced root in B"
ifb=$(status "$FID" .ingress.ifb)
grep -q "^qdisc htb fa17: root" <<<"$(tc -n "$B" qdisc show dev "$BDEV")" || fl_fail "no shaper at B's root: $(state_b)"
grep -q "^qdisc tbf .* root" <<<"$(tc -n "$B" qdisc show dev "$ifb")" || fl_fail "no IFB device $ifb with a tbf in B"
fl_assert_eq "$(ifb_outside_b)" "" "IFB devices outside B"
[ -z "$(tc -n "$H" qdisc show | grep -E 'htb|tbf|clsact')" ] || fl_fail "qdiscs of ours in H: $(tc -n "$H" qdisc show)"
if [ -z "${FL_VM:-}" ]; then
	shaped "bandwidth 10mbit egress in B (B -> A)" "$A" "$B" 10.83.0.1 4 -O 1
	shaped "bandwidth 10mbit ingress in B (A -> B, through $ifb in B)" "$A" "$B" 10.83.0.1 4 -O 1 -R
	iperf "$A" "$B" 10.83.0.3 1
	fl_log "untargeted address: $((BPS / 1000000)) Mbit/s"
	((BPS > 10 * RATE)) || fl_fail "untargeted traffic shaped: $BPS bit/s"
	eg=$(status "$FID" .egress.shaper.bytes)
	in=$(status "$FID" .ingress.shaper.bytes)
	fl_log "shaper counters read in B: egress $eg bytes, ingress $in bytes"
	((eg > 4 * RATE / 8 / 2 && in > 4 * RATE / 8 / 2)) || fl_fail "shaper counters: egress $eg, ingress $in"
else
	fl_log "vm: the rates are measured on the host (vm.agent_network measures them on this kernel)"
fi
revert "$FID"
fl_assert_eq "$(state_b)" "$pristine" "B's state after the bandwidth revert"
fl_assert_eq "$(fl_journal_count "$state/journal")" 0 "journal records after the revert"

# --- the same by container id: a podman container on B's namespace (not in the vm) ------------
if [ -z "${FL_VM:-}" ] && command -v podman >/dev/null 2>&1 && command -v runc >/dev/null 2>&1 &&
	[ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; then
	PODMAN=(podman --runtime runc --cgroup-manager cgroupfs)
	IMG=localhost/$FL_ID-img:1
	CTR=$FL_ID-c
	# Teardown runs in reverse: the container, then the image.
	fl_on_exit "${PODMAN[*]} rmi -f $IMG"
	fl_on_exit "${PODMAN[*]} rm -f -t 0 $CTR"
	mkdir "$dir/img"
	cp /bin/busybox "$dir/img/busybox"
	printf 'FROM scratch\nCOPY busybox /bin/\nCMD ["/bin/busybox", "sleep", "600"]\n' >"$dir/img/Containerfile"
	timeout 120 "${PODMAN[@]}" build -q -t "$IMG" "$dir/img" >"$dir/build.log" 2>&1 ||
		fl_fail "podman build: $(tail -5 "$dir/build.log")"
	timeout 60 "${PODMAN[@]}" run -d --name "$CTR" --ulimit nofile=1024:1024 \
		--ulimit nproc=4096:4096 --network "ns:/run/netns/$B" "$IMG" >"$dir/run.log" 2>&1 ||
		fl_fail "podman run: $(tail -5 "$dir/run.log")"
	cid=$("${PODMAN[@]}" inspect -f '{{.Id}}' "$CTR")
	apply "$(printf '{"name": "t", "type": "network.bandwidth", "duration": "10m", "target": {"container": {"id": "%s"}, "cidrs": ["10.83.0.1"]}, "params": {"rate": "10mbit"}}' "$cid")"
	fl_assert_eq "$(jq -r .fault.status.netns.inode <<<"$API_BODY")" "$(stat -L -c %i "/run/netns/$B")" "the container's netns inode"
	fl_assert_eq "$(jq -r .fault.status.interface <<<"$API_BODY")" "$BDEV" "the container's default-route interface"
	shaped "bandwidth 10mbit egress in container ${cid:0:12} (B -> A)" "$A" "$B" 10.83.0.1 4 -O 1
	revert "$FID"
	fl_assert_eq "$(state_b)" "$pristine" "B's state after the container's bandwidth revert"
else
	fl_log "no podman, runc and static busybox (or in the vm): the container target is not run"
fi

# --- latency ----------------------------------------------------------------------------------
lat=$(fault network.latency '"direction": "both", "cidrs": ["10.83.0.1"], "protocol": "icmp"' '{"delay": "50ms"}')
if [ -z "${FL_VM:-}" ]; then
	api POST "/v1/leases/$LEASE/faults" "$lat"
	fl_assert_eq "$HTTP_STATUS" 503 "latency on a kernel without sch_netem and sch_fq ($API_BODY)"
	grep -q "needs sch_netem or sch_fq" <<<"$API_BODY" || fl_fail "latency refusal: $API_BODY"
	fl_log "latency refused (503): $(jq -r .error.message <<<"$API_BODY")"
	fl_assert_eq "$(state_b)" "$pristine" "B's state after the latency refusal"
else
	apply "$lat"
	fl_assert_eq "$(status "$FID" .egress.mechanism)" edt "egress mechanism"
	fl_assert_eq "$(status "$FID" .ingress.mechanism)" netem-ifb "ingress mechanism"
	ifb=$(status "$FID" .ingress.ifb)
	grep -q "^qdisc netem .* root" <<<"$(tc -n "$B" qdisc show dev "$ifb")" || fl_fail "no netem on $ifb in B"
	fl_assert_eq "$(ifb_outside_b)" "" "IFB devices outside B"
	mapfile -t r < <(ping_rtts 100 | sort -n)
	((${#r[@]} >= 95)) || fl_fail "only ${#r[@]} of 100 replies through the latency"
	med=${r[$((${#r[@]} / 2))]}
	fl_log "latency 50 ms both ways in B: ${#r[@]} replies, RTT min ${r[0]} ms, median $med ms"
	awk -v m="${r[0]}" 'BEGIN { exit !(m >= 100) }' || fl_fail "a reply in ${r[0]} ms, under the 100 ms injected"
	awk -v m="$med" 'BEGIN { exit !(m < 200) }' || fl_fail "median RTT $med ms, twice the 100 ms injected"
	revert "$FID"
	fl_assert_eq "$(state_b)" "$pristine" "B's state after the latency revert"
fi

# --- crash: the watchdog, then the next start, re-enter B -------------------------------------
tc -n "$B" qdisc add dev "$BDEV" root handle 1: tbf rate 1gbit burst 128k latency 20ms
before=$(state_b)
crash_fault=$(fault network.bandwidth '"direction": "both", "cidrs": ["10.83.0.1"]' '{"rate": "10mbit"}')
leftovers() { # leftovers WHAT: our root and IFB device are in B
	grep -q "^qdisc htb fa17: root" <<<"$(tc -n "$B" qdisc show dev "$BDEV")" &&
		grep -q flifb <<<"$(ip -n "$B" -o link show type ifb)" ||
		fl_fail "$1: no leftover in B: the cleanup check would prove nothing"
}

apply "$crash_fault"
fl_assert_eq "$(status "$FID" .egress.replaced)" "root qdisc tbf 1:" "replaced root (tbf) in B"
fl_watchdog wd "$FL_AGENT_PID"
fl_journal_records "$state/journal" | grep >/dev/null '"netns"' || fl_fail "the journal does not name the namespace"
leftovers "before the SIGKILL"
kill -KILL "$FL_AGENT_PID"
wait "$FL_AGENT_PID" 2>/dev/null || true
fl_wait_gone "$wd" 20
fl_assert_eq "$(state_b)" "$before" "B's state after the watchdog's cleanup"
fl_assert_eq "$(fl_journal_count "$state/journal")" 0 "journal records after the watchdog's cleanup"
fl_log "agent SIGKILLed: its watchdog restored B (tbf root back, IFB device and filters gone)"

start_agent agent2.log
lease
apply "$crash_fault"
f=$FID
fl_crash_agent "$FL_AGENT_PID"
wait "$FL_AGENT_PID" 2>/dev/null || true
leftovers "after agent and watchdog were SIGKILLed"
start_agent agent3.log
line=$(grep "recovery: fault $f " "$dir/agent3.log") || fl_fail "no recovery report for $f"
fl_log "${line#*recovery: }"
grep -q "cleanup: 1 record from an earlier run, 0 failed" "$dir/agent3.log" ||
	fl_fail "recovery summary: $(grep cleanup: "$dir/agent3.log")"
fl_assert_eq "$(state_b)" "$before" "B's state after the recovery at the next start"
fl_assert_eq "$(fl_journal_count "$state/journal")" 0 "journal records after the recovery"
tc -n "$B" qdisc del dev "$BDEV" root
fl_assert_eq "$(state_b)" "$pristine" "B's state at the end"
fl_log "done in $((SECONDS - start)) s"
