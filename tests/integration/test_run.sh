#!/usr/bin/env bash
# faultctl run end to end against a real agent and a real HTTP service in a namespace:
#  - a run with an HTTP guardrail whose fault does not hurt the service completes green
#    (exit 0), with a JSON report that validates against docs/report.schema.json, a
#    well-formed JUnit file, a Markdown summary, the fault's achieved state from the agent;
#  - agents named through an inventory group;
#  - invalid input exits 2 with positioned diagnostics; an unhealthy steady state and a
#    closed time window refuse the run (exit 4) without creating any lease; so do a dry run
#    (exit 0) and a fault type the agent cannot apply here (exit 3); after-checks that never
#    pass give exit 1 (not_recovered);
#  - SIGTERM in the middle reverts everything and exits 143; SIGINT during a long
#    before-check ends the run at once (exit 130) with nothing applied;
#  - faultctl status shows a lease and a fault; faultctl abort reverts them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run_lib.sh"
run_require
SRV=$FL_BUILD_DIR/tests/integration/http_testsrv
[ -x "$SRV" ] || fl_fail "http_testsrv not built"

fl_netns ns run
fl_tmpdir dir
sock=$dir/agent.sock
fl_start_agent "$ns" "$sock" "$dir/agent.log"
nsenter --net="/run/netns/$ns" "$SRV" "$dir/port" 300 >"$dir/srv.log" 2>&1 &
for ((i = 0; i < 100; i++)); do [ -s "$dir/port" ] && break; sleep 0.05; done
port=$(cat "$dir/port")
[ -n "$port" ] || fl_fail "http_testsrv did not start"
run_start_victim victim
api_posts() { jq -s '[.[] | select(.method == "POST" and .target == "/v1/leases")] | length' "$dir/audit.log"; }

cat >"$dir/inventory.yaml" <<EOF
version: 1
agents:
  - {name: host-1, address: "unix://$sock"}
groups:
  - {name: web, members: [host-1]}
EOF
write_exp() { # write_exp FILE DURATION [EXTRA_SAFETY]
	cat >"$1" <<EOF
version: 1
name: pause-a-bystander
hypothesis: The service keeps answering while an unrelated process is paused.
inventory: inventory.yaml
agents:
  - group: web
duration: $2
safety: {lease_ttl: 1s${3:-}}
steady_state:
  before:
    - name: service-up
      http: {url: "http://127.0.0.1:$port/ping", rate: 20/s, window: 1s, min_success_ratio: 100%}
  after:
    - name: service-up
      http: {url: "http://127.0.0.1:$port/ping", rate: 20/s, window: 1s, min_success_ratio: 100%}
  recovery_timeout: 10s
guardrails:
  - name: service-slo
    http: {url: "http://127.0.0.1:$port/ping", rate: 20/s, timeout: 500ms, window: 2s, min_success_ratio: 95%, max_latency: {p99: 400ms}}
    for: 1s
faults:
  - name: pause-bystander
    type: process.pause
    start: 1s
    duration: 2s
    target: {pid: $victim, all: true}
EOF
}

# --- green run ---
write_exp "$dir/exp.yaml" 4s
rc=0
run_in "$ns" "$FAULTCTL" run "$dir/exp.yaml" --report-json "$dir/report.json" \
	--junit "$dir/junit.xml" --markdown "$dir/report.md" >"$dir/run.out" 2>"$dir/run.err" || rc=$?
fl_assert_eq "$rc" 0 "exit status of a green run ($(cat "$dir/run.out" "$dir/run.err"))"
run_validate_report "$dir/report.json"
run_check_junit "$dir/junit.xml"
fl_assert_eq "$(jq -r .outcome "$dir/report.json")" held "outcome"
fl_assert_eq "$(jq -r '.started_at[0:4]' "$dir/report.json")" "$(date -u +%Y)" "start time"
# Ended by its duration (t+3 s) before the run's end (t+4 s): reverted, with its own time and
# the agent's final status of it, from its fault.reverted event.
fl_assert_eq "$(jq -r '.faults[0].state' "$dir/report.json")" reverted "fault state"
jq -e '.faults[0].achieved_final and .faults[0].revert_reason == "its duration ended" and
	.faults[0].reverted_ms >= .faults[0].start_ms + .faults[0].duration_ms and
	.faults[0].reverted_ms - .faults[0].applied_ms < 2500 and
	(.faults[0].reverted_at | test("^[0-9-]+T[0-9:.]+Z$"))' "$dir/report.json" >/dev/null ||
	fl_fail "fault ended by its duration: $(jq -c '.faults[0] | del(.requested)' "$dir/report.json")"
fl_assert_eq "$(jq -r '.faults[0].agent' "$dir/report.json")" host-1 "agent resolved from the group"
# On schedule: start 1s, allowing a loaded machine 500 ms.
jq -e '.faults[0].applied_ms >= 1000 and .faults[0].applied_ms < 1500' "$dir/report.json" >/dev/null ||
	fl_fail "fault not applied at its start offset: $(jq -c .faults[0] "$dir/report.json")"
fl_assert_eq "$(jq -r '.faults[0].achieved.processes[0].state' "$dir/report.json")" T \
	"achieved: the agent saw the process stopped"
fl_assert_eq "$(jq -r '.guardrails[0].breached' "$dir/report.json")" false "guardrail breached"
jq -e '.guardrails[0].samples > 0 and .guardrails[0].last.healthy' "$dir/report.json" >/dev/null ||
	fl_fail "guardrail never sampled healthy: $(jq -c .guardrails "$dir/report.json")"
jq -e '.steady_state.recovered and (.steady_state.recovery_ms | type == "number")' \
	"$dir/report.json" >/dev/null || fl_fail "no recovery time: $(jq -c .steady_state "$dir/report.json")"
jq -e '.agents[0].renewals >= 6' "$dir/report.json" >/dev/null ||
	fl_fail "lease of 1 s not renewed every TTL/3 over 4 s: $(jq -c .agents "$dir/report.json")"
jq -e '.agents[0].revert.ok and .abort == null' "$dir/report.json" >/dev/null ||
	fl_fail "revert not confirmed: $(jq -c .agents "$dir/report.json")"
fl_assert_eq "$(xmllint --xpath 'string(/testsuites/@failures)' "$dir/junit.xml")" 0 "JUnit failures"
fl_assert_eq "$(xmllint --xpath 'count(//testcase[@name="service-slo"])' "$dir/junit.xml")" 1 \
	"JUnit test case of the guardrail"
grep -q '^# Experiment `pause-a-bystander`: held' "$dir/report.md" || fl_fail "Markdown title"
grep -q '1 of 1 selected process stopped' "$dir/report.md" || fl_fail "Markdown: achieved"
grep -Eq '^\[\+[0-9]+\.[0-9]{3}s\] host-1: applied pause-bystander' "$dir/run.out" ||
	fl_fail "no timestamped plain line for the apply: $(cat "$dir/run.out")"
fl_assert_state "$victim" S "victim after the run"
run_agent_idle "$sock"

# --- the steady state does not come back: exit 1, not_recovered, no recovery time ---
sed "/  after:/,/  recovery_timeout/ s/127.0.0.1:$port/127.0.0.1:1/; s/recovery_timeout: 10s/recovery_timeout: 2s/" \
	"$dir/exp.yaml" >"$dir/norecover.yaml"
rc=0
run_in "$ns" "$FAULTCTL" run "$dir/norecover.yaml" --report-json "$dir/norecover.json" \
	--junit "$dir/norecover.xml" >"$dir/norecover.out" 2>&1 || rc=$?
fl_assert_eq "$rc" 1 "exit status when the steady state does not recover ($(cat "$dir/norecover.out"))"
fl_assert_eq "$(jq -r .outcome "$dir/norecover.json")" not_recovered "outcome"
jq -e '.steady_state.recovered == false and .steady_state.recovery_ms == null and
	.steady_state.after_rounds >= 2' "$dir/norecover.json" >/dev/null ||
	fl_fail "steady state: $(jq -c .steady_state "$dir/norecover.json")"
run_validate_report "$dir/norecover.json"
run_check_junit "$dir/norecover.xml"
fl_assert_eq "$(xmllint --xpath 'count(//testcase[@classname="pause-a-bystander.steady_state.after"]/error)' "$dir/norecover.xml")" 1 \
	"JUnit: the after-check that could not reach the service"
run_agent_idle "$sock"

# --- JSON on stdout ---
rc=0
run_in "$ns" "$FAULTCTL" --json run "$dir/exp.yaml" >"$dir/stdout.json" 2>/dev/null || rc=$?
fl_assert_eq "$rc" 0 "exit status with --json"
run_validate_report "$dir/stdout.json"

# --- invalid input: exit 2, positioned, nothing contacted ---
posts=$(api_posts)
sed 's/duration: 2s/duration: 2x/' "$dir/exp.yaml" >"$dir/bad.yaml"
rc=0
"$FAULTCTL" run "$dir/bad.yaml" >/dev/null 2>"$dir/bad.err" || rc=$?
fl_assert_eq "$rc" 2 "exit status for an invalid experiment"
grep -q "^$dir/bad.yaml:[0-9]*:[0-9]*: faults\[0\].duration: " "$dir/bad.err" ||
	fl_fail "no positioned diagnostic: $(cat "$dir/bad.err")"
printf 'version: 1\nagents:\n  - {name: host-1, adress: "unix:///x"}\n' >"$dir/badinv.yaml"
rc=0
"$FAULTCTL" run "$dir/exp.yaml" --inventory "$dir/badinv.yaml" >/dev/null 2>"$dir/badinv.err" || rc=$?
fl_assert_eq "$rc" 2 "exit status for an invalid inventory"
grep -q "badinv.yaml:3:20: agents\[0\].adress: unknown key" "$dir/badinv.err" ||
	fl_fail "no positioned inventory diagnostic: $(cat "$dir/badinv.err")"

# --- unhealthy before the run: refused, exit 4, no lease ---
sed "s/127.0.0.1:$port\/ping\", rate: 20\/s, window: 1s/127.0.0.1:1\/ping\", rate: 20\/s, window: 1s/" \
	"$dir/exp.yaml" >"$dir/down.yaml"
rc=0
run_in "$ns" "$FAULTCTL" run "$dir/down.yaml" --report-json "$dir/refused.json" >"$dir/down.out" 2>&1 || rc=$?
fl_assert_eq "$rc" 4 "exit status when the steady state is unhealthy ($(cat "$dir/down.out"))"
fl_assert_eq "$(jq -r .outcome "$dir/refused.json")" refused "outcome"
run_validate_report "$dir/refused.json"
fl_assert_eq "$(api_posts)" "$posts" "leases created by refused or invalid runs"
fl_assert_state "$victim" S "victim after the refused run"

# --- outside the allowed window: refused ---
h=$(( (10#$(date -u +%H) + 2) % 24 )) # 10#: "08" and "09" are not octal
write_exp "$dir/window.yaml" 4s "$(printf ', window: {start: "%02d:00", end: "%02d:30", timezone: UTC}' "$h" "$h")"
rc=0
"$FAULTCTL" run "$dir/window.yaml" >"$dir/window.out" 2>&1 || rc=$?
fl_assert_eq "$rc" 4 "exit status outside the window"
grep -q "outside the allowed window" "$dir/window.out" || fl_fail "no reason: $(cat "$dir/window.out")"
fl_assert_eq "$(api_posts)" "$posts" "leases created outside the window"

# --- dry run: agents and checks verified, nothing applied ---
write_exp "$dir/dry.yaml" 4s ", dry_run: true"
rc=0
run_in "$ns" "$FAULTCTL" run "$dir/dry.yaml" --report-json "$dir/dry.json" >"$dir/dry.out" 2>&1 || rc=$?
fl_assert_eq "$rc" 0 "exit status of a dry run ($(cat "$dir/dry.out"))"
fl_assert_eq "$(jq -r .outcome "$dir/dry.json")" dry_run "outcome of a dry run"
fl_assert_eq "$(jq -r '.started_at[0:4]' "$dir/dry.json")" "$(date -u +%Y)" "start time of a dry run"
run_validate_report "$dir/dry.json"
fl_assert_eq "$(api_posts)" "$posts" "leases created by a dry run"
fl_assert_state "$victim" S "victim after the dry run"

# --- a fault type the agent cannot apply here: exit 3 before anything changes ---
if ! curl -sS --unix-socket "$sock" http://agent/v1/info |
	jq -e '.fault_types[] | select(.name == "network.latency") | .available' >/dev/null; then
	cat >"$dir/latency.yaml" <<EOF
version: 1
name: latency-unavailable
hypothesis: h
agents: [{name: host-1, address: "unix://$sock"}]
duration: 2s
faults:
  - {name: pause-first, type: process.pause, duration: 1s, target: {pid: $victim, all: true}}
  - {name: slow, type: network.latency, duration: 1s, target: {interface: lo, cidrs: [127.0.0.0/8]}, params: {delay: 10ms}}
EOF
	rc=0
	"$FAULTCTL" run "$dir/latency.yaml" >"$dir/latency.out" 2>&1 || rc=$?
	fl_assert_eq "$rc" 3 "exit status when a fault type is unavailable ($(cat "$dir/latency.out"))"
	grep -q "fault 'slow': network.latency is unavailable on this agent" "$dir/latency.out" ||
		fl_fail "no reason given: $(cat "$dir/latency.out")"
	fl_assert_eq "$(api_posts)" "$posts" "leases created when a type is unavailable"
	fl_assert_state "$victim" S "victim when a type is unavailable"
else
	fl_log "network.latency is available on this kernel: the unavailable-type case is not exercised"
fi

# --- SIGTERM in the middle: everything reverted, exit 143 ---
write_exp "$dir/long.yaml" 30s
sed -i 's/duration: 2s/duration: 25s/' "$dir/long.yaml"
# Not through a shell function: $! must be faultctl itself, not a subshell.
nsenter --net="/run/netns/$ns" "$FAULTCTL" run "$dir/long.yaml" --report-json "$dir/term.json" \
	>"$dir/term.out" 2>&1 &
ctl=$!
for ((i = 0; i < 200; i++)); do [ "$(proc_state "$victim")" = T ] && break; sleep 0.05; done
fl_assert_eq "$(proc_state "$victim")" T "victim paused by the long run"
kill -TERM "$ctl"
fl_wait_exit rc "$ctl" 20
fl_assert_eq "$rc" 143 "exit status after SIGTERM ($(cat "$dir/term.out"))"
fl_assert_state "$victim" S "victim after SIGTERM ($(cat "$dir/term.out"))"
fl_assert_eq "$(jq -r .outcome "$dir/term.json")" interrupted "outcome after SIGTERM"
run_validate_report "$dir/term.json"
run_agent_idle "$sock"

# --- SIGINT during a long before-check: the wait ends at once, nothing is applied ---
posts=$(api_posts)
sed 's|rate: 20/s, window: 1s, min_success_ratio: 100%}|rate: 1/s, window: 1m, min_success_ratio: 100%}|' \
	"$dir/exp.yaml" >"$dir/slowcheck.yaml"
nsenter --net="/run/netns/$ns" "$FAULTCTL" run "$dir/slowcheck.yaml" --report-json "$dir/int.json" \
	>"$dir/int.out" 2>&1 &
ctl=$!
sleep 1.5
kill -INT "$ctl"
t0=$(now_ms)
fl_wait_exit rc "$ctl" 20
took=$(($(now_ms) - t0))
fl_assert_eq "$rc" 130 "exit status after SIGINT during a before-check ($(cat "$dir/int.out"))"
[ "$took" -lt 2000 ] || fl_fail "SIGINT during a before-check took $took ms to end the run"
fl_assert_eq "$(jq -r .outcome "$dir/int.json")" interrupted "outcome after SIGINT during a check"
run_validate_report "$dir/int.json"
fl_assert_eq "$(api_posts)" "$posts" "leases created by a run interrupted before its start"

# --- status and abort ---
lease=$(curl -sS --unix-socket "$sock" -X POST --data '{"ttl_ms": 60000}' http://agent/v1/leases | jq -r .lease.id)
curl -sS --unix-socket "$sock" -X POST http://agent/v1/leases/"$lease"/faults --data \
	"{\"name\": \"manual\", \"type\": \"process.pause\", \"duration\": \"1m\", \"target\": {\"pid\": $victim, \"all\": true}}" >/dev/null
fl_assert_eq "$(proc_state "$victim")" T "victim paused by hand"
"$FAULTCTL" status --inventory "$dir/inventory.yaml" >"$dir/status.out" || fl_fail "status failed"
grep -q "lease   $lease" "$dir/status.out" || fl_fail "status without the lease: $(cat "$dir/status.out")"
grep -q "process.pause manual (active)" "$dir/status.out" || fl_fail "status without the fault"
"$FAULTCTL" --json status --inventory "$dir/inventory.yaml" web >"$dir/status.json"
fl_assert_eq "$(jq -r '.agents[0].faults[0].state' "$dir/status.json")" active "status --json"
"$FAULTCTL" abort --inventory "$dir/inventory.yaml" web >"$dir/abort.out" || fl_fail "abort failed"
grep -q "host-1: reverted 1 fault" "$dir/abort.out" || fl_fail "abort output: $(cat "$dir/abort.out")"
fl_assert_state "$victim" S "victim after faultctl abort"
rc=0
"$FAULTCTL" abort "unix://$dir/nonexistent.sock" >/dev/null 2>&1 || rc=$?
fl_assert_eq "$rc" 3 "abort of an unreachable agent"
