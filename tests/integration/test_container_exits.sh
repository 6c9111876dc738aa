#!/usr/bin/env bash
# Every container-targeted fault ends as target_gone when its container exits
# (docs/containers.md, "When the container exits"), with real podman containers (never
# podman's default network), and the pick of containers by a network target's count with a
# seed (docs/containers.md, "Several containers"):
#  - process.pause (sigstop) of a container's processes: `podman stop -t 0` (SIGKILL reaches a
#    stopped process) -> fault.target_gone naming the container, the fault gone, no journal
#    record;
#  - process.pause (freezer) of a container: the container exits while frozen (`podman kill`;
#    SIGKILL ends it though frozen) -> fault.target_gone, and nothing left frozen: the container starts
#    again and runs (its freezer THAWED);
#  - stress.disk_fill with a path inside a container: stopped -> fault.target_gone, the worker
#    gone, the file gone from the container's upper directory (the host's disk) and absent
#    when the container starts again;
#  - stress.io writing a new file inside a container: the same;
#  - network.bandwidth in a container's namespace (egress HTB): stopped -> fault.target_gone,
#    the namespace's root qdisc back as before; with follow_restarts: stopped ->
#    fault.target_exited (qdisc back), started -> fault.reapplied (HTB again), DELETE -> clean;
#  - seed: three containers of one compose service, each with a namespace of its own; a
#    network.loss with count: 1 and seed 42 resolves (POST /v1/resolve and faultctl plan
#    --resolve) to the same container twice, is applied to that one (status selection:
#    seeded, the seed), and a fault without a seed records a random one that, given as
#    target.seed, chooses the same container again;
#  - crash: the agent and its watchdog SIGKILLed during a stress.disk_fill in a container,
#    the container stopped (its filesystem stays on the host): `faultlined --cleanup` removes
#    the file from the container's upper directory, where the journal recorded it.
# Everything is removed at exit, also on failure: containers, image, service, namespaces.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/container_lib.sh"
fl_require_root
fl_require_cmd curl jq nsenter setsid
ctr_require
fl_require_build

fl_netns H h
fl_netns P p
fl_veth "$H" "$P" 10.84.0.1/24 10.84.0.2/24
DEV=$FL_ID-b # the interface in P, its default route
ip -n "$P" route add default via 10.84.0.1 dev "$DEV"
fl_tmpdir dir
sock=$dir/agent.sock
state=$dir/state
CP=$FL_ID-pause
CF=$FL_ID-freeze
CD=$FL_ID-fill
CI=$FL_ID-io
CB=$FL_ID-bw
CC=$FL_ID-crash
CS=("$FL_ID-s1" "$FL_ID-s2" "$FL_ID-s3")
PROJECT=$FL_ID-proj

ctr_on_exit "$CP" "$CF" "$CD" "$CI" "$CB" "$CC" "${CS[@]}"
# /data: where the stressors write (the image's / is not writable by the agent's credentials).
ctr_image -w /data '["/bin/busybox", "sleep", "600"]'
# run_ctr NAME [NETNS [PODMAN RUN OPTIONS...]]: in P unless told
run_ctr() { ctr_run "$1" "${2:-$P}" "${@:3}" "$IMG"; }
stop_ctr() { timeout 60 "${PODMAN[@]}" stop -t 0 "$1" >/dev/null 2>&1 || fl_fail "podman stop $1"; }

ctr_start_service
fl_start_agent "$H" "$sock" "$dir/agent.log" --log-level debug --container-engines "$api_sock"
api() { FL_API_TIMEOUT=30 fl_api "$@"; }
fl_events EVP "$dir/events.jsonl" 280

# wait_event TYPE FAULT_ID: the first event of that type for the fault, as JSON; fails after
# 30 s (a stop on a loaded machine, and the revert after it, take seconds).
wait_event() {
	local i ev
	for ((i = 0; i < 300; i++)); do
		ev=$(jq -c --arg t "$1" --arg f "$2" 'select(.type == $t and .fault == $f)' \
			"$dir/events.jsonl" 2>/dev/null | head -1)
		[ -n "$ev" ] && { echo "$ev"; return 0; }
		sleep 0.1
	done
	fl_fail "no $1 event for fault $2 within 30 s: $(tail -5 "$dir/events.jsonl")"
}
# wait_404 FAULT_ID: the fault is gone from the API (its revert done), bounded 30 s.
wait_404() {
	local i
	for ((i = 0; i < 300; i++)); do
		api GET "/v1/faults/$1"
		[ "$HTTP_STATUS" = 404 ] && return 0
		sleep 0.1
	done
	fl_fail "fault $1 still listed 30 s after its container exited: $API_BODY"
}
# apply BODY: POST the fault under the lease; its id in F.
apply() {
	api POST "/v1/leases/$LEASE/faults" "$1"
	fl_assert_eq "$HTTP_STATUS" 201 "apply $(jq -r .type <<<"$1") ($API_BODY)"
	F=$(jq -r .fault.id <<<"$API_BODY")
}
# gone_check NAME FAULT MAIN_PID: the watch saw the container, its exit ended the fault as
# target_gone (not reverted), and the fault and its journal record are gone.
gone_check() {
	local ev
	ev=$(wait_event fault.target_gone "$2")
	grep -qF "container $1 (" <<<"$(jq -r .reason <<<"$ev")" || fl_fail "target_gone reason names no $1: $ev"
	grep -qF "exited (main pid $3)" <<<"$(jq -r .reason <<<"$ev")" || fl_fail "target_gone reason: $ev"
	fl_assert_eq "$(jq -r .state <<<"$ev")" reverted "state in fault.target_gone of $2"
	wait_404 "$2"
	[ -z "$(jq -c --arg f "$2" 'select(.type == "fault.reverted" and .fault == $f)' "$dir/events.jsonl")" ] ||
		fl_fail "a fault.reverted event as well as fault.target_gone for $2"
	fl_assert_eq "$(fl_journal_records "$state/journal" | jq -r --arg f "$2" 'select(.id == $f) | .id')" "" \
		"journal record of $2 after target_gone"
}
# watched NAME MAIN_PID: the fault just applied (API_BODY) watches that container.
watched() {
	api GET "/v1/faults/$F"
	fl_assert_eq "$(jq -r '.fault.container_watch | "\(.container) \(.pid) \(.state)"' <<<"$API_BODY")" \
		"$(ctr_id "$1") $2 running" "the container $1 watched by $F"
}

api POST /v1/leases '{"ttl_ms": 600000}'
fl_assert_eq "$HTTP_STATUS" 201 "lease: $API_BODY"
LEASE=$(jq -r .lease.id <<<"$API_BODY")

# --- process.pause (sigstop): the container exits while its processes are stopped ---
run_ctr "$CP"
MP=$(ctr_main_pid "$CP")
apply "{\"name\": \"p\", \"type\": \"process.pause\", \"duration\": \"5m\", \"target\": {\"container\": {\"name\": \"$CP\"}, \"all\": true}}"
FP=$F
watched "$CP" "$MP"
fl_assert_eq "$(fl_proc_state "$MP")" T "$CP's main process stopped"
stop_ctr "$CP"
gone_check "$CP" "$FP" "$MP"
fl_log "process.pause (sigstop) of $CP: target_gone on podman stop"

# --- process.pause (freezer): the container is killed while frozen ---
run_ctr "$CF"
MF=$(ctr_main_pid "$CF")
apply "{\"name\": \"z\", \"type\": \"process.pause\", \"duration\": \"5m\", \"target\": {\"container\": {\"name\": \"$CF\"}, \"all\": true}, \"params\": {\"method\": \"freezer\"}}"
FF=$F
FREEZER=$(jq -r .fault.status.freezer <<<"$API_BODY")
watched "$CF" "$MF"
api GET "/v1/faults/$FF"
fl_assert_eq "$(jq -r .fault.status.frozen <<<"$API_BODY")" true "$CF frozen"
timeout 60 "${PODMAN[@]}" kill "$CF" >"$dir/kill.log" 2>&1 || fl_fail "podman kill $CF: $(cat "$dir/kill.log")"
gone_check "$CF" "$FF" "$MF"
# Nothing left frozen: the same container starts again and runs.
timeout 60 "${PODMAN[@]}" start "$CF" >/dev/null 2>&1 || fl_fail "podman start $CF after the freezer's target_gone"
MF2=$(ctr_main_pid "$CF")
[ -n "$MF2" ] && [ "$MF2" != 0 ] || fl_fail "$CF has no main process after its start"
case "$(fl_proc_state "$MF2")" in R | S) ;; *) fl_fail "$CF's new main process $MF2 is $(fl_proc_state "$MF2"), not running" ;; esac
[ ! -e "$FREEZER" ] || [ "$(cat "$FREEZER")" = THAWED ] || fl_fail "$FREEZER: $(cat "$FREEZER")"
stop_ctr "$CF"
fl_log "process.pause (freezer) of $CF: target_gone on podman kill, nothing left frozen"

# --- stress.disk_fill inside a container: the file goes from the container's filesystem ---
run_ctr "$CD"
MD=$(ctr_main_pid "$CD")
UPPER=$("${PODMAN[@]}" inspect -f '{{.GraphDriver.Data.UpperDir}}' "$CD")
[ -d "$UPPER" ] || fl_fail "no upper directory for $CD: '$UPPER'"
apply "{\"name\": \"d\", \"type\": \"stress.disk_fill\", \"duration\": \"5m\", \"target\": {\"container\": {\"name\": \"$CD\"}}, \"params\": {\"path\": \"/data/fill-$FL_ID\", \"size\": \"8MiB\"}}"
FD=$F
watched "$CD" "$MD"
api GET "/v1/faults/$FD"
WD=$(jq -r '.fault.status.worker_states[].pid' <<<"$API_BODY" | xargs)
for ((i = 0; i < 100; i++)); do
	[ -e "$UPPER/data/fill-$FL_ID" ] && break
	sleep 0.1
done
[ -e "$UPPER/data/fill-$FL_ID" ] || fl_fail "the file is not in $CD's upper directory $UPPER"
stop_ctr "$CD"
gone_check "$CD" "$FD" "$MD"
[ ! -e "$UPPER/data/fill-$FL_ID" ] || fl_fail "the file is left in $CD's upper directory (the host's disk)"
for w in $WD; do
	[ -z "$(fl_proc_state "$w")" ] || fl_fail "disk_fill worker $w survived its container"
done
timeout 60 "${PODMAN[@]}" start "$CD" >/dev/null 2>&1 || fl_fail "podman start $CD"
"${PODMAN[@]}" exec "$CD" /bin/busybox ls /data/fill-"$FL_ID" >/dev/null 2>&1 && fl_fail "the file is back in $CD after its start"
stop_ctr "$CD"
fl_log "stress.disk_fill in $CD: target_gone, file and worker gone"

# --- stress.io writing a new file inside a container ---
run_ctr "$CI"
MI=$(ctr_main_pid "$CI")
UPPER=$("${PODMAN[@]}" inspect -f '{{.GraphDriver.Data.UpperDir}}' "$CI")
apply "{\"name\": \"i\", \"type\": \"stress.io\", \"duration\": \"5m\", \"target\": {\"container\": {\"name\": \"$CI\"}}, \"params\": {\"path\": \"/data/io-$FL_ID\", \"rate\": \"1MiB/s\"}}"
FI=$F
watched "$CI" "$MI"
[ -e "$UPPER/data/io-$FL_ID" ] || fl_fail "the io file is not in $CI's upper directory $UPPER"
stop_ctr "$CI"
gone_check "$CI" "$FI" "$MI"
[ ! -e "$UPPER/data/io-$FL_ID" ] || fl_fail "the io file is left in $CI's upper directory"
fl_log "stress.io in $CI: target_gone, file gone"

# --- network.bandwidth in a container's namespace: its root qdisc put back ---
run_ctr "$CB"
MB=$(ctr_main_pid "$CB")
before=$(tc -n "$P" qdisc show dev "$DEV" root)
apply "{\"name\": \"b\", \"type\": \"network.bandwidth\", \"duration\": \"5m\", \"target\": {\"container\": {\"name\": \"$CB\"}, \"cidrs\": [\"10.84.0.1\"]}, \"params\": {\"rate\": \"10mbit\"}}"
FB=$F
watched "$CB" "$MB"
tc -n "$P" qdisc show dev "$DEV" root | grep >/dev/null htb || fl_fail "no HTB root in $CB's namespace: $(tc -n "$P" qdisc show dev "$DEV")"
stop_ctr "$CB"
gone_check "$CB" "$FB" "$MB"
fl_assert_eq "$(tc -n "$P" qdisc show dev "$DEV" root)" "$before" "root qdisc of $CB's namespace after target_gone"
fl_log "network.bandwidth in $CB: target_gone, root qdisc put back"
# With follow_restarts: the limit goes with the container and comes back with it.
timeout 60 "${PODMAN[@]}" start "$CB" >/dev/null 2>&1 || fl_fail "podman start $CB"
apply "{\"name\": \"bf\", \"type\": \"network.bandwidth\", \"duration\": \"5m\", \"target\": {\"container\": {\"name\": \"$CB\", \"follow_restarts\": true}, \"cidrs\": [\"10.84.0.1\"]}, \"params\": {\"rate\": \"10mbit\"}}"
FB=$F
tc -n "$P" qdisc show dev "$DEV" root | grep >/dev/null htb || fl_fail "no HTB root in $CB's namespace (follow)"
stop_ctr "$CB"
wait_event fault.target_exited "$FB" >/dev/null
fl_assert_eq "$(tc -n "$P" qdisc show dev "$DEV" root)" "$before" "root qdisc while $CB is gone"
timeout 60 "${PODMAN[@]}" start "$CB" >/dev/null 2>&1 || fl_fail "podman start $CB again"
MB2=$(ctr_main_pid "$CB")
ev=$(wait_event fault.reapplied "$FB")
grep -qF "is back (main pid $MB2)" <<<"$(jq -r .reason <<<"$ev")" || fl_fail "bandwidth reapplied reason: $ev"
tc -n "$P" qdisc show dev "$DEV" root | grep >/dev/null htb || fl_fail "no HTB root in $CB's namespace after the reapply"
api DELETE "/v1/faults/$FB"
fl_assert_eq "$HTTP_STATUS" 200 "revert $FB ($API_BODY)"
fl_assert_eq "$(tc -n "$P" qdisc show dev "$DEV" root)" "$before" "root qdisc after the revert of $FB"
stop_ctr "$CB"
fl_log "network.bandwidth with follow_restarts: reverted on stop, applied again on start, reverted clean"

# --- seed: which containers of a compose service count chooses ---
for c in "${CS[@]}"; do
	run_ctr "$c" none --label "com.docker.compose.project=$PROJECT" --label "com.docker.compose.service=web"
done
loss_seed() { # loss_seed SEED|"": one of the service's three containers, on lo
	local seed=${1:+, \"seed\": $1}
	printf '{"name": "s", "type": "network.loss", "duration": "5m", "target": {"container": {"compose": {"project": "%s", "service": "web"}}, "count": 1%s, "interface": "lo", "cidrs": ["127.0.0.1"]}, "params": {"probability": "100%%"}}' "$PROJECT" "$seed"
}
api POST /v1/resolve "$(loss_seed 42)"
fl_assert_eq "$HTTP_STATUS" 200 "resolve with seed 42 ($API_BODY)"
sel=$(jq -c '.faults[0].target.selection' <<<"$API_BODY")
fl_assert_eq "$(jq -r '"\(.matched) \(.selected) \(.seed) \(.seeded)"' <<<"$sel")" "3 1 42 true" "resolve's selection"
jq -r .choice <<<"$sel" | grep -qF "chosen with the given seed" || fl_fail "resolve's choice: $sel"
PICK=$(jq -r '.faults[0].target.netns.desc' <<<"$API_BODY")
for ((k = 0; k < 3; k++)); do
	api POST /v1/resolve "$(loss_seed 42)"
	fl_assert_eq "$(jq -r '.faults[0].target.netns.desc' <<<"$API_BODY")" "$PICK" "resolve #$((k + 2)) with seed 42"
done
apply "$(loss_seed 42)"
fl_assert_eq "$(jq -r '.fault.status.netns.desc' <<<"$API_BODY")" "$PICK" "the container seed 42 chose at apply"
fl_assert_eq "$(jq -r '.fault.status.selection | "\(.seed) \(.seeded)"' <<<"$API_BODY")" "42 true" "status selection"
api DELETE "/v1/faults/$F"
fl_assert_eq "$HTTP_STATUS" 200 "revert ($API_BODY)"
# Without a seed: a random one, recorded; given back, it chooses the same container.
apply "$(loss_seed "")"
S=$(jq -r '.fault.status.selection.seed' <<<"$API_BODY")
fl_assert_eq "$(jq -r '.fault.status.selection.seeded' <<<"$API_BODY")" false "a seed not given"
P1=$(jq -r '.fault.status.netns.desc' <<<"$API_BODY")
api DELETE "/v1/faults/$F"
apply "$(loss_seed "$S")"
fl_assert_eq "$(jq -r '.fault.status.netns.desc' <<<"$API_BODY")" "$P1" "the container chosen again with the recorded seed $S"
api DELETE "/v1/faults/$F"
# faultctl plan --resolve says the pick and the seed.
cat >"$dir/inventory.yaml" <<EOF
version: 1
agents:
  - {name: host-1, address: "unix://$sock"}
groups:
  - {name: web, members: [host-1]}
EOF
cat >"$dir/exp.yaml" <<EOF
version: 1
name: seeded
hypothesis: The same container is chosen each time.
inventory: inventory.yaml
agents:
  - group: web
duration: 1m
faults:
  - name: one-of-three
    type: network.loss
    duration: 30s
    target: {container: {compose: {project: $PROJECT, service: web}}, count: 1, seed: 42, interface: lo, cidrs: [127.0.0.1]}
    params: {probability: 100%}
EOF
"$FAULTCTL" plan --resolve "$dir/exp.yaml" >"$dir/plan.out" 2>&1 ||
	fl_fail "faultctl plan --resolve: $(cat "$dir/plan.out")"
grep -qF "in $PICK (netns" "$dir/plan.out" || fl_fail "plan --resolve does not name $PICK: $(cat "$dir/plan.out")"
grep -qF "1 of 3 matching containers, seed 42 (1 of 3, chosen with the given seed)" "$dir/plan.out" ||
	fl_fail "plan --resolve does not say the seeded choice: $(cat "$dir/plan.out")"
fl_log "seed 42 chose $PICK in 4 resolves, the apply and plan --resolve; random seed $S chose $P1 again"
fl_assert_eq "$(fl_journal_count "$state/journal")" 0 "journal records before the crash"

# --- crash: a disk_fill's container stopped after the agent died keeps its filesystem on the
# host; --cleanup removes the file there (the journal says where), by identity ---
run_ctr "$CC"
UPPER=$("${PODMAN[@]}" inspect -f '{{.GraphDriver.Data.UpperDir}}' "$CC")
apply "{\"name\": \"c\", \"type\": \"stress.disk_fill\", \"duration\": \"5m\", \"target\": {\"container\": {\"name\": \"$CC\"}}, \"params\": {\"path\": \"/data/crash-$FL_ID\", \"size\": \"4MiB\"}}"
FC=$F
rec=$(fl_journal_records "$state/journal" | jq -c --arg f "$FC" 'select(.id == $f) | .undo.file.upper')
fl_assert_eq "$(jq -r '"\(.dir) \(.path)"' <<<"$rec")" "$UPPER data" "the journal's host location of the file"
fl_crash_agent "$FL_AGENT_PID"
{ wait "$FL_AGENT_PID" || true; } 2>/dev/null
FL_AGENT_PID=
stop_ctr "$CC"
[ -e "$UPPER/data/crash-$FL_ID" ] || fl_fail "the file is not in the stopped $CC's upper directory"
nsenter --net="/run/netns/$H" "$FAULTLINED" --cleanup --state-dir "$state" --audit-log "$dir/audit.log" \
	>"$dir/cleanup.json" 2>"$dir/cleanup.log" || fl_fail "--cleanup: $(cat "$dir/cleanup.log")"
jq -r --arg f "$FC" '.[] | select(.fault == $f) | .cleaned' "$dir/cleanup.json" |
	grep -qF "is gone; removed $UPPER/data/crash-$FL_ID" ||
	fl_fail "--cleanup of $FC: $(cat "$dir/cleanup.json")"
[ ! -e "$UPPER/data/crash-$FL_ID" ] || fl_fail "the file is left in the stopped $CC's upper directory after --cleanup"
fl_assert_eq "$(fl_journal_count "$state/journal")" 0 "journal records after --cleanup"
fl_log "crash, then $CC stopped: --cleanup removed the file from its upper directory"
