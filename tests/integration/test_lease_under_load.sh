#!/usr/bin/env bash
# Leases fire on time whatever the agent is doing: a big apply runs off the event loop.
#  - while a stress.cpu with 1,000 workers is being applied, GET /v1/faults lists it in state
#    applying and GET /v1/info answers (within 5 s: generous, the machine is saturated);
#  - a 1 s lease on another fault (a process.pause of a sleep of our own), not renewed,
#    reverts within TTL + 2 s, and before the big apply has ended (the agent's event
#    numbers say which came first: when the loop applies, the lease timer cannot fire
#    until the apply is done);
#  - DELETE of the fault being applied answers 202 (the revert follows the apply), the
#    apply then answers 409 "reverted", and nothing of it is left;
#  - a fault whose own lease (2 s) expires during its apply: lease.ended counts a revert
#    to follow the apply, the apply answers 409 "reverted" naming the expiry, and nothing
#    of it is left.
# How long an apply takes depends on the machine; the test holds it in flight itself: once
# the fault is listed as applying, it freezes the fault's own cgroup (cgroup.freeze), so the
# worker being spawned stops before it execs and the apply waits for it, and thaws it when
# its checks are done. (On an agent that applies on its loop, the loop itself waits.)
# The policy's max_cpu_workers cap, where this build knows it, is raised by our own policy.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/stress_lib.sh"

WORKERS=1000 TTL=1000
stress_allow_cpu_workers "$WORKERS"
# Our clients at the agent's nice level: under 1,000 busy workers a client at 0 would
# measure its own wait for a CPU.
renice -n -10 -p $$ >/dev/null
fl_start_agent "$ns" "$sock" "$dir/agent.log" "${AGENT_ARGS[@]}"
stress_require_available

fl_sleeper VICTIM "$dir" 600
fl_events EVENTS "$dir/events" 600

# ev FILTER: the first event matching a jq filter, compact; empty when there is none.
ev() { jq -c "select($1)" "$dir/events" | head -n 1; }
ms_of() { jq -r "$FL_JQ_TIME_MS"' .time | time_ms' <<<"$1"; }
wait_ev() { # wait_ev FILTER SECONDS -> EV
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		EV=$(ev "$1")
		[ -n "$EV" ] && return 0
		sleep 0.1
	done
	fl_fail "no event $1 within $2 s"
}
# state_of FID: its state in GET /v1/faults (answered within 5 s), or "gone".
state_of() {
	FL_API_TIMEOUT=5 fl_api GET /v1/faults
	fl_assert_eq "$HTTP_STATUS" 200 "GET /v1/faults during the apply"
	jq -r --arg f "$1" '[.faults[] | select(.id == $f) | .state][0] // "gone"' <<<"$API_BODY"
}
# big_apply LEASE WORKERS: in the background; its answer goes to $dir/apply.out.
big_apply() {
	(
		api POST "/v1/leases/$1/faults" \
			"{\"name\": \"big\", \"type\": \"stress.cpu\", \"duration\": \"10m\", \"params\": {\"workers\": $2, \"load\": \"1%\"}}"
		printf '%s\n%s\n' "$HTTP_STATUS" "$API_BODY" >"$dir/apply.out"
	) &
	APPLIER=$!
}
# freeze FID: hold its apply in flight (its cgroup frozen); thaw FID lets it go on.
freeze() {
	local cg=$CGROOT/faultline/stress-$1 i
	for ((i = 0; i < 100; i++)); do
		[ -e "$cg/cgroup.freeze" ] && break
		sleep 0.01
	done
	echo 1 >"$cg/cgroup.freeze" || fl_fail "cannot freeze $cg"
	fl_on_exit "echo 0 >$cg/cgroup.freeze 2>/dev/null"
	FROZEN=$cg
}
thaw() { echo 0 >"$CGROOT/faultline/stress-$1/cgroup.freeze"; }
# gone FID CGROUP: the fault is forgotten and its cgroup removed (bounded, 60 s).
gone() {
	local i
	for ((i = 0; i < 600; i++)); do
		api GET "/v1/faults/$1"
		[ "$HTTP_STATUS" = 404 ] && [ ! -e "$2" ] && return 0
		sleep 0.1
	done
	fl_fail "fault $1 still there (HTTP $HTTP_STATUS) or its cgroup $2 left"
}

# --- a short lease expires while 1,000 workers are being applied ---
new_lease 600000
long=$LEASE
big_apply "$long" "$WORKERS"
stress_wait_applying 300
freeze "$BIG"
fl_log "stress.cpu $BIG ($WORKERS workers) listed as applying; $(wc -l <"$FROZEN/cgroup.procs") workers started, its cgroup frozen"
new_lease "$TTL"
short=$LEASE
api POST "/v1/leases/$short/faults" \
	"{\"name\": \"victim\", \"type\": \"process.pause\", \"duration\": \"10m\", \"target\": {\"pid\": $VICTIM, \"all\": true}}"
fl_assert_eq "$HTTP_STATUS" 201 "pause under the short lease ($API_BODY)"
small=$(jq -r .fault.id <<<"$API_BODY")
wait_ev ".type == \"fault.reverted\" and .fault == \"$small\"" 60
reverted=$EV
wait_ev ".type == \"lease.created\" and .lease == \"$short\"" 5
delay=$(($(ms_of "$reverted") - $(ms_of "$EV") - TTL))
fl_log "short lease: reverted $delay ms after its TTL ($TTL ms)"
[ "$delay" -le 2000 ] || fl_fail "the short lease's fault reverted $delay ms after its TTL (more than 2 s)"
case "$(fl_proc_state "$VICTIM")" in
T | t) fl_fail "victim $VICTIM still stopped after its lease expired" ;;
esac
st=$(state_of "$BIG")
fl_assert_eq "$st" applying "the big fault after the short lease expired"
t0=$(date +%s%N)
FL_API_TIMEOUT=5 fl_api GET /v1/info
fl_assert_eq "$HTTP_STATUS" 200 "GET /v1/info during the apply"
fl_log "GET /v1/info during the apply: $((($(date +%s%N) - t0) / 1000000)) ms"
applied=$(ev ".type == \"fault.applied\" and .fault == \"$BIG\"")
[ -z "$applied" ] || [ "$(jq .seq <<<"$applied")" -gt "$(jq .seq <<<"$reverted")" ] ||
	fl_fail "the short lease's revert came after the big apply ended"

# --- a revert asked for during the apply follows it ---
api DELETE "/v1/faults/$BIG"
fl_assert_eq "$HTTP_STATUS" 202 "DELETE during the apply ($API_BODY)"
fl_assert_eq "$(jq -r .after_apply <<<"$API_BODY")" true "DELETE during the apply: after_apply"
thaw "$BIG"
fl_wait_exit rc "$APPLIER" 180
{ read -r st; body=$(cat); } <"$dir/apply.out"
fl_assert_eq "$st" 409 "the apply's answer after a DELETE during it ($body)"
fl_assert_eq "$(jq -r .error.code <<<"$body")" reverted "the apply's answer: code"
cg=$(jq -r .fault.status.cgroup <<<"$body")
[ "$cg" != null ] || cg="$CGROOT/faultline/stress-$BIG"
gone "$BIG" "$cg"
api DELETE "/v1/leases/$long"
fl_assert_eq "$HTTP_STATUS" 200 "end the long lease"

# --- a fault whose own lease expires during its apply ---
rm -f "$dir/apply.out"
# Its lease (2 s, never renewed) expires while the test holds the apply in flight.
new_lease 2000
own=$LEASE
big_apply "$own" "$WORKERS"
stress_wait_applying 300
freeze "$BIG"
wait_ev ".type == \"lease.ended\" and .lease == \"$own\"" 30
fl_assert_eq "$(jq .reverts_after_apply <<<"$EV")" 1 "lease.ended during the apply: reverts_after_apply"
thaw "$BIG"
fl_wait_exit rc "$APPLIER" 180
{ read -r st; body=$(cat); } <"$dir/apply.out"
fl_assert_eq "$st" 409 "apply under a lease that expired during it ($body)"
jq -e '.error.code == "reverted" and (.error.message | test("expired"))' <<<"$body" >/dev/null ||
	fl_fail "the apply's answer does not say the lease expired: $body"
fid=$(jq -r .fault.id <<<"$body")
gone "$fid" "$CGROOT/faultline/stress-$fid"
for ((i = 0; i < 100; i++)); do
	[ "$(journal_count)" = 0 ] && break
	sleep 0.1
done
fl_assert_eq "$(journal_count)" 0 "journal at the end"
