#!/usr/bin/env bash
# Network faults apply and revert off the event loop (docs/api.md, "Applies that take a while"):
# a network.loss over the namespaces of 20 containers (stand-ins: tests/integration/
# ctr_stub_lib.sh) never holds leases or the API.
#  - held apply: the agent's state directory is a filesystem of the test's own, frozen
#    (fsfreeze) before the apply, so the apply stops at its first journal write, before any
#    namespace changes, and stays in flight until the test thaws it. Meanwhile GET /v1/faults
#    lists it as applying, GET /v1/info answers, a renewal of the fault's own lease answers,
#    and a 500 ms lease of another client ends on time (lease.ended within TTL + 2 s: the
#    bounds are generous, a check of the mechanism, not a speed goal; bench/lease_load.sh
#    measures). DELETE of the fault answers 202 (after_apply), and once thawed the apply
#    answers 409 "reverted": no clsact and no filter is left in any of the 20 namespaces, and
#    the journal is empty. (On an agent that applies on its loop, the loop itself waits at
#    the journal: GET /v1/info times out.)
#  - a network.bandwidth by container id, held the same way, makes a second one on the same
#    interface (by the namespace's path) answer 409 naming it: the agent's shaper check sees
#    faults still being applied;
#  - unheld: the same apply with GET /v1/info asked every 20 ms over one connection: every
#    answer within 2 s, and a 500 ms lease ends within TTL + 2 s; then the fault is active in
#    all 20 namespaces, and its revert (DELETE, off the loop too) leaves none.
. "$(dirname "$0")/lib.sh"
fl_require_root
fl_require_cmd ip tc jq curl nsenter setsid mkfs.ext4 mount umount fsfreeze truncate losetup pgrep timeout
fl_require_build
. "$(dirname "$0")/ctr_stub_lib.sh"

N=20 TTL=500
AGENT_CALL=$FL_BUILD_DIR/tests/integration/agent_call
[ -x "$AGENT_CALL" ] || fl_fail "agent_call not built in $FL_BUILD_DIR"

fl_netns ns agent
fl_tmpdir dir
sock=$dir/agent.sock
state=$dir/state
# The policy's max_containers_per_fault (default 10) raised to N by a policy of our own.
printf 'max_containers_per_fault: %d\n' "$N" >"$dir/policy.yaml"
ARGS=(--state-dir "$state" --audit-log "$dir/audit.log" --log-level debug --policy "$dir/policy.yaml")

ctr_stub_start "$N" "${FL_ID}p" web

# The state directory on an ext4 image of ours, which fsfreeze can hold (tmpfs cannot), on a
# loop device of ours. Teardown, in reverse, before anything else: thaw; kill the agent (and
# its watchdog: a process of ours with files there) and --cleanup; unmount (bounded: a
# process that still has a file there lets it go within seconds); detach the loop device.
truncate -s 32M "$dir/state.img"
mkfs.ext4 -q -F "$dir/state.img"
mkdir "$state"
loopdev=$(losetup -f --show "$dir/state.img") || fl_skip "cannot attach a loop device here"
fl_on_exit "losetup -d $loopdev"
mount "$loopdev" "$state" || fl_skip "cannot mount an ext4 image here"
fl_on_exit "for _fl_u in \$(seq 100); do umount $state && break; sleep 0.1; done"
fl_on_exit "kill -KILL \${FL_AGENT_PID:-0} \$(pgrep -f -- '--socket $sock') 2>/dev/null; timeout 10 $FAULTLINED --cleanup ${ARGS[*]}"
fl_on_exit "fsfreeze -u $state"
fl_start_agent "$ns" "$sock" "$dir/agent.log" "${ARGS[@]}" --container-engines "$CTR_ENGINE"
fl_events EVENTS "$dir/events" 600

api() { FL_API_TIMEOUT=${T:-20} fl_api "$@"; }
new_lease() { # new_lease TTL_MS -> LEASE
	api POST /v1/leases "{\"ttl_ms\": $1}"
	fl_assert_eq "$HTTP_STATUS" 201 "create lease ($API_BODY)"
	LEASE=$(jq -r .lease.id <<<"$API_BODY")
}
ms_of() { jq -r '.time | split(".") | (.[0] + "Z" | fromdateiso8601) * 1000 + (.[1] | rtrimstr("Z") | tonumber)' <<<"$1"; }
ev() { jq -c "select($1)" "$dir/events" | head -n 1; }
wait_ev() { # wait_ev FILTER SECONDS -> EV
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		EV=$(ev "$1")
		[ -n "$EV" ] && return 0
		sleep 0.1
	done
	fl_fail "no event $1 within $2 s"
}
# lease_on_time LEASE: its lease.ended (expired) came within TTL + 2 s of its lease.created.
lease_on_time() {
	local created late
	wait_ev ".type == \"lease.created\" and .lease == \"$1\"" 5
	created=$EV
	wait_ev ".type == \"lease.ended\" and .lease == \"$1\"" 30
	late=$(($(ms_of "$EV") - $(ms_of "$created") - TTL))
	fl_log "lease $1 ($TTL ms) ended $late ms after its TTL"
	[ "$late" -le 2000 ] || fl_fail "lease $1 ended $late ms after its TTL (more than 2 s)"
	jq -e '.reason | test("expired")' <<<"$EV" >/dev/null || fl_fail "lease $1 did not expire: $EV"
}
# big_apply LEASE: the network.loss on every container, in the background -> APPLIER;
# its answer goes to $dir/apply.out.
big_apply() {
	rm -f "$dir/apply.out"
	(
		T=120 api POST "/v1/leases/$1/faults" \
			"{\"name\": \"wide\", \"type\": \"network.loss\", \"duration\": \"10m\", \"target\": {\"container\": {\"compose\": {\"project\": \"${FL_ID}p\", \"service\": \"web\"}}, \"all\": true, \"interface\": \"lo\", \"cidrs\": [\"10.84.0.0/16\"]}, \"params\": {\"probability\": \"50%\"}}"
		printf '%s\n%s\n' "$HTTP_STATUS" "$API_BODY" >"$dir/apply.out"
	) &
	APPLIER=$!
}
# wait_applying [TYPE] -> BIG: the fault of TYPE (network.loss) listed in state applying
# (bounded, 15 s).
wait_applying() {
	local i type=${1:-network.loss}
	for ((i = 0; i < 300; i++)); do
		T=5 api GET /v1/faults
		fl_assert_eq "$HTTP_STATUS" 200 "GET /v1/faults during the apply"
		BIG=$(jq -r --arg t "$type" '[.faults[] | select(.type == $t and .state == "applying") | .id][0] // empty' <<<"$API_BODY")
		[ -n "$BIG" ] && return 0
		[ -s "$dir/apply.out" ] && fl_fail "the apply ended ($(head -c 300 "$dir/apply.out")) and was never listed as applying"
		sleep 0.05
	done
	fl_fail "no $type in state applying within 15 s: $API_BODY"
}
journal_empty() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(fl_journal_count "$state")" = 0 ] && return 0
		sleep 0.1
	done
	fl_fail "journal not empty: $(fl_journal_records "$state" | head -c 400)"
}

[ -z "$(ctr_stub_residue)" ] || fl_fail "the namespaces have filters before any fault"

# --- held: the apply waits at its first journal write ---
new_lease 600000
long=$LEASE
sync
fsfreeze -f "$state"
big_apply "$long"
wait_applying
fl_log "network.loss $BIG over $N namespaces listed as applying, held at the journal"
new_lease "$TTL"
short=$LEASE
t0=$(date +%s%N)
T=2 api GET /v1/info
fl_assert_eq "$HTTP_STATUS" 200 "GET /v1/info during the held apply"
T=2 api POST "/v1/leases/$long/renew"
fl_assert_eq "$HTTP_STATUS" 200 "renewal of the applying fault's lease ($API_BODY)"
fl_log "GET /v1/info and a renewal during the held apply: $((($(date +%s%N) - t0) / 1000000)) ms"
lease_on_time "$short"
api GET "/v1/faults/$BIG"
fl_assert_eq "$(jq -r .fault.state <<<"$API_BODY")" applying "the fault after the short lease ended"
[ ! -s "$dir/apply.out" ] || fl_fail "the held apply answered: $(cat "$dir/apply.out")"
api DELETE "/v1/faults/$BIG"
fl_assert_eq "$HTTP_STATUS" 202 "DELETE during the apply ($API_BODY)"
fl_assert_eq "$(jq -r .after_apply <<<"$API_BODY")" true "DELETE during the apply: after_apply"
fsfreeze -u "$state"
fl_wait_exit rc "$APPLIER" 120
{ read -r st; body=$(cat); } <"$dir/apply.out"
fl_assert_eq "$st" 409 "the apply's answer after a DELETE during it ($body)"
fl_assert_eq "$(jq -r .error.code <<<"$body")" reverted "the apply's answer: code"
for ((i = 0; i < 100; i++)); do
	api GET "/v1/faults/$BIG"
	[ "$HTTP_STATUS" = 404 ] && break
	sleep 0.1
done
fl_assert_eq "$HTTP_STATUS" 404 "the reverted fault is forgotten"
res=$(ctr_stub_residue)
[ -z "$res" ] || fl_fail "left after the revert that followed the apply: $res"
journal_empty
fl_log "DELETE during the held apply: 202, then 409 reverted; nothing left in $N namespaces"

# --- a shaper still being applied holds its interface against another shaper ---
# The first by container id, the second by the same namespace's path: only the agent can tell
# they are one interface (netif_shaper_claim()), not the experiment's conflict rule.
shaper() { # shaper NAME TARGET_JSON
	printf '{"name": "%s", "type": "network.bandwidth", "duration": "10m", "target": {%s, "interface": "lo", "direction": "egress", "cidrs": ["10.84.0.0/16"]}, "params": {"rate": "10mbit"}}' "$1" "$2"
}
sync
fsfreeze -f "$state"
rm -f "$dir/apply.out"
(
	T=120 api POST "/v1/leases/$long/faults" "$(shaper bw1 "\"container\": {\"id\": \"${CTR_IDS[0]}\"}")"
	printf '%s\n%s\n' "$HTTP_STATUS" "$API_BODY" >"$dir/apply.out"
) &
APPLIER=$!
wait_applying network.bandwidth
bw1=$BIG
T=5 api POST "/v1/leases/$long/faults" "$(shaper bw2 "\"netns\": \"/run/netns/${CTR_NS[0]}\"")"
fl_assert_eq "$HTTP_STATUS" 409 "a second shaper on the interface of one being applied ($API_BODY)"
jq -e --arg f "$bw1" '.error.message | contains("already has a qdisc of fault \($f)")' <<<"$API_BODY" >/dev/null ||
	fl_fail "the refusal does not name the shaper being applied ($bw1): $API_BODY"
fsfreeze -u "$state"
fl_wait_exit rc "$APPLIER" 120
{ read -r st; body=$(cat); } <"$dir/apply.out"
fl_assert_eq "$st" 201 "the first shaper ($body)"
tc -n "${CTR_NS[0]}" qdisc show dev lo | grep >/dev/null htb || fl_fail "no HTB root on lo in ${CTR_NS[0]}"
api DELETE "/v1/faults/$bw1"
fl_assert_eq "$HTTP_STATUS" 200 "revert of the shaper ($API_BODY)"
! tc -n "${CTR_NS[0]}" qdisc show dev lo | grep >/dev/null htb || fl_fail "HTB left on lo in ${CTR_NS[0]}"
res=$(ctr_stub_residue)
[ -z "$res" ] || fl_fail "left after the shaper's revert: $res"
fl_log "a second shaper on the interface of one being applied: 409 naming it"

# --- unheld: the API answers throughout, a short lease ends on time ---
rm -f "$dir/stop"
{
	for ((i = 0; i < 3000; i++)); do
		[ -e "$dir/stop" ] && break
		echo "GET /v1/info"
		sleep 0.02
	done
} | timeout 300 "$AGENT_CALL" "unix://$sock" >"$dir/probe.out" &
probe=$!
new_lease "$TTL"
short=$LEASE
big_apply "$long"
fl_wait_exit rc "$APPLIER" 120
{ read -r st; body=$(cat); } <"$dir/apply.out"
fl_assert_eq "$st" 201 "the apply over $N namespaces ($body)"
BIG=$(jq -r .fault.id <<<"$body")
fl_assert_eq "$(jq '.fault.status.containers // [] | length' <<<"$body")" "$N" "namespaces in the status ($(head -c 300 <<<"$body"))"
lease_on_time "$short"
touch "$dir/stop"
fl_wait_exit rc "$probe" 30
worst=$(awk '$1 == "ERR" { err++ } $1 == 200 && $2 > m { m = $2 } END { if (err) print "ERR"; else print m + 0 }' "$dir/probe.out")
fl_log "GET /v1/info during the apply: $(wc -l <"$dir/probe.out") answers, worst $worst ms"
[ "$worst" != ERR ] && [ "$worst" -le 2000 ] || fl_fail "GET /v1/info during the apply: worst $worst ms (an error, or more than 2 s)"
n=0
for p in "${CTR_NS[@]}"; do
	tc -n "$p" qdisc show dev lo | grep >/dev/null clsact && n=$((n + 1))
done
fl_assert_eq "$n" "$N" "namespaces with the fault's clsact"
api DELETE "/v1/faults/$BIG"
fl_assert_eq "$HTTP_STATUS" 200 "DELETE of the active fault ($API_BODY)"
res=$(ctr_stub_residue)
[ -z "$res" ] || fl_fail "left after DELETE: $res"
api DELETE "/v1/leases/$long"
fl_assert_eq "$HTTP_STATUS" 200 "end the long lease"
journal_empty
fl_log "network.loss over $N namespaces applied and reverted off the loop; leases and the API kept their time"
