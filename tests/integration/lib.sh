# Shared helpers for integration tests: sourced, never run. Every test runs as root in network
# namespaces it creates; everything registered here is removed on exit, also on failure.
# Exit code 77 means "skipped" (CTest SKIP_RETURN_CODE); the reason is printed.
set -euo pipefail
# With pipefail, never "CMD | grep -q": grep quits at its first match, and a CMD that writes in
# several writes (tc and ss flush per object) then dies of SIGPIPE, failing the pipeline at
# random. Use "CMD | grep >/dev/null PATTERN" (reads everything) or grep a here-string.

FL_SKIP=77
FL_SOURCE_DIR=${FL_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
FL_BUILD_DIR=${FL_BUILD_DIR:-$FL_SOURCE_DIR/build}
FAULTLINED=$FL_BUILD_DIR/agent/faultlined
FAULTCTL=$FL_BUILD_DIR/ctl/faultctl
FL_TEST=$(basename "$0" .sh)
# Short unique prefix: interface names are limited to 15 characters.
FL_ID=fl$$
FL_NETNS=()
FL_TMPDIRS=()
FL_CLEANUP_CMDS=()

fl_log() { echo "[$FL_TEST] $*"; }
fl_skip() { echo "SKIP: $FL_TEST: $*"; exit "$FL_SKIP"; }
fl_fail() { echo "FAIL: $FL_TEST: $*" >&2; exit 1; }

fl_teardown() {
	local rc=$? i
	set +e
	for ((i = ${#FL_CLEANUP_CMDS[@]} - 1; i >= 0; i--)); do
		eval "${FL_CLEANUP_CMDS[$i]}" >/dev/null 2>&1
	done
	# Only this shell's own background jobs: never a pid that may have been recycled.
	for i in $(jobs -p); do
		kill -KILL "$i" 2>/dev/null && wait "$i" 2>/dev/null
	done
	for i in "${FL_NETNS[@]}"; do
		ip netns pids "$i" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
		ip netns del "$i" 2>/dev/null
	done
	for i in "${FL_TMPDIRS[@]}"; do
		rm -rf "$i"
	done
	if [ "$rc" -eq 0 ]; then
		echo "PASS: $FL_TEST"
	elif [ "$rc" -ne "$FL_SKIP" ]; then
		echo "FAIL: $FL_TEST (exit $rc)" >&2
	fi
	exit "$rc"
}
trap fl_teardown EXIT
trap 'exit 130' INT TERM

# Run a command at teardown (in reverse order of registration).
fl_on_exit() { FL_CLEANUP_CMDS+=("$*"); }

fl_require_root() {
	[ "$(id -u)" -eq 0 ] || fl_skip "needs root (integration tests create network namespaces)"
}

fl_require_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || fl_skip "needs '$c' (run scripts/setup.sh)"
	done
}

fl_require_build() {
	[ -x "$FAULTLINED" ] && [ -x "$FAULTCTL" ] ||
		fl_fail "faultlined/faultctl not built in $FL_BUILD_DIR"
}

# Registering helpers set a variable instead of printing: a $(...) subshell would lose the
# registration and so the teardown.
# fl_tmpdir VAR: a fresh temporary directory, removed at exit.
fl_tmpdir() {
	local _fl_d
	_fl_d=$(mktemp -d "/tmp/$FL_ID.XXXXXX")
	FL_TMPDIRS+=("$_fl_d")
	printf -v "$1" '%s' "$_fl_d"
}

# fl_netns VAR NAME: create namespace $FL_ID-NAME with lo up, removed at exit.
fl_netns() {
	local _fl_ns=$FL_ID-$2
	FL_NETNS+=("$_fl_ns")
	ip netns add "$_fl_ns"
	ip -n "$_fl_ns" link set lo up
	printf -v "$1" '%s' "$_fl_ns"
}

# fl_veth NS_A NS_B ADDR_A ADDR_B: a veth pair between two namespaces, addresses with prefix.
fl_veth() {
	local a=$1 b=$2
	ip link add "$FL_ID-a" netns "$a" type veth peer name "$FL_ID-b" netns "$b"
	ip -n "$a" addr add "$3" dev "$FL_ID-a"
	ip -n "$b" addr add "$4" dev "$FL_ID-b"
	ip -n "$a" link set "$FL_ID-a" up
	ip -n "$b" link set "$FL_ID-b" up
}

# fl_lab NET: the two-host lab most agent tests and benchmarks start from: namespaces A and B
# (their names in A and B) joined by a veth pair, NET.1/24 on A's end (device DEV, where the
# agent injects) and NET.2/24 on B's; a fresh directory dir with the agent's socket path
# sock and state directory state. All of it is removed at exit.
fl_lab() {
	fl_netns A a
	fl_netns B b
	fl_veth "$A" "$B" "$1.1/24" "$1.2/24"
	DEV=$FL_ID-a
	fl_tmpdir dir
	sock=$dir/agent.sock
	state=$dir/state
}

# Wait (bounded) until a Unix socket exists and accepts connections.
fl_wait_socket() {
	local sock=$1 pid=$2 i
	for ((i = 0; i < 600; i++)); do
		if [ -S "$sock" ] && socat -u OPEN:/dev/null "UNIX-CONNECT:$sock" 2>/dev/null; then
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || fl_fail "agent exited before listening"
		sleep 0.1
	done
	fl_fail "agent did not listen on $sock within 60 s"
}

# fl_start_agent NETNS SOCKET LOG [ARGS...]: start faultlined in NETNS; sets FL_AGENT_PID.
# Its journal and audit log go next to the socket (the test's own directory) unless ARGS say
# otherwise: a test never writes the host's /var/lib/faultline or /var/log/faultline.
fl_start_agent() {
	local ns=$1 sock=$2 log=$3 d
	shift 3
	d=$(dirname "$sock")
	set -- --state-dir "$d/state" --audit-log "$d/audit.log" "$@"
	# nsenter switches only the network namespace; "ip netns exec" would also remount /sys
	# and hide the cgroup v2 hierarchy from the agent.
	# FL_AGENT_SESSION=1: the agent leads a session of its own (setsid), as under systemd.
	${FL_AGENT_SESSION:+setsid} nsenter --net="/run/netns/$ns" "$FAULTLINED" --socket "$sock" "$@" >"$log" 2>&1 &
	FL_AGENT_PID=$!
	fl_wait_socket "$sock" "$FL_AGENT_PID"
}

# fl_sleeper VAR DIR SECONDS: a process of the test's own for process faults: a copy of sleep
# named fl-$FL_ID-v (a name only this test uses) in DIR, in its own session, for SECONDS; its
# pid in VAR. Continued and killed at exit, also when a fault left it stopped.
fl_sleeper() {
	local _fl_p
	cp "$(command -v sleep)" "$2/fl-$FL_ID-v"
	setsid "$2/fl-$FL_ID-v" "$3" &
	_fl_p=$!
	disown "$_fl_p"
	fl_on_exit "kill -CONT $_fl_p 2>/dev/null; kill -KILL $_fl_p 2>/dev/null"
	printf -v "$1" '%s' "$_fl_p"
}

# fl_events VAR FILE SECONDS: the agent's event stream at $sock (GET /v1/events) written to FILE
# for at most SECONDS, with the agent's own times; the reader's pid in VAR, killed at exit.
fl_events() {
	local _fl_p
	curl -sN --max-time "$3" --unix-socket "$sock" http://agent/v1/events >"$2" 2>/dev/null &
	_fl_p=$!
	disown "$_fl_p"
	fl_on_exit "kill $_fl_p 2>/dev/null"
	printf -v "$1" '%s' "$_fl_p"
}

# fl_watchdog VAR AGENT_PID: the pid of the agent's watchdog (its child named faultlined-wd,
# agent/watchdog.h) in VAR; fails when there is none within 5 s.
fl_watchdog() {
	local _fl_i _fl_w=
	for ((_fl_i = 0; _fl_i < 100; _fl_i++)); do
		_fl_w=$(pgrep -P "$2" -x faultlined-wd || true)
		[ -n "$_fl_w" ] && break
		sleep 0.05
	done
	[ -n "$_fl_w" ] || fl_fail "agent $2 has no watchdog"
	printf -v "$1" '%s' "$_fl_w"
}

# fl_crash_agent PID: SIGKILL an agent together with its watchdog (the watchdog first): the
# worst case, where nothing in user space is left to undo its faults, for the tests of the
# recovery at the next start or by --cleanup. (A SIGKILL of the agent alone is undone by its
# watchdog at once: test_crash_lease.sh.) The caller still reaps the agent.
fl_crash_agent() {
	local _fl_w
	_fl_w=$(pgrep -P "$1" -x faultlined-wd || true)
	[ -z "$_fl_w" ] || kill -KILL "$_fl_w"
	kill -KILL "$1"
	[ -z "$_fl_w" ] || fl_wait_gone "$_fl_w" 10
}

# fl_wait_gone PID SECONDS [WHAT]: wait (bounded) until a process is gone or a zombie: one
# that is not a child of this shell (a watchdog, reparented when its agent died; a victim a
# fault killed). Fails saying WHAT (by default "process PID still there SECONDS s later").
fl_wait_gone() {
	local _fl_i
	for ((_fl_i = 0; _fl_i < $2 * 20; _fl_i++)); do
		case "$(fl_proc_state "$1")" in "" | Z) return 0 ;; esac
		sleep 0.05
	done
	fl_fail "${3:-process $1 still there $2 s later}"
}

# fl_teardown_agent: register it with fl_on_exit before fl_start_agent. At exit, also on
# failure, it SIGKILLs the agent (FL_AGENT_PID, when set; its stressor workers die with it,
# PDEATHSIG) and runs `faultlined --cleanup` on the test's journal ($state, $dir/audit.log),
# which resumes, thaws and removes what the journal lists.
fl_teardown_agent() {
	if [ -n "${FL_AGENT_PID:-}" ]; then
		kill -KILL "$FL_AGENT_PID" 2>/dev/null
		wait "$FL_AGENT_PID" 2>/dev/null
	fi
	"$FAULTLINED" --cleanup --state-dir "$state" --audit-log "$dir/audit.log" >/dev/null 2>&1
}

# fl_wait_exit VAR PID SECONDS: wait (bounded) for a background job of this shell to end and
# store its exit status in VAR. Not for $(...): a subshell cannot reap the parent's children.
fl_wait_exit() {
	local _fl_i _fl_rc=0 _fl_st
	for ((_fl_i = 0; _fl_i < $3 * 10; _fl_i++)); do
		_fl_st=$(ps -o stat= -p "$2" 2>/dev/null || true)
		case "$_fl_st" in
		"" | Z*)
			wait "$2" || _fl_rc=$?
			printf -v "$1" '%s' "$_fl_rc"
			return 0
			;;
		esac
		sleep 0.1
	done
	fl_fail "process $2 did not exit within $3 s"
}

# fl_api METHOD PATH [BODY]: one request to the agent API at $sock (a JSON body when given);
# sets HTTP_STATUS and API_BODY. Bounded by FL_API_TIMEOUT seconds (default 20). A request
# that fails outright fails the test, unless the caller tolerates it (fl_api ... || true).
fl_api() {
	local out
	out=$(curl -sS --max-time "${FL_API_TIMEOUT:-20}" --unix-socket "$sock" -X "$1" \
		-w '\n%{http_code}' ${3:+-H 'Content-Type: application/json' --data-binary "$3"} \
		"http://agent$2")
	HTTP_STATUS=${out##*$'\n'}
	API_BODY=${out%$'\n'*}
}

# fl_now_ms: milliseconds of the wall clock (the clock the agent stamps its events with and
# ping -D its replies), without forking.
fl_now_ms() {
	local t=$EPOCHREALTIME
	t=${t/./}
	echo $((t / 1000))
}

# FL_JQ_TIME_MS: a jq definition, time_ms, turning the agent's times (events' and the audit
# log's "time", UTC with milliseconds: 2026-01-02T03:04:05.678Z) into milliseconds since the
# epoch: jq "$FL_JQ_TIME_MS .time | time_ms".
FL_JQ_TIME_MS='def time_ms: split(".") | (.[0] + "Z" | fromdateiso8601) * 1000 + (.[1] | rtrimstr("Z") | tonumber);'

# fl_lease TTL_MS: a new lease of the agent at $sock, its id in LEASE; fails with the answer
# unless it is 201.
fl_lease() {
	fl_api POST /v1/leases "{\"ttl_ms\": $1}"
	[ "$HTTP_STATUS" = 201 ] || fl_fail "create a lease of $1 ms: HTTP $HTTP_STATUS $API_BODY"
	LEASE=$(jq -r .lease.id <<<"$API_BODY")
}

# fl_renew: renews $LEASE (fails with the answer unless it is 200); its new deadline lies in
# [RENEW0 + TTL, RENEW1 + TTL], RENEW0 and RENEW1 being fl_now_ms just before the request and
# just after its answer.
fl_renew() {
	RENEW0=$(fl_now_ms)
	fl_api POST "/v1/leases/$LEASE/renew"
	RENEW1=$(fl_now_ms)
	[ "$HTTP_STATUS" = 200 ] || fl_fail "renew lease $LEASE: HTTP $HTTP_STATUS $API_BODY"
}

# fl_cleanup NETNS: `faultlined --cleanup` in NETNS on the test's journal ($state, $dir/audit.log),
# as the next start would run it after a crash: its report (JSON) in $dir/cleanup.json, its log
# in $dir/cleanup.log; fails with the log when it fails.
fl_cleanup() {
	nsenter --net="/run/netns/$1" "$FAULTLINED" --cleanup --state-dir "$state" --audit-log "$dir/audit.log" \
		>"$dir/cleanup.json" 2>"$dir/cleanup.log" || fl_fail "--cleanup: $(cat "$dir/cleanup.log")"
}

# fl_journal_records DIR: the records a journal directory holds (agent/journal.c, docs/api.md
# "Crash safety"), one JSON object a line: its logs (*.wal, oldest first) replayed, each "put"
# line replacing its key's record and each "del" removing it, a torn last line (no newline)
# skipped as recovery skips it; and records of the one-file format (KEY.json).
fl_journal_records() {
	local f line
	{
		for f in "$1"/*.json; do
			[ -e "$f" ] && printf 'x put %s %s\n' "$(basename "$f" .json)" "$(tr -d '\n' <"$f")"
		done
		for f in $(ls -tr "$1"/*.wal 2>/dev/null); do
			while IFS= read -r line; do printf '%s\n' "$line"; done <"$f"
		done
	} | awk '$2 == "put" {
			if (!($3 in seen)) { seen[$3] = 1; order[n++] = $3 }
			rec[$3] = substr($0, length($1) + length($2) + length($3) + 4)
		}
		$2 == "del" { delete rec[$3] }
		END { for (i = 0; i < n; i++) if (order[i] in rec) print rec[order[i]] }'
}

# fl_journal_count DIR: how many records the journal directory holds.
fl_journal_count() { fl_journal_records "$1" | wc -l; }

# fl_proc_state PID: the state letter of a process (R, S, T, ...), empty when it is gone;
# without forking, so it is cheap in polling loops.
fl_proc_state() {
	local line
	read -r line 2>/dev/null </proc/"$1"/stat || return 0
	line=${line##*) }
	echo "${line%% *}"
}

# fl_assert_state PID STATE MSG: the process's state letter becomes STATE within 5 s (polled
# every 50 ms), else fails with MSG. A process just sent SIGCONT is runnable (R) until the
# scheduler runs it and it goes back to sleep (S): on a loaded machine that takes a while.
fl_assert_state() {
	local n
	for ((n = 0; n < 100; n++)); do
		[ "$(fl_proc_state "$1")" = "$2" ] && return 0
		sleep 0.05
	done
	fl_assert_eq "$(fl_proc_state "$1")" "$2" "$3"
}

fl_assert_eq() {
	[ "$1" = "$2" ] || fl_fail "${3:-value}: expected '$2', got '$1'"
}

# fl_start_sshd NETNS ADDR: a throwaway sshd listening on ADDR:22 inside NETNS (a namespace of
# the test), accepting root with a throwaway key only. Sets FL_SSHD_PID, FL_SSHD_LOG and
# FL_SSH, an ssh wrapper that reads only the test's ssh config (its own known_hosts and key),
# for $FAULTLINE_SSH; FL_SSH_DIR holds the keys and configs. sshd runs in a private mount
# namespace with a tmpfs /run (for /run/sshd): the host's sshd, /etc/ssh and /run are never
# touched. It is killed at exit (and with everything else in NETNS).
fl_start_sshd() {
	local ns=$1 addr=$2 d sshd=/usr/sbin/sshd i
	[ -x "$sshd" ] || fl_skip "needs $sshd (Debian package openssh-server; run scripts/setup.sh)"
	fl_require_cmd ssh ssh-keygen unshare ss
	fl_tmpdir d
	FL_SSH_DIR=$d
	ssh-keygen -q -t ed25519 -N '' -C "$FL_ID-host" -f "$d/host_key"
	ssh-keygen -q -t ed25519 -N '' -C "$FL_ID-client" -f "$d/client_key"
	cp "$d/client_key.pub" "$d/authorized_keys"
	echo "$addr $(cat "$d/host_key.pub")" >"$d/known_hosts"
	# StrictModes would refuse authorized_keys under the world-writable /tmp. No PAM: key
	# authentication is all a test needs, and PAM's account stack would depend on the host.
	cat >"$d/sshd_config" <<-CFG
		ListenAddress $addr:22
		HostKey $d/host_key
		AuthorizedKeysFile $d/authorized_keys
		PidFile $d/sshd.pid
		UsePAM no
		StrictModes no
		PubkeyAuthentication yes
		PasswordAuthentication no
		KbdInteractiveAuthentication no
		PermitRootLogin prohibit-password
		AllowTcpForwarding no
		X11Forwarding no
		LogLevel VERBOSE
	CFG
	cat >"$d/ssh_config" <<-CFG
		Host *
		  IdentityFile $d/client_key
		  IdentitiesOnly yes
		  UserKnownHostsFile $d/known_hosts
		  GlobalKnownHostsFile /dev/null
		  StrictHostKeyChecking yes
		  ControlMaster no
		  ConnectTimeout 10
	CFG
	printf '#!/bin/sh\nexec ssh -F %s "$@"\n' "$d/ssh_config" >"$d/ssh"
	chmod +x "$d/ssh"
	FL_SSH=$d/ssh
	FL_SSHD_LOG=$d/sshd.log
	# nsenter and unshare exec (no fork), and so does sh: $! is sshd itself.
	nsenter --net="/run/netns/$ns" unshare --mount --propagation private sh -c \
		'mount -t tmpfs -o mode=0755 fl-sshd-run /run && mkdir -m 0755 /run/sshd &&
		 exec "$0" -D -e -f "$1"' "$sshd" "$d/sshd_config" >"$FL_SSHD_LOG" 2>&1 &
	FL_SSHD_PID=$!
	fl_on_exit "kill -KILL $FL_SSHD_PID"
	for ((i = 0; i < 100; i++)); do
		[ -n "$(ip netns exec "$ns" ss -Hltn "sport = :22")" ] && return 0
		kill -0 "$FL_SSHD_PID" 2>/dev/null || fl_fail "sshd exited: $(cat "$FL_SSHD_LOG")"
		sleep 0.1
	done
	fl_fail "sshd does not listen on $addr:22 within 10 s"
}

# fl_binom_interval N P ALPHA: "LO HI", the exact two-sided interval of Binomial(N, P) at
# level ALPHA (ALPHA/2 in each tail).
fl_binom_interval() {
	awk -v n="$1" -v p="$2" -v a="$3" 'BEGIN {
		l = n * log(1 - p)
		for (k = 0; k <= n; k++) {
			w[k] = exp(l)
			l += log(n - k) - log(k + 1) + log(p) - log(1 - p)
		}
		for (k = 0; k <= n; k++) { acc += w[k]; if (acc >= a / 2) break }
		lo = k; acc = 0
		for (k = n; k >= 0; k--) { acc += w[k]; if (acc > a / 2) break }
		print lo, k
	}'
}

# fl_check_loss WHAT N P LOST ALPHA CHECKS: LOST of N packets inside the exact interval of
# Binomial(N, P) at level ALPHA/CHECKS (a test whose flake budget ALPHA is shared by CHECKS such
# checks); logs the figure against the plain (1 - ALPHA) interval too, and fails outside the
# first.
fl_check_loss() {
	local what=$1 n=$2 p=$3 x=$4 lo hi lo1 hi1 inside=inside
	read -r lo hi < <(fl_binom_interval "$n" "$p" "$(awk -v a="$5" -v k="$6" 'BEGIN { print a / k }')")
	read -r lo1 hi1 < <(fl_binom_interval "$n" "$p" "$5")
	((x >= lo1 && x <= hi1)) || inside=OUTSIDE
	fl_log "$what: $x of $n lost ($(awk -v x="$x" -v n="$n" 'BEGIN { printf "%.2f%%", 100 * x / n }')," \
		"p=$p); $(awk -v a="$5" 'BEGIN { printf "%g%%", 100 * (1 - a) }') interval [$lo1, $hi1] $inside;" \
		"checked against [$lo, $hi]"
	((x >= lo && x <= hi)) || fl_fail "$what: $x of $n outside [$lo, $hi]"
}
