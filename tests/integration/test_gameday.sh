#!/usr/bin/env bash
# faultctl gameday end to end against a real agent and a real HTTP service in a namespace:
#  - a plan whose first step holds (pausing a bystander), whose second is aborted by its
#    guardrail (pausing the service) with on_failure: continue, and a third that holds: all
#    three run in order with the pause between them, exit 1, every fault reverted; the
#    combined JSON validates against docs/gameday.schema.json (the embedded run reports
#    against docs/report.schema.json), the JUnit file has a testsuite per step, the Markdown
#    a summary table and a section per step;
#  - the default stop policy: after the aborted step, the next one is never started;
#  - a step with confirm: true and no terminal and no --yes is refused up front (exit 2,
#    no lease); with --yes it runs; on a terminal (a pty) "n" declines it, "y" runs it;
#  - invalid experiments inside a plan are all reported with their own file:line:column,
#    exit 2, nothing run; a closed window refuses the game day (exit 4, nothing run);
#  - SIGINT during a step reverts it and stops the game day (exit 130), also while an
#    aborted step with on_failure: continue waits for its recovery.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run_lib.sh"
run_require
SRV=$FL_BUILD_DIR/tests/integration/http_testsrv
[ -x "$SRV" ] || fl_fail "http_testsrv not built"

fl_netns ns gameday
fl_tmpdir dir
sock=$dir/agent.sock
fl_start_agent "$ns" "$sock" "$dir/agent.log"
nsenter --net="/run/netns/$ns" setsid "$SRV" "$dir/port" 300 >"$dir/srv.log" 2>&1 &
for ((i = 0; i < 100; i++)); do [ -s "$dir/port" ] && break; sleep 0.05; done
port=$(cat "$dir/port")
[ -n "$port" ] || fl_fail "http_testsrv did not start"
srv=$(pgrep -f "^$SRV $dir/port" | head -1)
[ -n "$srv" ] || fl_fail "http_testsrv pid not found"
run_start_victim victim
api_posts() { jq -s '[.[] | select(.method == "POST" and .target == "/v1/leases")] | length' "$dir/audit.log"; }
mkdir "$dir/exp"

# write_exp FILE NAME PID DURATION FAULT_DURATION TIMEOUT FOR [AFTER_PORT RECOVERY]: pause
# PID under the service's guardrail (requests time out after TIMEOUT, debounced by FOR). The
# steps that must hold allow a loaded machine 1 s per request; the one that must be aborted
# pauses the service itself, whose requests then never finish.
write_exp() {
	cat >"$1" <<EOF
version: 1
name: $2
hypothesis: The service keeps answering while process $3 is paused.
agents:
  - {name: host-1, address: "unix://$sock"}
duration: $4
safety: {lease_ttl: 2s}
steady_state:
  after:
    - name: service-up
      http: {url: "http://127.0.0.1:${8:-$port}/ping", rate: 20/s, window: 1s, min_success_ratio: 100%}
  recovery_timeout: ${9:-10s}
guardrails:
  - name: service-slo
    http: {url: "http://127.0.0.1:$port/ping", rate: 50/s, timeout: $6, window: 1s, min_success_ratio: 90%}
    for: $7
faults:
  - name: pause
    type: process.pause
    start: 500ms
    duration: $5
    target: {pid: $3, all: true}
EOF
}
write_exp "$dir/exp/hold.yaml" pause-bystander "$victim" 3s 2s 1s 1s
write_exp "$dir/exp/break.yaml" pause-service "$srv" 30s 20s 100ms 300ms
write_exp "$dir/exp/long.yaml" pause-bystander-long "$victim" 30s 25s 1s 1s
# Aborted, then its after-check never passes (nothing listens on port 1): it waits for the
# recovery, which is when the test interrupts it.
write_exp "$dir/exp/norecover.yaml" pause-service-norecover "$srv" 30s 20s 100ms 300ms 1 30s

# --- continue: hold, aborted (continue), hold; all three run ---
cat >"$dir/continue.yaml" <<EOF
version: 1
name: continue-day
description: A step that holds, one that a guardrail aborts, one that holds.
steps:
  - experiment: exp/hold.yaml
    pause_after: 1s
  - experiment: exp/break.yaml
    on_failure: continue
  - experiment: exp/hold.yaml
EOF
rc=0
run_in "$ns" "$FAULTCTL" gameday "$dir/continue.yaml" --report-json "$dir/c.json" \
	--junit "$dir/c.xml" --markdown "$dir/c.md" >"$dir/c.out" 2>&1 || rc=$?
fl_assert_eq "$rc" 1 "exit status of a game day with an aborted step ($(cat "$dir/c.out"))"
run_validate_report_schema "$dir/c.json" gameday.schema.json
rep=$dir/c.json
fl_assert_eq "$(jq -r .outcome "$rep")" aborted "game-day outcome"
fl_assert_eq "$(jq -r '[.steps[].state] | join(",")' "$rep")" ran,ran,ran "step states"
fl_assert_eq "$(jq -r .reason "$rep")" "step 2 (pause-service) aborted" "game-day reason"
fl_assert_eq "$(jq -r '[.steps[].outcome] | join(",")' "$rep")" held,aborted,held "step outcomes"
fl_assert_eq "$(jq -r '[.steps[].exit_code] | join(",")' "$rep")" 0,1,0 "step exit codes"
fl_assert_eq "$(jq -r '.steps[1].report.abort.guardrail' "$rep")" service-slo "breached guardrail"
jq -e '.steps[1].report.abort.breach_to_reverted_ms < 250' "$rep" >/dev/null ||
	fl_fail "breach to reverted: $(jq -c .steps[1].report.abort "$rep")"
# In order, and the 1 s pause after step 1 really happened before step 2.
jq -e '.steps[1].started_ms - (.steps[0].started_ms + .steps[0].elapsed_ms) >= 1000 and
	.steps[2].started_ms > .steps[1].started_ms + .steps[1].elapsed_ms' "$rep" >/dev/null ||
	fl_fail "steps not in order with the pause: $(jq -c '[.steps[] | {started_ms, elapsed_ms}]' "$rep")"
# Each embedded run report is a faultctl run report in its own right.
for k in 0 1 2; do
	jq ".steps[$k].report" "$rep" >"$dir/c-step$k.json"
	run_validate_report "$dir/c-step$k.json"
done
xmllint --noout "$dir/c.xml" || fl_fail "JUnit file is not well-formed XML"
fl_assert_eq "$(xmllint --xpath 'count(/testsuites/testsuite)' "$dir/c.xml")" 3 "JUnit testsuites"
fl_assert_eq "$(xmllint --xpath 'string(/testsuites/testsuite[2]/@name)' "$dir/c.xml")" pause-service \
	"JUnit suite of step 2"
fl_assert_eq "$(xmllint --xpath 'count(/testsuites/testsuite[2]/testcase[@name="hypothesis"]/failure)' "$dir/c.xml")" 1 \
	"JUnit: the aborted hypothesis"
fl_assert_eq "$(xmllint --xpath 'count(/testsuites/testsuite[1]//failure)' "$dir/c.xml")" 0 \
	"JUnit: no failure in the step that held"
grep -q '^# Game day `continue-day`: aborted' "$dir/c.md" || fl_fail "Markdown title"
grep -q '^## Summary' "$dir/c.md" || fl_fail "Markdown summary"
grep -Eq '^\| 2 \| `exp/break.yaml` \| aborted \| 1 \| [0-9.]+ ms \|' "$dir/c.md" ||
	fl_fail "Markdown summary row of step 2: $(grep '^| 2 ' "$dir/c.md")"
fl_assert_eq "$(grep -c '^## Step [123]: Experiment' "$dir/c.md")" 3 "Markdown step sections"
fl_assert_state "$srv" S "server after the game day"
fl_assert_state "$victim" S "victim after the game day"
run_agent_idle "$sock"

# --- stop (the default): the step after the aborted one never starts ---
cat >"$dir/stop.yaml" <<EOF
version: 1
name: stop-day
steps:
  - experiment: exp/break.yaml
  - experiment: exp/hold.yaml
EOF
posts=$(api_posts)
rc=0
run_in "$ns" "$FAULTCTL" gameday "$dir/stop.yaml" --report-json "$dir/s.json" --junit "$dir/s.xml" \
	>"$dir/s.out" 2>&1 || rc=$?
fl_assert_eq "$rc" 1 "exit status when the game day stops after an aborted step ($(cat "$dir/s.out"))"
run_validate_report_schema "$dir/s.json" gameday.schema.json
fl_assert_eq "$(jq -r '[.steps[].state] | join(",")' "$dir/s.json")" ran,not_started "step states"
fl_assert_eq "$(jq -r '.steps[1].report' "$dir/s.json")" null "report of the step not started"
grep -q "on_failure: stop" "$dir/s.json" || fl_fail "no reason for the stop: $(jq -c .reason "$dir/s.json")"
fl_assert_eq "$(($(api_posts) - posts))" 1 "leases created: only the first step's"
xmllint --noout "$dir/s.xml" || fl_fail "JUnit file is not well-formed XML"
fl_assert_eq "$(xmllint --xpath 'count(/testsuites/testsuite[2]/testcase/skipped)' "$dir/s.xml")" 1 \
	"JUnit: the step not started is skipped"
fl_assert_state "$srv" S "server after the stopped game day"
run_agent_idle "$sock"

# --- confirmation without a terminal: refused up front; --yes answers it ---
cat >"$dir/confirm.yaml" <<EOF
version: 1
name: confirm-day
steps:
  - experiment: exp/hold.yaml
    confirm: true
EOF
posts=$(api_posts)
rc=0
# setsid: no controlling terminal, so /dev/tty cannot be opened; stdin is not asked.
setsid nsenter --net="/run/netns/$ns" "$FAULTCTL" gameday "$dir/confirm.yaml" \
	</dev/null >"$dir/nc.out" 2>&1 || rc=$?
fl_assert_eq "$rc" 2 "exit status of a confirm step without a terminal ($(cat "$dir/nc.out"))"
grep -q "steps\[0\] asks for confirmation (confirm: true) but there is no terminal to ask on" "$dir/nc.out" ||
	fl_fail "no clear reason: $(cat "$dir/nc.out")"
fl_assert_eq "$(api_posts)" "$posts" "leases created without a confirmation"
rc=0
setsid nsenter --net="/run/netns/$ns" "$FAULTCTL" gameday "$dir/confirm.yaml" --yes --json \
	</dev/null >"$dir/yes.json" 2>"$dir/yes.err" || rc=$?
fl_assert_eq "$rc" 0 "exit status with --yes ($(cat "$dir/yes.err"))"
run_validate_report_schema "$dir/yes.json" gameday.schema.json
fl_assert_eq "$(jq -r '.steps[0].confirmed_by' "$dir/yes.json")" --yes "confirmed by"
fl_assert_eq "$(jq -r .outcome "$dir/yes.json")" held "outcome with --yes"
run_agent_idle "$sock"

# On a terminal (a pty from script(1)): "n" declines (exit 4, nothing run), "y" runs it.
if command -v script >/dev/null; then
	posts=$(api_posts)
	rc=0
	printf 'n\n' | timeout 60 script -qec "nsenter --net=/run/netns/$ns $FAULTCTL gameday \
		$dir/confirm.yaml --report-json $dir/no.json" /dev/null >"$dir/no.out" 2>&1 || rc=$?
	fl_assert_eq "$rc" 4 "exit status when the operator declines ($(cat "$dir/no.out"))"
	grep -q "Start it? \[y/N\]" "$dir/no.out" || fl_fail "no question asked: $(cat "$dir/no.out")"
	fl_assert_eq "$(jq -r '.outcome + " " + .steps[0].state' "$dir/no.json")" "refused declined" \
		"declined step"
	fl_assert_eq "$(api_posts)" "$posts" "leases created by a declined step"
	rc=0
	printf 'y\n' | timeout 60 script -qec "nsenter --net=/run/netns/$ns $FAULTCTL gameday \
		$dir/confirm.yaml --report-json $dir/tty.json" /dev/null >"$dir/tty.out" 2>&1 || rc=$?
	fl_assert_eq "$rc" 0 "exit status when the operator answers y ($(cat "$dir/tty.out"))"
	fl_assert_eq "$(jq -r '.steps[0].confirmed_by + " " + .steps[0].outcome' "$dir/tty.json")" \
		"terminal held" "step confirmed on the terminal"
	run_validate_report_schema "$dir/tty.json" gameday.schema.json
	run_agent_idle "$sock"
else
	fl_log "script(1) not installed: the terminal confirmation is not exercised"
fi

# --- invalid experiments in a plan: all reported, positioned, nothing run ---
sed 's/duration: 2s/duration: 2x/' "$dir/exp/hold.yaml" >"$dir/exp/bad1.yaml"
sed 's/    type: process.pause/    typ: process.pause/' "$dir/exp/hold.yaml" >"$dir/exp/bad2.yaml"
cat >"$dir/invalid.yaml" <<EOF
version: 1
name: invalid-day
steps:
  - experiment: exp/hold.yaml
  - experiment: exp/bad1.yaml
  - experiment: exp/bad2.yaml
  - experiment: exp/missing.yaml
EOF
posts=$(api_posts)
rc=0
"$FAULTCTL" gameday "$dir/invalid.yaml" --report-json "$dir/inv.json" >"$dir/inv.out" 2>&1 || rc=$?
fl_assert_eq "$rc" 2 "exit status of a plan with invalid experiments"
line=$(grep -n 'duration: 2x' "$dir/exp/bad1.yaml" | cut -d: -f1)
grep -q "^$dir/exp/bad1.yaml:$line:[0-9]*: faults\[0\].duration: " "$dir/inv.out" ||
	fl_fail "no positioned diagnostic for bad1: $(cat "$dir/inv.out")"
line=$(grep -n '    typ: ' "$dir/exp/bad2.yaml" | cut -d: -f1)
grep -q "^$dir/exp/bad2.yaml:$line:5: faults\[0\].typ: unknown key; did you mean 'type'?" "$dir/inv.out" ||
	fl_fail "no positioned diagnostic for bad2: $(cat "$dir/inv.out")"
grep -q "^$dir/exp/missing.yaml: No such file or directory" "$dir/inv.out" ||
	fl_fail "missing experiment not reported: $(cat "$dir/inv.out")"
grep -q "3 invalid inputs; nothing was run" "$dir/inv.out" || fl_fail "no summary: $(cat "$dir/inv.out")"
[ ! -e "$dir/inv.json" ] || fl_fail "a report was written for invalid input"
fl_assert_eq "$(api_posts)" "$posts" "leases created by an invalid plan"
printf 'version: 1\nname: x\nsteps:\n  - {experiment: exp/hold.yaml, on_failur: stop}\n' >"$dir/badplan.yaml"
rc=0
"$FAULTCTL" gameday "$dir/badplan.yaml" >"$dir/badplan.out" 2>&1 || rc=$?
fl_assert_eq "$rc" 2 "exit status of an invalid plan"
grep -q "^$dir/badplan.yaml:4:33: steps\[0\].on_failur: unknown key; did you mean 'on_failure'?" \
	"$dir/badplan.out" || fl_fail "plan diagnostic: $(cat "$dir/badplan.out")"

# --- outside the window: refused, exit 4, nothing run ---
h=$(( (10#$(date -u +%H) + 2) % 24 )) # 10#: "08" and "09" are not octal
cat >"$dir/window.yaml" <<EOF
version: 1
name: window-day
window: {start: "$(printf %02d "$h"):00", end: "$(printf %02d "$h"):30", timezone: UTC}
steps:
  - experiment: exp/hold.yaml
EOF
rc=0
"$FAULTCTL" gameday "$dir/window.yaml" --report-json "$dir/w.json" >"$dir/w.out" 2>&1 || rc=$?
fl_assert_eq "$rc" 4 "exit status outside the window ($(cat "$dir/w.out"))"
grep -q "refusing to start the game day: outside the allowed window" "$dir/w.out" ||
	fl_fail "no reason: $(cat "$dir/w.out")"
run_validate_report_schema "$dir/w.json" gameday.schema.json
fl_assert_eq "$(jq -r '.outcome + " " + .steps[0].state' "$dir/w.json")" "refused not_started" "window refusal"
fl_assert_eq "$(api_posts)" "$posts" "leases created outside the window"

# --- SIGINT during a step: reverted, the game day stops ---
cat >"$dir/int.yaml" <<EOF
version: 1
name: int-day
steps:
  - {experiment: exp/long.yaml, on_failure: continue}
  - experiment: exp/hold.yaml
EOF
nsenter --net="/run/netns/$ns" "$FAULTCTL" gameday "$dir/int.yaml" --report-json "$dir/i.json" \
	>"$dir/i.out" 2>&1 &
ctl=$!
for ((i = 0; i < 200; i++)); do [ "$(proc_state "$victim")" = T ] && break; sleep 0.05; done
fl_assert_eq "$(proc_state "$victim")" T "victim paused by the long step"
kill -INT "$ctl"
fl_wait_exit rc "$ctl" 20
fl_assert_eq "$rc" 130 "exit status after SIGINT ($(cat "$dir/i.out"))"
fl_assert_state "$victim" S "victim after SIGINT"
run_validate_report_schema "$dir/i.json" gameday.schema.json
fl_assert_eq "$(jq -r '[.outcome, .steps[0].outcome, .steps[1].state] | join(",")' "$dir/i.json")" \
	interrupted,interrupted,not_started "after SIGINT"
run_agent_idle "$sock"

# --- SIGINT while an aborted step waits for its recovery: the game day stops too ---
# The run keeps its outcome (aborted, as faultctl run reports it), but on_failure: continue
# must not carry the game day on past the operator's Ctrl-C.
cat >"$dir/int2.yaml" <<EOF
version: 1
name: int2-day
steps:
  - {experiment: exp/norecover.yaml, on_failure: continue}
  - experiment: exp/hold.yaml
EOF
nsenter --net="/run/netns/$ns" "$FAULTCTL" gameday "$dir/int2.yaml" --report-json "$dir/i2.json" \
	>"$dir/i2.out" 2>&1 &
ctl=$!
for ((i = 0; i < 300; i++)); do grep -q "BREACHED" "$dir/i2.out" && break; sleep 0.05; done
grep -q "BREACHED" "$dir/i2.out" || fl_fail "the guardrail did not abort: $(cat "$dir/i2.out")"
fl_assert_state "$srv" S "server after the abort"
sleep 0.5
kill -INT "$ctl"
fl_wait_exit rc "$ctl" 20
fl_assert_eq "$rc" 130 "exit status after SIGINT during a recovery ($(cat "$dir/i2.out"))"
run_validate_report_schema "$dir/i2.json" gameday.schema.json
fl_assert_eq "$(jq -r '[.outcome, .steps[0].outcome, .steps[1].state] | join(",")' "$dir/i2.json")" \
	interrupted,aborted,not_started "after SIGINT during a recovery"
run_agent_idle "$sock"
