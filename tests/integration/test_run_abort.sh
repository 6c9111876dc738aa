#!/usr/bin/env bash
# Auto-abort: the injected fault breaks the guardrail. process.pause stops the test's HTTP
# server (its own session, started with setsid), the HTTP guardrail sees requests time out,
# and faultctl reverts everything on both agents at once. Checked: exit 1, the server and
# the other agent's victim run again, nothing is left on either agent, the report carries
# the breach value, the breaching sample's time and each agent's confirmation, and the
# breach-to-all-reverted time is under 250 ms. The JUnit file marks the guardrail failed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run_lib.sh"
run_require
SRV=$FL_BUILD_DIR/tests/integration/http_testsrv
[ -x "$SRV" ] || fl_fail "http_testsrv not built"

fl_netns ns abort
fl_tmpdir dir
mkdir "$dir/a1" "$dir/a2"
fl_start_agent "$ns" "$dir/a1/agent.sock" "$dir/a1.log"
fl_start_agent "$ns" "$dir/a2/agent.sock" "$dir/a2.log"
nsenter --net="/run/netns/$ns" setsid "$SRV" "$dir/port" 300 >"$dir/srv.log" 2>&1 &
for ((i = 0; i < 100; i++)); do [ -s "$dir/port" ] && break; sleep 0.05; done
port=$(cat "$dir/port")
[ -n "$port" ] || fl_fail "http_testsrv did not start"
srv=$(pgrep -f "^$SRV $dir/port" | head -1)
[ -n "$srv" ] || fl_fail "http_testsrv pid not found"
run_start_victim victim

cat >"$dir/exp.yaml" <<EOF
version: 1
name: pause-the-service
hypothesis: Pausing the service for 20 s goes unnoticed (it will not; the guardrail must stop it).
agents:
  - {name: one, address: "unix://$dir/a1/agent.sock"}
  - {name: two, address: "unix://$dir/a2/agent.sock"}
duration: 30s
safety: {lease_ttl: 2s}
steady_state:
  after:
    - name: service-up
      http: {url: "http://127.0.0.1:$port/ping", rate: 20/s, window: 1s, min_success_ratio: 100%}
  recovery_timeout: 10s
guardrails:
  - name: service-slo
    http: {url: "http://127.0.0.1:$port/ping", rate: 50/s, timeout: 100ms, window: 1s, min_success_ratio: 90%}
    # A window with few requests (just after the start) must not abort on one slow answer.
    for: 300ms
faults:
  - name: pause-service
    type: process.pause
    agents: [one]
    start: 1s
    duration: 20s
    target: {pid: $srv, all: true}
  - name: pause-bystander
    type: process.pause
    agents: [two]
    start: 500ms
    duration: 25s
    target: {pid: $victim, all: true}
EOF

rc=0
t0=$(now_ms)
nsenter --net="/run/netns/$ns" "$FAULTCTL" run "$dir/exp.yaml" --report-json "$dir/report.json" \
	--junit "$dir/junit.xml" --markdown "$dir/report.md" >"$dir/run.out" 2>&1 || rc=$?
took=$(($(now_ms) - t0))
fl_assert_eq "$rc" 1 "exit status of a run aborted by its guardrail ($(cat "$dir/run.out"))"
[ "$took" -lt 20000 ] || fl_fail "the run took $took ms: not aborted before the fault's end"
fl_assert_state "$srv" S "server after the abort"
fl_assert_state "$victim" S "the other agent's victim after the abort"
run_agent_idle "$dir/a1/agent.sock"
run_agent_idle "$dir/a2/agent.sock"
run_validate_report "$dir/report.json"
run_check_junit "$dir/junit.xml"
rep=$dir/report.json
fl_assert_eq "$(jq -r .outcome "$rep")" aborted "outcome"
fl_assert_eq "$(jq -r .abort.guardrail "$rep")" service-slo "breached guardrail"
# Both applied, then reverted by the abort: their states and figures are the agents' final
# events, received before the reverts were confirmed.
fl_assert_eq "$(jq -r '.faults | map(.state) | join(",")' "$rep")" reverted,reverted "both faults reverted"
jq -e '.abort.all_reverted_ms as $done | [.faults[] | .achieved_final and
	.revert_reason == "the controller ended its lease" and .reverted_ms >= .applied_ms and
	.reverted_ms <= $done + 50] | all' "$rep" >/dev/null ||
	fl_fail "faults reverted by the abort: $(jq -c '[.faults[] | del(.requested)]' "$rep")"
jq -e '.abort.value < 0.9 and .abort.threshold == 0.9' "$rep" >/dev/null ||
	fl_fail "breach value: $(jq -c .abort "$rep")"
jq -e '.abort.sample_ms > 1000 and .abort.sample_ms <= .abort.all_reverted_ms' "$rep" >/dev/null ||
	fl_fail "breach sample time: $(jq -c .abort "$rep")"
jq -e '.abort.all_confirmed and (.abort.agents | length == 2) and all(.abort.agents[]; .ok)' \
	"$rep" >/dev/null || fl_fail "not every agent confirmed: $(jq -c .abort "$rep")"
# In parallel: both reverts went out at the same moment, not one after the other's answer.
jq -e '[.agents[].revert.sent_ms] | (max - min) < 50' "$rep" >/dev/null ||
	fl_fail "reverts not sent together: $(jq -c '[.agents[] | {name, revert}]' "$rep")"
ms=$(jq -r .abort.breach_to_reverted_ms "$rep")
fl_log "breach to all reverted: $ms ms (decision to all reverted $(jq -r .abort.decision_to_reverted_ms "$rep") ms; per agent: $(jq -c '[.abort.agents[] | {name, breach_to_confirmed_ms}]' "$rep"))"
jq -e '.abort.breach_to_reverted_ms >= 0 and .abort.breach_to_reverted_ms < 250' "$rep" >/dev/null ||
	fl_fail "breach to all reverted took $ms ms (limit 250 ms)"
jq -e '.steady_state.recovered and .steady_state.recovery_ms >= 0' "$rep" >/dev/null ||
	fl_fail "service did not recover after the abort: $(jq -c .steady_state "$rep")"
fl_assert_eq "$(xmllint --xpath 'count(//testcase[@name="service-slo"]/failure)' "$dir/junit.xml")" 1 \
	"JUnit failure of the guardrail"
fl_assert_eq "$(xmllint --xpath 'count(//testcase[@name="hypothesis"]/failure)' "$dir/junit.xml")" 1 \
	"JUnit failure of the hypothesis"
grep -q 'breach to all reverted | \*\*' "$dir/report.md" || fl_fail "Markdown without the abort time"
grep -q "BREACHED" "$dir/run.out" || fl_fail "live view without the breach"
