# shellcheck shell=bash
# Stand-in containers for tests and benchmarks that need many network namespaces behind one
# container target, without a container runtime: sourced after lib.sh, never run.
#
# ctr_stub_start N PROJECT SERVICE: N "containers", each a sleep of this script's own in a
# network namespace of its own ($FL_ID-cK, lo up; names in CTR_NS) and in a cgroup named as
# podman names a container's (CGROOT/$FL_ID-ctr/libpod-ID.scope, ids in CTR_IDS), which is
# how the agent finds a container's processes (agent/container/container.c); their names and
# compose labels (project PROJECT, service SERVICE) come from tests/integration/engine_stub.py
# on the socket CTR_ENGINE (give the agent --container-engines "$CTR_ENGINE"). Everything is
# removed at exit, also on failure: the sleeps, the cgroups, the engine, the namespaces.
ctr_stub_start() {
	local n=$1 k id p cgroot list='' cg
	cgroot=$(findmnt -n -t cgroup2 -o TARGET | head -n 1)
	[ -n "$cgroot" ] || fl_skip "no cgroup v2 hierarchy mounted (stand-in containers need one)"
	fl_require_cmd python3 findmnt nsenter setsid sha256sum
	CTR_CG=$cgroot/$FL_ID-ctr
	mkdir "$CTR_CG"
	# Registered first, run last: the sleeps are killed before (below), bounded waits.
	# (Run inside fl_teardown's loop: never its variable i.)
	fl_on_exit "for _fl_d in $CTR_CG/*/ $CTR_CG; do for _fl_k in \$(seq 50); do rmdir \$_fl_d 2>/dev/null && break; sleep 0.1; done; done"
	fl_tmpdir CTR_DIR
	CTR_NS=() CTR_IDS=()
	for ((k = 1; k <= n; k++)); do
		fl_netns p "c$k"
		id=$(printf '%s' "$FL_ID-$k" | sha256sum | cut -c1-64)
		cg=$CTR_CG/libpod-$id.scope
		mkdir "$cg"
		# In its cgroup before it execs into its namespace: never a moment outside.
		setsid sh -c "echo \$\$ >$cg/cgroup.procs && exec nsenter --net=/run/netns/$p sleep 3600" &
		fl_on_exit "kill -KILL $! 2>/dev/null"
		disown $!
		CTR_NS+=("$p") CTR_IDS+=("$id")
		list+="${list:+,}{\"Id\": \"$id\", \"Names\": [\"/$FL_ID-c$k\"], \"Labels\": {\"com.docker.compose.project\": \"$2\", \"com.docker.compose.service\": \"$3\"}}"
	done
	echo "[$list]" >"$CTR_DIR/containers.json"
	CTR_ENGINE=$CTR_DIR/engine.sock
	python3 "$FL_SOURCE_DIR/tests/integration/engine_stub.py" "$CTR_ENGINE" "$CTR_DIR/containers.json" &
	fl_on_exit "kill $! 2>/dev/null"
	for ((k = 0; k < 100; k++)); do
		[ -S "$CTR_ENGINE" ] && curl -sf --max-time 2 --unix-socket "$CTR_ENGINE" http://e/_ping >/dev/null && break
		sleep 0.1
	done
	[ -S "$CTR_ENGINE" ] || fl_fail "the engine stub did not listen on $CTR_ENGINE within 10 s"
	# Each sleep in its cgroup and namespace (bounded).
	for ((k = 0; k < 100; k++)); do
		[ "$(cat "$CTR_CG"/*/cgroup.procs | wc -l)" -ge "$n" ] && return 0
		sleep 0.1
	done
	fl_fail "the stand-in containers' processes are not in their cgroups within 10 s"
}

# ctr_stub_residue: the namespaces of CTR_NS whose lo still has a clsact qdisc or a filter
# (what a network fault adds there), one line each; nothing when every one is clean.
ctr_stub_residue() {
	local p
	for p in "${CTR_NS[@]}"; do
		if tc -n "$p" qdisc show dev lo | grep >/dev/null clsact ||
			[ -n "$(tc -n "$p" filter show dev lo ingress 2>/dev/null)$(tc -n "$p" filter show dev lo egress 2>/dev/null)" ]; then
			echo "$p: $(tc -n "$p" qdisc show dev lo | tr '\n' ' ')"
		fi
	done
}
