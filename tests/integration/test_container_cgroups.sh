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
#    reports it frozen (cgroup.events), the outside process runs on, the revert thaws it;
#  - stress.cpu and stress.memory with a container target: the workers join the container's
#    v2 cgroup (the main pid's subgroup) and, where the test gives it v1 cpu and memory
#    cgroups named like podman's, those too: the v1 CPU quota throttles them, a memory
#    stress past the v1 limit is OOM-killed and the status says so, and after the revert
#    nothing of theirs is left in any of the container's cgroups;
#  - stress.disk_fill and stress.io with a container target resolve their path inside the
#    container's root (a third fake container whose process is chrooted into a directory of
#    the test's): absolute and relative symlinks planted there that point at host paths the
#    test made never lead to them (refused, the host files untouched), a plain path is
#    filled or written inside the root and removed by the revert, and a fill's file after a
#    crash by --cleanup, in that root.
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
ID3=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
cg3=$top/libpod-$ID3.scope

V1_CPU=$(findmnt -n -t cgroup -o TARGET,OPTIONS | awk '$2 ~ /(^|,)cpu(,|$)/ {print $1; exit}')
V1_MEM=$(findmnt -n -t cgroup -o TARGET,OPTIONS | awk '$2 ~ /(^|,)memory(,|$)/ {print $1; exit}')
v1cpu=${V1_CPU:+$V1_CPU/$FL_ID-ctr/libpod-$ID1}
v1mem=${V1_MEM:+$V1_MEM/$FL_ID-ctr/libpod-$ID1}

teardown_cgroups() {
	local d p
	for d in "$v1cpu" "$v1mem"; do
		[ -n "$d" ] && [ -d "$d" ] || continue
		for p in $(cat "$d/cgroup.procs"); do kill -KILL "$p"; done
	done
	for d in "$cg1/container" "$cg1" "$cg2" "$cg3"; do
		[ -d "$d" ] || continue
		echo 0 >"$d/cgroup.freeze"
		for p in $(cat "$d/cgroup.procs"); do kill -KILL "$p"; done
	done
	sleep 0.2
	[ -d "$cg3" ] && rmdir "$cg3"
	rmdir "$cg1/container" "$cg1" "$cg2" "$top"
	for d in "$v1cpu" "$v1mem"; do
		[ -n "$d" ] && [ -d "$d" ] && rmdir "$d" "${d%/*}"
	done
}
fl_on_exit teardown_cgroups
fl_on_exit fl_teardown_agent

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
# On a hybrid host, the podman-named container also gets v1 cpu and memory cgroups (its
# processes moved in as runc would): a CPU quota of 20 ms per 100 ms and a 64 MiB limit.
for d in "$v1cpu" "$v1mem"; do
	[ -n "$d" ] || continue
	mkdir -p "$d"
	for p in "$P1" "$P1B"; do echo "$p" >"$d/cgroup.procs"; done
done
[ -z "$v1cpu" ] || echo 20000 >"$v1cpu/cpu.cfs_quota_us"
[ -z "$v1mem" ] || echo $((64 << 20)) >"$v1mem/memory.limit_in_bytes"

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
fl_wait_gone "$P2" 5 "pid $P2 survived the kill"
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
fl_assert_state "$P0" S "outside pid $P0 not frozen"
api DELETE "/v1/faults/$FZ"
fl_assert_eq "$HTTP_STATUS" 200 "revert the freezer ($API_BODY)"
fl_assert_eq "$(cat "$cg1/cgroup.freeze")" 0 "thawed"
for ((i = 0; i < 100; i++)); do
	[ "$(frozen)" = 0 ] && break
	sleep 0.05
done
fl_assert_eq "$(frozen)" 0 "the kernel reports the container thawed"

# Stressors inside the podman-named container: the workers join its cgroups.
in_procs() { grep -qx "$1" "$2/cgroup.procs"; }
api POST "/v1/leases/$LEASE/faults" "{\"name\": \"sc\", \"type\": \"stress.cpu\", \"duration\": \"5m\", \"target\": {\"container\": {\"id\": \"${ID1:0:16}\"}}, \"params\": {\"workers\": 2}}"
fl_assert_eq "$HTTP_STATUS" 201 "stress.cpu in the container ($API_BODY)"
SC=$(jq -r .fault.id <<<"$API_BODY")
api GET "/v1/faults/$SC"
W=$(jq -r '.fault.status.worker_states[].pid' <<<"$API_BODY" | xargs)
fl_assert_eq "$(wc -w <<<"$W")" 2 "two cpu workers ($API_BODY)"
fl_assert_eq "$(jq -r .fault.status.container.id <<<"$API_BODY")" "$ID1" "status names the container"
jq -e --arg d "$cg1/container" '.fault.status.container.cgroups | index($d)' <<<"$API_BODY" >/dev/null ||
	fl_fail "status lists the container's v2 cgroup $cg1/container: $API_BODY"
for w in $W; do
	in_procs "$w" "$cg1/container" || fl_fail "cpu worker $w not in $cg1/container"
	[ -z "$v1cpu" ] || in_procs "$w" "$v1cpu" || fl_fail "cpu worker $w not in $v1cpu"
	[ -z "$v1mem" ] || in_procs "$w" "$v1mem" || fl_fail "cpu worker $w not in $v1mem"
done
if [ -n "$v1cpu" ]; then
	# Two busy workers under a 0.2-CPU quota: the kernel throttles the cgroup.
	for ((i = 0; i < 100; i++)); do
		[ "$(awk '$1 == "nr_throttled" {print $2}' "$v1cpu/cpu.stat")" -gt 0 ] && break
		sleep 0.1
	done
	[ "$(awk '$1 == "nr_throttled" {print $2}' "$v1cpu/cpu.stat")" -gt 0 ] ||
		fl_fail "the container's CPU quota never throttled the workers: $(cat "$v1cpu/cpu.stat")"
fi
api DELETE "/v1/faults/$SC"
fl_assert_eq "$HTTP_STATUS" 200 "revert stress.cpu ($API_BODY)"
for w in $W; do
	for d in "$cg1/container" $v1cpu $v1mem; do
		in_procs "$w" "$d" && fl_fail "cpu worker $w left in $d after the revert"
	done
	[ -z "$(fl_proc_state "$w")" ] || fl_fail "cpu worker $w survived the revert"
done
fl_assert_eq "$(sort -n "$cg1/container/cgroup.procs" | xargs)" \
	"$(printf '%s\n' "$P1" "$P1B" | sort -n | xargs)" "only the container's own processes remain"

if [ -n "$v1mem" ]; then
	# 256 MiB growing over 2 s past the container's 64 MiB limit: its OOM killer takes the
	# worker (oom_score_adj 1000), and the status says so.
	api POST "/v1/leases/$LEASE/faults" "{\"name\": \"sm\", \"type\": \"stress.memory\", \"duration\": \"5m\", \"target\": {\"container\": {\"id\": \"$ID1\"}}, \"params\": {\"size\": \"256MiB\", \"ramp\": \"2s\"}}"
	fl_assert_eq "$HTTP_STATUS" 201 "stress.memory in the container ($API_BODY)"
	SM=$(jq -r .fault.id <<<"$API_BODY")
	for ((i = 0; i < 150; i++)); do
		api GET "/v1/faults/$SM"
		[ "$(jq -r '.fault.status.degraded | length' <<<"$API_BODY")" -gt 0 ] && break
		sleep 0.1
	done
	fl_assert_eq "$(jq -r '.fault.status.degraded[0] | "\(.signal_name) \(.oom_killed)"' <<<"$API_BODY")" \
		"SIGKILL true" "the worker met the container's OOM killer ($API_BODY)"
	grep -qF "its memory limit was reached" <<<"$API_BODY" || fl_fail "OOM reason: $API_BODY"
	fl_assert_eq "$(awk '$1 == "oom_kill" {print $2}' "$v1mem/memory.oom_control")" 1 \
		"the container's memory cgroup counts the OOM kill"
	for p in "$P1" "$P1B"; do
		[ -n "$(fl_proc_state "$p")" ] || fl_fail "container pid $p was OOM-killed"
	done
	api DELETE "/v1/faults/$SM"
	fl_assert_eq "$HTTP_STATUS" 200 "revert stress.memory ($API_BODY)"
	fl_assert_eq "$(sort -n "$v1mem/cgroup.procs" | xargs)" \
		"$(printf '%s\n' "$P1" "$P1B" | sort -n | xargs)" "nothing left in the memory cgroup"
fi

# A path inside a container: the third container's process runs chrooted in $croot, where
# the test plants symlinks to host paths it made ($host); none may lead there.
if [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; then
	croot=$dir/root
	host=$dir/host
	mkdir -p "$croot/srv" "$host" "$cg3"
	cp /bin/busybox "$croot/busybox"
	echo "host file, not the container's" >"$host/victim"
	ln -s "$host" "$croot/data"              # an absolute symlink to a host directory
	ln -s "$host/victim" "$croot/srv/victim" # an absolute symlink to a host file
	ln -s ../../../../../../../.. "$croot/up"  # a relative one climbing out
	victim_sum=$(sha256sum <"$host/victim")
	setsid sh -c "echo \$\$ >'$cg3/cgroup.procs' && exec chroot '$croot' /busybox sleep 600" &
	P3=$!
	for ((i = 0; i < 200; i++)); do
		[ "$(readlink "/proc/$P3/root")" = "$croot" ] && break
		sleep 0.01
	done
	fl_assert_eq "$(readlink "/proc/$P3/root")" "$croot" "the third container's root"
	fill() { # fill PATH: a 4 MiB disk fill at PATH inside the third container
		api POST "/v1/leases/$LEASE/faults" "{\"name\": \"df\", \"type\": \"stress.disk_fill\", \"duration\": \"5m\", \"target\": {\"container\": {\"id\": \"$ID3\"}}, \"params\": {\"path\": \"$1\", \"size\": \"4MiB\"}}"
	}
	fill "/data/fill"
	fl_assert_eq "$HTTP_STATUS" 422 "a directory symlink to the host refused ($API_BODY)"
	grep -qF "inside container ${ID3:0:12}" <<<"$API_BODY" || fl_fail "refusal names the container: $API_BODY"
	fill "/up$host/fill"
	fl_assert_eq "$HTTP_STATUS" 422 "a relative symlink climbing out refused ($API_BODY)"
	fill "/srv/victim"
	fl_assert_eq "$HTTP_STATUS" 422 "a file symlink to the host refused ($API_BODY)"
	grep -qF "exists in the container" <<<"$API_BODY" || fl_fail "refusal says why: $API_BODY"
	fl_assert_eq "$(ls -A "$host" | xargs)" victim "nothing created on the host"
	fl_assert_eq "$(sha256sum <"$host/victim")" "$victim_sum" "the host file is untouched"
	fill "/srv/fill"
	fl_assert_eq "$HTTP_STATUS" 201 "a path inside the container ($API_BODY)"
	DF=$(jq -r .fault.id <<<"$API_BODY")
	[ -f "$croot/srv/fill" ] && [ ! -L "$croot/srv/fill" ] || fl_fail "no $croot/srv/fill"
	for ((i = 0; i < 100; i++)); do
		api GET "/v1/faults/$DF"
		[ "$(jq -r '.fault.status.allocated_bytes // 0' <<<"$API_BODY")" -ge $((4 << 20)) ] && break
		sleep 0.05
	done
	[ "$(jq -r '.fault.status.allocated_bytes // 0' <<<"$API_BODY")" -ge $((4 << 20)) ] ||
		fl_fail "the fill did not reach 4 MiB: $API_BODY"
	[ "$(stat -c %b "$croot/srv/fill")" -ge 8192 ] || fl_fail "$croot/srv/fill is not 4 MiB: $(stat "$croot/srv/fill")"
	[ ! -e "/srv/fill" ] || fl_fail "a /srv/fill on the host"
	api DELETE "/v1/faults/$DF"
	fl_assert_eq "$HTTP_STATUS" 200 "revert the fill ($API_BODY)"
	[ ! -e "$croot/srv/fill" ] || fl_fail "$croot/srv/fill left after the revert"
	fl_assert_eq "$(ls -A "$croot/srv" | xargs)" victim "only the planted symlink remains"
	fl_assert_eq "$(sha256sum <"$host/victim")" "$victim_sum" "the host file is still untouched"

	# stress.io the same way: symlinks to the host refused, a new file written in the root.
	io() { # io PATH
		api POST "/v1/leases/$LEASE/faults" "{\"name\": \"io\", \"type\": \"stress.io\", \"duration\": \"5m\", \"target\": {\"container\": {\"id\": \"$ID3\"}}, \"params\": {\"path\": \"$1\", \"rate\": \"1MiB/s\"}}"
	}
	for bad in /data /data/io /srv/victim "/up$host/io"; do
		io "$bad"
		fl_assert_eq "$HTTP_STATUS" 422 "stress.io at $bad refused ($API_BODY)"
	done
	fl_assert_eq "$(ls -A "$host" | xargs)" victim "nothing created on the host by stress.io"
	fl_assert_eq "$(sha256sum <"$host/victim")" "$victim_sum" "the host file is untouched by stress.io"
	io /srv/io1
	fl_assert_eq "$HTTP_STATUS" 201 "stress.io inside the container ($API_BODY)"
	IO=$(jq -r .fault.id <<<"$API_BODY")
	for ((i = 0; i < 100; i++)); do
		[ "$(stat -c %s "$croot/srv/io1" 2>/dev/null || echo 0)" -gt 0 ] && break
		sleep 0.05
	done
	[ "$(stat -c %s "$croot/srv/io1")" -gt 0 ] || fl_fail "nothing written to $croot/srv/io1"
	api DELETE "/v1/faults/$IO"
	fl_assert_eq "$HTTP_STATUS" 200 "revert stress.io ($API_BODY)"
	[ ! -e "$croot/srv/io1" ] || fl_fail "$croot/srv/io1 left after the revert"
	fl_assert_eq "$(sha256sum <"$host/victim")" "$victim_sum" "the host file is untouched"

	# A crash during a fill inside the container: --cleanup finds the file again in the
	# container's root by the journaled process, and removes it there.
	fill "/srv/fill2"
	fl_assert_eq "$HTTP_STATUS" 201 "a second fill inside the container ($API_BODY)"
	[ -f "$croot/srv/fill2" ] || fl_fail "no $croot/srv/fill2"
	fl_crash_agent "$FL_AGENT_PID"
	wait "$FL_AGENT_PID" 2>/dev/null || true
	FL_AGENT_PID=
	"$FAULTLINED" --cleanup --state-dir "$state" --audit-log "$dir/audit.log" >"$dir/cleanup.log" 2>&1 ||
		fl_fail "--cleanup failed: $(cat "$dir/cleanup.log")"
	[ ! -e "$croot/srv/fill2" ] || fl_fail "$croot/srv/fill2 left after the crash cleanup: $(cat "$dir/cleanup.log")"
	grep -qF "removed /srv/fill2 inside the container's root" "$dir/cleanup.log" ||
		fl_fail "--cleanup does not say it removed the file in the container: $(cat "$dir/cleanup.log")"
	fl_assert_eq "$(sha256sum <"$host/victim")" "$victim_sum" "the host file is untouched by the cleanup"
fi
exit 0
