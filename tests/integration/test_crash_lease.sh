#!/usr/bin/env bash
# Nothing outlives the agent (docs/api.md "Crash safety"): with the agent SIGKILLed and NOT
# restarted, every fault stops within its lease TTL anyway.
#   - Network faults in the eBPF data path (partition, loss, corruption, duplication): the agent
#     AND its watchdog are SIGKILLed, so nothing in user space is left to undo anything; ping
#     through the fault must stay blocked (duplicated) until the lease deadline the agent last
#     wrote into the program, and get through (without duplicates) from then on, although the
#     filters are still attached. Two leases on one interface each lapse on their own.
#   - What eBPF cannot undo (the bandwidth qdiscs, a paused process, a stressor cgroup): only
#     the agent is SIGKILLed; its watchdog must undo the fault within the TTL.
#   - A hung agent (SIGSTOP): the watchdog kills it once a lease is overdue and undoes it.
#   - A clean stop takes the watchdog along.
# The margins hold on a loaded 2-core machine; bench/crash_lease.sh measures the tight figures.
. "$(dirname "$0")/lib.sh"
fl_require_root
fl_require_cmd curl jq tc ip nsenter setsid ping pgrep awk
fl_require_build

fl_lab 10.94.0
# How late, past the lease deadline, a fault may still be in force on a loaded machine.
MARGIN_MS=${FL_CRASH_LEASE_MARGIN_MS:-1500}

# FL_CRASH_LEASE_ONLY (fault names below, separated by commas): only those, and none of the
# other sections (the vm layer runs the latency ones).
ONLY=${FL_CRASH_LEASE_ONLY:-}
selected() { [ -z "$ONLY" ] || [[ ",$ONLY," == *",$1,"* ]]; }
start_agent() { fl_start_agent "$A" "$sock" "$dir/agent.log"; }
apply() { # apply BODY
	fl_api POST "/v1/leases/$LEASE/faults" "$1"
	fl_assert_eq "$HTTP_STATUS" 201 "apply: $API_BODY"
}
filters() { tc -n "$A" filter show dev "$DEV" egress; tc -n "$A" filter show dev "$DEV" ingress; }

# ---- network faults in eBPF: the kernel enforces the lease, with nobody left in user space ----
net() { printf '{"name": "c", "type": "%s", "duration": "10m", "target": {"interface": "%s", "direction": "%s", "cidrs": ["10.94.0.2"], "protocol": "icmp"}, "params": %s}' "$1" "$DEV" "$2" "$3"; }
NET_FAULTS=(
	"partition|$(net network.partition both '{}')|block"
	"loss|$(net network.loss egress '{"probability": "100%"}')|block"
	"corruption|$(net network.corruption egress '{"probability": "100%"}')|block"
	"duplication|$(net network.duplication egress '{"probability": "100%"}')|dup"
)
TTL=2000
for f in "${NET_FAULTS[@]}"; do
	IFS='|' read -r name body how <<<"$f"
	selected "$name" || continue
	start_agent
	fl_watchdog wd "$FL_AGENT_PID"
	fl_lease "$TTL"
	apply "$body"
	# ping -D stamps each reply with the wall clock; 50 per second, bounded.
	ip netns exec "$A" ping -D -n -i 0.02 -W 1 -w $(((TTL + MARGIN_MS) / 1000 + 6)) 10.94.0.2 \
		>"$dir/ping.$name" 2>&1 &
	pinger=$!
	sleep 0.5
	fl_renew
	# Both at once, the watchdog first: nothing in user space may undo the fault now.
	kill -KILL "$wd" "$FL_AGENT_PID"
	kill_ms=$(fl_now_ms)
	wait "$FL_AGENT_PID" 2>/dev/null || true
	fl_wait_gone "$wd" 5
	fl_wait_exit rc "$pinger" $(((TTL + MARGIN_MS) / 1000 + 10))
	[[ "$(filters)" == *netfault_out* ]] || fl_fail "$name: our filters are gone: the test would prove nothing: $(filters) $(cat "$dir/agent.log")"
	# Reply times in ms, marked D for duplicates.
	awk '/bytes from/ { t = substr($1, 2, length($1) - 2) * 1000; printf "%.0f %s\n", t, (/DUP!/ ? "D" : "R") }' \
		"$dir/ping.$name" >"$dir/replies.$name"
	lo=$((RENEW0 + TTL)) hi=$((RENEW1 + TTL + MARGIN_MS))
	if [ "$how" = block ]; then
		# No reply from the kill to the deadline; replies from at most MARGIN_MS after it.
		first=$(awk -v k="$kill_ms" '$1 >= k { print $1; exit }' "$dir/replies.$name")
		[ -n "$first" ] || fl_fail "$name: no reply within $MARGIN_MS ms of the lease deadline: $(tail -3 "$dir/ping.$name")"
		[ "$first" -ge $((lo - 50)) ] || fl_fail "$name: traffic passed $((lo - first)) ms before the lease deadline"
		[ "$first" -le "$hi" ] || fl_fail "$name: traffic passed only $((first - lo)) ms after the lease deadline"
		fl_log "$name: agent and watchdog SIGKILLed; traffic again $((first - lo)) ms after the deadline ($((first - kill_ms)) ms after the kill, TTL $TTL ms)"
	else
		dups_before=$(awk -v k="$kill_ms" -v d="$lo" '$1 >= k && $1 < d - 50 && $2 == "D"' "$dir/replies.$name" | wc -l)
		last_dup=$(awk '$2 == "D" { t = $1 } END { printf "%.0f\n", t }' "$dir/replies.$name")
		clean_after=$(awk -v h="$hi" '$1 > h && $2 == "R"' "$dir/replies.$name" | wc -l)
		[ "$dups_before" -gt 0 ] || fl_fail "$name: no duplicates between the kill and the deadline: the test would prove nothing"
		[ "$last_dup" -le "$hi" ] || fl_fail "$name: still duplicating $((last_dup - lo)) ms after the lease deadline"
		[ "$clean_after" -gt 0 ] || fl_fail "$name: no replies after the deadline"
		fl_log "$name: agent and watchdog SIGKILLed; last duplicate $((last_dup - lo)) ms after the deadline, $clean_after clean replies after"
	fi
	fl_cleanup "$A" # what the dead agent left attached (inert) goes, as at the next start
	[ -z "$(filters)" ] || fl_fail "$name: filters left after --cleanup: $(filters)"
done

# ---- two leases on one interface: each lapses on its own deadline ----
if [ -z "$ONLY" ]; then
ip -n "$B" addr add 10.94.0.3/24 dev "$FL_ID-b"
first_reply() { # first_reply PINGFILE AFTER_MS: the wall-clock ms of the first reply after
	awk -v k="$2" '/bytes from/ { t = substr($1, 2, length($1) - 2) * 1000; if (t >= k) { printf "%.0f\n", t; exit } }' "$1"
}
start_agent
fl_watchdog wd "$FL_AGENT_PID"
part() { printf '{"name": "c", "type": "network.partition", "duration": "10m", "target": {"interface": "%s", "cidrs": ["%s"], "protocol": "icmp"}, "params": {}}' "$DEV" "$1"; }
TTL1=1500 TTL2=4000
fl_lease "$TTL1"
L1=$LEASE
# Both leases are kept alive until their last renewals below (the leases in $dir/keep, every
# 200 ms): on a loaded machine the applies and pings in between took longer than 1.5 s, and
# the short lease expired before the test renewed it.
echo "$L1" >"$dir/keep"
(
	for ((i = 0; i < 600; i++)); do
		while read -r l; do
			FL_API_TIMEOUT=5 fl_api POST "/v1/leases/$l/renew" || true
		done <"$dir/keep"
		sleep 0.2
	done
) &
keeper=$!
fl_on_exit "kill $keeper 2>/dev/null"
apply "$(part 10.94.0.2)"
fl_lease "$TTL2"
L2=$LEASE
echo "$L2" >>"$dir/keep"
apply "$(part 10.94.0.3)"
for a in 2 3; do
	ip netns exec "$A" ping -D -n -i 0.02 -W 1 -w $(((TTL2 + MARGIN_MS) / 1000 + 6)) "10.94.0.$a" >"$dir/ping.two.$a" 2>&1 &
	eval "pinger$a=\$!"
done
sleep 0.5
kill "$keeper" 2>/dev/null
wait "$keeper" 2>/dev/null || true
LEASE=$L1 fl_renew
r1_0=$RENEW0 r1_1=$RENEW1
LEASE=$L2 fl_renew
r2_0=$RENEW0 r2_1=$RENEW1
kill -KILL "$wd" "$FL_AGENT_PID"
kill_ms=$(fl_now_ms)
wait "$FL_AGENT_PID" 2>/dev/null || true
fl_wait_gone "$wd" 5
fl_wait_exit rc "$pinger2" $(((TTL2 + MARGIN_MS) / 1000 + 10))
fl_wait_exit rc "$pinger3" $(((TTL2 + MARGIN_MS) / 1000 + 10))
f2=$(first_reply "$dir/ping.two.2" "$kill_ms")
f3=$(first_reply "$dir/ping.two.3" "$kill_ms")
[ -n "$f2" ] && [ -n "$f3" ] || fl_fail "two leases: no reply after the deadlines: $(tail -2 "$dir/ping.two.2"; tail -2 "$dir/ping.two.3")"
[ "$f2" -ge $((r1_0 + TTL1 - 50)) ] && [ "$f2" -le $((r1_1 + TTL1 + MARGIN_MS)) ] ||
	fl_fail "two leases: the ${TTL1} ms lease's partition ended $((f2 - r1_0 - TTL1)) ms after its deadline"
[ "$f3" -ge $((r2_0 + TTL2 - 50)) ] && [ "$f3" -le $((r2_1 + TTL2 + MARGIN_MS)) ] ||
	fl_fail "two leases: the ${TTL2} ms lease's partition ended $((f3 - r2_0 - TTL2)) ms after its deadline"
fl_log "two leases on $DEV: the ${TTL1} ms one lapsed $((f2 - r1_1 - TTL1)) ms, the ${TTL2} ms one $((f3 - r2_1 - TTL2)) ms after its deadline, each on its own"
fl_cleanup "$A" # what the dead agent left attached (inert) goes, as at the next start
fi

# ---- what eBPF cannot undo: the watchdog does, at the agent's death, with no restart ----
setsid sleep 3600 &
VICTIM=$!
for ((i = 0; i < 100; i++)); do [ "$(fl_proc_state "$VICTIM")" = S ] && break; sleep 0.05; done
[ "$(fl_proc_state "$VICTIM")" = S ] || fl_fail "the victim $VICTIM is not asleep within 5 s"
pristine_qdisc=$(tc -n "$A" qdisc show dev "$DEV")
pristine_links=$(ip -n "$A" -o link show type ifb)

# gone KIND: is the fault's effect undone?
gone() {
	case $1 in
	bandwidth) [ "$(tc -n "$A" qdisc show dev "$DEV")" = "$pristine_qdisc" ] &&
		[ "$(ip -n "$A" -o link show type ifb)" = "$pristine_links" ] ;;
	pause) [ "$(fl_proc_state "$VICTIM")" = S ] ;;
	stress) [ ! -e "$CGROUP" ] ;;
	esac
}
bw() { printf '{"name": "c", "type": "network.bandwidth", "duration": "10m", "target": {"interface": "%s", "direction": "%s", "cidrs": ["10.94.0.2"]}, "params": {"rate": "1mbit"}}' "$DEV" "$1"; }
WD_FAULTS=(
	"bandwidth-egress|bandwidth|$(bw egress)"
	"bandwidth-ingress|bandwidth|$(bw ingress)"
	"pause|pause|{\"name\": \"c\", \"type\": \"process.pause\", \"duration\": \"10m\", \"target\": {\"pid\": $VICTIM, \"all\": true}}"
	"stress-cpu|stress|{\"name\": \"c\", \"type\": \"stress.cpu\", \"duration\": \"10m\", \"params\": {\"workers\": 2, \"load\": \"10%\"}}"
	"stress-memory|stress|{\"name\": \"c\", \"type\": \"stress.memory\", \"duration\": \"10m\", \"params\": {\"size\": \"16MiB\"}}"
	# Only where the kernel has sch_fq and sch_netem (the vm layer: vm.crash_lease_latency).
	"latency-edt|bandwidth|$(printf '{"name": "c", "type": "network.latency", "duration": "10m", "target": {"interface": "%s", "direction": "egress", "cidrs": ["10.94.0.2"]}, "params": {"delay": "20ms", "mechanism": "edt"}}' "$DEV")"
	"latency-netem|bandwidth|$(printf '{"name": "c", "type": "network.latency", "duration": "10m", "target": {"interface": "%s", "direction": "both", "cidrs": ["10.94.0.2"]}, "params": {"delay": "20ms", "mechanism": "netem"}}' "$DEV")"
)
TTL=5000
# Under qemu TCG an apply alone takes seconds (3.6 s for latency on a loaded host): the lease
# must outlive the apply; the watchdog's figure does not depend on the TTL.
[ -z "${FL_VM:-}" ] || TTL=30000
for f in "${WD_FAULTS[@]}"; do
	IFS='|' read -r name kind body <<<"$f"
	selected "$name" || continue
	start_agent
	fl_watchdog wd "$FL_AGENT_PID"
	fl_lease "$TTL"
	fl_api POST "/v1/leases/$LEASE/faults" "$body"
	if [ "$HTTP_STATUS" = 503 ] && [ "${name#latency-}" != "$name" ] && [ -z "${FL_VM:-}" ]; then
		# The host kernel lacks sch_fq and sch_netem; the vm layer's kernel has both.
		fl_log "$name: unavailable on this kernel (vm.crash_lease_latency covers it): $(jq -r .error.message <<<"$API_BODY")"
		kill -TERM "$FL_AGENT_PID"
		fl_wait_exit rc "$FL_AGENT_PID" 30
		continue
	fi
	fl_assert_eq "$HTTP_STATUS" 201 "apply $name: $API_BODY"
	CGROUP=$(fl_journal_records "$state/journal" | jq -r '.undo.cgroup // empty' | head -1)
	[ "$kind" != stress ] || [ -n "$CGROUP" ] || fl_fail "$name: no cgroup in the journal"
	! gone "$kind" || fl_fail "$name: the fault shows no effect: the test would prove nothing"
	fl_renew
	kill -KILL "$FL_AGENT_PID"
	kill_ms=$(fl_now_ms)
	wait "$FL_AGENT_PID" 2>/dev/null || true
	end=$(($(fl_now_ms) + TTL + MARGIN_MS))
	until gone "$kind"; do
		[ "$(fl_now_ms)" -le "$end" ] || fl_fail "$name: still in force $((TTL + MARGIN_MS)) ms after the agent's SIGKILL: $(tc -n "$A" qdisc show dev "$DEV"; ip -n "$A" -o link show type ifb; grep -i watchdog "$dir/agent.log")"
		sleep 0.01
	done
	t=$(($(fl_now_ms) - kill_ms))
	fl_wait_gone "$wd" 10
	for p in $(ip netns pids "$A"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" != faultlined ] || fl_fail "$name: an agent runs again (pid $p)"
	done
	[ "$(fl_journal_count "$state/journal")" = 0 ] || fl_fail "$name: journal records left after the watchdog's cleanup"
	grep -q "watchdog: .*died without a clean stop" "$dir/agent.log" || fl_fail "$name: the watchdog did not say why it cleaned up"
	fl_log "$name: agent SIGKILLed; undone by its watchdog $t ms after the kill (TTL $TTL ms)"
done

if [ -n "$ONLY" ]; then
	kill -KILL "$VICTIM"
	exit 0
fi

# ---- a hung agent: the watchdog enforces the deadline ----
TTL=1000
start_agent
fl_watchdog wd "$FL_AGENT_PID"
fl_lease "$TTL"
apply "{\"name\": \"c\", \"type\": \"process.pause\", \"duration\": \"10m\", \"target\": {\"pid\": $VICTIM, \"all\": true}}"
[ "$(fl_proc_state "$VICTIM")" = T ] || fl_fail "hung: the victim is not stopped"
fl_renew
kill -STOP "$FL_AGENT_PID"
end=$((RENEW1 + TTL + 100 + MARGIN_MS))
until [ "$(fl_proc_state "$VICTIM")" = S ]; do
	[ "$(fl_now_ms)" -le "$end" ] || fl_fail "hung: the victim is still stopped $((TTL + 100 + MARGIN_MS)) ms after the renewal"
	sleep 0.01
done
t=$(($(fl_now_ms) - RENEW0 - TTL))
fl_wait_exit rc "$FL_AGENT_PID" 10
fl_assert_eq "$rc" 137 "hung agent's exit status (SIGKILL by its watchdog)"
fl_wait_gone "$wd" 10
grep -q "watchdog: lease $LEASE is .* past its deadline and agent $FL_AGENT_PID (state T)" "$dir/agent.log" ||
	fl_fail "hung: the watchdog did not say why it killed the agent: $(grep watchdog "$dir/agent.log" | tail -3)"
fl_log "hung (SIGSTOPped) agent: killed by its watchdog, victim running again $t ms after the lease deadline (TTL $TTL ms)"

# ---- faultctl says what happened: the agent died, its faults stop when the lease lapses ----
TTL=1500
start_agent
fl_watchdog wd "$FL_AGENT_PID"
cat >"$dir/exp.yaml" <<EOF
version: 1
name: agent-dies
hypothesis: the faults stop although the agent dies
agents:
  - {name: local, address: "unix://$sock"}
duration: 1m
safety: {lease_ttl: ${TTL}ms}
faults:
  - {name: pause, type: process.pause, duration: 50s, target: {pid: $VICTIM, all: true}}
EOF
"$FAULTCTL" run "$dir/exp.yaml" --report-json "$dir/report.json" >"$dir/run.out" 2>&1 &
ctl=$!
for ((i = 0; i < 200; i++)); do [ "$(fl_proc_state "$VICTIM")" = T ] && break; sleep 0.05; done
[ "$(fl_proc_state "$VICTIM")" = T ] || fl_fail "faultctl: the fault was not applied: $(cat "$dir/run.out")"
kill -KILL "$FL_AGENT_PID"
kill_ms=$(fl_now_ms)
wait "$FL_AGENT_PID" 2>/dev/null || true
fl_wait_exit rc "$ctl" $((TTL / 1000 + 20))
fl_assert_eq "$rc" 3 "faultctl's exit status when its agent died ($(cat "$dir/run.out"))"
fl_assert_state "$VICTIM" S "victim after the agent died"
reason=$(jq -r .reason "$dir/report.json")
[[ "$reason" == *"the agent died (nothing listens on its socket); its faults stop when the lease lapses, at "* ]] ||
	fl_fail "faultctl's reason: $reason"
[[ "$reason" != *"reverted its faults on its own"* ]] || fl_fail "faultctl still claims the agent reverted: $reason"
# The time it names is the last renewal + the TTL: after the kill - TTL, at most the kill + TTL.
lapse=$(date -d "$(sed -E 's/.* at ([0-9T:.-]+Z) at the latest.*/\1/' <<<"$reason")" +%s%3N)
[ "$lapse" -gt $((kill_ms - TTL)) ] && [ "$lapse" -le $((kill_ms + TTL)) ] ||
	fl_fail "faultctl names the lapse $((lapse - kill_ms)) ms after the kill (TTL $TTL ms): $reason"
fl_wait_gone "$wd" 10
fl_log "faultctl: $reason"

# ---- a clean stop: the watchdog goes with the agent and cleans nothing ----
start_agent
fl_watchdog wd "$FL_AGENT_PID"
kill -TERM "$FL_AGENT_PID"
fl_wait_exit rc "$FL_AGENT_PID" 30
fl_assert_eq "$rc" 0 "exit status of a clean stop"
case "$(fl_proc_state "$wd")" in "" | Z) ;; *) fl_fail "the watchdog $wd outlived a clean stop" ;; esac
grep -q "watchdog: .*died" "$dir/agent.log" && fl_fail "the watchdog cleaned up after a clean stop"
kill -KILL "$VICTIM"
exit 0
