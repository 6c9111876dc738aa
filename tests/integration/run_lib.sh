# Helpers for the `faultctl run` tests (test_run*.sh): sourced after lib.sh, never run.

# The state letter of a pid (empty when gone), read without forking.
proc_state() { fl_proc_state "$1"; }

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# run_start_victim VAR: a sleeping process in its own session for the agent to pause.
run_start_victim() {
	local _p i
	setsid sleep 600 &
	_p=$!
	for ((i = 0; i < 100; i++)); do
		[ "$(cat /proc/$_p/comm 2>/dev/null)" = sleep ] && break
		sleep 0.01
	done
	[ "$(cat /proc/$_p/comm 2>/dev/null)" = sleep ] || fl_fail "victim did not start"
	printf -v "$1" '%s' "$_p"
}

# run_in NS CMD...: run a command in the test's network namespace (loopback there is ours).
run_in() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" "$@"
}

# run_validate_report_schema FILE SCHEMA: FILE validates against docs/SCHEMA (for game days,
# gameday.schema.json).
run_validate_report_schema() {
	/usr/bin/python3 "$FL_SOURCE_DIR/tests/integration/validate_report.py" \
		"$FL_SOURCE_DIR/docs/$2" "$1" || fl_fail "$1 does not validate against docs/$2"
}

# run_validate_report REPORT: the JSON report validates against docs/report.schema.json.
run_validate_report() {
	/usr/bin/python3 "$FL_SOURCE_DIR/tests/integration/validate_report.py" \
		"$FL_SOURCE_DIR/docs/report.schema.json" "$1" ||
		fl_fail "report $1 does not validate against docs/report.schema.json"
}

# run_check_junit FILE: well-formed XML with a testsuite and at least one testcase.
run_check_junit() {
	xmllint --noout "$1" || fl_fail "JUnit file $1 is not well-formed XML"
	[ "$(xmllint --xpath 'count(/testsuites/testsuite/testcase)' "$1")" -ge 1 ] ||
		fl_fail "JUnit file $1 has no test case"
}

# run_agent_idle SOCK: the agent holds no fault and no lease.
run_agent_idle() {
	local f l
	f=$(curl -sS --max-time 5 --unix-socket "$1" http://agent/v1/faults | jq '.faults | length')
	l=$(curl -sS --max-time 5 --unix-socket "$1" http://agent/v1/leases | jq '.leases | length')
	fl_assert_eq "$f" 0 "faults left on the agent"
	fl_assert_eq "$l" 0 "leases left on the agent"
}

run_require() {
	fl_require_root
	fl_require_cmd curl jq socat nsenter setsid xmllint
	fl_require_build
	/usr/bin/python3 -c 'import jsonschema' 2>/dev/null ||
		fl_skip "needs python3-jsonschema (run scripts/setup.sh)"
}
