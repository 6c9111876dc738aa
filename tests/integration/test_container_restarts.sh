#!/usr/bin/env bash
# A container that exits during a network fault on it (docs/containers.md, "When the container
# exits"), with real podman containers in a network namespace of their own (P, joined to the
# agent's H by a veth; never podman's default network):
#  - network.loss (100%, egress of the container's namespace) by container name: pings from H
#    all lost; `podman stop` of the container -> event fault.target_gone naming it, the fault
#    gone from GET /v1/faults, no filter or clsact left in its namespace, no journal record,
#    pings answered again;
#  - the same with follow_restarts: true: stop -> fault.target_exited, the fault still listed
#    and waiting (container_watch.state gone), pings answered meanwhile; `podman start` ->
#    fault.reapplied with the new main pid, pings lost again; removed and run again under the
#    same name (a new id) -> applied again a second time; DELETE -> reverted, nothing left;
#  - follow_restarts on a process fault: refused with the field path;
#  - faultctl run with a loss (follow_restarts) on a container stopped during the run and not
#    started again: the timeline says it lost its container; at the fault's end the JSON
#    report's state is target_gone (schema-valid) with a reason naming the container, and the
#    timeline and the JUnit file say so;
#  - stress.cpu inside a container stopped during the fault: fault.target_gone, its workers
#    gone (killed and reaped), none left in the container's cgroups, no journal record;
#  - crash cleanup: the journal names the container's id, netns inode and cgroup; the agent
#    and its watchdog SIGKILLed during a loss, the container restarted (its journaled main
#    process gone): `faultlined --cleanup` finds the namespace again by the container's id and
#    removes the filters; a container with a namespace of its own (--network none) stopped
#    after the crash: --cleanup says it is gone with nothing left to clean, and the journal
#    is empty.
# Everything is removed at exit, also on failure: containers, image, service, namespaces.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run_lib.sh"
. "$(dirname "$0")/container_lib.sh"
fl_require_root
fl_require_cmd curl jq nsenter setsid xmllint
ctr_require
fl_require_build

fl_netns H h
fl_netns P p
fl_veth "$H" "$P" 10.83.0.1/24 10.83.0.2/24
DEV=$FL_ID-b # the interface in P, its default route
ip -n "$P" route add default via 10.83.0.1 dev "$DEV"
fl_tmpdir dir
sock=$dir/agent.sock
state=$dir/state
R1=$FL_ID-gone
R2=$FL_ID-follow
R3=$FL_ID-run
R4=$FL_ID-crash
R5=$FL_ID-alone
R6=$FL_ID-stress

ctr_on_exit "$R1" "$R2" "$R3" "$R4" "$R5" "$R6"
ctr_image '["/bin/busybox", "sleep", "600"]'
run_ctr() { ctr_run "$1" "${2:-$P}" "$IMG"; } # run_ctr NAME [NETNS]: in P unless told
stop_ctr() { timeout 60 "${PODMAN[@]}" stop -t 0 "$1" >/dev/null 2>&1 || fl_fail "podman stop $1"; }

ctr_start_service
fl_start_agent "$H" "$sock" "$dir/agent.log" --log-level debug --container-engines "$api_sock"
api() { FL_API_TIMEOUT=30 fl_api "$@"; }
fl_events EVP "$dir/events.jsonl" 300

# Answered pings from H to the container's namespace, of 20 (replies leave P by $DEV).
pings() { ip netns exec "$H" timeout 30 ping -q -n -c 20 -i 0.02 -W 1 10.83.0.2 2>&1 | sed -n 's/.* \([0-9]*\) received.*/\1/p'; }
ours_in_p() { # filters of ours and clsact in P, one line each
	tc -n "$P" filter show dev "$DEV" ingress
	tc -n "$P" filter show dev "$DEV" egress
	tc -n "$P" qdisc show dev "$DEV" | grep clsact || true
}
# wait_event TYPE FAULT_ID [N]: the N-th (default first) event of that type for the fault, as
# JSON; fails after 30 s (a look for a container asks the engine, slow on a loaded machine).
wait_event() {
	local i ev
	for ((i = 0; i < 300; i++)); do
		ev=$(jq -c --arg t "$1" --arg f "$2" 'select(.type == $t and .fault == $f)' \
			"$dir/events.jsonl" 2>/dev/null | sed -n "${3:-1}p")
		[ -n "$ev" ] && { echo "$ev"; return 0; }
		sleep 0.1
	done
	fl_fail "no $1 event (#${3:-1}) for fault $2 within 30 s: $(tail -5 "$dir/events.jsonl")"
}
loss_body() { # loss_body NAME FOLLOW
	printf '{"name": "l", "type": "network.loss", "duration": "5m", "target": {"container": {"name": "%s", "follow_restarts": %s}, "cidrs": ["10.83.0.1"]}, "params": {"probability": "100%%"}}' "$1" "$2"
}

api POST /v1/leases '{"ttl_ms": 600000}'
fl_assert_eq "$HTTP_STATUS" 201 "lease: $API_BODY"
LEASE=$(jq -r .lease.id <<<"$API_BODY")
pristine=$(ours_in_p)
fl_assert_eq "$(pings)" 20 "pings before any fault"

# --- the container exits: the fault ends as target_gone ---
run_ctr "$R1"
ID1=$(ctr_id "$R1")
M1=$(ctr_main_pid "$R1")
api POST "/v1/leases/$LEASE/faults" "$(loss_body "$R1" false)"
fl_assert_eq "$HTTP_STATUS" 201 "loss on $R1 ($API_BODY)"
F1=$(jq -r .fault.id <<<"$API_BODY")
fl_assert_eq "$(jq -r '.fault.container_watch | "\(.container) \(.pid) \(.state) \(.follow_restarts)"' <<<"$API_BODY")" \
	"$ID1 $M1 running false" "the container watched"
fl_assert_eq "$(jq -r .fault.container_watch.netns <<<"$API_BODY")" "$(stat -L -c %i "/run/netns/$P")" "netns watched"
fl_assert_eq "$(pings)" 0 "pings through the loss on $R1"
[ "$(fl_journal_count "$state/journal")" -ge 1 ] || fl_fail "no journal record for $F1"
fl_assert_eq "$(fl_journal_records "$state/journal" | jq -r --arg f "$F1" 'select(.id == $f) | .undo.netns | "\(.container) \(.inode)"')" \
	"$ID1 $(stat -L -c %i "/run/netns/$P")" "the journal's container and netns of $F1"
t0=$(now_ms)
stop_ctr "$R1"
ev=$(wait_event fault.target_gone "$F1")
t1=$(now_ms)
grep -qF "exited (main pid $M1)" <<<"$(jq -r .reason <<<"$ev")" || fl_fail "target_gone reason: $ev"
fl_assert_eq "$(jq -r .state <<<"$ev")" reverted "state in fault.target_gone"
api GET "/v1/faults/$F1"
fl_assert_eq "$HTTP_STATUS" 404 "fault $F1 after its container exited"
fl_assert_eq "$(ours_in_p)" "$pristine" "filters or clsact left in $R1's namespace"
fl_assert_eq "$(fl_journal_count "$state/journal")" 0 "journal records after target_gone"
fl_assert_eq "$(pings)" 20 "pings after target_gone"
[ -z "$(jq -c --arg f "$F1" 'select(.type == "fault.reverted" and .fault == $f)' "$dir/events.jsonl")" ] ||
	fl_fail "a fault.reverted event as well as fault.target_gone for $F1"
fl_log "$R1 stopped: fault.target_gone $((t1 - t0)) ms after podman stop began; nothing left behind"

# --- follow_restarts: the same name comes back, the fault is applied again ---
run_ctr "$R2"
M2=$(ctr_main_pid "$R2")
api POST "/v1/leases/$LEASE/faults" "$(loss_body "$R2" true)"
fl_assert_eq "$HTTP_STATUS" 201 "loss on $R2 ($API_BODY)"
F2=$(jq -r .fault.id <<<"$API_BODY")
fl_assert_eq "$(jq -r .fault.spec.target.container.follow_restarts <<<"$API_BODY")" true "follow_restarts in the spec"
fl_assert_eq "$(pings)" 0 "pings through the loss on $R2"
stop_ctr "$R2"
ev=$(wait_event fault.target_exited "$F2")
grep -qF "exited (main pid $M2)" <<<"$(jq -r .reason <<<"$ev")" || fl_fail "target_exited reason: $ev"
api GET "/v1/faults/$F2"
fl_assert_eq "$HTTP_STATUS" 200 "fault $F2 while its container is gone"
fl_assert_eq "$(jq -r '.fault | "\(.state) \(.container_watch.state)"' <<<"$API_BODY")" "active gone" "waiting fault"
fl_assert_eq "$(ours_in_p)" "$pristine" "filters left while $R2 is gone"
fl_assert_eq "$(fl_journal_count "$state/journal")" 0 "journal records while $R2 is gone"
fl_assert_eq "$(pings)" 20 "pings while $R2 is gone"
t0=$(now_ms)
timeout 60 "${PODMAN[@]}" start "$R2" >/dev/null 2>&1 || fl_fail "podman start $R2"
M2B=$(ctr_main_pid "$R2")
ev=$(wait_event fault.reapplied "$F2")
t1=$(now_ms)
grep -qF "is back (main pid $M2B)" <<<"$(jq -r .reason <<<"$ev")" || fl_fail "reapplied reason: $ev"
fl_assert_eq "$(jq -r '.container_watch | "\(.state) \(.reapplied) \(.pid)"' <<<"$ev")" "running 1 $M2B" "watch after the reapply"
fl_assert_eq "$(pings)" 0 "pings through the loss on $R2 restarted"
fl_log "$R2 restarted: fault.reapplied $((t1 - t0)) ms after podman start began; 0 of 20 pings answered again"
# Removed and run again under the same name: another container (new id), the same fault.
stop_ctr "$R2"
wait_event fault.target_exited "$F2" 2 >/dev/null
timeout 60 "${PODMAN[@]}" rm -f -t 0 "$R2" >/dev/null 2>&1 || fl_fail "podman rm $R2"
run_ctr "$R2"
ID2C=$(ctr_id "$R2")
ev=$(wait_event fault.reapplied "$F2" 2)
fl_assert_eq "$(jq -r '.container_watch | "\(.container) \(.reapplied)"' <<<"$ev")" "$ID2C 2" "watch after the second reapply"
fl_assert_eq "$(pings)" 0 "pings through the loss on the new $R2"
api DELETE "/v1/faults/$F2"
fl_assert_eq "$HTTP_STATUS" 200 "revert $F2 ($API_BODY)"
fl_assert_eq "$(ours_in_p)" "$pristine" "filters left after the revert of $F2"
fl_assert_eq "$(pings)" 20 "pings after the revert of $F2"
fl_assert_eq "$(fl_journal_count "$state/journal")" 0 "journal records after the revert"

# --- follow_restarts is a network fault's only ---
api POST "/v1/leases/$LEASE/faults" "{\"name\": \"k\", \"type\": \"process.kill\", \"target\": {\"container\": {\"name\": \"$R2\", \"follow_restarts\": true}, \"all\": true}}"
fl_assert_eq "$HTTP_STATUS" 422 "follow_restarts on a process fault ($API_BODY)"
grep -qF "target.container.follow_restarts" <<<"$API_BODY" || fl_fail "refusal names no field: $API_BODY"
api DELETE "/v1/leases/$LEASE"

# --- faultctl run: the report says target_gone ---
run_ctr "$R3"
cat >"$dir/inventory.yaml" <<EOF
version: 1
agents:
  - {name: host-1, address: "unix://$sock"}
groups:
  - {name: web, members: [host-1]}
EOF
cat >"$dir/exp.yaml" <<EOF
version: 1
name: lose-the-container
hypothesis: The fault ends cleanly when its container goes away.
inventory: inventory.yaml
agents:
  - group: web
duration: 12s
safety: {lease_ttl: 2s}
faults:
  - name: drop-replies
    type: network.loss
    start: 0s
    duration: 11s
    target: {container: {name: $R3, follow_restarts: true}, cidrs: [10.83.0.1]}
    params: {probability: 100%}
EOF
run_in "$H" "$FAULTCTL" run "$dir/exp.yaml" --report-json "$dir/report.json" --junit "$dir/junit.xml" \
	>"$dir/run.out" 2>"$dir/run.err" &
RUN_PID=$!
fl_on_exit "kill $RUN_PID 2>/dev/null"
for ((i = 0; i < 100; i++)); do
	[ "$(pings)" = 0 ] && break
	sleep 0.1
done
fl_assert_eq "$(pings)" 0 "pings through the run's loss on $R3"
stop_ctr "$R3"
rc=0
wait "$RUN_PID" || rc=$?
fl_assert_eq "$rc" 0 "faultctl run's exit status ($(cat "$dir/run.out" "$dir/run.err"))"
run_validate_report "$dir/report.json"
run_check_junit "$dir/junit.xml"
fl_assert_eq "$(jq -r '.faults[0].state' "$dir/report.json")" target_gone "the report's fault state"
jq -r '.faults[0].revert_reason' "$dir/report.json" | grep >/dev/null -F "$R3" ||
	fl_fail "the report's revert_reason names no container: $(jq -c '.faults[0]' "$dir/report.json")"
jq -r '.faults[0].revert_reason' "$dir/report.json" | grep >/dev/null -F "did not come back" ||
	fl_fail "the report's revert_reason: $(jq -c '.faults[0]' "$dir/report.json")"
grep -qF "drop-replies lost its container: container $R3" "$dir/run.out" ||
	fl_fail "the timeline does not say the container exited: $(cat "$dir/run.out")"
grep -qF "drop-replies ended, target gone" "$dir/run.out" || fl_fail "the timeline does not say target gone: $(cat "$dir/run.out")"
[ "$(xmllint --xpath 'count(//property[@name="target_gone.drop-replies"])' "$dir/junit.xml")" = 1 ] ||
	fl_fail "the JUnit file has no target_gone.drop-replies property: $(cat "$dir/junit.xml")"
fl_assert_eq "$(ours_in_p)" "$pristine" "filters left after the run"
cat "$dir/run.out"
run_agent_idle "$sock"
fl_log "faultctl run: report state target_gone, timeline and JUnit say so"

# --- a stressor inside a container that exits: its workers go with the fault ---
api POST /v1/leases '{"ttl_ms": 600000}'
fl_assert_eq "$HTTP_STATUS" 201 "lease: $API_BODY"
LEASE=$(jq -r .lease.id <<<"$API_BODY")
run_ctr "$R6"
M6=$(ctr_main_pid "$R6")
api POST "/v1/leases/$LEASE/faults" "{\"name\": \"sc\", \"type\": \"stress.cpu\", \"duration\": \"5m\", \"target\": {\"container\": {\"name\": \"$R6\"}}, \"params\": {\"workers\": 1}}"
fl_assert_eq "$HTTP_STATUS" 201 "stress.cpu in $R6 ($API_BODY)"
F6=$(jq -r .fault.id <<<"$API_BODY")
api GET "/v1/faults/$F6"
fl_assert_eq "$(jq -r '.fault.container_watch | "\(.pid) \(.state)"' <<<"$API_BODY")" "$M6 running" "stressor's container watched"
W=$(jq -r '.fault.status.worker_states[].pid' <<<"$API_BODY" | xargs)
CG=$(jq -r '.fault.status.container.cgroups[]' <<<"$API_BODY" | xargs)
fl_assert_eq "$(wc -w <<<"$W")" 1 "one cpu worker"
[ -n "$CG" ] || fl_fail "no cgroup of $R6 in the status: $API_BODY"
stop_ctr "$R6"
ev=$(wait_event fault.target_gone "$F6")
grep -qF "exited (main pid $M6)" <<<"$(jq -r .reason <<<"$ev")" || fl_fail "stressor's target_gone reason: $ev"
for ((i = 0; i < 100; i++)); do
	api GET "/v1/faults/$F6"
	[ "$HTTP_STATUS" = 404 ] && break
	sleep 0.1
done
fl_assert_eq "$HTTP_STATUS" 404 "stress fault $F6 after its container exited"
for w in $W; do
	[ -z "$(fl_proc_state "$w")" ] || fl_fail "cpu worker $w survived its container"
done
for c in $CG; do
	[ ! -e "$c/cgroup.procs" ] || [ -z "$(cat "$c/cgroup.procs")" ] || fl_fail "processes left in $c: $(cat "$c/cgroup.procs")"
done
fl_assert_eq "$(fl_journal_count "$state/journal")" 0 "journal records after the stressor's target_gone"
fl_log "stress.cpu in $R6: target_gone, worker and cgroups empty"

# --- crash cleanup: found again by the container's id; a gone container leaves nothing ---
run_ctr "$R4"
ID4=$(ctr_id "$R4")
api POST "/v1/leases/$LEASE/faults" "$(loss_body "$R4" false)"
fl_assert_eq "$HTTP_STATUS" 201 "loss on $R4 ($API_BODY)"
F4=$(jq -r .fault.id <<<"$API_BODY")
rec=$(fl_journal_records "$state/journal" | jq -c --arg f "$F4" 'select(.id == $f) | .undo.netns')
fl_assert_eq "$(jq -r '"\(.container) \(.inode)"' <<<"$rec")" "$ID4 $(stat -L -c %i "/run/netns/$P")" "journaled container and netns"
[[ "$(jq -r .cgroup <<<"$rec")" == *"$ID4"* ]] || fl_fail "the journal names no cgroup of $R4: $rec"
run_ctr "$R5" none
ID5=$(ctr_id "$R5")
api POST "/v1/leases/$LEASE/faults" "{\"name\": \"l5\", \"type\": \"network.loss\", \"duration\": \"5m\", \"target\": {\"container\": {\"name\": \"$R5\"}, \"interface\": \"lo\", \"cidrs\": [\"127.0.0.1\"]}, \"params\": {\"probability\": \"100%\"}}"
fl_assert_eq "$HTTP_STATUS" 201 "loss in $R5's own namespace ($API_BODY)"
fl_crash_agent "$FL_AGENT_PID"
{ wait "$FL_AGENT_PID" || true; } 2>/dev/null
FL_AGENT_PID=
[ "$(ours_in_p)" != "$pristine" ] || fl_fail "no filter of the crashed agent in $R4's namespace"
timeout 60 "${PODMAN[@]}" restart -t 0 "$R4" >/dev/null 2>&1 || fl_fail "podman restart $R4"
stop_ctr "$R5"
nsenter --net="/run/netns/$H" "$FAULTLINED" --cleanup --state-dir "$state" --audit-log "$dir/audit.log" \
	>"$dir/cleanup.json" 2>"$dir/cleanup.log" || fl_fail "--cleanup: $(cat "$dir/cleanup.log")"
fl_log "--cleanup: $(jq -c '[.[].cleaned]' "$dir/cleanup.json")"
grep -qF "found again by the container's id" "$dir/cleanup.log" ||
	fl_fail "--cleanup did not find $R4's namespace by its id: $(cat "$dir/cleanup.log")"
jq -r --arg f "$F4" '.[] | select(.fault == $f) | .cleaned' "$dir/cleanup.json" | grep >/dev/null "filter(s) of ours removed" ||
	fl_fail "--cleanup of $F4: $(cat "$dir/cleanup.json")"
jq -r '.[] | select(.fault != "'"$F4"'") | .cleaned' "$dir/cleanup.json" |
	grep -qF "the container ${ID5:0:12} is gone" ||
	fl_fail "--cleanup does not say $R5 is gone: $(cat "$dir/cleanup.json")"
fl_assert_eq "$(ours_in_p)" "$pristine" "filters left in $R4's namespace after --cleanup"
fl_assert_eq "$(pings)" 20 "pings after --cleanup"
fl_assert_eq "$(fl_journal_count "$state/journal")" 0 "journal records after --cleanup"
