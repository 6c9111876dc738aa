#!/usr/bin/env bash
# The agent core over its real API, with process.pause as the fault type:
#  - apply over the API, see it take effect (state T), list it, revert it, no residue;
#  - a lease that is not renewed reverts its faults within TTL + 100 ms (measured);
#  - SIGKILL with a fault active: the next start undoes it and reports it; so does
#    `faultlined --cleanup` on its own;
#  - SIGTERM reverts everything and exits 0;
#  - an unprivileged uid is refused (403) and the refusal is audited;
#  - an invalid fault is refused with positions and nothing is applied.
. "$(dirname "$0")/lib.sh"
fl_require_root
fl_require_cmd curl jq socat setpriv nsenter
fl_require_build

fl_netns ns core
KEEP=${KEEP:-}
fl_tmpdir dir
sock=$dir/agent.sock
state=$dir/state
audit=$dir/audit.log
AGENT_ARGS=(--state-dir "$state" --audit-log "$audit" --log-level debug)

api() { FL_API_TIMEOUT=10 fl_api "$@"; }
proc_state() { fl_proc_state "$1"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
start_victim() { # start a process of the test's own to pause; sets VICTIM
	# Its own session: the agent never touches the controller's session (curl's, here).
	setsid sleep 600 &
	VICTIM=$!
	for ((i = 0; i < 100; i++)); do
		[ "$(cat /proc/$VICTIM/comm 2>/dev/null)" = sleep ] && return 0
		sleep 0.01
	done
	fl_fail "victim did not start"
}
pause_body() {
	printf '{"name": "pause-victim", "type": "process.pause", "duration": "10m", "target": {"pid": %d, "all": true}}' "$1"
}
new_lease() { # new_lease TTL_MS -> LEASE
	api POST /v1/leases "{\"ttl_ms\": $1}"
	fl_assert_eq "$HTTP_STATUS" 201 "create lease"
	LEASE=$(jq -r .lease.id <<<"$API_BODY")
}
journal_count() { fl_journal_count "$state/journal"; }

fl_start_agent "$ns" "$sock" "$dir/agent.log" "${AGENT_ARGS[@]}"

# --- apply, observe, list, revert ---
start_victim
new_lease 60000
api POST "/v1/leases/$LEASE/faults" "$(pause_body "$VICTIM")"
fl_assert_eq "$HTTP_STATUS" 201 "apply process.pause ($API_BODY)"
fid=$(jq -r .fault.id <<<"$API_BODY")
fl_assert_eq "$(jq -r .fault.state <<<"$API_BODY")" active "fault state"
fl_assert_eq "$(proc_state "$VICTIM")" T "victim state while paused"
fl_assert_eq "$(journal_count)" 1 "journal records while active"
api GET /v1/faults
fl_assert_eq "$(jq -r '.faults[0].id' <<<"$API_BODY")" "$fid" "listed fault"
fl_assert_eq "$(jq -r '.faults[0].status.processes[0].state' <<<"$API_BODY")" T "described state"
api DELETE "/v1/faults/$fid"
fl_assert_eq "$HTTP_STATUS" 200 "revert"
fl_assert_state "$VICTIM" S "victim state after revert"
fl_assert_eq "$(journal_count)" 0 "journal records after revert"
api GET /v1/faults
fl_assert_eq "$(jq '.faults | length' <<<"$API_BODY")" 0 "faults after revert"

# --- lease expiry: revert within TTL + 100 ms ---
ttl=1000
new_lease $ttl
api POST "/v1/leases/$LEASE/faults" "$(pause_body "$VICTIM")"
fl_assert_eq "$HTTP_STATUS" 201 "apply under a short lease"
t0=$(now_ms) # before the renew: the lease cannot end before t0 + TTL
api POST "/v1/leases/$LEASE/renew"
fl_assert_eq "$(proc_state "$VICTIM")" T "paused before expiry"
for ((i = 0; i < 1000; i++)); do
	[ "$(proc_state "$VICTIM")" = T ] || break
	sleep 0.005
done
t1=$(now_ms)
elapsed=$((t1 - t0))
[ "$(proc_state "$VICTIM")" != T ] || fl_fail "fault not reverted after the lease expired"
grep -q "lease $LEASE expired" "$dir/agent.log" || fl_fail "expiry not logged"
# The bound is the agent's: from the renew it answered (the audit line's time) to the
# fault.reverted event (emitted once the revert is done), both on the agent's clock, so the
# test's own process start-ups on a loaded machine are not in the figure. Seen from here the
# revert can never come before TTL after t0, and shows up within a scheduling margin after.
curl -sS --max-time 2 --unix-socket "$sock" "http://agent/v1/events?since=0" >"$dir/events.txt" 2>/dev/null || true
iso_ms() { date -d "$1" +%s%3N; }
renewed=$(jq -r --arg l "$LEASE" 'select(.target == "/v1/leases/" + $l + "/renew") | .time' "$audit" | tail -n 1)
reverted=$(jq -r --arg l "$LEASE" 'select(.type == "fault.reverted" and .lease == $l) | .time' "$dir/events.txt" | tail -n 1)
[ -n "$renewed" ] && [ -n "$reverted" ] || fl_fail "no renew audit line ($renewed) or fault.reverted event ($reverted)"
agent_ms=$(($(iso_ms "$reverted") - $(iso_ms "$renewed")))
fl_log "lease TTL $ttl ms: reverted $agent_ms ms after the renew by the agent's clock (bound $((ttl + 100)) ms), seen after $elapsed ms here"
[ "$agent_ms" -le $((ttl + 100)) ] || fl_fail "revert took $agent_ms ms > TTL + 100 ms"
[ "$agent_ms" -ge "$ttl" ] || fl_fail "reverted $agent_ms ms after the renew, before the TTL"
[ "$elapsed" -ge "$ttl" ] || fl_fail "seen reverted $elapsed ms after the renew was sent, before the TTL"
[ "$elapsed" -le $((ttl + 1000)) ] || fl_fail "seen reverted only after $elapsed ms"
api GET /v1/leases
fl_assert_eq "$(jq --arg l "$LEASE" '[.leases[] | select(.id == $l)] | length' <<<"$API_BODY")" 0 "expired lease gone"
# The expiry is an event, with its reason (history replayed from event 0).
jq -s -e --arg l "$LEASE" 'any(.[]; .type == "lease.ended" and .lease == $l and
	(.reason | test("expired")) and .faults == 1)' "$dir/events.txt" >/dev/null ||
	fl_fail "no lease.ended event for $LEASE: $(cat "$dir/events.txt")"

# A live subscriber sees a fault applied and reverted as it happens.
curl -sS -N --max-time 20 --unix-socket "$sock" "http://agent/v1/events" >"$dir/live.txt" 2>/dev/null &
live=$!
sleep 0.3
new_lease 60000
api POST "/v1/leases/$LEASE/faults" "$(pause_body "$VICTIM")"
fid=$(jq -r .fault.id <<<"$API_BODY")
api DELETE "/v1/faults/$fid"
for ((i = 0; i < 100; i++)); do grep -q fault.reverted "$dir/live.txt" && break; sleep 0.05; done
kill "$live" 2>/dev/null; wait "$live" 2>/dev/null || true
fl_assert_eq "$(jq -r --arg f "$fid" 'select(.fault == $f) | .type' "$dir/live.txt" | tr '\n' ' ')" \
	"fault.applied fault.reverted " "live events (stream: $(cat "$dir/live.txt"); apply: $API_BODY)"

# --- SIGKILL with an active fault; recovery on the next start ---
new_lease 60000
api POST "/v1/leases/$LEASE/faults" "$(pause_body "$VICTIM")"
fl_assert_eq "$HTTP_STATUS" 201 "apply before SIGKILL"
fl_crash_agent "$FL_AGENT_PID"
fl_wait_exit rc "$FL_AGENT_PID" 30
fl_assert_eq "$(proc_state "$VICTIM")" T "still paused after the agent died"
rm -f "$sock"
fl_start_agent "$ns" "$sock" "$dir/agent2.log" "${AGENT_ARGS[@]}"
fl_assert_state "$VICTIM" S "resumed by the next start"
grep -q "recovery: fault .* (process.pause): resumed 1 process" "$dir/agent2.log" ||
	fl_fail "recovery not reported: $(grep -i recover "$dir/agent2.log")"
fl_assert_eq "$(journal_count)" 0 "journal records after recovery"

# --- SIGKILL again; this time faultlined --cleanup undoes it ---
new_lease 60000
api POST "/v1/leases/$LEASE/faults" "$(pause_body "$VICTIM")"
fl_assert_eq "$HTTP_STATUS" 201 "apply before the second SIGKILL"
fl_crash_agent "$FL_AGENT_PID"
fl_wait_exit rc "$FL_AGENT_PID" 30
rm -f "$sock"
fl_assert_eq "$(proc_state "$VICTIM")" T "paused before --cleanup"
"$FAULTLINED" --cleanup "${AGENT_ARGS[@]}" >"$dir/cleanup.json" 2>"$dir/cleanup.log" ||
	fl_fail "--cleanup failed: $(cat "$dir/cleanup.log")"
fl_assert_state "$VICTIM" S "resumed by --cleanup"
fl_assert_eq "$(jq -r '.[0].cleaned' "$dir/cleanup.json")" "resumed 1 process" "--cleanup report"
fl_assert_eq "$(journal_count)" 0 "journal records after --cleanup"
"$FAULTLINED" --cleanup "${AGENT_ARGS[@]}" >"$dir/cleanup2.json" 2>/dev/null
fl_assert_eq "$(jq length "$dir/cleanup2.json")" 0 "second --cleanup has nothing to do"

# --- an invalid fault is refused and nothing is applied ---
fl_start_agent "$ns" "$sock" "$dir/agent3.log" "${AGENT_ARGS[@]}"

# --- a process in the controller's own session is protected ---
sleep 600 &
same_session=$!
new_lease 60000
api POST "/v1/leases/$LEASE/faults" "$(pause_body "$same_session")"
fl_assert_eq "$HTTP_STATUS" 422 "pausing a process of the controller's session"
fl_assert_state "$same_session" S "controller-session process untouched"
kill "$same_session"

new_lease 60000
api POST "/v1/leases/$LEASE/faults" '{"name": "x", "type": "process.pause", "duration": "1m", "target": {"pid": 1, "all": true}, "bogus": 1}'
fl_assert_eq "$HTTP_STATUS" 422 "invalid fault status"
jq -e '.error.problems[] | select(.path == "bogus" and .line == 1 and .column == 93)' <<<"$API_BODY" >/dev/null ||
	fl_fail "no positioned problem for the unknown key: $API_BODY"
api POST "/v1/leases/$LEASE/faults" "$(pause_body 1)"
fl_assert_eq "$HTTP_STATUS" 422 "pausing pid 1 (protected)"
fl_assert_eq "$(journal_count)" 0 "journal records after refusals"
api GET /v1/faults
fl_assert_eq "$(jq '.faults | length' <<<"$API_BODY")" 0 "faults after refusals"

# --- unprivileged callers ---
# The socket is 0660 root: an unprivileged uid cannot even connect...
rc=0
setpriv --reuid=65534 --regid=65534 --clear-groups curl -sS --max-time 5 --unix-socket "$sock" \
	http://agent/v1/info >/dev/null 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fl_fail "uid 65534 could connect to a 0660 root socket"
# ...and if an operator loosens the mode, SO_PEERCRED still refuses it, on the record.
chmod 0711 "$dir"
chmod 0666 "$sock"
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups curl -sS --max-time 5 \
	--unix-socket "$sock" -w '\n%{http_code}' -X POST "http://agent/v1/leases/$LEASE/faults" \
	--data-binary "$(pause_body "$VICTIM")")
fl_assert_eq "${out##*$'\n'}" 403 "status for uid 65534"
fl_assert_state "$VICTIM" S "victim untouched by the refused request"
jq -s -e 'any(.[]; .uid == 65534 and .allowed == false and .status == 403)' "$audit" >/dev/null ||
	fl_fail "refusal not in the audit log"
jq -s -e 'any(.[]; .uid == 0 and .allowed == true and .method == "POST")' "$audit" >/dev/null ||
	fl_fail "accepted requests not in the audit log: $(cat "$audit")"

# --- SIGTERM reverts everything and exits 0 ---
api POST "/v1/leases/$LEASE/faults" "$(pause_body "$VICTIM")"
fl_assert_eq "$HTTP_STATUS" 201 "apply before SIGTERM"
kill -TERM "$FL_AGENT_PID"
fl_wait_exit rc "$FL_AGENT_PID" 30
fl_assert_eq "$rc" 0 "exit status after SIGTERM"
fl_assert_state "$VICTIM" S "resumed at shutdown"
fl_assert_eq "$(journal_count)" 0 "journal records after shutdown"
[ ! -e "$sock" ] || fl_fail "socket left behind"

# --- policy: the agent refuses what violates it, whatever the controller asks ---
printf 'max_duration: 1m\nprotected_processes: [postgres]\n' >"$dir/policy.yaml"
fl_start_agent "$ns" "$sock" "$dir/agent4.log" "${AGENT_ARGS[@]}" --policy "$dir/policy.yaml" \
	--metrics 127.0.0.1:9464
new_lease 60000
api POST "/v1/leases/$LEASE/faults" "$(pause_body "$VICTIM")"
fl_assert_eq "$HTTP_STATUS" 403 "fault longer than the policy's max_duration"
fl_assert_eq "$(jq -r .error.message <<<"$API_BODY")" \
	"policy: duration 600000 ms exceeds max_duration 60000 ms" "policy refusal message"
fl_assert_state "$VICTIM" S "victim untouched by the policy refusal"
fl_assert_eq "$(journal_count)" 0 "journal records after the policy refusal"
jq -s -e 'any(.[]; .status == 403 and (.target | endswith("/faults")) and .uid == 0)' "$audit" \
	>/dev/null || fl_fail "policy refusal not audited"
api GET /v1/info
fl_assert_eq "$(jq -r .policy.max_duration <<<"$API_BODY")" 1m "policy shown by agent info"

# Metrics on the loopback listener (inside the agent's namespace) count what happened.
metric() { ip netns exec "$ns" curl -sS --max-time 5 http://127.0.0.1:9464/metrics | awk -v m="$1" '$1 == m {print $2}'; }
api POST "/v1/leases/$LEASE/faults" "$(pause_body "$VICTIM" | sed 's/"10m"/"30s"/')"
fl_assert_eq "$HTTP_STATUS" 201 "fault within the policy"
fl_assert_eq "$(metric 'faultline_faults_active{type="process.pause"}')" 1 "faults_active metric"
fl_assert_eq "$(metric 'faultline_fault_applies_total{type="process.pause"}')" 1 "applies metric"
fl_assert_eq "$(metric faultline_api_refusals_total)" 1 "refusals metric"
api DELETE /v1/faults
fl_assert_eq "$(metric 'faultline_faults_active{type="process.pause"}')" 0 "faults_active after revert"
fl_assert_eq "$(metric 'faultline_fault_reverts_total{type="process.pause"}')" 1 "reverts metric"
rc=0
# A state directory of its own: the running agent's is locked (one agent per journal).
timeout 60 "$FAULTLINED" --socket "$dir/other.sock" --state-dir "$dir/other-state" \
	--audit-log "$dir/other-audit.log" --metrics 0.0.0.0:9465 >"$dir/metrics-any.log" 2>&1 || rc=$?
fl_assert_eq "$rc" 2 "exit status for a non-loopback metrics address"
grep -q "only loopback addresses are allowed" "$dir/metrics-any.log" || fl_fail "unclear refusal"
kill -TERM "$FL_AGENT_PID"
fl_wait_exit rc "$FL_AGENT_PID" 30

# An invalid policy stops the agent, with the position of the problem.
printf 'max_loss: 150%%\n' >"$dir/bad-policy.yaml"
rc=0
timeout 60 "$FAULTLINED" --socket "$sock" "${AGENT_ARGS[@]}" --policy "$dir/bad-policy.yaml" \
	>"$dir/bad-policy.log" 2>&1 || rc=$?
fl_assert_eq "$rc" 2 "exit status with an invalid policy"
grep -q "bad-policy.yaml:1:11: max_loss: 150% is out of range" "$dir/bad-policy.log" ||
	fl_fail "invalid policy not reported with its position: $(cat "$dir/bad-policy.log")"
[ ! -e "$sock" ] || fl_fail "an agent with an invalid policy created its socket"
exit 0
