#!/usr/bin/env bash
# What the agent never does to containers (docs/containers.md "Safety", docs/policy.md), on
# real podman containers on a network namespace this test creates, with `podman system
# service` on the test's own socket as the Docker Engine API:
#  - protected_containers: a container protected by its exact name, one by a name glob and one
#    by a label selector are listed as protected (GET /v1/containers), and every fault type
#    with a container target (process.kill, process.pause sigstop and freezer, network.loss,
#    stress.cpu, stress.memory, stress.disk_fill, stress.io) is refused on each of them with
#    422 naming the container, the rule and the key, in POST /v1/resolve, faultctl plan
#    --resolve and an apply alike;
#  - max_containers_per_fault: a compose service of three containers over a cap of two is
#    refused with 422 naming the count and the key; processes in one container still count
#    against max_processes_per_fault;
#  - a stressor on a container that runs a package manager (a process named dpkg) is refused
#    (403, naming the process), like the freezer;
#  - a plain process selector (by pid) never picks a process of a protected container;
#  - the agent's own container (the agent moved into a container's cgroup, as an agent in a
#    DaemonSet with the host's cgroup namespace sees itself) is marked agent_own and refused,
#    and its processes are never picked;
#  - positive controls: the same faults on an unprotected container would apply;
#  - nothing was touched: every process of those containers still sleeps, no freezer froze,
#    no worker joined their cgroups, no file was created in them, no clsact in the namespace,
#    no fault is active.
# Everything is removed at exit, also on failure: containers, image, service, namespace.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/container_lib.sh"
fl_require_root
fl_require_cmd curl jq setsid
ctr_require
fl_require_build

fl_netns ns cs
fl_tmpdir dir
sock=$dir/agent.sock
state=$dir/state
PNAME=${FL_ID}w
PROJECT=${FL_ID}shop
LABEL=$FL_ID.tier # the policy protects label LABEL=db
PG=$FL_ID-pg       # protected by its exact name
GX=$FL_ID-gx       # protected by the glob $FL_ID-g*
DB=$FL_ID-db       # protected by the label
W1=$FL_ID-w1       # W1..W3: one compose service, unprotected
W2=$FL_ID-w2
W3=$FL_ID-w3
PKG=$FL_ID-pkg   # runs a package manager's name
SELF=$FL_ID-self # the agent moves into its cgroup
ALL=("$PG" "$GX" "$DB" "$W1" "$W2" "$W3" "$PKG" "$SELF")

ctr_on_exit "${ALL[@]}"

# The image: busybox, and copies of it named $PNAME and dpkg. A container runs one of them
# (argv[0] 'sleep' picks the applet; the kernel names the process after the file) beside its
# main process.
mkdir "$dir/img"
printf '(exec -a sleep /bin/"$1" 600) &\nexec /bin/busybox sleep 600\n' >"$dir/img/run.sh"
ctr_image "[\"/bin/busybox\", \"sh\", \"/run.sh\", \"$PNAME\"]" "$PNAME" dpkg
run_ctr() { # run_ctr NAME [ARGS...]
	ctr_run "$1" "$ns" "${@:2}"
}
run_ctr "$PG" "$IMG"
run_ctr "$GX" "$IMG"
run_ctr "$DB" --label "$LABEL=db" "$IMG"
for w in "$W1" "$W2" "$W3"; do
	run_ctr "$w" --label "com.docker.compose.project=$PROJECT" \
		--label "com.docker.compose.service=web" --label "$LABEL=web" "$IMG"
done
run_ctr "$PKG" "$IMG" /bin/busybox sh /run.sh dpkg
run_ctr "$SELF" "$IMG"

declare -A ID MAIN INNER
for c in "${ALL[@]}"; do
	ID[$c]=$(ctr_id "$c")
	MAIN[$c]=$(ctr_main_pid "$c")
	if [ "$c" = "$PKG" ]; then
		INNER[$c]=$(ctr_inner_pid "${MAIN[$c]}" dpkg)
	else
		INNER[$c]=$(ctr_inner_pid "${MAIN[$c]}" "$PNAME")
	fi
done

# The Docker Engine API, served by podman on the test's own socket.
ctr_start_service

cat >"$dir/policy.yaml" <<EOP
max_processes_per_fault: 1
max_containers_per_fault: 2
protected_containers:
  - name: $PG
  - name: '$FL_ID-g*'
  - label: $LABEL=db
EOP
fl_start_agent "$ns" "$sock" "$dir/agent.log" --log-level debug --policy "$dir/policy.yaml" \
	--container-engines "$api_sock"
api() { FL_API_TIMEOUT=30 fl_api "$@"; }

# The policy as loaded, and the containers as the agent sees them: the protected ones say by
# which rule.
api GET /v1/info
fl_assert_eq "$(jq -c '.policy.protected_containers' <<<"$API_BODY")" \
	"[{\"name\":\"$PG\"},{\"name\":\"$FL_ID-g*\"},{\"label\":\"$LABEL=db\"}]" "protected_containers in /v1/info"
fl_assert_eq "$(jq -r '.policy.max_containers_per_fault' <<<"$API_BODY")" 2 "max_containers_per_fault in /v1/info"
declare -A RULE=(
	[$PG]="protected_containers[0] (name '$PG')"
	[$GX]="protected_containers[1] (name '$FL_ID-g*')"
	[$DB]="protected_containers[2] (label $LABEL=db)"
)
api GET /v1/containers
fl_assert_eq "$HTTP_STATUS" 200 "containers"
for c in "${ALL[@]}"; do
	fl_assert_eq "$(jq -r --arg id "${ID[$c]}" '.containers[] | select(.id == $id) | .protected // ""' <<<"$API_BODY")" \
		"${RULE[$c]:-}" "protection of $c in /v1/containers"
done

"$FAULTCTL" --agent "unix://$sock" targets >"$dir/targets.txt" || fl_fail "faultctl targets failed"
for c in "$PG" "$GX" "$DB"; do
	grep -A1 "^${ID[$c]:0:12}  $c " "$dir/targets.txt" | grep >/dev/null -F "never targeted: ${RULE[$c]}" ||
		fl_fail "faultctl targets does not mark $c: $(cat "$dir/targets.txt")"
done
[ "$(grep -c "never targeted" "$dir/targets.txt")" = 3 ] || fl_fail "faultctl targets marks more: $(cat "$dir/targets.txt")"

# The faults of every type with a container target, on container $1.
faults_on() { # faults_on NAME -> one fault JSON per line
	local t="\"container\": {\"name\": \"$1\"}" f="/$FL_ID.fill"
	cat <<EOF
{"name": "k", "type": "process.kill", "target": {$t, "name": "$PNAME", "all": true}}
{"name": "p", "type": "process.pause", "duration": "10s", "target": {$t, "name": "$PNAME", "all": true}}
{"name": "z", "type": "process.pause", "duration": "10s", "target": {$t, "all": true}, "params": {"method": "freezer"}}
{"name": "l", "type": "network.loss", "duration": "10s", "target": {$t, "cidrs": ["10.99.0.1"]}, "params": {"probability": "10%"}}
{"name": "c", "type": "stress.cpu", "duration": "10s", "target": {$t}, "params": {"workers": 1}}
{"name": "m", "type": "stress.memory", "duration": "10s", "target": {$t}, "params": {"size": "8MiB"}}
{"name": "d", "type": "stress.disk_fill", "duration": "10s", "target": {$t}, "params": {"path": "$f", "size": "1MiB"}}
{"name": "i", "type": "stress.io", "duration": "10s", "target": {$t}, "params": {"path": "$f", "rate": "1MiB/s"}}
EOF
}

api POST /v1/leases '{"ttl_ms": 600000}'
fl_assert_eq "$HTTP_STATUS" 201 "create lease"
LEASE=$(jq -r .lease.id <<<"$API_BODY")

# refused_resolve FAULT STATUS TEXT: refused by POST /v1/resolve, saying TEXT.
refused_resolve() {
	local type
	type=$(jq -r .type <<<"$1")
	api POST /v1/resolve "$1"
	fl_assert_eq "$(jq -r '.faults[0].would_apply' <<<"$API_BODY")" false "resolve of $type would not apply ($API_BODY)"
	fl_assert_eq "$(jq -r '.faults[0].refused.status' <<<"$API_BODY")" "$2" "resolve of $type refused ($API_BODY)"
	grep -qF -- "$3" <<<"$(jq -r '.faults[0].refused.message' <<<"$API_BODY")" ||
		fl_fail "resolve of $type does not say '$3': $API_BODY"
}
# refused FAULT STATUS TEXT: refused by POST /v1/resolve and by an apply, both saying TEXT.
refused() {
	local type
	type=$(jq -r .type <<<"$1")
	refused_resolve "$@"
	api POST "/v1/leases/$LEASE/faults" "$1"
	fl_assert_eq "$HTTP_STATUS" "$2" "apply of $type refused ($API_BODY)"
	grep -qF -- "$3" <<<"$(jq -r '.error.message' <<<"$API_BODY")" ||
		fl_fail "apply of $type does not say '$3': $API_BODY"
}

# --- protected_containers: every type, each rule ------------------------------------------
# Each engine query takes seconds on a loaded machine: every type is applied on one container,
# the other rules are checked by resolve (the same code path decides both).
for c in "$PG" "$GX" "$DB"; do
	while IFS= read -r f; do
		if [ "$c" = "$PG" ]; then
			refused "$f" 422 "container '$c' (${ID[$c]:0:12}) is protected by the policy's ${RULE[$c]}"
		else
			refused_resolve "$f" 422 "container '$c' (${ID[$c]:0:12}) is protected by the policy's ${RULE[$c]}"
		fi
	done < <(faults_on "$c")
	fl_log "$c: 8 fault types refused by ${RULE[$c]}"
done
# A name rule is exact, a glob matches whole names: $FL_ID-pgx would not be $PG's.
# (Covered in tests/unit/test_policy.c; here the unprotected containers below apply.)

# --- positive controls: the same faults would apply on an unprotected container ------------
while IFS= read -r f; do
	# The freezer stops both processes of W1 (over the cap of 1: below); the namespace of
	# W1 is the agent's own, which has no default route to take the interface from.
	case "$(jq -r '"\(.type) \(.params.method // "")"' <<<"$f")" in
	"process.pause freezer" | "network.loss ") continue ;;
	esac
	api POST /v1/resolve "$f"
	fl_assert_eq "$(jq -r '.faults[0].would_apply' <<<"$API_BODY")" true "$(jq -r .type <<<"$f") on $W1 ($API_BODY)"
done < <(faults_on "$W1")
api POST /v1/resolve "$(faults_on "$W1" | sed -n 5p)"
fl_assert_eq "$(jq -r '.faults[0].target.containers[0].id' <<<"$API_BODY")" "${ID[$W1]}" "stress.cpu resolves its container"

# --- a plain process selector never picks a process of a protected container -------------
for c in "$PG" "$DB"; do
	refused "{\"name\": \"k\", \"type\": \"process.kill\", \"target\": {\"pid\": ${INNER[$c]}, \"all\": true}}" \
		422 "all protected, e.g. pid ${INNER[$c]} ($PNAME): in a container the policy protects (protected_containers)"
done
api POST /v1/resolve "{\"name\": \"k\", \"type\": \"process.kill\", \"target\": {\"pid\": ${INNER[$W1]}, \"all\": true}}"
fl_assert_eq "$(jq -r '.faults[0].would_apply' <<<"$API_BODY")" true "a pid selector in $W1 ($API_BODY)"

# --- caps: containers per fault, processes inside containers ------------------------------
refused "{\"name\": \"k\", \"type\": \"process.kill\", \"target\": {\"container\": {\"compose\": {\"project\": \"$PROJECT\", \"service\": \"web\"}}, \"name\": \"$PNAME\", \"count\": 1}}" \
	422 "compose service $PROJECT/web names 3 running containers, more than the policy's max_containers_per_fault (2)"
refused "{\"name\": \"k\", \"type\": \"process.kill\", \"target\": {\"container\": {\"name\": \"$W1\"}, \"all\": true}}" \
	422 "would hit 2 of 2 matching processes, more than the policy's max_processes_per_fault (1)"
refused "{\"name\": \"z\", \"type\": \"process.pause\", \"duration\": \"10s\", \"target\": {\"container\": {\"name\": \"$W1\"}, \"all\": true}, \"params\": {\"method\": \"freezer\"}}" \
	422 "more than the policy's max_processes_per_fault (1)"

# --- a stressor on a container running a package manager ----------------------------------
while IFS= read -r f; do
	case "$(jq -r .type <<<"$f")" in stress.*) ;; *) continue ;; esac
	refused "$f" 403 "target.container: ${ID[$PKG]:0:12} holds pid ${INNER[$PKG]} (dpkg), which is protected"
done < <(faults_on "$PKG")
grep -qF "not stressed" <<<"$API_BODY" || fl_fail "the stressor refusal does not say so: $API_BODY"

# --- faultctl plan --resolve shows the refusals --------------------------------------------
cat >"$dir/exp.yaml" <<EOX
version: 1
name: ctr-safety-plan
hypothesis: protected containers are never hit
agents:
  - name: local
    address: unix://$sock
duration: 1m
faults:
  - name: kill-db
    type: process.kill
    target: {name: $PNAME, container: {name: $DB}, all: true}
  - name: cpu-pkg
    type: stress.cpu
    duration: 30s
    target: {container: {name: $PKG}}
    params: {workers: 1}
  - name: cpu-w1
    type: stress.cpu
    duration: 30s
    target: {container: {name: $W1}}
    params: {workers: 1}
EOX
rc=0
"$FAULTCTL" plan --resolve "$dir/exp.yaml" >"$dir/plan.txt" 2>&1 || rc=$?
((rc != 0)) || fl_fail "plan --resolve exits 0 with refusals: $(cat "$dir/plan.txt")"
grep -q "fault kill-db (process.kill): WOULD BE REFUSED" "$dir/plan.txt" &&
	grep -qF "refused (422 invalid_fault): target.container: container '$DB' (${ID[$DB]:0:12}) is protected by the policy's ${RULE[$DB]}" "$dir/plan.txt" &&
	grep -q "fault cpu-pkg (stress.cpu): WOULD BE REFUSED" "$dir/plan.txt" &&
	grep -q "fault cpu-w1 (stress.cpu): would apply" "$dir/plan.txt" &&
	grep -q "container ${ID[$W1]:0:12} $W1 (podman)" "$dir/plan.txt" ||
	fl_fail "plan --resolve: $(cat "$dir/plan.txt")"

# --- the agent's own container --------------------------------------------------------------
# The agent joins SELF's cgroup of one v1 hierarchy: its /proc/self/cgroup then names SELF's id,
# as a DaemonSet's agent sees its own container under the host's cgroup namespace.
pids_mnt=$(findmnt -n -t cgroup -O pids -o TARGET | head -n1)
[ -n "$pids_mnt" ] || fl_fail "no v1 pids hierarchy on this hybrid host"
self_cg=$pids_mnt$(awk -F: '$2 ~ /(^|,)pids(,|$)/ {print $3; exit}' "/proc/${MAIN[$SELF]}/cgroup")
fl_assert_eq "$self_cg" "$pids_mnt/libpod_parent/libpod-${ID[$SELF]}" "SELF's pids cgroup"
echo "$FL_AGENT_PID" >"$self_cg/cgroup.procs"
api GET /v1/containers
fl_assert_eq "$(jq -r --arg id "${ID[$SELF]}" '.containers[] | select(.id == $id) | .agent_own' <<<"$API_BODY")" \
	true "SELF is the agent's own container"
fl_assert_eq "$(jq -r '[.containers[] | select(.agent_own)] | length' <<<"$API_BODY")" 1 "only one own container"
while IFS= read -r f; do
	refused "$f" 403 "target.container: '$SELF' (${ID[$SELF]:0:12}) is the agent's own container; the agent never targets it"
done < <(faults_on "$SELF" | sed -n '1p;4p;5p')
refused "{\"name\": \"k\", \"type\": \"process.kill\", \"target\": {\"pid\": ${INNER[$SELF]}, \"all\": true}}" \
	422 "all protected, e.g. pid ${INNER[$SELF]} ($PNAME): in the agent's own container"

# --- nothing was touched ------------------------------------------------------------------
api GET /v1/faults
fl_assert_eq "$(jq '[.faults[] | select(.state == "active" or .state == "applying")] | length' <<<"$API_BODY")" 0 \
	"no fault active ($API_BODY)"
frz_mnt=$(findmnt -n -t cgroup -O freezer -o TARGET | head -n1)
mem_mnt=$(findmnt -n -t cgroup -O memory -o TARGET | head -n1)
for c in "${ALL[@]}"; do
	for p in "${MAIN[$c]}" "${INNER[$c]}"; do
		fl_assert_state "$p" S "pid $p of $c sleeps on"
	done
	fl_assert_eq "$(cat "$frz_mnt/libpod_parent/libpod-${ID[$c]}/freezer.state")" THAWED "freezer of $c"
	fl_assert_eq "$(wc -l <"$mem_mnt/libpod_parent/libpod-${ID[$c]}/cgroup.procs")" 2 "processes in $c's memory cgroup"
	[ ! -e "/proc/${MAIN[$c]}/root/$FL_ID.fill" ] || fl_fail "a file was created in $c"
done
[ -z "$(tc -n "$ns" qdisc show | grep clsact)" ] || fl_fail "clsact in the containers' namespace: $(tc -n "$ns" qdisc show)"
fl_log "nothing touched in ${#ALL[@]} containers"
