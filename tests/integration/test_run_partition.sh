#!/usr/bin/env bash
# Auto-abort of a network fault: network.partition blackholes the HTTP service's port on the
# namespace's loopback, the HTTP guardrail's requests time out and faultctl reverts at once.
# The guardrail has a for: 500ms debounce. Checked: exit 1, breach to all reverted under
# 250 ms, the drops the agent counted in the report, the service reachable again right
# after, the agent idle and the interface back to its qdiscs from before the run.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run_lib.sh"
run_require
fl_require_cmd tc
SRV=$FL_BUILD_DIR/tests/integration/http_testsrv
[ -x "$SRV" ] || fl_fail "http_testsrv not built"

fl_netns ns part
fl_tmpdir dir
sock=$dir/agent.sock
fl_start_agent "$ns" "$sock" "$dir/agent.log"
curl -sS --unix-socket "$sock" http://agent/v1/info |
	jq -e '.fault_types[] | select(.name == "network.partition") | .available' >/dev/null ||
	fl_skip "network.partition is unavailable on this kernel"
nsenter --net="/run/netns/$ns" "$SRV" "$dir/port" 300 >"$dir/srv.log" 2>&1 &
for ((i = 0; i < 100; i++)); do [ -s "$dir/port" ] && break; sleep 0.05; done
port=$(cat "$dir/port")
[ -n "$port" ] || fl_fail "http_testsrv did not start"
qdiscs_before=$(tc -n "$ns" -j qdisc show dev lo | jq -c '[.[] | .kind] | sort')

cat >"$dir/exp.yaml" <<EOF
version: 1
name: partition-the-service
hypothesis: A blackholed service port goes unnoticed (it will not; the guardrail must stop it).
agents:
  - {name: local, address: "unix://$sock"}
duration: 30s
safety: {lease_ttl: 2s}
guardrails:
  - name: service-slo
    http: {url: "http://127.0.0.1:$port/ping", rate: 50/s, timeout: 100ms, window: 1s, min_success_ratio: 90%}
    for: 500ms
faults:
  - name: blackhole-service
    type: network.partition
    start: 1s
    duration: 20s
    target: {interface: lo, cidrs: [127.0.0.1/32], ports: [$port], protocol: tcp}
EOF

rc=0
nsenter --net="/run/netns/$ns" "$FAULTCTL" run "$dir/exp.yaml" --report-json "$dir/report.json" \
	--junit "$dir/junit.xml" >"$dir/run.out" 2>&1 || rc=$?
fl_assert_eq "$rc" 1 "exit status of a partition aborted by its guardrail ($(cat "$dir/run.out"))"
run_in "$ns" curl -sS --max-time 2 -o /dev/null "http://127.0.0.1:$port/ping" ||
	fl_fail "service unreachable after the abort"
run_agent_idle "$sock"
fl_assert_eq "$(tc -n "$ns" -j qdisc show dev lo | jq -c '[.[] | .kind] | sort')" "$qdiscs_before" \
	"qdiscs on lo after the abort"
run_validate_report "$dir/report.json"
run_check_junit "$dir/junit.xml"
rep=$dir/report.json
fl_assert_eq "$(jq -r .outcome "$rep")" aborted "outcome"
fl_assert_eq "$(jq -r '.faults[0].state' "$rep")" reverted "fault state"
jq -e '.abort.value < 0.9 and .abort.sample_ms > 1500' "$rep" >/dev/null ||
	fl_fail "breach value and time: $(jq -c .abort "$rep")"
# The debounce: unhealthy for 500 ms before the breach is decided.
jq -e '.abort.decided_ms - .faults[0].applied_ms >= 500' "$rep" >/dev/null ||
	fl_fail "breach decided before the for: debounce: $(jq -c .abort "$rep")"
# What the agent achieved: its final counters, from its fault.reverted event.
jq -e ".faults[0].achieved.counters.dropped > 0 and .faults[0].achieved_final" "$rep" >/dev/null ||
	fl_fail "achieved: no packet dropped: $(jq -c .faults "$rep")"
ms=$(jq -r .abort.breach_to_reverted_ms "$rep")
fl_log "partition: breach to all reverted $ms ms (fault applied at $(jq .faults[0].applied_ms "$rep") ms, breaching sample at $(jq .abort.sample_ms "$rep") ms, achieved at $(jq .faults[0].achieved_ms "$rep") ms: $(jq -c .faults[0].achieved.counters "$rep"))"
jq -e '.abort.breach_to_reverted_ms >= 0 and .abort.breach_to_reverted_ms < 250' "$rep" >/dev/null ||
	fl_fail "breach to all reverted took $ms ms (limit 250 ms)"
