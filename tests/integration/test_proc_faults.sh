#!/usr/bin/env bash
# Process faults that do exactly what they say, over the agent's real API, against processes
# this test starts (each in a session of its own with setsid, selected by pid or by a name
# made from $FL_ID, never by a broad pattern):
#  - two SIGSTOP pauses over one process: the second, with another selector, is refused with
#    409 naming the first fault, nothing else is stopped by it, and the first one's revert
#    resumes the process;
#  - a process already stopped (state T) before a pause is left stopped by its revert and
#    shown as such in the status, while a running one paused with it is resumed;
#  - a stress.cpu worker killed with SIGKILL (the OOM killer's signal; the pid read from the
#    fault's status) gives exactly one fault.degraded event naming that worker and signal,
#    the status lists it under "degraded", the stop that follows adds none; and faultctl run's
#    JSON report shows it in the fault's entry.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run_lib.sh"
run_require
fl_require_build
CG_ROOT=$(findmnt -n -t cgroup2 -o TARGET | head -n1)
[ -n "$CG_ROOT" ] && [ -f "$CG_ROOT/cgroup.procs" ] || fl_skip "no cgroup v2 hierarchy mounted"

fl_netns ns procf
fl_tmpdir dir
sock=$dir/agent.sock
state=$dir/state
AGENT_ARGS=(--log-level debug)

# At exit, also on failure: the agent dies (its stressor workers with it, PDEATHSIG) and
# --cleanup resumes what the journal lists and removes the stressor cgroups.
fl_on_exit fl_teardown_agent

api() { FL_API_TIMEOUT=30 fl_api "$@"; }
new_lease() {
	api POST /v1/leases '{"ttl_ms": 900000}'
	fl_assert_eq "$HTTP_STATUS" 201 "create lease"
	LEASE=$(jq -r .lease.id <<<"$API_BODY")
}
apply() { # apply BODY -> FAULT (id), API_BODY, HTTP_STATUS
	api POST "/v1/leases/$LEASE/faults" "$1"
	FAULT=$(jq -r '.fault.id // empty' <<<"$API_BODY")
}
revert() {
	api DELETE "/v1/faults/$1"
	fl_assert_eq "$HTTP_STATUS" 200 "revert $1 ($API_BODY)"
}
events() { curl -sS --max-time 5 --unix-socket "$sock" "http://agent/v1/events?since=0" 2>/dev/null || true; }
# wait_state PID STATES SECONDS: until the process's state letter is one of STATES (bounded).
wait_state() {
	local i s
	for ((i = 0; i < $3 * 20; i++)); do
		s=$(proc_state "$1")
		[[ -n "$s" && "$2" == *"$s"* ]] && return 0
		sleep 0.05
	done
	fl_fail "pid $1: state '$(proc_state "$1")', expected one of '$2' within $3 s"
}
# still_state PID STATE SECONDS: the state stays STATE for that long (sampled every 50 ms).
still_state() {
	local i
	for ((i = 0; i < $3 * 20; i++)); do
		fl_assert_eq "$(proc_state "$1")" "$2" "state of pid $1"
		sleep 0.05
	done
}

PNAME=${FL_ID}p
cp "$(command -v sleep)" "$dir/$PNAME"
start() { # start VAR: a copy of sleep named $PNAME in a session of its own
	local _v=$1 i
	setsid "$dir/$PNAME" 600 &
	printf -v "$_v" '%s' "$!"
	for ((i = 0; i < 200; i++)); do
		[ "$(cat /proc/$!/comm 2>/dev/null)" = "$PNAME" ] && return 0
		sleep 0.01
	done
	fl_fail "victim $! did not start"
}

fl_start_agent "$ns" "$sock" "$dir/agent.log" "${AGENT_ARGS[@]}"
new_lease

# --- two pauses over one process: the second is refused, naming the first ---
start v1
apply "{\"name\": \"first\", \"type\": \"process.pause\", \"duration\": \"10m\", \"target\": {\"pid\": $v1, \"all\": true}}"
fl_assert_eq "$HTTP_STATUS" 201 "first pause ($API_BODY)"
first=$FAULT
wait_state "$v1" T 5
apply "{\"name\": \"second\", \"type\": \"process.pause\", \"duration\": \"10m\", \"target\": {\"name\": \"$PNAME\", \"all\": true}}"
fl_assert_eq "$HTTP_STATUS" 409 "a second pause of the same process ($API_BODY)"
fl_assert_eq "$(jq -r .error.code <<<"$API_BODY")" conflict "error code"
jq -e --arg f "$first" --arg p "$v1" '.error.message | contains($f) and contains("'"'"'first'"'"'") and contains("pid " + $p)' \
	<<<"$API_BODY" >/dev/null || fl_fail "the refusal does not name the first fault and the pid: $API_BODY"
api GET /v1/faults
fl_assert_eq "$(jq '.faults | length' <<<"$API_BODY")" 1 "faults after the refusal"
revert "$first"
wait_state "$v1" SR 5
fl_log "second pause refused with 409; the first one's revert resumed pid $v1"

# --- a process stopped before the fault stays stopped after it; a running one is resumed ---
start r1
start s1
kill -STOP "$s1"
wait_state "$s1" T 5
apply "{\"name\": \"both\", \"type\": \"process.pause\", \"duration\": \"10m\", \"target\": {\"name\": \"$PNAME\", \"all\": true}}"
fl_assert_eq "$HTTP_STATUS" 201 "pause of a running and a stopped process ($API_BODY)"
both=$FAULT
wait_state "$r1" T 5
fl_assert_eq "$(jq -r --argjson p "$s1" '.fault.status.processes[] | select(.pid == $p) | .already_stopped' <<<"$API_BODY")" \
	true "status: the stopped process is marked already_stopped"
fl_assert_eq "$(jq -r --argjson p "$r1" '.fault.status.processes[] | select(.pid == $p) | .already_stopped' <<<"$API_BODY")" \
	false "status: the running process is not"
fl_assert_eq "$(jq -r --argjson p "$v1" '[.fault.status.processes[] | select(.pid == $p)] | length' <<<"$API_BODY")" \
	1 "the earlier victim is paused too"
revert "$both"
wait_state "$r1" SR 5
wait_state "$v1" SR 5
still_state "$s1" T 1
grep -q "1 left stopped (stopped before the fault)" "$dir/agent.log" ||
	fl_fail "the revert does not report the process left stopped: $(grep "$both" "$dir/agent.log")"
kill -CONT "$s1"
wait_state "$s1" SR 5
fl_log "pid $s1, stopped before the pause, stayed stopped after its revert; pid $r1 resumed"

# --- a stressor worker killed: fault.degraded, status, and no report for the stop ---
apply '{"name": "cpu", "type": "stress.cpu", "duration": "10m", "params": {"workers": 2, "load": "5%"}}'
fl_assert_eq "$HTTP_STATUS" 201 "stress.cpu ($API_BODY)"
cpu=$FAULT
fl_assert_eq "$(jq -c .fault.status.degraded <<<"$API_BODY")" "[]" "degraded before any loss"
victim=$(jq -r '.fault.status.worker_states[0].pid' <<<"$API_BODY")
other=$(jq -r '.fault.status.worker_states[1].pid' <<<"$API_BODY")
cg=$(jq -r .fault.status.cgroup <<<"$API_BODY")
# The pid is the agent's worker, in the fault's own cgroup: nothing else is signalled.
grep -qx "$victim" "$cg/cgroup.procs" || fl_fail "worker $victim is not in $cg"
grep -q internal-stress-worker "/proc/$victim/cmdline" || fl_fail "pid $victim is not a worker"
kill -KILL "$victim"
for ((i = 0; i < 100; i++)); do
	n=$(events | jq -s --arg f "$cpu" '[.[] | select(.fault == $f and .type == "fault.degraded")] | length')
	[ "$n" -ge 1 ] && break
	sleep 0.1
done
events | jq -s -c --arg f "$cpu" '[.[] | select(.fault == $f and .type == "fault.degraded")]' >"$dir/deg.json"
fl_assert_eq "$(jq length "$dir/deg.json")" 1 "fault.degraded events after one worker died ($(cat "$dir/deg.json"))"
jq -e --argjson p "$victim" '.[0] | .pid == $p and .worker == 0 and .signal == 9 and
	.signal_name == "SIGKILL" and .fault_type == "stress.cpu" and
	(.reason | contains("pid \($p)") and contains("SIGKILL"))' "$dir/deg.json" >/dev/null ||
	fl_fail "fault.degraded lacks the worker, pid or signal: $(cat "$dir/deg.json")"
api GET "/v1/faults/$cpu"
jq -e --argjson p "$victim" '.fault.status | (.degraded | length) == 1 and .degraded[0].pid == $p and
	.degraded[0].signal_name == "SIGKILL" and .workers_alive == 1' <<<"$API_BODY" >/dev/null ||
	fl_fail "status does not show the lost worker: $(jq -c .fault.status <<<"$API_BODY")"
[ -e "/proc/$other" ] || fl_fail "the other worker $other died too"
revert "$cpu"
[ ! -e "$cg" ] || fl_fail "cgroup $cg survived the revert"
fl_assert_eq "$(events | jq -s --arg f "$cpu" '[.[] | select(.fault == $f and .type == "fault.degraded")] | length')" \
	1 "fault.degraded events after the stop (the stop's kills are not losses)"
fl_log "worker $victim SIGKILLed: one fault.degraded event, listed in the status"

# --- the run report lists the lost worker in the fault's entry ---
cat >"$dir/exp.yaml" <<EOF
version: 1
name: stress-degraded
hypothesis: The report says when a stressor lost a worker.
agents:
  - name: host-1
    address: unix://$sock
duration: 9s
safety: {lease_ttl: 5s}
faults:
  - name: busy
    type: stress.cpu
    start: 0s
    duration: 8s
    params: {workers: 2, load: 5%}
EOF
run_in "$ns" "$FAULTCTL" run "$dir/exp.yaml" --report-json "$dir/report.json" >"$dir/run.out" 2>&1 &
run_pid=$!
fid=
for ((i = 0; i < 100; i++)); do
	api GET /v1/faults
	fid=$(jq -r '[.faults[] | select(.type == "stress.cpu" and .state == "active")][0].id // empty' <<<"$API_BODY")
	[ -n "$fid" ] && break
	sleep 0.1
done
[ -n "$fid" ] || fl_fail "the run's stress.cpu never became active"
api GET "/v1/faults/$fid"
rvictim=$(jq -r '.fault.status.worker_states[1].pid' <<<"$API_BODY")
rcg=$(jq -r .fault.status.cgroup <<<"$API_BODY")
grep -qx "$rvictim" "$rcg/cgroup.procs" || fl_fail "worker $rvictim is not in $rcg"
kill -KILL "$rvictim"
fl_wait_exit rc "$run_pid" 60
fl_assert_eq "$rc" 0 "faultctl run ($(cat "$dir/run.out"))"
run_validate_report "$dir/report.json"
jq -e --argjson p "$rvictim" '.faults[0].degraded | length == 1 and .[0].pid == $p and
	.[0].worker == 1 and .[0].signal_name == "SIGKILL"' "$dir/report.json" >/dev/null ||
	fl_fail "the report's fault entry does not list the lost worker: $(jq -c '.faults[0]' "$dir/report.json")"
fl_log "run report: $(jq -c '.faults[0].degraded' "$dir/report.json")"
