#!/usr/bin/env bash
# Every refusal path leaves the system exactly as it was: for each way the agent can say no
# (authorisation, policy, invalid input, a mechanism missing, a conflict, HTTP-level limits),
# the answer has the documented status and code, the refusal is audited, and the interface's
# qdiscs, classes and filters, the IFB devices, the journal, the victim's state and the list
# of active faults are byte-for-byte what they were before the request.
# The audit log: each refusal is a line of its own with "allowed": false and its reason
# (auth, policy, invalid, not_found, conflict, unavailable, too_large, malformed), an apply
# and a revert get a line each, and one client's 40 status polls in one summary interval are
# one "reads" line with count 40, written at the interval's end (and at shutdown).
. "$(dirname "$0")/lib.sh"
fl_require_root
fl_require_cmd curl jq tc ip nsenter setsid setpriv socat
fl_require_build

fl_netns A a
fl_netns B b
fl_veth "$A" "$B" 10.94.0.1/24 10.94.0.2/24
DEV=$FL_ID-a
fl_tmpdir dir
chmod 755 "$dir" # the unprivileged client must reach the socket to be refused by the agent
sock=$dir/agent.sock
state=$dir/state
audit=$dir/audit.log
cat >"$dir/policy.yaml" <<'EOF'
allow_types: [network.loss, network.partition, network.latency, network.bandwidth, process.pause]
max_loss: 20%
max_duration: 10m
protected_cidrs: [10.94.0.3/32]
protected_ports: [5003]
protected_processes: [postgres]
EOF
INTERVAL=10 # seconds: --audit-summary-interval, short so the test sees intervals end
fl_start_agent "$A" "$sock" "$dir/agent.log" --state-dir "$state" --audit-log "$audit" \
	--policy "$dir/policy.yaml" --audit-summary-interval ${INTERVAL}s
chmod 666 "$sock"

api() { FL_API_TIMEOUT=10 fl_api "$@"; }
proc_state() { fl_proc_state "$1"; }
system_state() {
	tc -n "$A" -d qdisc show dev "$DEV"
	tc -n "$A" -d class show dev "$DEV"
	tc -n "$A" -d filter show dev "$DEV" ingress
	tc -n "$A" -d filter show dev "$DEV" egress
	ip -n "$A" -o link show type ifb
	echo "victim $(proc_state "$VICTIM")"
	echo "journal $(fl_journal_count "$state/journal")"
	curl -sS --max-time 10 --unix-socket "$sock" http://agent/v1/faults | jq -c '[.faults[].id]'
}
# The last line of the audit log about one request (summary lines may come in between).
last_request() { jq -c 'select(.kind == "request")' "$audit" | tail -n 1; }
reason_of() { # the audit reason documented for a refusal status
	case $1 in
	400 | 422) echo invalid ;; 403) echo policy ;; 404 | 405) echo not_found ;;
	409) echo conflict ;; 501 | 503) echo unavailable ;; 411) echo malformed ;;
	413) echo too_large ;; *) echo "?" ;;
	esac
}
audited() { # audited STATUS [MESSAGE]: the last request line records this refusal, its
	# reason and the message answered
	last_request | jq -e --argjson s "$1" --arg r "$(reason_of "$1")" --arg m "${2-}" \
		'.status == $s and .uid == 0 and .allowed == false and .reason == $r and
		 ($m == "" or .message == $m)' >/dev/null
}
net() { printf '{"name": "r", "type": "%s", "duration": "%s", "target": {"interface": "%s", %s}, "params": %s}' "$1" "${DUR:-5m}" "$DEV" "$2" "$3"; }
pause() { printf '{"name": "r", "type": "process.pause", "duration": "5m", "target": %s}' "$1"; }

setsid sleep 3600 &
VICTIM=$!
api POST /v1/leases '{"ttl_ms": 600000}'
LEASE=$(jq -r .lease.id <<<"$API_BODY")
F=/v1/leases/$LEASE/faults
checks=0

# refused WHAT STATUS CODE METHOD PATH [BODY]: the request is refused as documented, audited,
# and changes nothing.
refused() {
	local what=$1 status=$2 code=$3 before
	shift 3
	before=$(system_state)
	api "$@"
	fl_assert_eq "$HTTP_STATUS" "$status" "$what: status ($API_BODY)"
	fl_assert_eq "$(jq -r .error.code <<<"$API_BODY")" "$code" "$what: error code"
	audited "$status" "$(jq -r .error.message <<<"$API_BODY")" ||
		fl_fail "$what: not audited as refused: $(last_request)"
	fl_assert_eq "$(system_state)" "$before" "$what: system state"
	checks=$((checks + 1))
}
pristine=$(system_state)

# --- authorisation ---
before=$(system_state)
out=$(setpriv --reuid 65534 --regid 65534 --clear-groups curl -sS --max-time 10 \
	--unix-socket "$sock" -X POST -H 'Content-Type: application/json' -w '\n%{http_code}' \
	--data-binary "$(pause "{\"pid\": $VICTIM, \"all\": true}")" "http://agent$F")
fl_assert_eq "${out##*$'\n'}" 403 "unprivileged uid: status"
last_request | jq -e '.uid == 65534 and .allowed == false and .status == 403 and
	.reason == "auth" and (.message | test("faultline group"))' \
	>/dev/null || fl_fail "unprivileged refusal not audited: $(last_request)"
fl_assert_eq "$(system_state)" "$before" "unprivileged uid: system state"
checks=$((checks + 1))

# --- policy ---
refused "type not in allow_types" 403 forbidden POST "$F" \
	"$(net network.corruption '"direction": "egress", "cidrs": ["10.94.0.2"]' '{"probability": "1%"}')"
refused "loss above max_loss" 403 forbidden POST "$F" \
	"$(net network.loss '"direction": "egress", "cidrs": ["10.94.0.2"]' '{"probability": "50%"}')"
refused "partition counts as 100% loss" 403 forbidden POST "$F" \
	"$(net network.partition '"cidrs": ["10.94.0.2"]' '{}')"
DUR=1h refused "duration above max_duration" 403 forbidden POST "$F" \
	"$(DUR=1h net network.loss '"direction": "egress", "cidrs": ["10.94.0.2"]' '{"probability": "5%"}')"
refused "a protected CIDR" 403 forbidden POST "$F" \
	"$(net network.loss '"direction": "egress", "cidrs": ["10.94.0.0/24"]' '{"probability": "5%"}')"
refused "a protected port" 403 forbidden POST "$F" \
	"$(net network.loss '"direction": "egress", "cidrs": ["10.94.0.2"], "ports": ["5000-5010"]' '{"probability": "5%"}')"
refused "a protected process" 403 forbidden POST "$F" "$(pause '{"name": "postgres", "all": true}')"

# --- invalid input ---
refused "unknown key" 422 invalid_fault POST "$F" \
	"$(net network.loss '"direction": "egress", "cidrs": ["10.94.0.2"], "prots": [80]' '{"probability": "5%"}')"
refused "wrong type" 422 invalid_fault POST "$F" \
	"$(net network.loss '"direction": "egress", "cidrs": ["10.94.0.2"]' '{"probability": true}')"
refused "malformed JSON" 422 invalid_fault POST "$F" '{"name": "r", "type": '
refused "loss above 100%" 422 invalid_fault POST "$F" \
	"$(net network.loss '"direction": "egress", "cidrs": ["10.94.0.2"]' '{"probability": "150%"}')"
refused "malformed CIDR" 422 invalid_fault POST "$F" \
	"$(net network.loss '"direction": "egress", "cidrs": ["10.94.0.300"]' '{"probability": "5%"}')"
refused "more rules than an interface has slots" 422 invalid_fault POST "$F" \
	"$(net network.loss "\"direction\": \"egress\", \"cidrs\": [\"10.94.0.2\"], \"ports\": [$(seq -s ', ' 1001 2 1131)]" '{"probability": "5%"}')"
jq -e '.error.problems[0].message | startswith("needs 66 rule slots")' <<<"$API_BODY" >/dev/null ||
	fl_fail "the rule-slot refusal does not count the slots: $API_BODY"
refused "unknown interface" 422 invalid_fault POST "$F" \
	"$(printf '{"name": "r", "type": "network.loss", "duration": "1m", "target": {"interface": "nosuch0", "direction": "egress", "cidrs": ["10.94.0.2"]}, "params": {"probability": "5%%"}}')"
refused "a selector matching nothing" 422 invalid_fault POST "$F" \
	"$(pause '{"name": "no-such-proc", "all": true}')"
refused "an unknown lease" 404 not_found POST /v1/leases/l-0000000000000000/faults \
	"$(pause "{\"pid\": $VICTIM, \"all\": true}")"

# --- a mechanism this kernel lacks ---
if ! tc qdisc add dev lo root netem delay 1ms 2>/dev/null; then
	refused "latency without netem or fq" 503 unavailable POST "$F" \
		"$(net network.latency '"direction": "egress", "cidrs": ["10.94.0.2"]' '{"delay": "50ms"}')"
else
	tc qdisc del dev lo root 2>/dev/null || true
	fl_log "this kernel has netem: the latency refusal is not checked here"
fi

# --- a conflict with an active fault ---
api POST "$F" "$(net network.loss '"direction": "egress", "cidrs": ["10.94.0.2"]' '{"probability": "5%"}')"
fl_assert_eq "$HTTP_STATUS" 201 "the first loss fault"
first=$(jq -r .fault.id <<<"$API_BODY")
last_request | jq -e --arg f "$F" '.method == "POST" and .target == $f and .allowed and
	.status == 201 and (has("reason") | not) and (.body | test("network.loss"))' >/dev/null ||
	fl_fail "the apply is not on a line of its own: $(last_request)"
refused "a conflicting fault" 409 conflict POST "$F" \
	"$(net network.loss '"direction": "egress", "cidrs": ["10.94.0.2/32"], "protocol": "udp"' '{"probability": "10%"}')"
jq -e --arg f "$first" '.error.message | startswith("conflicts with active fault " + $f + " (\u0027r\u0027): both drop packets")' \
	<<<"$API_BODY" >/dev/null || fl_fail "the conflict does not name the active fault: $API_BODY"
api DELETE "/v1/faults/$first"
fl_assert_eq "$HTTP_STATUS" 200 "revert the first loss fault"
last_request | jq -e --arg t "/v1/faults/$first" '.method == "DELETE" and .target == $t and
	.allowed and .status == 200' >/dev/null ||
	fl_fail "the revert is not on a line of its own: $(last_request)"

# --- HTTP-level limits ---
before=$(system_state)
big=$(head -c $((1024 * 1024 + 10)) /dev/zero | tr '\0' ' ')
out=$(printf '%s' "$big" | curl -sS --max-time 10 --unix-socket "$sock" -X POST \
	-H 'Content-Type: application/json' --data-binary @- -w '\n%{http_code}' "http://agent$F")
fl_assert_eq "${out##*$'\n'}" 413 "a body over 1 MiB"
last_request | jq -e --arg f "$F" '.method == "POST" and .target == $f and .status == 413 and
	.allowed == false and .reason == "too_large"' >/dev/null ||
	fl_fail "the oversized request is not audited: $(last_request)"
fl_assert_eq "$(jq -s '[.[] | select(.reason == "too_large")] | length' "$audit")" 1 \
	"audit lines of the one oversized request"
out=$(curl -sS --max-time 10 --unix-socket "$sock" -X POST -H 'Transfer-Encoding: chunked' \
	-H 'Content-Type: application/json' --data-binary '{}' -w '\n%{http_code}' "http://agent$F")
fl_assert_eq "${out##*$'\n'}" 411 "a chunked body"
last_request | jq -e '.status == 411 and .allowed == false and .reason == "malformed"' \
	>/dev/null || fl_fail "the chunked request is not audited: $(last_request)"
out=$(printf 'BOGUS\r\n\r\n' | socat -t 5 - "UNIX-CONNECT:$sock" | head -n 1 | tr -d '\r')
fl_assert_eq "${out%% *} ${out#* }" "HTTP/1.1 400 Bad Request" "malformed HTTP"
last_request | jq -e '.status == 400 and .allowed == false and .reason == "malformed" and
	(has("method") | not)' >/dev/null || fl_fail "the malformed request is not audited: $(last_request)"
fl_assert_eq "$(system_state)" "$before" "HTTP-level refusals: system state"
checks=$((checks + 3))

fl_assert_eq "$(system_state)" "$pristine" "the end: system state"
fl_log "$checks refusals, each audited and leaving the system as it was"

# --- read-only polls are summarised per client and interval ---
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# Start right after an interval boundary, so the polls and the stop below fit in one interval
# with seconds to spare on a loaded machine.
start_of_interval() {
	local i
	for ((i = 0; i < INTERVAL * 20 + 20; i++)); do
		(($(now_ms) % (INTERVAL * 1000) < 1000)) && return 0
		sleep 0.05
	done
	fl_fail "no interval boundary seen in $((INTERVAL + 1)) s"
}
# polls N: one client process (one curl, one connection) sends N status polls; sets POLLER.
polls() {
	local urls=() i out
	for ((i = 0; i < $1; i++)); do urls+=("http://agent/v1/faults"); done
	curl -sS --max-time 20 --unix-socket "$sock" -o /dev/null -w '%{http_code}\n' "${urls[@]}" \
		>"$dir/polls.out" &
	POLLER=$!
	wait "$POLLER" || fl_fail "the $1 polls failed"
	fl_assert_eq "$(grep -c '^200$' "$dir/polls.out")" "$1" "polls answered 200"
}
summaries() { jq -c --argjson p "$1" 'select(.kind == "reads" and .pid == $p)' "$audit"; }
# jq: an audit time ("2026-11-22T12:00:00.123Z") in milliseconds since the epoch.
MS='def ms: (sub("\\.[0-9]+Z$"; "Z") | fromdate) * 1000 + (capture("\\.(?<f>[0-9]+)Z$").f | tonumber);'

start_of_interval
t0=$(now_ms)
polls 40
t1=$(now_ms)
(( t0 / (INTERVAL * 1000) == t1 / (INTERVAL * 1000) )) ||
	fl_fail "40 polls took $((t1 - t0)) ms and crossed an interval boundary"
fl_assert_eq "$(jq -c --argjson p "$POLLER" 'select(.pid == $p)' "$audit")" "" \
	"audit lines of the polls before their interval ended"
for ((i = 0; i < (INTERVAL + 10) * 10; i++)); do
	[ -n "$(summaries "$POLLER")" ] && break
	sleep 0.1
done
line=$(summaries "$POLLER")
[ -n "$line" ] || fl_fail "no summary of the 40 polls within $((INTERVAL + 10)) s"
fl_assert_eq "$(wc -l <<<"$line")" 1 "summary lines of one client and interval"
end=$(( (t0 / (INTERVAL * 1000) + 1) * INTERVAL * 1000 ))
jq -e --argjson stop "$end" --argjson len "$INTERVAL" "$MS"'.count == 40 and .uid == 0 and
	.method == "GET" and .allowed and .targets == {"/v1/faults": 40} and
	(.until | ms) == $stop and (.since | ms) == $stop - $len * 1000 and (.time | ms) >= $stop' \
	<<<"$line" >/dev/null || fl_fail "summary of the 40 polls (interval ends at $end ms): $line"
[ "$(jq -s '[.[] | select(.pid == '"$POLLER"')] | length' "$audit")" = 1 ] ||
	fl_fail "the polls have lines besides their summary"
fl_log "40 polls in one interval: one audit line, $line"

# At shutdown the interval so far is written: 3 polls, then SIGTERM well before its end.
start_of_interval
t0=$(now_ms)
end=$(( (t0 / (INTERVAL * 1000) + 1) * INTERVAL * 1000 ))
polls 3
kill -TERM "$FL_AGENT_PID"
fl_wait_exit rc "$FL_AGENT_PID" 30
fl_assert_eq "$rc" 0 "the agent's exit status"
line=$(summaries "$POLLER")
jq -e --argjson stop "$end" "$MS"'.count == 3 and (.until | ms) < $stop' <<<"$line" \
	>/dev/null || fl_fail "no summary of the 3 polls at shutdown, before $end ms: $line"
