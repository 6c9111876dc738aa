#!/usr/bin/env bash
# Container targets on the unified (v2) hierarchy, without a runtime: "containers" made of
# cgroups this test creates and names as runtimes do (podman's libpod-ID.scope with a
# subgroup, as under systemd; docker's docker-ID.scope), holding copies of sleep the test
# starts (setsid, a name made from $FL_ID). On this hybrid host their v1 lines name no
# container, so this is the path a v2-only host takes (docs/containers.md):
#  - GET /v1/containers lists both, runtime from the cgroup name, the container's own cgroup
#    (not the subgroup), no name (no engine answers);
#  - resolution by id prefix (a 12-digit prefix two share is ambiguous unless the runtime
#    tells them apart), refused for another runtime, and a name with no engine: 503;
#  - process.kill by container id + name hits only that container's process;
#  - process.pause method freezer on a container writes its cgroup.freeze: the kernel
#    reports it frozen (cgroup.events), the outside process runs on, the revert thaws it.
. "$(dirname "$0")/lib.sh"
fl_require_root
fl_require_cmd curl jq socat nsenter setsid
fl_require_build
CG_ROOT=$(findmnt -n -t cgroup2 -o TARGET | head -n1)
[ -n "$CG_ROOT" ] && [ -f "$CG_ROOT/cgroup.procs" ] || fl_skip "no cgroup v2 hierarchy mounted"

fl_netns ns ccg
fl_tmpdir dir
sock=$dir/agent.sock
state=$dir/state
VNAME=${FL_ID}v
ID1=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
# ID2 shares ID1's first 12 digits (and differs in the 13th): a 12-digit prefix is ambiguous.
ID2=${ID1:0:12}$(printf '%x' $(((16#${ID1:12:1} + 1) % 16)))$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n' | cut -c1-51)
top=$CG_ROOT/$FL_ID-ctr
cg1=$top/libpod-$ID1.scope
cg2=$top/docker-$ID2.scope

teardown_cgroups() {
	local d p
	for d in "$cg1/container" "$cg1" "$cg2"; do
		[ -d "$d" ] || continue
		echo 0 >"$d/cgroup.freeze"
		for p in $(cat "$d/cgroup.procs"); do kill -KILL "$p"; done
	done
	sleep 0.2
	rmdir "$cg1/container" "$cg1" "$cg2" "$top"
}
fl_on_exit teardown_cgroups
teardown_agent() {
	if [ -n "${FL_AGENT_PID:-}" ]; then
		kill -KILL "$FL_AGENT_PID" 2>/dev/null
		wait "$FL_AGENT_PID" 2>/dev/null
	fi
	"$FAULTLINED" --cleanup --state-dir "$state" --audit-log "$dir/audit.log" >/dev/null 2>&1
}
fl_on_exit teardown_agent

cp "$(command -v sleep)" "$dir/$VNAME"
start() { # start VAR [CGROUP]: a copy of sleep named $VNAME in a session of its own
	local _v=$1 i
	setsid "$dir/$VNAME" 600 &
	printf -v "$_v" '%s' "$!"
	[ -z "${2:-}" ] || echo "$!" >"$2/cgroup.procs"
	for ((i = 0; i < 200; i++)); do
		[ "$(cat /proc/$!/comm 2>/dev/null)" = "$VNAME" ] && return 0
		sleep 0.01
	done
	fl_fail "pid $! did not become $VNAME"
}
mkdir -p "$cg1/container" "$cg2"
start P1 "$cg1/container"
start P1B "$cg1/container"
start P2 "$cg2"
start P0

fl_start_agent "$ns" "$sock" "$dir/agent.log" --log-level debug \
	--container-engines "$dir/none.sock"
api() { FL_API_TIMEOUT=30 fl_api "$@"; }

api GET /v1/containers
fl_assert_eq "$HTTP_STATUS" 200 "containers"
c1=$(jq -c --arg id "$ID1" '.containers[] | select(.id == $id)' <<<"$API_BODY")
c2=$(jq -c --arg id "$ID2" '.containers[] | select(.id == $id)' <<<"$API_BODY")
[ -n "$c1" ] && [ -n "$c2" ] || fl_fail "both containers listed: $API_BODY"
fl_assert_eq "$(jq -r '"\(.runtime) \(.processes) \(.name) \(.cgroups.unified) \(.cgroups.freezer)"' <<<"$c1")" \
	"podman 2 null /$FL_ID-ctr/libpod-$ID1.scope null" "the podman-named container"
fl_assert_eq "$(jq -r '"\(.runtime) \(.processes) \(.main_pid)"' <<<"$c2")" "docker 1 $P2" \
	"the docker-named container"
fl_assert_eq "$(jq -r '.main_pid' <<<"$c1")" "$P1" "main pid: the oldest process"

resolve() { # resolve TARGET_JSON
	api POST /v1/resolve "{\"name\": \"r\", \"type\": \"process.kill\", \"target\": $1}"
}
resolve "{\"name\": \"$VNAME\", \"container\": {\"id\": \"${ID1:0:12}\", \"runtime\": \"podman\"}, \"all\": true}"
fl_assert_eq "$(jq -r '[.faults[0].target.processes[].pid] | sort | join(" ")' <<<"$API_BODY")" \
	"$(printf '%s\n' "$P1" "$P1B" | sort | xargs)" "resolved by id prefix ($API_BODY)"
resolve "{\"container\": {\"id\": \"${ID1:0:12}\"}, \"all\": true}"
fl_assert_eq "$(jq -r .faults[0].refused.status <<<"$API_BODY")" 422 "an ambiguous prefix ($API_BODY)"
grep -qF "id prefix ${ID1:0:12} is ambiguous: 2 containers match" <<<"$API_BODY" ||
	fl_fail "ambiguity message: $API_BODY"
grep -qF "give a longer prefix" <<<"$API_BODY" || fl_fail "ambiguity advice: $API_BODY"
resolve "{\"container\": {\"id\": \"${ID1:0:13}\", \"runtime\": \"docker\"}, \"all\": true}"
fl_assert_eq "$(jq -r .faults[0].refused.status <<<"$API_BODY")" 422 "another runtime ($API_BODY)"
resolve "{\"container\": {\"name\": \"web\"}, \"all\": true}"
fl_assert_eq "$(jq -r .faults[0].refused.status <<<"$API_BODY")" 503 "a name with no engine ($API_BODY)"
grep -qF "no Docker Engine API answers" <<<"$API_BODY" || fl_fail "no-engine message: $API_BODY"

api POST /v1/leases '{"ttl_ms": 900000}'
fl_assert_eq "$HTTP_STATUS" 201 "create lease"
LEASE=$(jq -r .lease.id <<<"$API_BODY")

api POST "/v1/leases/$LEASE/faults" "{\"name\": \"k\", \"type\": \"process.kill\", \"target\": {\"name\": \"$VNAME\", \"container\": {\"id\": \"$ID2\"}, \"all\": true}}"
fl_assert_eq "$HTTP_STATUS" 201 "kill in the docker-named container ($API_BODY)"
for ((i = 0; i < 100; i++)); do
	case "$(fl_proc_state "$P2")" in "" | Z) break ;; esac
	sleep 0.05
done
case "$(fl_proc_state "$P2")" in "" | Z) ;; *) fl_fail "pid $P2 survived the kill" ;; esac
for p in "$P1" "$P1B" "$P0"; do
	[ -n "$(fl_proc_state "$p")" ] || fl_fail "pid $p was killed"
done

frozen() { sed -n 's/^frozen //p' "$cg1/cgroup.events"; }
api POST "/v1/leases/$LEASE/faults" "{\"name\": \"fz\", \"type\": \"process.pause\", \"duration\": \"5m\", \"target\": {\"container\": {\"id\": \"${ID1:0:20}\"}, \"all\": true}, \"params\": {\"method\": \"freezer\"}}"
fl_assert_eq "$HTTP_STATUS" 201 "freeze the podman-named container ($API_BODY)"
FZ=$(jq -r .fault.id <<<"$API_BODY")
fl_assert_eq "$(cat "$cg1/cgroup.freeze")" 1 "cgroup.freeze of the container's own cgroup"
for ((i = 0; i < 100; i++)); do
	[ "$(frozen)" = 1 ] && break
	sleep 0.05
done
fl_assert_eq "$(frozen)" 1 "the kernel reports the container frozen"
api GET "/v1/faults/$FZ"
fl_assert_eq "$(jq -r '"\(.fault.status.freezer) \(.fault.status.frozen) \(.fault.status.container)"' <<<"$API_BODY")" \
	"$cg1/cgroup.freeze true $ID1" "status"
fl_assert_eq "$(fl_proc_state "$P0")" S "outside pid $P0 not frozen"
api DELETE "/v1/faults/$FZ"
fl_assert_eq "$HTTP_STATUS" 200 "revert the freezer ($API_BODY)"
fl_assert_eq "$(cat "$cg1/cgroup.freeze")" 0 "thawed"
for ((i = 0; i < 100; i++)); do
	[ "$(frozen)" = 0 ] && break
	sleep 0.05
done
fl_assert_eq "$(frozen)" 0 "the kernel reports the container thawed"
exit 0
