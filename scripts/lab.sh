#!/usr/bin/env bash
# The faultline lab in network namespaces on one machine (docs/lab.md), from lab/topology.env:
#
#   scripts/lab.sh up [--containers] [--no-agent] [--load-duration S] [--load-rate N]
#   scripts/lab.sh status          what runs, and which targets Prometheus sees up
#   scripts/lab.sh env             shell assignments: FAULTLINE_AGENT, LAB_* addresses, ...
#   scripts/lab.sh exec NODE CMD   run CMD in the network namespace of NODE
#   scripts/lab.sh down            stop and remove everything "up" created
#
# Nodes: target (demo service, faultlined), backend (demo backend), client (load generator,
# Prometheus), dns (dnsmasq serving the backend's name, $LAB_BACKEND_NAME, which the service
# resolves at every call through a resolv.conf of the lab: bind-mounted over /etc/resolv.conf
# in a mount namespace of the service's own, or podman's --dns), joined by a bridge in a
# namespace of their own. Nothing is added to the host's
# network: the addresses exist only inside the namespaces the lab creates. Several labs can
# run at once under different names (FL_LAB_NAME, default "lab"); their state (pids, logs,
# Prometheus storage, the agent's socket and journal) lives in $FL_LAB_RUN/NAME
# (default /run/faultline-lab) and is removed by "down". "up" removes what it created when it
# fails half-way. Needs root, the build (scripts/build.sh) and the prometheus, dnsmasq-base and
# bind9-dnsutils packages.
#
# --containers: the service and the backend run as podman containers fl-NAME-service and
# fl-NAME-backend on the target's and the backend's namespaces (an image built here FROM
# scratch with faultline-demo and the libraries it links, never pulled), and
# `podman system service` serves the Docker Engine API on $FL_LAB_RUN/NAME/engine.sock for
# the agent (--container-engines), so faults can name the containers. "down" removes the
# containers, the image and that service too. Needs podman and runc (scripts/setup.sh).
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=${FL_BUILD_DIR:-$src/build}
demo=$build/lab/demo/faultline-demo
agent=$build/agent/faultlined
name=${FL_LAB_NAME:-lab}
run_root=${FL_LAB_RUN:-/run/faultline-lab}
dir=$run_root/$name
nodes=(target backend client dns)
# Podman as this machine needs it (docs/lab.md): runc (crun refuses hybrid cgroup layouts) and
# the cgroupfs manager; containers get rlimits no higher than the host's and the lab's own
# namespaces, never podman's default network.
podman=(podman --runtime runc --cgroup-manager cgroupfs)
image=localhost/faultline-lab-demo:$name
# shellcheck source=lab/topology.env
. "$src/lab/topology.env"

die() {
	echo "lab.sh: $*" >&2
	exit 1
}
usage() {
	sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

[[ $name =~ ^[a-z0-9]{1,10}$ ]] || die "FL_LAB_NAME '$name': use 1-10 of [a-z0-9]"
ns_of() { echo "fl-$name-$1"; }
sw=$(ns_of sw)
addr_of() {
	case $1 in
	target) echo "$LAB_TARGET_ADDR" ;;
	backend) echo "$LAB_BACKEND_ADDR" ;;
	client) echo "$LAB_CLIENT_ADDR" ;;
	dns) echo "$LAB_DNS_ADDR" ;;
	*) die "unknown node '$1' (target, backend, client, dns)" ;;
	esac
}
in_ns() { # NODE CMD...: nsenter switches only the network namespace (ip netns exec would
	# also remount /sys and hide the cgroup v2 hierarchy from the agent).
	local n=$1
	shift
	nsenter --net="/run/netns/$(ns_of "$n")" "$@"
}
ns_exists() { [ -e "/run/netns/$1" ]; }
ctr_of() { echo "fl-$name-$1"; } # the container of LABEL (service, backend) with --containers

# start NODE LABEL CMD...: a long-running process in NODE's namespace, in a session of its
# own (so that it outlives this script and a terminal's signals), its pid in $dir/LABEL.pid.
start() {
	local n=$1 label=$2
	shift 2
	# nsenter and setsid exec, so $! is the pid of the process itself.
	nsenter --net="/run/netns/$(ns_of "$n")" setsid "$@" </dev/null >"$dir/$label.log" 2>&1 &
	echo $! >"$dir/$label.pid"
	echo "$n" >"$dir/$label.node"
}

# build_image: the demo's image, FROM scratch with faultline-demo, the dynamic loader and
# every library it links, at the paths ldd names; built here, nothing is pulled.
build_image() {
	local ctx=$dir/image f
	mkdir -p "$ctx/rootfs/usr/bin"
	cp "$demo" "$ctx/rootfs/usr/bin/faultline-demo"
	for f in $(ldd "$demo" | grep -o '/[^ ]*'); do
		cp -L --parents "$f" "$ctx/rootfs"
	done
	cat >"$ctx/Containerfile" <<-EOF
		FROM scratch
		COPY rootfs/ /
		ENTRYPOINT ["/usr/bin/faultline-demo"]
	EOF
	# --layers=false: no intermediate image is kept, so removing this one removes everything.
	if ! timeout 180 "${podman[@]}" build --layers=false --pull=never -q -t "$image" "$ctx" \
		>"$dir/image.log" 2>&1; then
		tail -n 20 "$dir/image.log" >&2
		die "podman build of $image failed (log above)"
	fi
	rm -rf "$ctx"
}

# start_ctr NODE LABEL [PODMAN_OPTS... --] ARGS...: faultline-demo ARGS as container
# fl-NAME-LABEL on NODE's namespace, labelled faultline-lab=NAME; its name in $dir/LABEL.ctr.
start_ctr() {
	local n=$1 label=$2 c
	local opts=()
	shift 2
	if [[ " $* " == *" -- "* ]]; then
		while [ "$1" != -- ]; do
			opts+=("$1")
			shift
		done
		shift
	fi
	c=$(ctr_of "$label")
	echo "$n" >"$dir/$label.node"
	echo "$c" >"$dir/$label.ctr"
	if ! timeout 60 "${podman[@]}" run -d --pull=never --name "$c" --label "faultline-lab=$name" \
		--ulimit nofile=1024:1024 --ulimit nproc=4096:4096 "${opts[@]}" \
		--network "ns:/run/netns/$(ns_of "$n")" "$image" "$@" >"$dir/$label.log" 2>&1; then
		tail -n 20 "$dir/$label.log" >&2
		die "podman run $c failed (log above)"
	fi
}

# pid_of LABEL: the pid of LABEL's process, or of its container's main process (0 when the
# container does not run).
pid_of() {
	if [ -e "$dir/$1.ctr" ]; then
		"${podman[@]}" inspect -f '{{.State.Pid}}' "$(cat "$dir/$1.ctr")" 2>/dev/null || echo 0
	else
		cat "$dir/$1.pid" 2>/dev/null || echo 0
	fi
}
# running LABEL: LABEL's process still runs in its node's namespace (a pid that was reused
# elsewhere, or an exited container, does not). Compared by the namespace's inode: `ip netns
# identify` scans every name in /run/netns and fails when another lab (or test) deletes one
# meanwhile, which made a starting process look exited.
running() {
	local pid n ino
	n=$(cat "$dir/$1.node" 2>/dev/null) || return 1
	pid=$(pid_of "$1")
	[ "$pid" != 0 ] || return 1
	ino=$(stat -L -c %i "/proc/$pid/ns/net" 2>/dev/null) || return 1
	[ "$ino" = "$(stat -L -c %i "/run/netns/$(ns_of "$n")" 2>/dev/null)" ]
}
log_tail() { # LABEL: the last lines of its log (a container's from podman)
	if [ -e "$dir/$1.ctr" ]; then
		"${podman[@]}" logs "$(cat "$dir/$1.ctr")" >"$dir/$1.log" 2>&1 || true
	fi
	tail -n 20 "$dir/$1.log" >&2
}

# wait_for LABEL SECONDS CHECK...: bounded wait until CHECK succeeds while LABEL still runs.
wait_for() {
	local label=$1 secs=$2 i
	shift 2
	for ((i = 0; i < secs * 10; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		if ! running "$label"; then
			log_tail "$label"
			die "$label exited while starting (log above)"
		fi
		sleep 0.1
	done
	log_tail "$label"
	die "$label not ready within $secs s"
}

http_ok() { # NODE URL
	in_ns "$1" curl -fsS --max-time 1 -o /dev/null "$2"
}
dns_ok() { # the lab's resolver answers the backend's name from the target's node
	[ "$(in_ns target dig +short +time=1 +tries=1 "@$LAB_DNS_ADDR" "$LAB_BACKEND_NAME" A)" = \
		"$LAB_BACKEND_ADDR" ]
}

cmd_down() {
	local f label n i alive ns c
	local signalled=()
	# Processes first, each only while it still runs in this lab's namespace: a pid file must
	# never make us signal a process that reused the number elsewhere.
	if [ -d "$dir" ]; then
		for f in "$dir"/*.pid; do
			[ -e "$f" ] || continue
			label=$(basename "$f" .pid)
			if running "$label"; then
				kill -TERM "$(cat "$f")" 2>/dev/null || true
				signalled+=("$label")
			fi
		done
		# The agent reverts its faults on SIGTERM, those inside the containers' namespaces
		# included: the containers go only after it (or after a bounded wait).
		if [ -e "$dir/containers" ]; then
			for ((i = 0; i < 50; i++)); do
				alive=0
				for label in "${signalled[@]}"; do
					running "$label" && alive=1
				done
				[ "$alive" -eq 0 ] && break
				sleep 0.1
			done
			for f in "$dir"/*.ctr; do
				[ -e "$f" ] || continue
				c=$(cat "$f")
				timeout 60 "${podman[@]}" rm -f -i -t 0 "$c" >/dev/null 2>&1 ||
					echo "lab.sh: could not remove container $c" >&2
			done
		fi
		# Give everyone a bounded moment.
		for ((i = 0; i < 50; i++)); do
			alive=0
			for n in "${nodes[@]}"; do
				ns=$(ns_of "$n")
				ns_exists "$ns" && [ -n "$(ip netns pids "$ns" 2>/dev/null)" ] && alive=1
			done
			[ "$alive" -eq 0 ] && break
			sleep 0.1
		done
	fi
	for n in "${nodes[@]}" sw; do
		ns=$(ns_of "$n")
		ns_exists "$ns" || continue
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
	done
	# An agent killed above may have left faults: its journal says what to undo.
	if [ -d "$dir/agent-state/journal" ] && [ -x "$agent" ] && ns_exists "$(ns_of target)" &&
		[ -n "$(find "$dir/agent-state/journal" -name '*.json' 2>/dev/null)" ]; then
		in_ns target "$agent" --cleanup --state-dir "$dir/agent-state" \
			--audit-log "$dir/audit.log" >&2 || echo "lab.sh: agent cleanup reported failures" >&2
	fi
	for n in "${nodes[@]}" sw; do
		ns=$(ns_of "$n")
		for ((i = 0; i < 20; i++)); do
			ns_exists "$ns" || break
			ip netns del "$ns" 2>/dev/null || sleep 0.1
		done
		ns_exists "$ns" && echo "lab.sh: could not delete namespace $ns" >&2
	done
	if [ -e "$dir/containers" ]; then
		timeout 60 "${podman[@]}" rmi -f -i "$image" >/dev/null 2>&1 ||
			echo "lab.sh: could not remove image $image" >&2
	fi
	rm -rf "$dir"
	rmdir "$run_root" 2>/dev/null || true
	echo "lab $name: down"
}

cmd_up() {
	local with_agent=1 containers=0 load_secs=3600 rate=$LAB_LOAD_RATE n ns v
	local agent_opts=()
	while [ $# -gt 0 ]; do
		case $1 in
		--no-agent) with_agent=0 ;;
		--containers) containers=1 ;;
		--load-duration)
			load_secs=${2:?--load-duration needs seconds}
			shift
			;;
		--load-rate)
			rate=${2:?--load-rate needs a number}
			shift
			;;
		*) usage ;;
		esac
		shift
	done
	[ "$(id -u)" -eq 0 ] || die "run as root: the lab creates network namespaces"
	for v in ip nsenter setsid unshare curl prometheus dnsmasq dig; do
		command -v "$v" >/dev/null || die "needs '$v' (run scripts/setup.sh)"
	done
	if [ "$containers" -eq 1 ]; then
		for v in podman runc ldd; do
			command -v "$v" >/dev/null || die "--containers needs '$v' (run scripts/setup.sh)"
		done
	fi
	[ -x "$demo" ] || die "$demo is not built (scripts/build.sh)"
	[ "$with_agent" -eq 0 ] || [ -x "$agent" ] || die "$agent is not built (scripts/build.sh)"
	mkdir -p "$run_root"
	# mkdir is the lock: of two "up"s with one name, one gets the directory, the other stops.
	if ns_exists "$sw" || ! mkdir "$dir" 2>/dev/null; then
		die "lab '$name' is already up (scripts/lab.sh down first)"
	fi
	# From here on a failure removes everything created so far.
	trap 'echo "lab.sh: up failed; removing what was created" >&2; cmd_down >/dev/null' EXIT
	if [ "$containers" -eq 1 ]; then
		# Written first: "down" removes containers and the image only when it is there.
		: >"$dir/containers"
		build_image
	fi

	ip netns add "$sw"
	ip -n "$sw" link add br0 type bridge
	ip -n "$sw" link set br0 up
	for n in "${nodes[@]}"; do
		ns=$(ns_of "$n")
		ip netns add "$ns"
		ip -n "$ns" link set lo up
		ip link add eth0 netns "$ns" type veth peer name "$n" netns "$sw"
		ip -n "$sw" link set "$n" master br0 up
		ip -n "$ns" addr add "$(addr_of "$n")/$LAB_PREFIX_LEN" dev eth0
		ip -n "$ns" link set eth0 up
	done

	local be=$LAB_BACKEND_ADDR:$LAB_BACKEND_PORT svc=$LAB_TARGET_ADDR:$LAB_SERVICE_PORT
	local prom=$LAB_CLIENT_ADDR:$LAB_PROMETHEUS_PORT
	local be_url=http://$LAB_BACKEND_NAME:$LAB_BACKEND_PORT/
	# The lab's resolver: dnsmasq serving the backend's name from a hosts file, nothing else
	# (--no-resolv: no upstream; --local: it answers for the name's domain itself, NODATA
	# for the AAAA the C library also asks and NXDOMAIN for other names in it, where it would
	# otherwise answer REFUSED). --keep-in-foreground rather than --no-daemon, which would
	# answer TCP in its one process. Queries are not logged (20 a second for an hour).
	echo "$LAB_BACKEND_ADDR $LAB_BACKEND_NAME" >"$dir/hosts"
	start dns dns dnsmasq --keep-in-foreground --no-resolv --no-hosts --addn-hosts="$dir/hosts" \
		--local="/${LAB_BACKEND_NAME#*.}/" --listen-address="$LAB_DNS_ADDR" --bind-interfaces \
		--pid-file= --user=root --group=root --log-facility="$dir/dns.log"
	wait_for dns 10 dns_ok
	# The service's resolver configuration: the lab's resolver only; a lost query is asked
	# again after 1 s, once, so a lookup ends within about 2 s, inside the backend timeout.
	printf 'nameserver %s\noptions timeout:1 attempts:2\n' "$LAB_DNS_ADDR" >"$dir/resolv.conf"
	if [ "$containers" -eq 1 ]; then
		start_ctr backend backend backend --listen "$be"
		start_ctr target service --dns "$LAB_DNS_ADDR" --dns-option timeout:1 \
			--dns-option attempts:2 --dns-search . -- \
			serve --listen "$svc" --backend "$be_url" \
			--backend-timeout-ms "$LAB_BACKEND_TIMEOUT_MS"
		# The Docker Engine API, so that the agent resolves the containers' names.
		start target engine "${podman[@]}" system service --time=0 "unix://$dir/engine.sock"
		wait_for engine 30 test -S "$dir/engine.sock"
		agent_opts=(--container-engines "$dir/engine.sock")
	else
		start backend backend "$demo" backend --listen "$be"
		# The lab's resolv.conf over /etc/resolv.conf in a mount namespace of the service's
		# own (the host's file is never written); unshare and sh exec, so the pid is the
		# service's.
		# shellcheck disable=SC2016 # $0 and $@ are the inner shell's
		start target service unshare --mount --propagation private sh -c \
			'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$dir/resolv.conf" \
			"$demo" serve --listen "$svc" --backend "$be_url" \
			--backend-timeout-ms "$LAB_BACKEND_TIMEOUT_MS"
	fi
	wait_for backend 10 http_ok backend "http://$be/healthz"
	wait_for service 10 http_ok target "http://$svc/healthz"
	# The whole path once: the service resolves the backend's name and gets its answer.
	wait_for service 10 http_ok target "http://$svc/"
	if [ "$with_agent" -eq 1 ]; then
		start target agent "$agent" --socket "$dir/agent.sock" --state-dir "$dir/agent-state" \
			--audit-log "$dir/audit.log" "${agent_opts[@]}"
		wait_for agent 60 test -S "$dir/agent.sock"
	fi

	sed -e "s/@LAB_SCRAPE_INTERVAL@/$LAB_SCRAPE_INTERVAL/g" \
		-e "s/@LAB_TARGET_ADDR@/$LAB_TARGET_ADDR/g" -e "s/@LAB_SERVICE_PORT@/$LAB_SERVICE_PORT/g" \
		-e "s/@LAB_BACKEND_ADDR@/$LAB_BACKEND_ADDR/g" -e "s/@LAB_BACKEND_PORT@/$LAB_BACKEND_PORT/g" \
		"$src/lab/prometheus.yml.in" >"$dir/prometheus.yml"
	mkdir "$dir/prometheus"
	start client prometheus prometheus --config.file="$dir/prometheus.yml" \
		--storage.tsdb.path="$dir/prometheus" --storage.tsdb.retention.time=1d \
		--web.listen-address="$prom" --log.level=warn
	wait_for prometheus 60 http_ok client "http://$prom/-/ready"
	# The load waits longer than the service waits for the backend: every request gets the
	# service's own answer (a 504 included), which is what the counters then show.
	start client load "$demo" load --url "http://$svc/" --rate "$rate" --duration "$load_secs" \
		--timeout-ms $((LAB_BACKEND_TIMEOUT_MS + 2500))

	trap - EXIT
	echo "lab $name: up (state in $dir)"
	cmd_env | sed 's/^/  /'
}

cmd_env() {
	[ -d "$dir" ] || die "lab '$name' is not up"
	echo "FL_LAB_NAME=$name"
	[ -e "$dir/agent.pid" ] && echo "FAULTLINE_AGENT=unix://$dir/agent.sock"
	echo "LAB_SERVICE_URL=http://$LAB_TARGET_ADDR:$LAB_SERVICE_PORT/"
	echo "LAB_BACKEND_URL=http://$LAB_BACKEND_ADDR:$LAB_BACKEND_PORT/"
	echo "LAB_BACKEND_NAME=$LAB_BACKEND_NAME"
	echo "LAB_DNS_ADDR=$LAB_DNS_ADDR"
	echo "LAB_PROMETHEUS_URL=http://$LAB_CLIENT_ADDR:$LAB_PROMETHEUS_PORT"
	for n in "${nodes[@]}"; do
		echo "LAB_NETNS_${n^^}=$(ns_of "$n")"
	done
	if [ -e "$dir/containers" ]; then
		echo "LAB_CONTAINER_SERVICE=$(ctr_of service)"
		echo "LAB_CONTAINER_BACKEND=$(ctr_of backend)"
		echo "LAB_ENGINE_SOCKET=$dir/engine.sock"
	fi
}

cmd_status() {
	local f label pid n rc=0 prom=http://$LAB_CLIENT_ADDR:$LAB_PROMETHEUS_PORT
	if [ ! -d "$dir" ]; then
		echo "lab $name: not up"
		return 3
	fi
	echo "lab $name: state in $dir"
	for n in "${nodes[@]}" sw; do
		if ns_exists "$(ns_of "$n")"; then
			echo "  netns $(ns_of "$n"): present"
		else
			echo "  netns $(ns_of "$n"): MISSING"
			rc=1
		fi
	done
	for f in "$dir"/*.pid; do
		[ -e "$f" ] || continue
		label=$(basename "$f" .pid)
		n=$(cat "$dir/$label.node")
		if running "$label"; then
			echo "  $label (pid $(pid_of "$label"), $n): running"
		else
			echo "  $label ($n): NOT RUNNING (log: $dir/$label.log)"
			rc=1
		fi
	done
	for f in "$dir"/*.ctr; do
		[ -e "$f" ] || continue
		label=$(basename "$f" .ctr)
		n=$(cat "$dir/$label.node")
		if running "$label"; then
			echo "  $label (container $(cat "$f"), pid $(pid_of "$label"), $n): running"
		else
			echo "  $label (container $(cat "$f"), $n): NOT RUNNING (podman logs $(cat "$f"))"
			rc=1
		fi
	done
	if ns_exists "$(ns_of client)" &&
		f=$(in_ns client curl -fsS --max-time 2 "$prom/api/v1/targets" 2>/dev/null); then
		jq -r '.data.activeTargets[] |
			"  prometheus target \(.labels.job) \(.scrapeUrl): \(.health)" +
			(if .lastError != "" then " (\(.lastError))" else "" end)' <<<"$f"
	else
		echo "  prometheus: not answering on $prom"
		rc=1
	fi
	return "$rc"
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case $cmd in
up) cmd_up "$@" ;;
down)
	[ "$(id -u)" -eq 0 ] || die "run as root"
	cmd_down
	;;
status) cmd_status ;;
env) cmd_env ;;
exec)
	[ $# -ge 2 ] || usage
	[ -d "$dir" ] || die "lab '$name' is not up"
	n=$1
	shift
	addr_of "$n" >/dev/null
	[ -e "$dir/agent.pid" ] && export FAULTLINE_AGENT=unix://$dir/agent.sock
	in_ns "$n" "$@"
	;;
*) usage ;;
esac
