#!/usr/bin/env bash
# Honest verdicts of faultctl run, against a real agent, a real HTTP service and a real
# Prometheus in a namespace, Prometheus stopped on purpose:
#  - final figures: a corruption fault ended by its duration has in the report exactly the
#    counters of the agent's own fault.reverted event (ping traffic runs past its end, so a
#    status read earlier would be short), state reverted and its own revert time; the
#    JUnit revert case has the real duration of the revert;
#  - recovery: the service paused by the run answers again at once after the revert; the
#    recovery time is to the start of the first passing after-check, not to the end of its
#    burst of requests (which takes about 900 ms here);
#  - pre-flight: with Prometheus dead and on_error abort, the run is refused (exit 4)
#    before anything is applied: no lease, no fault in the agent's audit log or events;
#  - Prometheus dying mid-run with on_error ignore: inconclusive (exit 3), never "held",
#    in the JSON, JUnit and Markdown reports and on the terminal; a game day of that run is
#    inconclusive too.
# FL_VERDICT_KEEP=DIR copies the reports there (docs/faultctl.md's examples come from it).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run_lib.sh"
run_require
fl_require_cmd ping
command -v prometheus >/dev/null 2>&1 || fl_skip "needs 'prometheus' (run scripts/setup.sh)"
SRV=$FL_BUILD_DIR/tests/integration/http_testsrv
[ -x "$SRV" ] || fl_fail "http_testsrv not built"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy

fl_netns ns verdict
fl_tmpdir dir
sock=$dir/agent.sock
fl_start_agent "$ns" "$sock" "$dir/agent.log"
curl -sS --unix-socket "$sock" http://agent/v1/info |
	jq -e '.fault_types[] | select(.name == "network.corruption") | .available' >/dev/null ||
	fl_skip "network.corruption is unavailable on this kernel"
setsid nsenter --net="/run/netns/$ns" "$SRV" "$dir/port" 300 >"$dir/srv.log" 2>&1 &
srv_pid=$!
for ((i = 0; i < 100; i++)); do [ -s "$dir/port" ] && break; sleep 0.05; done
port=$(cat "$dir/port")
[ -n "$port" ] || fl_fail "http_testsrv did not start"
# setsid and nsenter exec: the job's pid is the server's, the process the run pauses.
fl_assert_eq "$(cat /proc/$srv_pid/comm)" http_testsrv "the service's pid"
run_start_victim victim

# Prometheus on the namespace's loopback, scraping the service every second. The guardrail
# asks whether Prometheus has its target, which stays true while the run pauses the service. Every process
# started here is a job of this shell or lives in the namespace: the teardown ends them.
pport=9090
prom=http://127.0.0.1:$pport
cat >"$dir/prometheus.yml" <<EOF
global: {scrape_interval: 1s, scrape_timeout: 900ms, evaluation_interval: 1s}
scrape_configs:
  - job_name: testsrv
    static_configs: [{targets: ['127.0.0.1:$port']}]
EOF
prom_pid=
prom_start() {
	nsenter --net="/run/netns/$ns" prometheus --config.file="$dir/prometheus.yml" \
		--storage.tsdb.path="$dir/data" --web.listen-address="127.0.0.1:$pport" \
		--log.level=warn >>"$dir/prometheus.log" 2>&1 &
	prom_pid=$!
	for ((i = 0; i < 300; i++)); do
		[ "$(run_in "$ns" curl -sf --max-time 2 -G "$prom/api/v1/query" \
			--data-urlencode 'query=max(testsrv_status)' |
			jq -r '.data.result[0].value[1] // empty')" = 200 ] && return 0
		kill -0 "$prom_pid" 2>/dev/null || fl_fail "prometheus exited: $(tail -5 "$dir/prometheus.log")"
		sleep 0.1
	done
	fl_fail "prometheus did not report the service within 30 s"
}
# prom_stop: Prometheus dies at once (SIGKILL: a clean shutdown may take seconds under load).
prom_stop() {
	kill -KILL "$prom_pid"
	fl_wait_exit _rc "$prom_pid" 30
	run_in "$ns" curl -sf --max-time 1 "$prom/-/ready" >/dev/null 2>&1 &&
		fl_fail "prometheus still answers after it was stopped"
	return 0
}
prom_start
fl_log "prometheus $prom ready, scraping http_testsrv on port $port"

write_exp() { # write_exp FILE DURATION ON_ERROR FAULTS_FILE
	cat >"$1" <<EOF
version: 1
name: verdict
hypothesis: The service keeps answering.
agents:
  - {name: local, address: "unix://$sock"}
duration: $2
safety: {lease_ttl: 3s}
steady_state:
  after:
    - name: service-up
      http: {url: "http://127.0.0.1:$port/ping", rate: 10/s, timeout: 500ms, window: 1s, min_success_ratio: 100%}
  recovery_timeout: 10s
guardrails:
  - name: service-status
    prometheus: {url: "$prom", query: 'count(up{job="testsrv"})', expect: "> 0", interval: 1s, timeout: 500ms}
    on_error: $3
faults:
$(cat "$4")
EOF
	"$FAULTCTL" validate "$1" >/dev/null || fl_fail "$1 is not a valid experiment"
}
audit_faults() { jq -s '[.[] | select(.method == "POST")] | length' "$dir/audit.log"; }
agent_events() { grep -c "event {.*\"type\":\"fault.applied\"" "$dir/agent.log" || true; }

# --- final counters, revert times, recovery to the first healthy sample --------------------
cat >"$dir/faults1" <<EOF
  - name: corrupt-ping
    type: network.corruption
    duration: 4s
    target: {interface: lo, cidrs: [127.0.0.1/32], protocol: icmp}
    params: {probability: 50%}
  - name: pause-service
    type: process.pause
    start: 2s
    duration: 3s
    target: {pid: $srv_pid, all: true}
EOF
write_exp "$dir/final.yaml" 5s abort "$dir/faults1"
# Ping every 20 ms through the whole run and past the fault's end (for at most 8 s).
nsenter --net="/run/netns/$ns" ping -n -q -i 0.02 -w 8 127.0.0.1 >"$dir/ping.out" 2>&1 &
ping_pid=$!
rc=0
run_in "$ns" "$FAULTCTL" run "$dir/final.yaml" --report-json "$dir/final.json" \
	--junit "$dir/final.xml" --markdown "$dir/final.md" >"$dir/final.out" 2>&1 || rc=$?
fl_assert_eq "$rc" 0 "exit status of the green run ($(cat "$dir/final.out"))"
run_validate_report "$dir/final.json"
run_check_junit "$dir/final.xml"
rep=$dir/final.json
id=$(jq -r '.faults[] | select(.name == "corrupt-ping") | .id' "$rep")
ev=$(grep "event {.*\"type\":\"fault.reverted\".*\"fault\":\"$id\"" "$dir/agent.log" |
	sed 's/^.*event //' | tail -1)
[ -n "$ev" ] || fl_fail "no fault.reverted event for $id in the agent's log"
agent_counters=$(jq -c '.status.counters' <<<"$ev")
report_counters=$(jq -c '.faults[] | select(.name == "corrupt-ping") | .achieved.counters' "$rep")
fl_log "agent's fault.reverted counters $agent_counters, report $report_counters"
fl_assert_eq "$report_counters" "$agent_counters" "the report's counters against the agent's final event"
jq -e '.corrupted > 0' <<<"$agent_counters" >/dev/null || fl_fail "nothing corrupted: $agent_counters"
jq -e '.faults[] | select(.name == "corrupt-ping") | .state == "reverted" and .achieved_final and
	.revert_reason == "its duration ended" and .reverted_ms >= 4000' "$rep" >/dev/null ||
	fl_fail "corruption fault: $(jq -c '.faults[0] | del(.requested)' "$rep")"
grep -q "corrupt-ping reverted (its duration ended); final counters: .*corrupted $(jq .corrupted <<<"$agent_counters")" \
	"$dir/final.out" || fl_fail "terminal: no final counters line: $(cat "$dir/final.out")"
grep -q "$(jq -r .corrupted <<<"$agent_counters") corrupted" "$dir/final.md" ||
	fl_fail "Markdown: final counters: $(grep corrupt-ping "$dir/final.md")"
# The revert case lasts from the revert request to the last confirmation.
t=$(xmllint --xpath 'string(//testcase[@name="revert"]/@time)' "$dir/final.xml")
want=$(jq -r '(.all_reverted_ms - .agents[0].revert.sent_ms) / 1000' "$rep")
awk -v t="$t" -v w="$want" 'BEGIN { exit !(t > 0 && t - w < 0.000002 && w - t < 0.000002) }' ||
	fl_fail "JUnit revert time $t s, the report says $want s"
# Recovery: the service answers as soon as it is resumed; the after-check's burst of 10
# requests at 10/s takes about 900 ms on top.
rec=$(jq -r .steady_state.recovery_ms "$rep")
took=$(jq -r '.steady_state.after[0].took_ms' "$rep")
fl_log "recovery_ms $rec, after-check burst took $took ms"
awk -v r="$rec" -v t="$took" 'BEGIN { exit !(r >= 0 && r < 300 && t > 600) }' ||
	fl_fail "recovery_ms $rec (limit 300 ms) with an after-check of $took ms"
jq -e '.guardrails[0].valid_readings > 0 and .guardrails[0].inconclusive == false and
	.guardrails[0].preflight.valid' "$rep" >/dev/null ||
	fl_fail "guardrail coverage: $(jq -c .guardrails "$rep")"
fl_wait_exit _rc "$ping_pid" 30
run_agent_idle "$sock"

# --- pre-flight: Prometheus dead, on_error abort: refused, nothing applied ----------------
prom_stop
cat >"$dir/faults2" <<EOF
  - name: pause-victim
    type: process.pause
    duration: 3s
    target: {pid: $victim, all: true}
EOF
write_exp "$dir/dead.yaml" 3s abort "$dir/faults2"
posts=$(audit_faults)
applied=$(agent_events)
rc=0
run_in "$ns" "$FAULTCTL" run "$dir/dead.yaml" --report-json "$dir/dead.json" \
	--junit "$dir/dead.xml" >"$dir/dead.out" 2>&1 || rc=$?
fl_assert_eq "$rc" 4 "exit status with a dead Prometheus ($(cat "$dir/dead.out"))"
run_validate_report "$dir/dead.json"
fl_assert_eq "$(jq -r .outcome "$dir/dead.json")" refused "outcome"
jq -e '(.reason | test("guardrail .service-status. cannot be read before the run")) and
	.guardrails[0].preflight.valid == false and .all_reverted_ms == null and
	.faults[0].state == "skipped"' "$dir/dead.json" >/dev/null ||
	fl_fail "refusal report: $(jq -c '{reason, guardrails, faults: [.faults[] | del(.requested)]}' "$dir/dead.json")"
fl_assert_eq "$(audit_faults)" "$posts" "POST requests in the agent's audit log (leases, faults)"
fl_assert_eq "$(agent_events)" "$applied" "fault.applied events of the agent"
fl_assert_state "$victim" S "victim after the refused run"
run_agent_idle "$sock"

# --- Prometheus dies mid-run, on_error ignore: inconclusive ------------------------------
prom_start
write_exp "$dir/blind.yaml" 8s ignore "$dir/faults2"
# blind_run CMD OUT: start it, stop Prometheus once the run started, wait for the end.
blind_run() {
	local out=$1 ctl
	shift
	run_in "$ns" "$@" >"$out" 2>&1 &
	ctl=$!
	for ((i = 0; i < 200; i++)); do
		grep -qs "run started" "$out" && break
		sleep 0.05
	done
	grep -q "run started" "$out" || fl_fail "the run did not start: $(cat "$out")"
	prom_stop
	fl_wait_exit rc "$ctl" 60
}
blind_run "$dir/blind.out" "$FAULTCTL" run "$dir/blind.yaml" --report-json "$dir/blind.json" \
	--junit "$dir/blind.xml" --markdown "$dir/blind.md"
fl_assert_eq "$rc" 3 "exit status when Prometheus died mid-run ($(cat "$dir/blind.out"))"
run_validate_report "$dir/blind.json"
run_check_junit "$dir/blind.xml"
rep=$dir/blind.json
fl_assert_eq "$(jq -r .outcome "$rep")" inconclusive "outcome"
jq -e '(.reason | test("guardrail .service-status. could not watch the run: blind for")) and
	(.verdict | test("held") | not) and .guardrails[0].inconclusive and
	.guardrails[0].blind_ms > .guardrails[0].watched_ms / 2 and .guardrails[0].valid_readings > 0' \
	"$rep" >/dev/null || fl_fail "inconclusive report: $(jq -c '{reason, verdict, guardrails}' "$rep")"
fl_assert_eq "$(xmllint --xpath 'count(//testcase[@name="hypothesis"]/error)' "$dir/blind.xml")" 1 \
	"JUnit: the hypothesis is an error, neither passed nor failed"
fl_assert_eq "$(xmllint --xpath 'count(//testcase[@name="service-status"]/error)' "$dir/blind.xml")" 1 \
	"JUnit: the blind guardrail"
fl_assert_eq "$(xmllint --xpath 'count(//failure)' "$dir/blind.xml")" 0 "JUnit failures"
grep -q '^# Experiment `verdict`: inconclusive' "$dir/blind.md" || fl_fail "Markdown title"
grep -q '| service-status | \*\*inconclusive\*\* |' "$dir/blind.md" || fl_fail "Markdown guardrail"
grep -q '^inconclusive: guardrail .service-status. could not watch the run' "$dir/blind.out" ||
	fl_fail "terminal: $(tail -3 "$dir/blind.out")"
grep -qi 'hypothesis held\|did not hold' "$dir/blind.out" "$dir/blind.md" &&
	fl_fail "an inconclusive run speaks of the hypothesis holding or not"
fl_assert_state "$victim" S "victim after the inconclusive run"
run_agent_idle "$sock"

# --- the same as a game day: inconclusive, exit 3 ----------------------------------------
prom_start
cat >"$dir/plan.yaml" <<EOF
version: 1
name: verdict-gameday
steps:
  - experiment: blind.yaml
EOF
blind_run "$dir/gd.out" "$FAULTCTL" gameday "$dir/plan.yaml" --report-json "$dir/gd.json" \
	--junit "$dir/gd.xml" --markdown "$dir/gd.md"
fl_assert_eq "$rc" 3 "exit status of the game day ($(cat "$dir/gd.out"))"
run_validate_report_schema "$dir/gd.json" gameday.schema.json
jq -e '.outcome == "inconclusive" and .steps[0].outcome == "inconclusive" and
	(.verdict | test("^Inconclusive"))' "$dir/gd.json" >/dev/null ||
	fl_fail "game-day report: $(jq -c '{outcome, verdict, steps: [.steps[] | {outcome, exit_code, reason}]}' "$dir/gd.json")"
grep -q '^# Game day `verdict-gameday`: inconclusive' "$dir/gd.md" || fl_fail "game-day Markdown title"
grep -q '^game day verdict-gameday: inconclusive' "$dir/gd.out" || fl_fail "game-day summary line"
run_agent_idle "$sock"
if [ -n "${FL_VERDICT_KEEP:-}" ]; then
	mkdir -p "$FL_VERDICT_KEEP"
	cp "$dir"/final.* "$dir"/blind.* "$dir"/dead.* "$dir"/gd.* "$FL_VERDICT_KEEP"/
fi
