#!/usr/bin/env bash
# Every refusal path leaves the system exactly as it was: for each way the agent can say no
# (authorisation, policy, invalid input, a mechanism missing, a conflict, HTTP-level limits),
# the answer has the documented status and code, the refusal is audited, and the interface's
# qdiscs, classes and filters, the IFB devices, the journal, the victim's state and the list
# of active faults are byte-for-byte what they were before the request.
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
fl_start_agent "$A" "$sock" "$dir/agent.log" --state-dir "$state" --audit-log "$audit" \
	--policy "$dir/policy.yaml"
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
	echo "journal $(find "$state/journal" -name '*.json' 2>/dev/null | wc -l)"
	curl -sS --max-time 10 --unix-socket "$sock" http://agent/v1/faults | jq -c '[.faults[].id]'
}
audited() { # audited STATUS: the last audit line records this answer (allowed is about
	# the caller's credentials, so it stays true for refusals of an authorised caller)
	tail -n 1 "$audit" | jq -e --argjson s "$1" '.status == $s and .uid == 0' >/dev/null
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
	audited "$status" || fl_fail "$what: not audited as refused: $(tail -n 1 "$audit")"
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
tail -n 1 "$audit" | jq -e '.uid == 65534 and .allowed == false and .status == 403' >/dev/null ||
	fl_fail "unprivileged refusal not audited"
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
refused "a conflicting fault" 409 conflict POST "$F" \
	"$(net network.loss '"direction": "egress", "cidrs": ["10.94.0.2/32"], "protocol": "udp"' '{"probability": "10%"}')"
jq -e --arg f "$first" '.error.message | startswith("conflicts with active fault " + $f + " (\u0027r\u0027): both drop packets")' \
	<<<"$API_BODY" >/dev/null || fl_fail "the conflict does not name the active fault: $API_BODY"
api DELETE "/v1/faults/$first"
fl_assert_eq "$HTTP_STATUS" 200 "revert the first loss fault"

# --- HTTP-level limits ---
before=$(system_state)
big=$(head -c $((1024 * 1024 + 10)) /dev/zero | tr '\0' ' ')
out=$(printf '%s' "$big" | curl -sS --max-time 10 --unix-socket "$sock" -X POST \
	-H 'Content-Type: application/json' --data-binary @- -w '\n%{http_code}' "http://agent$F")
fl_assert_eq "${out##*$'\n'}" 413 "a body over 1 MiB"
out=$(curl -sS --max-time 10 --unix-socket "$sock" -X POST -H 'Transfer-Encoding: chunked' \
	-H 'Content-Type: application/json' --data-binary '{}' -w '\n%{http_code}' "http://agent$F")
fl_assert_eq "${out##*$'\n'}" 411 "a chunked body"
out=$(printf 'BOGUS\r\n\r\n' | socat -t 5 - "UNIX-CONNECT:$sock" | head -n 1 | tr -d '\r')
fl_assert_eq "${out%% *} ${out#* }" "HTTP/1.1 400 Bad Request" "malformed HTTP"
fl_assert_eq "$(system_state)" "$before" "HTTP-level refusals: system state"
checks=$((checks + 3))

fl_assert_eq "$(system_state)" "$pristine" "the end: system state"
fl_log "$checks refusals, each audited and leaving the system as it was"
