#!/usr/bin/env bash
# faultctl killed with SIGKILL in the middle of a run: nobody reverts for it, so the agents
# must, when its lease expires. Two agents from an inventory, one paused process each; the
# time from the kill to each process running again is measured and must lie within the
# lease TTL (plus the agent's 100 ms expiry granularity and a loaded machine's margin).
# Then a lease ended behind faultctl's back, and an agent that goes away in the middle of a
# run: faultctl notices the lost lease, reverts the other agent and exits 3. Last, a probe
# slower than the TTL does not hold up the renewals.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run_lib.sh"
run_require

fl_netns ns lease
fl_tmpdir dir
mkdir "$dir/a1" "$dir/a2"
fl_start_agent "$ns" "$dir/a1/agent.sock" "$dir/a1.log"
fl_start_agent "$ns" "$dir/a2/agent.sock" "$dir/a2.log"
run_start_victim v1
run_start_victim v2

ttl_ms=1500
cat >"$dir/inventory.yaml" <<EOF
version: 1
agents:
  - {name: one, address: "unix://$dir/a1/agent.sock"}
  - {name: two, address: "unix://$dir/a2/agent.sock"}
groups:
  - {name: both, members: [one, two]}
EOF
cat >"$dir/exp.yaml" <<EOF
version: 1
name: lease-expiry
hypothesis: the agents revert on their own when the controller dies
inventory: inventory.yaml
agents:
  - {name: one}
  - {name: two}
duration: 1m
safety: {lease_ttl: ${ttl_ms}ms}
faults:
  - {name: pause-1, type: process.pause, agents: [one], duration: 50s, target: {pid: $v1, all: true}}
  - {name: pause-2, type: process.pause, agents: [two], duration: 50s, target: {pid: $v2, all: true}}
EOF

"$FAULTCTL" run "$dir/exp.yaml" >"$dir/run.log" 2>&1 &
ctl=$!
for ((i = 0; i < 200; i++)); do
	[ "$(proc_state "$v1")" = T ] && [ "$(proc_state "$v2")" = T ] && break
	sleep 0.05
done
[ "$(proc_state "$v1")" = T ] && [ "$(proc_state "$v2")" = T ] ||
	fl_fail "faults not applied: $(cat "$dir/run.log")"
# Several TTLs pass first: the faults stay because faultctl renews the leases.
sleep 3.5
[ "$(proc_state "$v1")" = T ] && [ "$(proc_state "$v2")" = T ] ||
	fl_fail "a fault was reverted while faultctl was renewing: $(cat "$dir/run.log")"
kill -KILL "$ctl"
t0=$(now_ms)
fl_wait_exit rc "$ctl" 10
t1=0 t2=0
for ((i = 0; i < 1000; i++)); do
	[ "$t1" -eq 0 ] && [ "$(proc_state "$v1")" != T ] && t1=$(now_ms)
	[ "$t2" -eq 0 ] && [ "$(proc_state "$v2")" != T ] && t2=$(now_ms)
	[ "$t1" -ne 0 ] && [ "$t2" -ne 0 ] && break
	sleep 0.005
done
[ "$t1" -ne 0 ] && [ "$t2" -ne 0 ] || fl_fail "not reverted within 5 s of the kill"
e1=$((t1 - t0)) e2=$((t2 - t0))
fl_log "SIGKILL to reverted by lease expiry: agent one $e1 ms, agent two $e2 ms (TTL $ttl_ms ms)"
# Renewals come every TTL/3, so the last one was at most TTL/3 (plus a loaded machine's
# delay) before the kill: expiry follows between 2/3 TTL and TTL + 100 ms after it.
for e in "$e1" "$e2"; do
	[ "$e" -le $((ttl_ms + 400)) ] || fl_fail "reverted $e ms after the kill > TTL + 400 ms"
	[ "$e" -ge $((ttl_ms / 3)) ] || fl_fail "reverted $e ms after the kill: too early for a TTL of $ttl_ms ms"
done
grep -q "expired" "$dir/a1.log" || fl_fail "agent one did not log the expiry"
grep -q "expired" "$dir/a2.log" || fl_fail "agent two did not log the expiry"
run_agent_idle "$dir/a1/agent.sock"
run_agent_idle "$dir/a2/agent.sock"

# run_until_applied LOG: start faultctl on the experiment, wait until both victims are paused.
run_until_applied() {
	"$FAULTCTL" run "$dir/exp.yaml" --report-json "$dir/$1.json" >"$dir/$1.out" 2>&1 &
	ctl=$!
	for ((i = 0; i < 200; i++)); do
		[ "$(proc_state "$v1")" = T ] && [ "$(proc_state "$v2")" = T ] && break
		sleep 0.05
	done
	[ "$(proc_state "$v1")" = T ] && [ "$(proc_state "$v2")" = T ] ||
		fl_fail "faults not applied: $(cat "$dir/$1.out")"
}

# --- a lease ended behind faultctl's back: the next renewal finds it gone (404) ---
run_until_applied ended
lease=$(curl -sS --unix-socket "$dir/a2/agent.sock" http://agent/v1/leases | jq -r '.leases[0].id')
curl -sS --unix-socket "$dir/a2/agent.sock" -X DELETE "http://agent/v1/leases/$lease" >/dev/null
fl_assert_state "$v2" S "agent two reverted when its lease was ended"
fl_wait_exit rc "$ctl" 20
fl_assert_eq "$rc" 3 "exit status when a lease was lost ($(cat "$dir/ended.out"))"
run_validate_report "$dir/ended.json"
jq -e '.outcome == "failed" and (.reason | test("agent two lost its lease")) and
	(.agents[] | select(.name == "two") | .lease_lost) and all(.agents[]; .revert.ok)' \
	"$dir/ended.json" >/dev/null ||
	fl_fail "report of the ended lease: $(jq -c '{outcome, reason, agents}' "$dir/ended.json")"
fl_assert_state "$v1" S "agent one's victim after the run stopped"
run_agent_idle "$dir/a1/agent.sock"
run_agent_idle "$dir/a2/agent.sock"

# --- an agent goes away: no renewal succeeds for a TTL, the run stops ---
run_until_applied gone
kill -TERM "$FL_AGENT_PID"
t0=$(now_ms)
fl_wait_exit rc "$FL_AGENT_PID" 20
fl_assert_state "$v2" S "agent two reverted at its shutdown"
fl_wait_exit rc "$ctl" 20
took=$(($(now_ms) - t0))
fl_assert_eq "$rc" 3 "exit status when an agent went away ($(cat "$dir/gone.out"))"
fl_log "agent gone: the run stopped $took ms later (TTL $ttl_ms ms)"
[ "$took" -le $((ttl_ms + 1500)) ] || fl_fail "noticed $took ms after the agent went away"
run_validate_report "$dir/gone.json"
jq -e '(.agents[] | select(.name == "one") | .revert.ok) and
	(.agents[] | select(.name == "two") | .lease_lost and (.revert.ok | not))' \
	"$dir/gone.json" >/dev/null ||
	fl_fail "report of the lost agent: $(jq -c '{outcome, reason, agents}' "$dir/gone.json")"
# A stopped agent removed its socket: faultctl says so, and when the lease lapses at the latest.
jq -e '.reason | test("agent two lost its lease .*: the agent stopped \\(its socket is gone\\); its faults stop when the lease lapses, at [0-9T:.-]+Z at the latest")' \
	"$dir/gone.json" >/dev/null || fl_fail "reason of the lost agent: $(jq -r .reason "$dir/gone.json")"
fl_assert_state "$v1" S "agent one's victim after the run stopped"
run_agent_idle "$dir/a1/agent.sock"

# --- a probe slower than the TTL does not hold up the renewals ---
cat >"$dir/slow.yaml" <<EOF
version: 1
name: slow-probe
hypothesis: renewals do not wait for probes
inventory: inventory.yaml
agents:
  - {name: one}
duration: 4s
safety: {lease_ttl: 1s}
guardrails:
  - name: slow
    command: {argv: [sleep, "2.5"], interval: 5s, timeout: 4s}
faults:
  - {name: pause-1, type: process.pause, duration: 3s, target: {pid: $v1, all: true}}
EOF
rc=0
"$FAULTCTL" run "$dir/slow.yaml" --report-json "$dir/slow.json" >"$dir/slow.out" 2>&1 || rc=$?
fl_assert_eq "$rc" 0 "exit status with a probe slower than the TTL ($(cat "$dir/slow.out"))"
jq -e '.agents[0].renewals >= 8 and .agents[0].renew_failures == 0 and
	(.agents[0].lease_lost | not)' "$dir/slow.json" >/dev/null ||
	fl_fail "renewals starved by a slow probe: $(jq -c .agents "$dir/slow.json")"
fl_assert_state "$v1" S "victim after the slow-probe run"
