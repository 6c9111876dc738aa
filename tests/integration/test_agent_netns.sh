#!/usr/bin/env bash
# Network faults inside another network namespace than the agent's (docs/containers.md,
# docs/network-faults.md "Other network namespaces"): the agent runs in namespace H; the
# traffic is between namespaces A and B (a veth, 10.79.0.1 on A, 10.79.0.2 on B), which the
# agent reaches only through their namespace files or a process in them.
#   - refusals: a missing namespace file, a namespace without a default route and no interface,
#     no such interface there: 422, and nothing changed in B (test_agent_netns_shaping.sh
#     covers bandwidth and latency in a namespace);
#   - loss 20 % egress in B by `netns: /run/netns/B` with the interface left out (B's default
#     route's): 2,000 pings from B, inside the exact binomial interval at 0.001 (the flake
#     budget of the test), and the counters agree with ping; revert leaves B's tc as it was;
#   - registry keyed by namespace: a veth in H created with the same ifindex as B's gets a
#     fault of its own at the same time; reverting B's leaves H's attached, and the other way;
#   - partition by `netns: {pid: N}` (a process of the test in B): pings from A all lost;
#     after the reverts the agent holds no fd on B's namespace (it would keep it alive);
#   - crash: loss and partition in B, a fault in a third namespace C; agent and watchdog
#     SIGKILLed; the filters are still in B; C is deleted; `faultlined --cleanup` removes what
#     is in B (filters and clsact) and reports C as gone with nothing to clean;
#   - the kernel-enforced lease in a namespace: a 100 % loss with a 2 s lease, agent and
#     watchdog SIGKILLed: replies come back after the lease deadline with the filters still
#     attached in B.
# With podman present, test_containers.sh covers a container target.
. "$(dirname "$0")/lib.sh"
fl_require_root
fl_require_cmd ip tc ping curl jq awk nsenter setsid pgrep timeout
fl_require_build

N=2000
ALPHA=0.001

fl_netns H h
fl_netns A a
fl_netns B b
fl_netns C c
for ns in "$A" "$B"; do
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1
done
fl_veth "$A" "$B" 10.79.0.1/24 10.79.0.2/24
BDEV=$FL_ID-b
ip -n "$B" route add default via 10.79.0.1 dev "$BDEV"
fl_tmpdir dir
sock=$dir/agent.sock
state=$dir/state
ARGS=(--state-dir "$state" --audit-log "$dir/audit.log")

api() { FL_API_TIMEOUT=20 fl_api "$@"; }
lease() { # lease TTL_MS: sets LEASE
	api POST /v1/leases "{\"ttl_ms\": $1}"
	fl_assert_eq "$HTTP_STATUS" 201 "lease: $API_BODY"
	LEASE=$(jq -r .lease.id <<<"$API_BODY")
}
# fault TYPE TARGET_JSON [PARAMS_JSON]
fault() {
	printf '{"name": "t", "type": "%s", "duration": "10m", "target": {%s}, "params": %s}' \
		"$1" "$2" "${3:-{\}}"
}
apply() {
	api POST "/v1/leases/$LEASE/faults" "$1"
	[ "$HTTP_STATUS" = 201 ] || fl_fail "apply: HTTP $HTTP_STATUS: $API_BODY"
	FID=$(jq -r .fault.id <<<"$API_BODY")
}
refused() { # refused BODY STATUS TEXT
	api POST "/v1/leases/$LEASE/faults" "$1"
	fl_assert_eq "$HTTP_STATUS" "$2" "refusal ($API_BODY)"
	grep -qF -- "$3" <<<"$API_BODY" || fl_fail "refusal reason: $API_BODY"
	fl_log "refused ($2): $(jq -r .error.message <<<"$API_BODY")"
}
revert() {
	api DELETE "/v1/faults/$1"
	[ "$HTTP_STATUS" = 200 ] || fl_fail "revert $1: HTTP $HTTP_STATUS: $API_BODY"
}
status() { api GET "/v1/faults/$1"; jq -r ".fault.status$2" <<<"$API_BODY"; }
tc_b() {
	tc -n "$B" qdisc show dev "$BDEV"
	tc -n "$B" filter show dev "$BDEV" ingress
	tc -n "$B" filter show dev "$BDEV" egress
}
journal_count() { fl_journal_count "$state/journal"; }
ping_from() { # ping_from NS COUNT ADDR: sets TX, RX
	local out
	out=$(ip netns exec "$1" timeout 60 ping -q -n -c "$2" -i 0.002 -l 4 -W 1 "$3" 2>&1) || true
	TX=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' <<<"$out")
	RX=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' <<<"$out")
	[ -n "$TX" ] && [ -n "$RX" ] || fl_fail "cannot read ping's summary: $out"
}
start_agent() { fl_start_agent "$H" "$sock" "$dir/$1" "${ARGS[@]}"; }

start=$SECONDS
pristine=$(tc_b)
start_agent agent.log
api GET /v1/info
# CAP_SYS_ADMIN (setns) stays permitted, not effective: only the short-lived thread that
# enters a namespace raises it, for setns() alone. Every thread of the agent shows it so.
caps=$(jq -r '.capabilities.permitted | join(",")' <<<"$API_BODY")
[[ ",$caps," == *",cap_sys_admin,"* ]] || fl_fail "the agent dropped cap_sys_admin (needed to enter a namespace): $caps"
caps=$(jq -r '.capabilities.effective | join(",")' <<<"$API_BODY")
[[ ",$caps," != *",cap_sys_admin,"* ]] || fl_fail "cap_sys_admin is effective on the API's thread: $caps"
fl_assert_eq "$(jq -r '.capabilities.raised_per_thread | join(",")' <<<"$API_BODY")" cap_sys_admin \
	"the capability raised per thread in /v1/info"
assert_no_thread_sys_admin() {
	local t eff n=0
	for t in /proc/"$FL_AGENT_PID"/task/*; do
		eff=$(awk '/^CapEff:/ {print $2}' "$t/status" 2>/dev/null) || continue
		[[ -n $eff ]] || continue
		n=$((n + 1))
		(((16#$eff >> 21) & 1)) && fl_fail "thread ${t##*/} of the agent holds CAP_SYS_ADMIN effective ($1)"
	done
	((n > 0)) || fl_fail "no thread of the agent read ($1)"
}
assert_no_thread_sys_admin "after start-up"
fl_assert_eq "$(jq -r '.fault_types[] | select(.name == "network.loss") | .capabilities_optional' <<<"$API_BODY")" \
	cap_sys_admin "network.loss's optional capability in /v1/info"
lease 600000

# --- refusals, nothing changed ----------------------------------------------------------------
refused "$(fault network.loss '"netns": "/run/netns/'"$FL_ID"'-nosuch", "cidrs": ["10.79.0.1"]' '{"probability": "20%"}')" \
	422 "target.netns: cannot open /run/netns/$FL_ID-nosuch"
refused "$(fault network.loss '"netns": "/run/netns/'"$C"'", "cidrs": ["10.79.0.1"]' '{"probability": "20%"}')" \
	422 "has no default route to take the interface from"
refused "$(fault network.loss '"netns": "/run/netns/'"$B"'", "interface": "nosuch0", "cidrs": ["10.79.0.1"]' '{"probability": "20%"}')" \
	422 "no interface 'nosuch0' in netns /run/netns/$B"
refused "$(fault network.loss '"netns": "/proc/self/ns/pid", "cidrs": ["10.79.0.1"]' '{"probability": "20%"}')" \
	422 "is not a network namespace"
fl_assert_eq "$(tc_b)" "$pristine" "B's tc after the refusals"

# --- loss 20 % egress in B, interface from B's default route ---------------------------------
apply "$(fault network.loss '"netns": "/run/netns/'"$B"'", "direction": "egress", "cidrs": ["10.79.0.1"], "protocol": "icmp"' '{"probability": "20%"}')"
fl_assert_eq "$(jq -r .fault.status.interface <<<"$API_BODY")" "$BDEV" "the default-route interface"
fl_assert_eq "$(jq -r .fault.status.netns.inode <<<"$API_BODY")" "$(stat -L -c %i "/run/netns/$B")" "netns inode in the status"
[[ "$(tc -n "$B" filter show dev "$BDEV" egress)" == *netfault_out* ]] || fl_fail "no filter in B: $(tc_b)"
[ -z "$(tc -n "$H" qdisc show | grep clsact)" ] || fl_fail "clsact in the agent's namespace"
ping_from "$B" $N 10.79.0.1
lost=$((TX - RX))
fl_assert_eq "$TX" $N "pings sent"
fl_assert_eq "$(status "$FID" .counters.dropped)" $lost "dropped vs lost in ping"
read -r lo hi < <(fl_binom_interval $N 0.2 $ALPHA)
fl_log "loss 20% in B (netns path): $lost of $N lost; 99.9% interval [$lo, $hi]"
((lost >= lo && lost <= hi)) || fl_fail "loss $lost of $N outside [$lo, $hi]"
loss_fid=$FID

# The setns threads are gone, and none left the capability raised on another thread.
assert_no_thread_sys_admin "with a fault applied inside $B"

# --- the registry is keyed by namespace: the same ifindex in H ---------------------------------
idx=$(ip -n "$B" -o link show dev "$BDEV" | cut -d: -f1)
ip -n "$H" link add "$FL_ID-h" index "$idx" type veth peer name "$FL_ID-i" index $((idx + 1))
ip -n "$H" link set "$FL_ID-h" up
ip -n "$H" link set "$FL_ID-i" up
fl_assert_eq "$(ip -n "$H" -o link show dev "$FL_ID-h" | cut -d: -f1)" "$idx" "ifindex in H"
apply "$(fault network.corruption '"interface": "'"$FL_ID-h"'", "cidrs": ["10.79.0.1"]' '{"probability": "10%"}')"
h_fid=$FID
[[ "$(tc -n "$H" filter show dev "$FL_ID-h" egress)" == *netfault_out* ]] || fl_fail "no filter on H's veth"
revert "$loss_fid"
fl_assert_eq "$(tc_b)" "$pristine" "B's tc after the revert"
[[ "$(tc -n "$H" filter show dev "$FL_ID-h" egress)" == *netfault_out* ]] || fl_fail "H's filter went with B's fault"
apply "$(fault network.loss '"netns": "/run/netns/'"$B"'", "cidrs": ["10.79.0.1"]' '{"probability": "20%"}')"
revert "$h_fid"
[ -z "$(tc -n "$H" filter show dev "$FL_ID-h" egress)" ] || fl_fail "H's filter left"
[[ "$(tc -n "$B" filter show dev "$BDEV" egress)" == *netfault_out* ]] || fl_fail "B's filter went with H's fault"
revert "$FID"
fl_assert_eq "$(tc_b)" "$pristine" "B's tc after both reverts"

# --- partition by {pid} -----------------------------------------------------------------------
# A process of the test's own in B, under a name only this test uses.
cp "$(command -v sleep)" "$dir/fl-$FL_ID-v"
ip netns exec "$B" setsid "$dir/fl-$FL_ID-v" 600 </dev/null >/dev/null 2>&1 &
holder_b=$!
disown "$holder_b"
fl_on_exit "kill -KILL $holder_b 2>/dev/null"
for ((i = 0; i < 50; i++)); do
	[ "$(readlink "/proc/$holder_b/ns/net")" = "$(readlink /proc/self/ns/net)" ] || break
	sleep 0.05
done
apply "$(fault network.partition '"netns": {"pid": '"$holder_b"'}, "interface": "'"$BDEV"'", "cidrs": ["10.79.0.1"]')"
ping_from "$A" 20 10.79.0.2
fl_assert_eq "$RX" 0 "replies through the partition"
fl_log "partition in B by {pid: $holder_b}: 0 of 20 pings from A answered"
revert "$FID"
ping_from "$A" 20 10.79.0.2
fl_assert_eq "$RX" 20 "replies after the partition"
fl_assert_eq "$(tc_b)" "$pristine" "B's tc after the partition"
# Nothing of the agent keeps B alive once its faults are gone: no fd on the namespace, and
# the program is not kept loaded there.
b_ino=$(stat -L -c %i "/run/netns/$B")
held=$(for f in /proc/"$FL_AGENT_PID"/fd/*; do readlink "$f"; done 2>/dev/null | grep -c "^net:\[$b_ino\]$" || true)
fl_assert_eq "$held" 0 "agent fds on B's namespace after the reverts"
fl_assert_eq "$(journal_count)" 0 "journal records before the crash"

# --- crash, then --cleanup re-enters B; C is gone -----------------------------------------------
ip link add "$FL_ID-c" netns "$C" type veth peer name "$FL_ID-d" netns "$C"
ip -n "$C" link set "$FL_ID-c" up
ip -n "$C" link set "$FL_ID-d" up
apply "$(fault network.loss '"netns": "/run/netns/'"$B"'", "cidrs": ["10.79.0.1"]' '{"probability": "20%"}')"
apply "$(fault network.partition '"netns": {"pid": '"$holder_b"'}, "interface": "'"$BDEV"'", "cidrs": ["10.79.0.3"]')"
apply "$(fault network.loss '"netns": "/run/netns/'"$C"'", "interface": "'"$FL_ID-c"'", "cidrs": ["10.79.0.1"]' '{"probability": "20%"}')"
c_ino=$(stat -L -c %i "/run/netns/$C")
fl_journal_records "$state/journal" | grep >/dev/null "\"netns\"" || fl_fail "the journal does not name the namespace"
fl_crash_agent "$FL_AGENT_PID"
wait "$FL_AGENT_PID" 2>/dev/null || true
[[ "$(tc -n "$B" filter show dev "$BDEV" egress)" == *netfault_out* ]] || fl_fail "no leftover in B after the crash: the test would prove nothing"
ip netns del "$C"
rm -f "$sock"
nsenter --net="/run/netns/$H" "$FAULTLINED" --cleanup "${ARGS[@]}" >"$dir/cleanup.json" \
	2>"$dir/cleanup.log" || fl_fail "--cleanup: $(cat "$dir/cleanup.log")"
fl_log "--cleanup: $(jq -c '[.[].cleaned]' "$dir/cleanup.json")"
fl_assert_eq "$(tc_b)" "$pristine" "B's tc after --cleanup"
fl_assert_eq "$(jq '[.[] | select(.cleaned | test("filter\\(s\\) of ours removed"))] | length' "$dir/cleanup.json")" 2 "records cleaned in B"
fl_assert_eq "$(jq --arg i "$c_ino" '[.[] | select(.cleaned | test("inode " + $i + ".*nothing left to clean"))] | length' "$dir/cleanup.json")" 1 "C reported gone"
fl_assert_eq "$(journal_count)" 0 "journal records after --cleanup"

# --- the kernel-enforced lease inside B -------------------------------------------------------
start_agent agent2.log
fl_watchdog wd "$FL_AGENT_PID"
lease 2000
apply "$(fault network.loss '"netns": "/run/netns/'"$B"'", "direction": "egress", "cidrs": ["10.79.0.1"], "protocol": "icmp"' '{"probability": "100%"}')"
ip netns exec "$B" ping -D -n -i 0.02 -W 1 -w 8 10.79.0.1 >"$dir/ping.lease" 2>&1 &
pinger=$!
sleep 0.3
r0=$(($(date +%s%N) / 1000000))
api POST "/v1/leases/$LEASE/renew"
fl_assert_eq "$HTTP_STATUS" 200 "renew"
kill -KILL "$wd" "$FL_AGENT_PID"
kill_ms=$(($(date +%s%N) / 1000000))
wait "$FL_AGENT_PID" 2>/dev/null || true
fl_wait_gone "$wd" 5
fl_wait_exit rc "$pinger" 20
[[ "$(tc -n "$B" filter show dev "$BDEV" egress)" == *netfault_out* ]] || fl_fail "our filter in B is gone: the lease check would prove nothing"
first=$(awk -v k="$kill_ms" '/bytes from/ { t = substr($1, 2, length($1) - 2) * 1000; if (t >= k) { printf "%.0f\n", t; exit } }' "$dir/ping.lease")
[ -n "$first" ] || fl_fail "no reply after the lease deadline: $(tail -3 "$dir/ping.lease")"
deadline=$((r0 + 2000))
[ "$first" -ge $((deadline - 50)) ] || fl_fail "traffic passed $((deadline - first)) ms before the lease deadline"
[ "$first" -le $((deadline + 2500)) ] || fl_fail "traffic passed only $((first - deadline)) ms after the lease deadline"
fl_log "lease in B: agent and watchdog SIGKILLed; replies again $((first - deadline)) ms after the deadline"
nsenter --net="/run/netns/$H" "$FAULTLINED" --cleanup "${ARGS[@]}" >"$dir/cleanup2.json" 2>&1 ||
	fl_fail "--cleanup: $(cat "$dir/cleanup2.json")"
fl_assert_eq "$(tc_b)" "$pristine" "B's tc at the end"
fl_log "done in $((SECONDS - start)) s"
