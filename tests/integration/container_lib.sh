# shellcheck shell=bash
# Helpers for the tests and benchmarks that run real podman containers (test_containers.sh,
# test_container_*.sh, bench/containers.sh): sourced after lib.sh (or bench/lib.sh), never run.
# The functions use dir (fl_tmpdir dir) and state, the agent's state directory:
#   ctr_require                      skip without podman, runc or a static busybox
#   ctr_on_exit NAME...              the teardown ladder, registered before anything starts
#   ctr_image [-w DIR] CMD_JSON [FILE...]  the image $IMG, FROM scratch with busybox
#   ctr_netns / ctr_run              a container, on a network namespace of the test's own
#   ctr_start_service                `podman system service` on $api_sock (the Engine API)
# Nothing here touches podman's default network or another test's containers: every name
# carries $FL_ID.

# crun refuses hybrid cgroups; podman's default rlimits exceed what this sandbox may set.
PODMAN=(podman --runtime runc --cgroup-manager cgroupfs)
RUN_OPTS=(--ulimit nofile=1024:1024 --ulimit nproc=4096:4096)
# The image, the test's own (ctr_image).
IMG=localhost/$FL_ID-img:1

# ctr_require: skips (exit 77, saying why) without podman, runc or a static /bin/busybox, the
# only binary the images hold.
ctr_require() {
	command -v podman >/dev/null 2>&1 || fl_skip "needs podman (and runc, busybox-static: run scripts/setup.sh)"
	fl_require_cmd runc
	[ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 ||
		fl_skip "needs a static /bin/busybox (busybox-static: run scripts/setup.sh)"
}

# ctr_on_exit NAME...: registers the teardown, which runs in reverse: the agent (killed, then
# `faultlined --cleanup` on the journal: fl_teardown_agent), the containers NAME... (removed
# with no grace period), the engine service, then the image. Register it before the first
# container starts, so that a failure half-way still removes what did start.
ctr_on_exit() {
	fl_on_exit "${PODMAN[*]} rmi -f $IMG"
	fl_on_exit ctr_stop_service
	fl_on_exit "timeout 300 ${PODMAN[*]} rm -f -t 0 $*"
	fl_on_exit fl_teardown_agent
}

# ctr_image [-w DIR]... CMD_JSON [FILE...]: builds $IMG FROM scratch out of $dir/img:
# /bin/busybox, a copy of it under each FILE in /bin (the kernel names a process after its
# file, so a test can select a process by a name only it uses), /run.sh when the caller wrote
# $dir/img/run.sh first, and for each -w DIR an empty directory DIR (absolute, e.g. /data)
# that anyone may write to (mode 1777: the image's / is not writable by the agent's
# stressors); CMD_JSON is the image's CMD, e.g. '["/bin/busybox", "sleep", "600"]'.
ctr_image() {
	local cmd f n wdirs=()
	while [ "${1:-}" = -w ]; do
		wdirs+=("$2")
		shift 2
	done
	cmd=$1
	shift
	mkdir -p "$dir/img"
	cp /bin/busybox "$dir/img/busybox"
	for f in "$@"; do cp /bin/busybox "$dir/img/$f"; done
	{
		echo "FROM scratch"
		echo "COPY busybox $* /bin/"
		[ ! -e "$dir/img/run.sh" ] || echo "COPY run.sh /run.sh"
		for ((n = 0; n < ${#wdirs[@]}; n++)); do
			mkdir -m 1777 "$dir/img/wdir$n"
			echo "COPY wdir$n ${wdirs[n]}"
		done
		echo "CMD $cmd"
	} >"$dir/img/Containerfile"
	timeout 120 "${PODMAN[@]}" build -q -t "$IMG" "$dir/img" >"$dir/build.log" 2>&1 ||
		fl_fail "podman build: $(tail -5 "$dir/build.log")"
}

# ctr_netns VAR AGENT_NS K NET: a container's own network namespace $FL_ID-cK (its name in
# VAR), joined to AGENT_NS by a veth pair: $FL_ID-hK (NET.K.1/24) in AGENT_NS, $FL_ID-cK
# (NET.K.2/24, the default route) in the new one. Removed at exit (lib.sh).
ctr_netns() {
	local _ctr_p _ctr_a=$2 _ctr_k=$3 _ctr_net=$4
	fl_netns _ctr_p "c$_ctr_k"
	ip link add "$FL_ID-h$_ctr_k" netns "$_ctr_a" type veth peer name "$FL_ID-c$_ctr_k" netns "$_ctr_p"
	ip -n "$_ctr_a" addr add "$_ctr_net.$_ctr_k.1/24" dev "$FL_ID-h$_ctr_k"
	ip -n "$_ctr_p" addr add "$_ctr_net.$_ctr_k.2/24" dev "$FL_ID-c$_ctr_k"
	ip -n "$_ctr_a" link set "$FL_ID-h$_ctr_k" up
	ip -n "$_ctr_p" link set "$FL_ID-c$_ctr_k" up
	ip -n "$_ctr_p" route add default via "$_ctr_net.$_ctr_k.1" dev "$FL_ID-c$_ctr_k"
	printf -v "$1" '%s' "$_ctr_p"
}

# ctr_run NAME NETNS [ARGS...]: `podman run -d` of container NAME on the network namespace
# NETNS (a test's own, never podman's network; "none": no network at all) with RUN_OPTS and
# ARGS (options, the image, a command); its output in $dir/run-NAME.log, bounded to 120 s.
ctr_run() {
	local name=$1 net=ns:/run/netns/$2
	[ "$2" != none ] || net=none
	shift 2
	timeout 120 "${PODMAN[@]}" run -d --name "$name" "${RUN_OPTS[@]}" --network "$net" "$@" \
		>"$dir/run-$name.log" 2>&1 || fl_fail "podman run $name: $(tail -5 "$dir/run-$name.log")"
}

# ctr_main_pid NAME, ctr_id NAME: podman's view of a container: its main process, its full id.
ctr_main_pid() { "${PODMAN[@]}" inspect -f '{{.State.Pid}}' "$1"; }
ctr_id() { "${PODMAN[@]}" inspect -f '{{.Id}}' "$1"; }

# ctr_inner_pid MAIN_PID NAME: the pid of the process named NAME that a container's main
# process MAIN_PID started (the image's run.sh); waits for it up to 10 s.
ctr_inner_pid() {
	local i p
	for ((i = 0; i < 100; i++)); do
		for p in $(pgrep -P "$1" -x "$2" || true); do
			echo "$p"
			return 0
		done
		sleep 0.1
	done
	fl_fail "no $2 under container main pid $1"
}

# ctr_start_service: the Docker Engine API, served by `podman system service` in a session of
# its own (SVC_PID) on api_sock=$dir/engine.sock; waits (up to 120 s: podman starts slowly on a
# loaded machine) until it answers /_ping.
ctr_start_service() {
	local t0=$SECONDS
	api_sock=$dir/engine.sock
	setsid "${PODMAN[@]}" system service --time=0 "unix://$api_sock" >"$dir/service.log" 2>&1 &
	SVC_PID=$!
	until curl -sf --max-time 2 --unix-socket "$api_sock" http://d/_ping >/dev/null 2>&1; do
		kill -0 "$SVC_PID" 2>/dev/null || fl_fail "podman system service exited: $(tail -5 "$dir/service.log")"
		((SECONDS - t0 < 120)) || fl_fail "podman system service does not answer on $api_sock within 120 s"
		sleep 0.1
	done
}

# ctr_stop_service: stops the service of ctr_start_service, if it started (ctr_on_exit).
ctr_stop_service() {
	if [ -n "${SVC_PID:-}" ]; then
		kill -TERM "$SVC_PID" 2>/dev/null
		wait "$SVC_PID" 2>/dev/null
	fi
}
