#!/usr/bin/env bash
# Process faults and stressors on real podman containers, resolved by the agent
# (docs/containers.md):
#  - an image built here FROM scratch with busybox-static; two containers of one compose
#    service on a network namespace this test creates (never podman's default network), and
#    `podman system service` on a socket in the test's directory as the Docker Engine API;
#  - GET /v1/info lists the engine sockets as probed; GET /v1/containers and faultctl targets
#    list both containers with name, compose labels, runtime, main pid (podman's), the netns
#    inode (the test's namespace) and their cgroups;
#  - POST /v1/resolve by id prefix, by name and by compose labels picks exactly the process
#    of that container (a copy of busybox named after $FL_ID), and the compose service both;
#  - faultctl plan --resolve shows the container target resolved (container, its process);
#  - the policy's max_processes_per_fault counts a container's processes, and a container
#    whose only process the policy protects is neither killed nor frozen;
#  - refused: an unknown id prefix or name, a runtime that does not run it, a name with a
#    runtime that serves no Engine API, a malformed id, and a freezer on two containers;
#  - process.kill by container + name kills only that container's process: the other
#    container's and a same-named process this test started outside stay;
#  - a SIGSTOP pause by compose service and name stops only that process, and resumes it;
#  - process.pause method freezer on a container freezes its cgroup (FROZEN, every process of
#    it stopped in the refrigerator), the outside process runs on, and the revert thaws it.
#  - stress.cpu and stress.memory inside a third container run with --cpus 0.2 --memory 64m:
#    each worker's /proc/PID/cgroup matches the container's main process, the CPU quota
#    throttles them, the memory worker is OOM-killed (status: oom_killed), and the revert
#    leaves nothing of theirs in the container's cgroups; a stress.disk_fill inside it is
#    refused through symlinks planted in it to host paths (host untouched), and a plain path
#    is filled inside it and removed by the revert.
#  - network.partition by container name on a fifth container in a network namespace of its
#    own: pings from the agent's namespace all lost, the filter in the container's namespace
#    only, the revert restores traffic and removes clsact there;
#  - SIGKILL of the agent (and its watchdog) while a container is frozen: --cleanup thaws it
#    from the journal.
# Everything is removed at exit, also on failure: containers, image, service, namespace.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/container_lib.sh"
fl_require_root
fl_require_cmd curl jq socat nsenter setsid
ctr_require
fl_require_build

fl_netns ns ctr
fl_tmpdir dir
sock=$dir/agent.sock
state=$dir/state
A=$FL_ID-a
B=$FL_ID-b
C=$FL_ID-c
D=$FL_ID-d # limited: stressors run inside it
E=$FL_ID-e # a network namespace of its own
PROJECT=${FL_ID}shop
PNAME=${FL_ID}w
GNAME=${FL_ID}g # the policy protects it

ctr_on_exit "$A" "$B" "$C" "$D" "$E"

# The image: busybox, and busybox again under the name the test selects by. The container
# runs that copy (argv[0] 'sleep' picks the applet; the kernel names it after the file).
mkdir "$dir/img"
printf '(exec -a sleep /bin/%s 600) &\nexec /bin/busybox sleep 600\n' "$PNAME" >"$dir/img/run.sh"
ctr_image '["/bin/busybox", "sh", "/run.sh"]' "$PNAME" "$GNAME"
run_ctr() { ctr_run "$1" "$ns" "${@:2}"; } # run_ctr NAME [ARGS...]: in the agent's namespace
run_ctr "$A" --label "com.docker.compose.project=$PROJECT" \
	--label "com.docker.compose.service=web" "$IMG"
run_ctr "$B" --label "com.docker.compose.project=$PROJECT" \
	--label "com.docker.compose.service=web" "$IMG"
# C runs only a process the policy protects.
run_ctr "$C" "$IMG" /bin/busybox sh -c "exec -a sleep /bin/$GNAME 600"
# D has a CPU quota of 0.2 CPU and a 64 MiB memory limit, for the stressors.
run_ctr "$D" --cpus 0.2 --memory 64m --memory-swap 64m "$IMG" /bin/busybox sleep 600
# E has a network namespace of its own (P), joined to the agent's by a veth ($FL_ID-h1 in the
# agent's, 10.81.1.1; $FL_ID-c1 in P, 10.81.1.2): the network fault by container target acts
# in P.
ctr_netns P "$ns" 1 10.81
ctr_run "$E" "$P" "$IMG" /bin/busybox sleep 600
ID_A=$(ctr_id "$A")
ID_B=$(ctr_id "$B")
MAIN_A=$(ctr_main_pid "$A")
MAIN_B=$(ctr_main_pid "$B")
NETNS_INODE=$(stat -L -c %i "/run/netns/$ns")

PA=$(ctr_inner_pid "$MAIN_A" "$PNAME")
PB=$(ctr_inner_pid "$MAIN_B" "$PNAME")

# The same name outside any container, in a session of its own.
cp /bin/busybox "$dir/$PNAME"
setsid bash -c "exec -a sleep '$dir/$PNAME' 600" &
PO=$!
for ((i = 0; i < 100; i++)); do
	[ "$(cat /proc/$PO/comm 2>/dev/null)" = "$PNAME" ] && break
	sleep 0.05
done
fl_assert_eq "$(cat /proc/$PO/comm)" "$PNAME" "outside process name"

# The Docker Engine API, served by podman on the test's own socket.
ctr_start_service

# A cap of 3 processes a fault and a protected name: they hold inside containers too.
printf 'max_processes_per_fault: 3\nprotected_processes: [%s]\n' "$GNAME" >"$dir/policy.yaml"
fl_start_agent "$ns" "$sock" "$dir/agent.log" --log-level debug --policy "$dir/policy.yaml" \
	--container-engines "$api_sock,$dir/missing.sock"
api() { FL_API_TIMEOUT=30 fl_api "$@"; }

# Info: the engines as probed at start.
api GET /v1/info
fl_assert_eq "$HTTP_STATUS" 200 "info"
fl_assert_eq "$(jq -r --arg s "$api_sock" '.container_engines[] | select(.socket == $s) | "\(.up) \(.kind)"' <<<"$API_BODY")" \
	"true podman" "engine on $api_sock"
fl_assert_eq "$(jq -r --arg s "$dir/missing.sock" '.container_engines[] | select(.socket == $s) | .up' <<<"$API_BODY")" \
	false "missing engine socket"

# The list: both containers, as podman and the kernel describe them.
api GET /v1/containers
fl_assert_eq "$HTTP_STATUS" 200 "containers"
check_listed() { # check_listed ID NAME MAIN
	local c
	c=$(jq -c --arg id "$1" '.containers[] | select(.id == $id)' <<<"$API_BODY")
	[ -n "$c" ] || fl_fail "container $1 not listed: $API_BODY"
	fl_assert_eq "$(jq -r .name <<<"$c")" "$2" "name of $1"
	fl_assert_eq "$(jq -r .runtime <<<"$c")" podman "runtime of $1"
	fl_assert_eq "$(jq -r .main_pid <<<"$c")" "$3" "main pid of $1"
	fl_assert_eq "$(jq -r .netns_inode <<<"$c")" "$NETNS_INODE" "netns of $1"
	fl_assert_eq "$(jq -r .processes <<<"$c")" 2 "processes of $1"
	fl_assert_eq "$(jq -r '"\(.compose.project)/\(.compose.service)"' <<<"$c")" "$PROJECT/web" \
		"compose labels of $1"
	fl_assert_eq "$(jq -r .cgroups.freezer <<<"$c")" "/libpod_parent/libpod-$1" "freezer of $1"
}
check_listed "$ID_A" "$A" "$MAIN_A"
check_listed "$ID_B" "$B" "$MAIN_B"
"$FAULTCTL" targets --agent "unix://$sock" --json >"$dir/targets.json" ||
	fl_fail "faultctl targets --json failed"
fl_assert_eq "$(jq -r --arg id "$ID_A" '.containers[] | select(.id == $id) | .name' "$dir/targets.json")" \
	"$A" "faultctl targets --json"
"$FAULTCTL" --agent "unix://$sock" targets >"$dir/targets.txt" || fl_fail "faultctl targets failed"
grep -q "^${ID_B:0:12}  $B ($PROJECT/web)  *podman  *$MAIN_B  *$NETNS_INODE " "$dir/targets.txt" ||
	fl_fail "faultctl targets does not show $B: $(cat "$dir/targets.txt")"

# Resolution: exactly the process of the container named, whichever way it is named.
resolve() { # resolve CONTAINER_JSON [TYPE_EXTRA]
	api POST /v1/resolve "{\"name\": \"r\", \"type\": \"process.kill\", \"target\": {\"name\": \"$PNAME\", \"container\": $1, \"all\": true}}"
}
# The answer is {"faults": [{"would_apply", "target": {...}, "refused": {...}}]}.
resolved_pids() { jq -r '[.faults[0].target.processes[].pid] | sort | join(" ")' <<<"$API_BODY"; }
resolve "{\"id\": \"${ID_A:0:12}\"}"
fl_assert_eq "$HTTP_STATUS" 200 "resolve by id prefix ($API_BODY)"
fl_assert_eq "$(resolved_pids)" "$PA" "resolved by id prefix"
fl_assert_eq "$(jq -r '.faults[0].target.containers[0].id' <<<"$API_BODY")" "$ID_A" "container of the id prefix"
resolve "{\"id\": \"$ID_B\", \"runtime\": \"podman\"}"
fl_assert_eq "$(resolved_pids)" "$PB" "resolved by full id"
resolve "{\"name\": \"$B\"}"
fl_assert_eq "$HTTP_STATUS" 200 "resolve by name ($API_BODY)"
fl_assert_eq "$(resolved_pids)" "$PB" "resolved by name"
resolve "{\"compose\": {\"project\": \"$PROJECT\", \"service\": \"web\"}}"
fl_assert_eq "$HTTP_STATUS" 200 "resolve by compose labels ($API_BODY)"
fl_assert_eq "$(resolved_pids)" "$(printf '%s\n' "$PA" "$PB" | sort -n | xargs)" \
	"resolved by compose labels (a service of two containers)"
fl_assert_eq "$(jq -r '.faults[0].target.containers | length' <<<"$API_BODY")" 2 "containers of the service"

# Refusals, each naming what is wrong.
expect_refused() { # expect_refused CONTAINER_JSON STATUS TEXT
	resolve "$1"
	fl_assert_eq "$(jq -r .faults[0].refused.status <<<"$API_BODY")" "$2" "status for $1 ($API_BODY)"
	grep -qF -- "$3" <<<"$API_BODY" || fl_fail "answer for $1 lacks '$3': $API_BODY"
}
expect_refused '{"id": "000000000000"}' 422 "no running container on this host has id prefix 000000000000"
expect_refused "{\"name\": \"$FL_ID-nosuch\"}" 422 "no running container on this host has container name '$FL_ID-nosuch'"
expect_refused "{\"name\": \"$A\", \"runtime\": \"docker\"}" 422 "no running container on this host has docker container name"
expect_refused "{\"name\": \"$A\", \"runtime\": \"containerd\"}" 503 "which containerd does not serve; give the container's id"
expect_refused '{"id": "ABCDEF012345"}' 422 "a container id is lower-case hex"
# The policy's cap counts container processes (4 in the service), and its protection holds.
api POST /v1/resolve "{\"name\": \"c\", \"type\": \"process.kill\", \"target\": {\"container\": {\"compose\": {\"project\": \"$PROJECT\", \"service\": \"web\"}}, \"all\": true}}"
fl_assert_eq "$(jq -r .faults[0].refused.status <<<"$API_BODY")" 422 "the cap over a service ($API_BODY)"
grep -qF "would hit 4 of 4 matching processes, more than the policy's max_processes_per_fault (3)" <<<"$API_BODY" ||
	fl_fail "cap message: $API_BODY"
api POST /v1/resolve "{\"name\": \"c\", \"type\": \"process.kill\", \"target\": {\"container\": {\"name\": \"$C\"}, \"all\": true}}"
fl_assert_eq "$(jq -r .faults[0].refused.status <<<"$API_BODY")" 422 "a container of protected processes ($API_BODY)"
grep -qF "all protected, e.g. pid" <<<"$API_BODY" || fl_fail "protection message: $API_BODY"
api POST /v1/resolve "{\"name\": \"z\", \"type\": \"process.pause\", \"duration\": \"10s\", \"target\": {\"container\": {\"name\": \"$C\"}, \"all\": true}, \"params\": {\"method\": \"freezer\"}}"
fl_assert_eq "$(jq -r .faults[0].refused.status <<<"$API_BODY")" 403 "a freezer over a protected process ($API_BODY)"
grep -qF "($GNAME), which is protected (protected by the policy): not frozen" <<<"$API_BODY" ||
	fl_fail "freezer protection message: $API_BODY"
api POST /v1/resolve "{\"name\": \"z\", \"type\": \"process.pause\", \"duration\": \"10s\", \"target\": {\"container\": {\"compose\": {\"project\": \"$PROJECT\", \"service\": \"web\"}}, \"all\": true}, \"params\": {\"method\": \"freezer\"}}"
fl_assert_eq "$(jq -r .faults[0].refused.status <<<"$API_BODY")" 422 "freezer on a service of two containers ($API_BODY)"
grep -qF "method freezer freezes one container, and 2 match" <<<"$API_BODY" ||
	fl_fail "freezer ambiguity message: $API_BODY"

# faultctl plan --resolve shows the container and the one process it would hit.
cat >"$dir/exp.yaml" <<EOX
version: 1
name: ctr-plan
hypothesis: only the process of the container named is hit
agents:
  - name: local
    address: unix://$sock
duration: 1m
faults:
  - name: k
    type: process.kill
    target: {name: $PNAME, container: {name: $A}, all: true}
EOX
"$FAULTCTL" plan --resolve "$dir/exp.yaml" >"$dir/plan.txt" 2>&1 ||
	fl_fail "faultctl plan --resolve: $(cat "$dir/plan.txt")"
grep -q "container ${ID_A:0:12} $A (podman), main pid $MAIN_A, netns $NETNS_INODE" "$dir/plan.txt" ||
	fl_fail "plan --resolve does not show the container: $(cat "$dir/plan.txt")"
grep -q "pid $PA " "$dir/plan.txt" || fl_fail "plan --resolve does not show pid $PA: $(cat "$dir/plan.txt")"
! grep -q "pid $PB \|pid $PO " "$dir/plan.txt" || fl_fail "plan --resolve shows more: $(cat "$dir/plan.txt")"

api POST /v1/leases '{"ttl_ms": 900000}'
fl_assert_eq "$HTTP_STATUS" 201 "create lease"
LEASE=$(jq -r .lease.id <<<"$API_BODY")

# Kill by container + name: A's process only.
api POST "/v1/leases/$LEASE/faults" "{\"name\": \"k\", \"type\": \"process.kill\", \"target\": {\"name\": \"$PNAME\", \"container\": {\"name\": \"$A\"}, \"all\": true}}"
fl_assert_eq "$HTTP_STATUS" 201 "kill in container $A ($API_BODY)"
fl_wait_gone "$PA" 5 "pid $PA in $A survived the kill"
[ -n "$(fl_proc_state "$PB")" ] || fl_fail "pid $PB in $B was killed"
[ -n "$(fl_proc_state "$PO")" ] || fl_fail "outside pid $PO was killed"
[ -n "$(fl_proc_state "$MAIN_A")" ] || fl_fail "the main process of $A was killed"

# A SIGSTOP pause by compose service + name: the service's remaining process only.
api POST "/v1/leases/$LEASE/faults" "{\"name\": \"st\", \"type\": \"process.pause\", \"duration\": \"5m\", \"target\": {\"name\": \"$PNAME\", \"container\": {\"compose\": {\"project\": \"$PROJECT\", \"service\": \"web\"}}, \"all\": true}}"
fl_assert_eq "$HTTP_STATUS" 201 "sigstop pause in the service ($API_BODY)"
ST=$(jq -r .fault.id <<<"$API_BODY")
for ((i = 0; i < 100; i++)); do
	[ "$(fl_proc_state "$PB")" = T ] && break
	sleep 0.05
done
fl_assert_eq "$(fl_proc_state "$PB")" T "pid $PB in $B stopped"
fl_assert_state "$PO" S "outside pid $PO not stopped"
fl_assert_state "$MAIN_B" S "main process of $B not stopped (not named)"
api DELETE "/v1/faults/$ST"
fl_assert_eq "$HTTP_STATUS" 200 "revert the sigstop pause ($API_BODY)"
for ((i = 0; i < 100; i++)); do
	[ "$(fl_proc_state "$PB")" = S ] && break
	sleep 0.05
done
fl_assert_state "$PB" S "pid $PB resumed"

# Stressors inside D: the workers join D's cgroups (v1 cpu, memory, pids, ... and the
# unified one), so its CPU quota throttles them and its memory limit OOM-kills the memory
# worker; nothing of theirs is left in D after the revert.
ID_D=$(ctr_id "$D")
MAIN_D=$(ctr_main_pid "$D")
ctr_cg() { # ctr_cg PID CONTROLLER-REGEX -> the cgroup path of that hierarchy
	awk -F: -v c="$2" '$2 ~ c {print $3; exit}' "/proc/$1/cgroup"
}
CPU_MNT=$(findmnt -n -t cgroup -O cpu -o TARGET | head -n1)
MEM_MNT=$(findmnt -n -t cgroup -O memory -o TARGET | head -n1)
[ -n "$CPU_MNT" ] && [ -n "$MEM_MNT" ] || fl_fail "no v1 cpu or memory hierarchy on this hybrid host"
D_CPU=$CPU_MNT$(ctr_cg "$MAIN_D" '(^|,)cpu(,|$)')
D_MEM=$MEM_MNT$(ctr_cg "$MAIN_D" '(^|,)memory(,|$)')
fl_assert_eq "$D_MEM" "$MEM_MNT/libpod_parent/libpod-$ID_D" "D's v1 memory cgroup"
fl_assert_eq "$(cat "$D_MEM/memory.limit_in_bytes")" $((64 << 20)) "D's memory limit"
nr_throttled() { awk '$1 == "nr_throttled" {print $2}' "$D_CPU/cpu.stat"; }
T0=$(nr_throttled)
api POST "/v1/leases/$LEASE/faults" "{\"name\": \"sc\", \"type\": \"stress.cpu\", \"duration\": \"5m\", \"target\": {\"container\": {\"name\": \"$D\"}}, \"params\": {\"workers\": 2}}"
fl_assert_eq "$HTTP_STATUS" 201 "stress.cpu in $D ($API_BODY)"
SC=$(jq -r .fault.id <<<"$API_BODY")
api GET "/v1/faults/$SC"
fl_assert_eq "$(jq -r .fault.status.container.id <<<"$API_BODY")" "$ID_D" "status names $D"
jq -e --arg d "$D_CPU" --arg m "$D_MEM" '.fault.status.container.cgroups | index($d) and index($m)' \
	<<<"$API_BODY" >/dev/null || fl_fail "status lists $D_CPU and $D_MEM: $API_BODY"
W=$(jq -r '.fault.status.worker_states[].pid' <<<"$API_BODY" | xargs)
fl_assert_eq "$(wc -w <<<"$W")" 2 "two cpu workers"
for w in $W; do
	# Every hierarchy line of the worker names D's cgroup, as its main process's does.
	fl_assert_eq "$(grep -v name= "/proc/$w/cgroup" | sort)" \
		"$(grep -v name= "/proc/$MAIN_D/cgroup" | sort)" "cgroups of worker $w"
done
for ((i = 0; i < 100; i++)); do
	[ "$(nr_throttled)" -gt "$T0" ] && break
	sleep 0.1
done
[ "$(nr_throttled)" -gt "$T0" ] || fl_fail "D's CPU quota never throttled the workers: $(cat "$D_CPU/cpu.stat")"
api DELETE "/v1/faults/$SC"
fl_assert_eq "$HTTP_STATUS" 200 "revert stress.cpu ($API_BODY)"
for w in $W; do
	[ -z "$(fl_proc_state "$w")" ] || fl_fail "cpu worker $w survived the revert"
	! grep -qx "$w" "$D_CPU/cgroup.procs" "$D_MEM/cgroup.procs" || fl_fail "worker $w left in $D"
done
fl_assert_eq "$(cat "$D_MEM/cgroup.procs" | xargs)" "$MAIN_D" "only D's own process in its memory cgroup"
api POST "/v1/leases/$LEASE/faults" "{\"name\": \"sm\", \"type\": \"stress.memory\", \"duration\": \"5m\", \"target\": {\"container\": {\"id\": \"${ID_D:0:12}\"}}, \"params\": {\"size\": \"256MiB\", \"ramp\": \"2s\"}}"
fl_assert_eq "$HTTP_STATUS" 201 "stress.memory in $D ($API_BODY)"
SM=$(jq -r .fault.id <<<"$API_BODY")
for ((i = 0; i < 150; i++)); do
	api GET "/v1/faults/$SM"
	[ "$(jq -r '.fault.status.degraded | length' <<<"$API_BODY")" -gt 0 ] && break
	sleep 0.1
done
fl_assert_eq "$(jq -r '.fault.status.degraded[0] | "\(.signal_name) \(.oom_killed)"' <<<"$API_BODY")" \
	"SIGKILL true" "the memory worker met D's OOM killer ($API_BODY)"
[ -n "$(fl_proc_state "$MAIN_D")" ] || fl_fail "D's own process was OOM-killed"
api DELETE "/v1/faults/$SM"
fl_assert_eq "$HTTP_STATUS" 200 "revert stress.memory ($API_BODY)"
fl_assert_eq "$(cat "$D_MEM/cgroup.procs" | xargs)" "$MAIN_D" "nothing left in D's memory cgroup"

# A disk fill inside D's filesystem: symlinks planted in D to host paths the test made
# never lead there; a plain path is filled in D and removed by the revert.
mkdir "$dir/host"
echo "host file" >"$dir/host/victim"
victim_sum=$(sha256sum <"$dir/host/victim")
"${PODMAN[@]}" exec "$D" /bin/busybox sh -c "mkdir -p /srv && ln -s '$dir/host' /data && ln -s '$dir/host/victim' /srv/victim" ||
	fl_fail "planting symlinks in $D"
dfill() { # dfill PATH
	api POST "/v1/leases/$LEASE/faults" "{\"name\": \"df\", \"type\": \"stress.disk_fill\", \"duration\": \"5m\", \"target\": {\"container\": {\"name\": \"$D\"}}, \"params\": {\"path\": \"$1\", \"size\": \"2MiB\"}}"
}
for bad in /data/fill /srv/victim; do
	dfill "$bad"
	fl_assert_eq "$HTTP_STATUS" 422 "disk fill at $bad in $D refused ($API_BODY)"
done
fl_assert_eq "$(ls -A "$dir/host" | xargs)" victim "nothing created on the host"
fl_assert_eq "$(sha256sum <"$dir/host/victim")" "$victim_sum" "the host file is untouched"
dfill /srv/fill
fl_assert_eq "$HTTP_STATUS" 201 "disk fill inside $D ($API_BODY)"
DF=$(jq -r .fault.id <<<"$API_BODY")
"${PODMAN[@]}" exec "$D" /bin/busybox test -f /srv/fill || fl_fail "no /srv/fill inside $D"
api DELETE "/v1/faults/$DF"
fl_assert_eq "$HTTP_STATUS" 200 "revert the disk fill ($API_BODY)"
! "${PODMAN[@]}" exec "$D" /bin/busybox test -e /srv/fill || fl_fail "/srv/fill left in $D"

# Freezer pause of B: its v1 freezer cgroup, thawed by the revert.
FREEZER=$(findmnt -n -t cgroup -O freezer -o TARGET | head -n1)
[ -n "$FREEZER" ] || fl_fail "no v1 freezer hierarchy on this hybrid host"
fstate() { cat "$FREEZER/libpod_parent/libpod-$ID_B/freezer.state"; }
fl_assert_eq "$(fstate)" THAWED "freezer state before"
api POST "/v1/leases/$LEASE/faults" "{\"name\": \"fz\", \"type\": \"process.pause\", \"duration\": \"5m\", \"target\": {\"container\": {\"id\": \"${ID_B:0:16}\"}, \"all\": true}, \"params\": {\"method\": \"freezer\"}}"
fl_assert_eq "$HTTP_STATUS" 201 "freeze $B ($API_BODY)"
FZ=$(jq -r .fault.id <<<"$API_BODY")
for ((i = 0; i < 100; i++)); do
	[ "$(fstate)" = FROZEN ] && break
	sleep 0.05
done
fl_assert_eq "$(fstate)" FROZEN "freezer state while paused"
# Every task of the container sits in the refrigerator (state D); the outside one does not.
for p in "$MAIN_B" "$PB"; do
	fl_assert_eq "$(fl_proc_state "$p")" D "state of frozen pid $p"
done
[ "$(fl_proc_state "$PO")" != D ] || fl_fail "outside pid $PO is frozen"
api GET "/v1/faults/$FZ"
fl_assert_eq "$(jq -r '.fault.status.frozen' <<<"$API_BODY")" true "status says frozen ($API_BODY)"
fl_assert_eq "$(jq -r '.fault.status.container' <<<"$API_BODY")" "$ID_B" "status names the container"
fl_assert_eq "$(jq -r '.fault.status.freezer' <<<"$API_BODY")" \
	"$FREEZER/libpod_parent/libpod-$ID_B/freezer.state" "status names the freezer"
api DELETE "/v1/faults/$FZ"
fl_assert_eq "$HTTP_STATUS" 200 "revert the freezer ($API_BODY)"
fl_assert_eq "$(fstate)" THAWED "freezer state after the revert"
for p in "$MAIN_B" "$PB" "$PO"; do
	[ "$(fl_proc_state "$p")" = S ] || fl_fail "pid $p is '$(fl_proc_state "$p")' after the thaw, not sleeping"
done

# A network partition by container name: in E's own namespace P (its default-route
# interface), seen from the agent's namespace; nothing of it in the agent's namespace.
pings() { ip netns exec "$ns" timeout 30 ping -q -n -c 10 -i 0.05 -W 1 10.81.1.2 2>&1 | sed -n 's/.* \([0-9]*\) received.*/\1/p'; }
fl_assert_eq "$(pings)" 10 "pings to $E before the partition"
api POST "/v1/leases/$LEASE/faults" "{\"name\": \"np\", \"type\": \"network.partition\", \"duration\": \"5m\", \"target\": {\"container\": {\"name\": \"$E\"}, \"cidrs\": [\"10.81.1.1\"]}}"
fl_assert_eq "$HTTP_STATUS" 201 "partition of $E ($API_BODY)"
NP=$(jq -r .fault.id <<<"$API_BODY")
fl_assert_eq "$(jq -r .fault.status.interface <<<"$API_BODY")" "$FL_ID-c1" "the interface in $E's namespace"
fl_assert_eq "$(jq -r .fault.status.netns.inode <<<"$API_BODY")" "$(stat -L -c %i "/run/netns/$P")" "the namespace partitioned"
fl_assert_eq "$(pings)" 0 "pings to $E through the partition"
[[ "$(tc -n "$P" filter show dev "$FL_ID-c1" ingress)" == *netfault_in* ]] || fl_fail "no filter in $E's namespace"
[ -z "$(tc -n "$ns" filter show dev "$FL_ID-h1" ingress)" ] || fl_fail "a filter in the agent's namespace"
api DELETE "/v1/faults/$NP"
fl_assert_eq "$HTTP_STATUS" 200 "revert the partition ($API_BODY)"
fl_assert_eq "$(pings)" 10 "pings to $E after the revert"
fl_assert_eq "$(tc -n "$P" qdisc show dev "$FL_ID-c1" | grep -c clsact)" 0 "clsact left in $E's namespace"
fl_log "network.partition of container $E: 0 of 10 pings answered, 10 after the revert"

# A crash while the container is frozen: the journal's record thaws it (--cleanup).
api POST "/v1/leases/$LEASE/faults" "{\"name\": \"fz2\", \"type\": \"process.pause\", \"duration\": \"5m\", \"target\": {\"container\": {\"name\": \"$B\"}, \"all\": true}, \"params\": {\"method\": \"freezer\"}}"
fl_assert_eq "$HTTP_STATUS" 201 "freeze $B again ($API_BODY)"
fl_assert_eq "$(fstate)" FROZEN "freezer state before the crash"
fl_crash_agent "$FL_AGENT_PID"
wait "$FL_AGENT_PID" 2>/dev/null || true
FL_AGENT_PID=
"$FAULTLINED" --cleanup --state-dir "$state" --audit-log "$dir/audit.log" >"$dir/cleanup.log" 2>&1 ||
	fl_fail "--cleanup failed: $(cat "$dir/cleanup.log")"
fl_assert_eq "$(fstate)" THAWED "freezer state after the crash cleanup"
grep -q "thawed $FREEZER/libpod_parent/libpod-$ID_B/freezer.state" "$dir/cleanup.log" ||
	fl_fail "--cleanup does not say it thawed the container: $(cat "$dir/cleanup.log")"
exit 0
