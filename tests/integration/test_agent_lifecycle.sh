#!/usr/bin/env bash
# faultlined start and stop: SIGTERM and SIGINT stop it with status 0 and remove its socket;
# a stale socket is replaced, a live agent or a non-socket file at the path is never touched;
# --systemd sends READY=1/STOPPING=1 and logs with journald priorities; faultctl exit codes.
. "$(dirname "$0")/lib.sh"
fl_require_root
fl_require_cmd socat jq nsenter
fl_require_build

fl_netns ns agent
fl_tmpdir dir

for sig in TERM INT; do
	sock=$dir/$sig.sock
	fl_start_agent "$ns" "$sock" "$dir/$sig.log"
	"$FAULTCTL" --agent "unix://$sock" agent info >/dev/null || fl_fail "agent info ($sig run)"
	kill -"$sig" "$FL_AGENT_PID"
	fl_wait_exit rc "$FL_AGENT_PID" 30
	fl_assert_eq "$rc" 0 "exit status after SIG$sig"
	[ ! -e "$sock" ] || fl_fail "socket left behind after SIG$sig"
	grep -q "stopped" "$dir/$sig.log" || fl_fail "no 'stopped' line after SIG$sig"
done

# A second agent on a live socket refuses to start and leaves the first one's socket alone.
sock=$dir/live.sock
fl_start_agent "$ns" "$sock" "$dir/first.log"
first=$FL_AGENT_PID
rc=0
timeout 60 nsenter --net="/run/netns/$ns" "$FAULTLINED" --socket "$sock" --state-dir "$dir/state2" \
	--audit-log "$dir/audit2.log" >"$dir/second.log" 2>&1 || rc=$?
fl_assert_eq "$rc" 1 "second agent's exit status"
grep -q "another agent is listening on $sock" "$dir/second.log" ||
	fl_fail "second agent did not say why: $(cat "$dir/second.log")"
[ -S "$sock" ] || fl_fail "second agent removed the first agent's socket"
"$FAULTCTL" --agent "unix://$sock" --json agent info | jq -e ".pid == $first" >/dev/null ||
	fl_fail "first agent no longer answers"
kill -TERM "$first"
fl_wait_exit rc "$first" 30
fl_assert_eq "$rc" 0 "first agent's exit status"

# A stale socket (nobody listening) is replaced.
sock=$dir/stale.sock
socat UNIX-LISTEN:"$sock" /dev/null &
spid=$!
for ((i = 0; i < 100; i++)); do [ -S "$sock" ] && break; sleep 0.05; done
kill -KILL "$spid"; wait "$spid" 2>/dev/null || true
[ -S "$sock" ] || fl_fail "could not create a stale socket for the test"
fl_start_agent "$ns" "$sock" "$dir/stale.log"
grep -q "removing stale socket" "$dir/stale.log" || fl_fail "stale socket not reported"
kill -TERM "$FL_AGENT_PID"
fl_wait_exit rc "$FL_AGENT_PID" 30
fl_assert_eq "$rc" 0 "exit status (stale run)"

# A regular file at the path is refused and left exactly as it was.
sock=$dir/file.sock
echo "precious" >"$sock"
rc=0
timeout 60 nsenter --net="/run/netns/$ns" "$FAULTLINED" --socket "$sock" --state-dir "$dir/state3" \
	--audit-log "$dir/audit3.log" >"$dir/file.log" 2>&1 || rc=$?
fl_assert_eq "$rc" 1 "exit status with a regular file at the socket path"
fl_assert_eq "$(cat "$sock")" precious "file at the socket path"

# systemd mode: readiness and stop notifications, journald priority prefixes.
sock=$dir/systemd.sock
notify=$dir/notify.sock
socat -u UNIX-RECV:"$notify" OPEN:"$dir/notify.txt",creat,append &
npid=$!
for ((i = 0; i < 100; i++)); do [ -S "$notify" ] && break; sleep 0.05; done
NOTIFY_SOCKET=$notify fl_start_agent "$ns" "$sock" "$dir/systemd.log" --systemd
for ((i = 0; i < 100; i++)); do grep -q READY=1 "$dir/notify.txt" 2>/dev/null && break; sleep 0.05; done
grep -q '^READY=1' "$dir/notify.txt" || fl_fail "no READY=1 notification"
kill -TERM "$FL_AGENT_PID"
fl_wait_exit rc "$FL_AGENT_PID" 30
fl_assert_eq "$rc" 0 "exit status (systemd mode)"
for ((i = 0; i < 100; i++)); do grep -q STOPPING=1 "$dir/notify.txt" && break; sleep 0.05; done
grep -q 'STOPPING=1' "$dir/notify.txt" || fl_fail "no STOPPING=1 notification"
kill "$npid" 2>/dev/null; wait "$npid" 2>/dev/null || true
grep -q '^<6>listening on ' "$dir/systemd.log" || fl_fail "no journald-style log line: $(head -3 "$dir/systemd.log")"

# faultctl: no agent -> 3 with a hint; bad address -> 2; bad usage -> 2.
rc=0; "$FAULTCTL" --agent "unix://$dir/none.sock" agent info 2>"$dir/err.txt" || rc=$?
fl_assert_eq "$rc" 3 "faultctl exit status without an agent"
grep -q "is faultlined running?" "$dir/err.txt" || fl_fail "no hint: $(cat "$dir/err.txt")"
rc=0; "$FAULTCTL" --agent "tcp://127.0.0.1:1" agent info 2>"$dir/err.txt" || rc=$?
fl_assert_eq "$rc" 2 "faultctl exit status with an unsupported address"
grep -q "unsupported scheme 'tcp'" "$dir/err.txt" || fl_fail "unclear error: $(cat "$dir/err.txt")"
rc=0; "$FAULTCTL" agent frobnicate 2>/dev/null || rc=$?
fl_assert_eq "$rc" 2 "faultctl exit status for a bad subcommand"
rc=0; "$FAULTLINED" --socket relative.sock 2>/dev/null || rc=$?
fl_assert_eq "$rc" 2 "faultlined exit status for a relative socket path"
exit 0
