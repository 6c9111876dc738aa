#!/usr/bin/env bash
# A fleet of 20 agents under one `faultctl run`, one of which dies mid-run. Every agent pauses
# a sleeping process of its own; once all 20 are paused, agent a7 is SIGKILLed (its watchdog
# resumes its victim). faultctl's renewals to it fail, its lease is lost after a TTL, and the
# run must revert the 19 others at once and exit 3. Checked: every victim runs again, the 19
# agents hold no fault and no lease, the report names a7 as the agent that died and carries
# each other agent's confirmed revert and each of its faults' final status, and faultctl drove
# the 20 agents with fewer than two threads an agent (the fleet loop and a crew of appliers;
# before it, four threads an agent: a worker, a renew, a revert and a stream thread).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run_lib.sh"
run_require

N=20 DEAD=7 TTL_MS=2000
fl_netns ns fleet
fl_tmpdir dir
declare -a PIDS VICTIMS
for ((k = 1; k <= N; k++)); do
	mkdir "$dir/a$k"
	fl_start_agent "$ns" "$dir/a$k/agent.sock" "$dir/a$k.log"
	PIDS[k]=$FL_AGENT_PID
	run_start_victim v
	VICTIMS[k]=$v
	fl_on_exit "kill -CONT $v 2>/dev/null; kill -KILL $v 2>/dev/null"
done
fl_watchdog wd "${PIDS[DEAD]}"

{
	echo "version: 1"
	echo "name: fleet-agent-dies"
	echo "hypothesis: a dead agent ends the run and the others revert"
	echo "agents:"
	for ((k = 1; k <= N; k++)); do echo "  - {name: a$k, address: \"unix://$dir/a$k/agent.sock\"}"; done
	echo "duration: 60s"
	echo "safety: {lease_ttl: ${TTL_MS}ms}"
	echo "faults:"
	for ((k = 1; k <= N; k++)); do
		echo "  - {name: pause-a$k, type: process.pause, agents: [a$k], duration: 50s, target: {pid: ${VICTIMS[k]}, all: true}}"
	done
} >"$dir/exp.yaml"

nsenter --net="/run/netns/$ns" "$FAULTCTL" run "$dir/exp.yaml" --report-json "$dir/report.json" \
	>"$dir/run.out" 2>&1 &
ctl=$!
fl_on_exit "kill -KILL $ctl 2>/dev/null"
# All 20 paused: bounded by 30 s (a loaded machine applies a few a second at worst).
for ((i = 0; i < 600; i++)); do
	paused=0
	for ((k = 1; k <= N; k++)); do [ "$(proc_state "${VICTIMS[k]}")" = T ] && paused=$((paused + 1)); done
	[ $paused = $N ] && break
	kill -0 "$ctl" 2>/dev/null || fl_fail "faultctl ended before applying: $(cat "$dir/run.out")"
	sleep 0.05
done
fl_assert_eq "$paused" "$N" "victims paused ($(cat "$dir/run.out"))"
threads=$(awk '$1 == "Threads:" { print $2 }' "/proc/$ctl/status")
fl_log "faultctl holds $threads threads for $N agents"
[ "$threads" -lt $((2 * N)) ] || fl_fail "faultctl holds $threads threads for $N agents"

kill -KILL "${PIDS[DEAD]}"
t0=$(now_ms)
fl_wait_exit rc "$ctl" 30
took=$(($(now_ms) - t0))
fl_log "faultctl ended $took ms after a$DEAD died (lease TTL $TTL_MS ms)"
fl_assert_eq "$rc" 3 "exit status when an agent died ($(cat "$dir/run.out"))"
fl_wait_gone "$wd" 10
for ((k = 1; k <= N; k++)); do
	fl_assert_eq "$(proc_state "${VICTIMS[k]}")" S "victim of a$k after the run"
	[ $k = $DEAD ] || run_agent_idle "$dir/a$k/agent.sock"
done
run_validate_report "$dir/report.json"
rep=$dir/report.json
fl_assert_eq "$(jq -r .outcome "$rep")" failed "outcome"
jq -e --arg d "a$DEAD" '.reason | test("agent \($d) lost its lease .*: the agent died \\(nothing listens on its socket\\)")' \
	"$rep" >/dev/null || fl_fail "reason: $(jq -r .reason "$rep")"
jq -e --arg d "a$DEAD" --argjson n $N '
	(.agents | length == $n) and
	(.agents[] | select(.name == $d) | .lease_lost and (.revert.ok | not)) and
	([.agents[] | select(.name != $d) | select(.revert.ok and (.lease_lost | not))] | length == $n - 1) and
	([.faults[] | select(.agent != $d) | select(.state == "reverted" and .achieved_final)] | length == $n - 1)' \
	"$rep" >/dev/null || fl_fail "report: $(jq -c '{agents: [.agents[] | {name, lease_lost, revert}], faults: [.faults[] | {agent, state, achieved_final}]}' "$rep")"
fl_log "a$DEAD died mid-run: the other $((N - 1)) agents reverted, the run failed naming it"
