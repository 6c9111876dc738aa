#!/usr/bin/env bash
# faultctl's ssh:// transport against a real sshd, started by this test in namespace A (the
# agent's host) with a throwaway host key, client key, authorized_keys and sshd_config, and
# reached from namespace B over a veth pair with the test's own ssh config (through a
# $FAULTLINE_SSH wrapper, the documented way to pass ssh options):
#   - faultctl --agent ssh://root@10.79.0.1/SOCKET agent info, text and JSON, end to end, also
#     with a remote command of several words ($FAULTLINE_REMOTE_FAULTCTL);
#   - failures say why, with ssh's own words: a missing remote socket (dial-stdio exit 3), a
#     key the server refuses (ssh exit 255), a missing remote faultctl (127), no ssh at all;
#   - faultctl dial-stdio alone: stdin EOF is passed on as a half-close and the answer still
#     arrives; the agent closing ends it while stdin stays open;
#   - control channel: a partition of B's address applied through the ssh transport exempts
#     that very ssh session (dial-stdio is the agent's peer and carries $SSH_CONNECTION): the
#     status names the session's flow, B's pings are dropped, yet renewals through ssh pass;
#   - cut the transport (kill -9 the sshd session processes; then, a second time, the local
#     ssh client): the next call fails within 3 s saying ssh ended, the remote dial-stdio exits,
#     and the fault is reverted by lease expiry within TTL + 100 ms of the cut (the agent's
#     fault.reverted event time against the cut's wall-clock time; the cut comes 0.5 s after
#     the last renewal, as between two renewals of a run); the pings pass again and the tc filters
#     are gone;
#   - a normal close ends ssh on EOF (no signal) and the remote bridge with it; a bridge that
#     hangs (SIGSTOP) makes the call fail at the client's 10 s timeout, and close then
#     terminates ssh after its 2 s grace; ssh is reaped every time (not even a zombie left);
#   - the revert is also bounded from below: not before TTL after the last renewal was sent.
# sshd comes from fl_start_sshd (lib.sh): a private mount namespace with its own tmpfs /run
# (for /run/sshd); nothing of the host's sshd, /etc/ssh or /run is touched, and sshd is killed
# at teardown.
. "$(dirname "$0")/lib.sh"
fl_require_root
fl_require_cmd ip ssh ssh-keygen unshare nsenter jq curl ping ss
[ -x /usr/sbin/sshd ] || fl_skip "needs /usr/sbin/sshd (Debian package openssh-server; run scripts/setup.sh)"
fl_require_build
AGENT_CALL=$FL_BUILD_DIR/tests/integration/agent_call
[ -x "$AGENT_CALL" ] || fl_fail "agent_call not built in $FL_BUILD_DIR"

# ms: the lease under which the faults run while the transport is cut; it is renewed between
# the checks of the running fault (a 5-ping check under 100 % loss alone takes ~1.3 s).
TTL=5000

fl_netns A a
fl_netns B b
for ns in "$A" "$B"; do
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1
done
fl_veth "$A" "$B" 10.79.0.1/24 10.79.0.2/24
DEV=$FL_ID-a
fl_tmpdir dir
sock=$dir/agent.sock
ADDR=ssh://root@10.79.0.1$sock
# Nothing of the caller's environment: no ssh agent, no SSH session of our own.
unset SSH_AUTH_SOCK SSH_CONNECTION SSH_CLIENT FAULTLINE_AGENT

now_ms() { date +%s%3N; }
inB() { nsenter --net="/run/netns/$B" "$@"; }

# --- sshd, and a second client key that sshd does not accept ------------------------------
fl_start_sshd "$A" 10.79.0.1
SSHD_PID=$FL_SSHD_PID
ssh-keygen -q -t ed25519 -N '' -C "$FL_ID-other" -f "$dir/other_key"
sed "s|IdentityFile .*|IdentityFile $dir/other_key|" "$FL_SSH_DIR/ssh_config" >"$dir/ssh_config_other"
printf '#!/bin/sh\nexec ssh -F %s "$@"\n' "$dir/ssh_config_other" >"$dir/ssh-other"
chmod +x "$dir/ssh-other"
export FAULTLINE_SSH=$FL_SSH
export FAULTLINE_REMOTE_FAULTCTL=$FAULTCTL
fl_start_agent "$A" "$sock" "$dir/agent.log"

# --- agent info through ssh -------------------------------------------------------------------
inB "$FAULTCTL" --agent "$ADDR" --json agent info >"$dir/info.json" 2>"$dir/info.err" ||
	fl_fail "agent info over ssh: $(cat "$dir/info.err")"
fl_assert_eq "$(jq -r .pid "$dir/info.json")" "$FL_AGENT_PID" "agent pid over ssh"
fl_assert_eq "$(jq -r .socket "$dir/info.json")" "$sock" "agent socket over ssh"
# A remote command of several words (here through env(1), as one would with sudo -n).
FAULTLINE_REMOTE_FAULTCTL="env  FL_TEST_WORDS=1 $FAULTCTL" inB "$FAULTCTL" --agent "$ADDR" agent info \
	>"$dir/info.txt" 2>&1 || fl_fail "agent info (text): $(cat "$dir/info.txt")"
grep -q "^agent *$ADDR\$" "$dir/info.txt" || fl_fail "address not shown: $(head -2 "$dir/info.txt")"
grep -q "Accepted publickey for root from 10.79.0.2" "$FL_SSHD_LOG" ||
	fl_fail "sshd did not log the session: $(cat "$FL_SSHD_LOG")"
fl_log "agent info over ssh:// works (sshd in $A, client in $B)"

# --- failures say why -------------------------------------------------------------------------
expect_fail() { # expect_fail DESCRIPTION PATTERN... -- COMMAND...: exit 3, every pattern in stderr
	local what=$1 pats=() rc=0 p
	shift
	while [ "$1" != -- ]; do pats+=("$1"); shift; done
	shift
	"$@" >/dev/null 2>"$dir/fail.err" || rc=$?
	fl_assert_eq "$rc" 3 "exit status with $what"
	for p in "${pats[@]}"; do
		grep -qF -- "$p" "$dir/fail.err" || fl_fail "$what: no '$p' in: $(cat "$dir/fail.err")"
	done
	fl_log "$what: $(cat "$dir/fail.err")"
}
expect_fail "no agent socket on the remote host" "ssh exited with status 3" \
	"cannot connect to the agent at unix://$dir/none.sock" "is faultlined running?" -- \
	inB "$FAULTCTL" --agent "ssh://root@10.79.0.1$dir/none.sock" agent info
expect_fail "a key the server refuses" "ssh exited with status 255" "Permission denied" -- \
	env FAULTLINE_SSH="$dir/ssh-other" nsenter --net="/run/netns/$B" "$FAULTCTL" --agent "$ADDR" agent info
expect_fail "no faultctl on the remote host" "ssh exited with status 127" \
	"$FL_ID-nowhere/faultctl" -- \
	env FAULTLINE_REMOTE_FAULTCTL="/$FL_ID-nowhere/faultctl" nsenter --net="/run/netns/$B" "$FAULTCTL" --agent "$ADDR" agent info
expect_fail "no ssh client" "cannot run the ssh client '$dir/no-ssh'" -- \
	env FAULTLINE_SSH="$dir/no-ssh" nsenter --net="/run/netns/$B" "$FAULTCTL" --agent "$ADDR" agent info

# --- dial-stdio alone -------------------------------------------------------------------------
printf 'GET /v1/info HTTP/1.1\r\n\r\n' |
	timeout 10 "$FAULTCTL" dial-stdio --agent "unix://$sock" >"$dir/dial.out" ||
	fl_fail "dial-stdio with stdin closed after the request: exit $?"
head -1 "$dir/dial.out" | grep >/dev/null '^HTTP/1.1 200' || fl_fail "dial-stdio answer: $(head -3 "$dir/dial.out")"
# stdin stays open (sleep), the agent closes after "Connection: close": dial-stdio ends.
t0=$(now_ms)
timeout 10 "$FAULTCTL" dial-stdio --agent "unix://$sock" >"$dir/dial2.out" \
	< <(printf 'GET /v1/info HTTP/1.1\r\nConnection: close\r\n\r\n'; exec sleep 20) ||
	fl_fail "dial-stdio after the agent closed: exit $?"
dt=$(($(now_ms) - t0))
((dt < 5000)) || fl_fail "dial-stdio took $dt ms to notice the agent closed"
grep -q '^HTTP/1.1 200' "$dir/dial2.out" || fl_fail "dial-stdio answer (agent closes)"
rc=0; "$FAULTCTL" dial-stdio --agent "$ADDR" </dev/null 2>"$dir/dial.err" || rc=$?
fl_assert_eq "$rc" 2 "dial-stdio with an ssh:// address"

# --- the bridge under a partition, then cut ---------------------------------------------------
# A request through the coprocess: REPLY_STATUS, REPLY_MS, REPLY_BODY.
req() {
	local line
	echo "$*" >&"${CALL[1]}"
	read -r -t 30 line <&"${CALL[0]}" || fl_fail "agent_call gave no answer to '$*'"
	REPLY_STATUS=${line%% *}
	line=${line#* }
	REPLY_MS=${line%% *}
	REPLY_BODY=${line#* }
}
api() { # api METHOD PATH: the local socket, to observe without the transport.
	curl -sS --max-time 20 --unix-socket "$sock" -X "$1" "http://agent$2"
}
pings() { # pings COUNT: replies B gets from A
	inB ping -n -q -c "$1" -i 0.05 -W 1 10.79.0.1 2>/dev/null |
		awk '/received/ { for (i = 1; i <= NF; i++) if ($i == "received,") print $(i - 1) }'
}
tc_filters() { tc -n "$A" filter show dev "$DEV" ingress; tc -n "$A" filter show dev "$DEV" egress; }
pristine=$(tc_filters)
fl_assert_eq "$(pings 5)" 5 "pings before any fault"

# call_start NAME: agent_call over ssh from B as a coprocess, and the session's processes:
# CALL_SSH here; there SESS (sshd's session processes: one for root, which gets no privilege-
# separated child, two otherwise) and DIAL, the bridge below them (sshd runs the command
# through the user's shell, which execs it).
call_start() {
	local p i
	# Earlier sessions end by themselves (bounded): one session at a time from here on.
	for ((i = 0; i < 100; i++)); do
		pgrep -P "$SSHD_PID" >/dev/null || break
		sleep 0.05
	done
	! pgrep -P "$SSHD_PID" >/dev/null || fl_fail "$1: an earlier ssh session did not end"
	coproc CALL { exec nsenter --net="/run/netns/$B" "$AGENT_CALL" "$ADDR" 2>"$dir/call-$1.err"; }
	CALL_PID_SAVED=$CALL_PID
	req GET /v1/info
	fl_assert_eq "$REPLY_STATUS" 200 "$1: info over ssh ($REPLY_BODY)"
	CALL_SSH=$(pgrep -P "$CALL_PID_SAVED" -x ssh) || fl_fail "no ssh child of agent_call"
	SESS=$(pgrep -P "$SSHD_PID") || fl_fail "no sshd session"
	fl_assert_eq "$(wc -w <<<"$SESS")" 1 "sshd sessions"
	DIAL=
	for ((i = 0; i < 3; i++)); do
		[ -z "$DIAL" ] || break
		for p in $(pgrep -P "${SESS##* }"); do
			case $(cat "/proc/$p/comm") in
			sshd) SESS="$SESS $p" ;;
			faultctl) DIAL=$p ;;
			esac
		done
	done
	[ -n "$DIAL" ] || fl_fail "no bridge under sshd: $(ps -o pid,ppid,args --ppid "${SESS##* }")"
	grep -q dial-stdio "/proc/$DIAL/cmdline" || fl_fail "pid $DIAL is not dial-stdio"
	SPORT=$(tr '\0' '\n' <"/proc/$DIAL/environ" |
		sed -n 's/^SSH_CONNECTION=10.79.0.2 \([0-9]*\) .*/\1/p')
	[ -n "$SPORT" ] || fl_fail "dial-stdio has no SSH_CONNECTION from 10.79.0.2"
}

# call_close NAME: EOF to agent_call, which closes the client; sets CLOSE_MS. Its ssh must be
# gone (reaped: not even a zombie) once it exited.
call_close() {
	local fd=${CALL[1]} line rc
	exec {fd}>&-
	read -r -t 10 line <&"${CALL[0]}" || fl_fail "$1: agent_call did not close"
	[[ $line == CLOSED* ]] || fl_fail "$1: agent_call: $line"
	CLOSE_MS=${line#CLOSED }
	fl_wait_exit rc "$CALL_PID_SAVED" 10
	fl_assert_eq "$rc" 0 "$1: agent_call exit status"
	! kill -0 "$CALL_SSH" 2>/dev/null || fl_fail "$1: ssh $CALL_SSH left behind"
}

# A normal close: ssh ends by itself on EOF, within close's 2 s grace (so without a signal),
# and the bridge ends with it.
call_start close
call_close close
((CLOSE_MS < 2000)) || fl_fail "closing took $CLOSE_MS ms: ssh did not end by itself on EOF"
fl_wait_gone "$DIAL" 5 "the remote dial-stdio after a normal close (pid $DIAL) still running"
fl_log "close: ssh ended by itself $CLOSE_MS ms after EOF; the remote bridge ended too"

# A transport that hangs without closing (the bridge stopped): the call ends at the client's
# timeout (CLIENT_TIMEOUT_MS, 10 s), and close terminates the unresponsive ssh.
call_start hang
kill -STOP "$DIAL"
req GET /v1/info
fl_assert_eq "$REPLY_STATUS" ERR "a call through a stopped bridge"
((REPLY_MS >= 9900 && REPLY_MS < 15000)) || fl_fail "the call took $REPLY_MS ms, not the 10 s timeout"
grep -q "no answer within 10000 ms; ssh is still running" <<<"$REPLY_BODY" ||
	fl_fail "unclear timeout: $REPLY_BODY"
call_close hang
((CLOSE_MS >= 1900 && CLOSE_MS < 8000)) || fl_fail "closing a hung ssh took $CLOSE_MS ms"
kill -CONT "$DIAL"
fl_wait_gone "$DIAL" 5 "the remote dial-stdio after its ssh was terminated (pid $DIAL) still running"
fl_log "hang: the call timed out after $REPLY_MS ms; close ended ssh in $CLOSE_MS ms"

renew() {
	req POST "/v1/leases/$1/renew"
	fl_assert_eq "$REPLY_STATUS" 200 "renew over ssh through the partition ($REPLY_BODY)"
	# Far below the 10 s the call would hang if the session were not exempt.
	((REPLY_MS < 5000)) || fl_fail "renew through the partition took $REPLY_MS ms"
}

# cut_run MODE: MODE is "sshd" (kill the server's session processes) or "client" (kill ssh).
cut_run() {
	local mode=$1 exempted lease fid flow t_r0 t_r1 t_cut t_rev rev_ms i
	call_start "$mode"
	req POST /v1/leases "{\"ttl_ms\": $TTL}"
	fl_assert_eq "$REPLY_STATUS" 201 "create lease over ssh ($REPLY_BODY)"
	lease=$(jq -r .lease.id <<<"$REPLY_BODY")
	req POST "/v1/leases/$lease/faults" "{\"name\": \"cut-$mode\", \"type\": \"network.partition\", \"duration\": \"10m\", \"target\": {\"interface\": \"$DEV\", \"cidrs\": [\"10.79.0.2\"]}}"
	fl_assert_eq "$REPLY_STATUS" 201 "apply a partition of B over ssh ($REPLY_BODY)"
	fid=$(jq -r .fault.id <<<"$REPLY_BODY")
	# Renewals through the partition keep the lease alive between the slower checks below.
	renew "$lease"
	# The agent found the session through the bridge's environment.
	flow=$(api GET "/v1/faults/$fid" |
		jq -r '.fault.status.protected[] | select(.why == "the requester'"'"'s SSH session") | .flow')
	fl_assert_eq "$flow" "tcp local port 22, peer 10.79.0.2/32 port $SPORT" "exempt flow"
	fl_assert_eq "$(pings 5)" 0 "pings from B through the partition"
	renew "$lease"
	exempted=$(api GET "/v1/faults/$fid" | jq .fault.status.counters.exempted)
	((exempted > 0)) || fl_fail "no packet of the ssh session counted as exempted"
	fl_log "$mode: the ssh session passed the partition ($exempted packets exempted: $flow)"

	# The last renewal; the cut comes 0.5 s later, as it would at some point between two
	# renewals of a run. (On a loaded machine the shell alone may take seconds here: the TTL
	# leaves 4.5 s, and the revert must come after the cut.)
	t_r0=$(now_ms)
	renew "$lease"
	t_r1=$(now_ms)
	sleep 0.5
	t_cut=$(now_ms)
	case $mode in
	sshd) kill -KILL $SESS ;;
	client) kill -KILL "$CALL_SSH" ;;
	esac
	req GET /v1/faults
	fl_assert_eq "$REPLY_STATUS" ERR "a call after the cut"
	((REPLY_MS < 3000)) || fl_fail "the call after the cut took $REPLY_MS ms"
	grep -q "ssh" <<<"$REPLY_BODY" || fl_fail "the error does not mention ssh: $REPLY_BODY"
	fl_log "$mode: the call after the cut failed in $REPLY_MS ms: $REPLY_BODY"
	fl_wait_gone "$DIAL" 5 "the remote dial-stdio after the cut (pid $DIAL) still running"

	# Wait (bounded) until the agent no longer lists the fault, then read when it reverted.
	for ((i = 0; i < 200; i++)); do
		[ "$(api GET /v1/faults | jq --arg f "$fid" '[.faults[] | select(.id == $f)] | length')" = 0 ] &&
			break
		sleep 0.05
	done
	# The stream stays open: curl ends it at --max-time (exit 28) with the history read.
	curl -sS -N --max-time 1 --unix-socket "$sock" "http://agent/v1/events?since=0" \
		>"$dir/events-$mode.txt" 2>/dev/null || true
	t_rev=$(jq -r --arg f "$fid" 'select(.type == "fault.reverted" and .fault == $f) | .time' \
		"$dir/events-$mode.txt" | head -1)
	[ -n "$t_rev" ] || fl_fail "the fault was not reverted after the cut"
	t_rev=$(date -d "$t_rev" +%s%3N)
	rev_ms=$((t_rev - t_cut))
	fl_log "$mode: reverted by lease expiry $rev_ms ms after the cut, $((t_rev - t_r1)) ms after" \
		"the last renewal's answer (TTL $TTL ms, bound $((TTL + 100)) ms after the cut)"
	((rev_ms > 0)) || fl_fail "reverted $((-rev_ms)) ms before the cut: the cut came too late"
	((rev_ms <= TTL + 100)) || fl_fail "reverted $rev_ms ms after the cut > TTL + 100 ms"
	# By the lease, not by anything earlier: not before TTL after the renewal was sent (10 ms
	# for millisecond truncation and libuv's cached loop time).
	((t_rev >= t_r0 + TTL - 10)) || fl_fail "reverted $((t_rev - t_r0)) ms after the renewal, before the TTL"
	grep -q "lease $lease expired" "$dir/agent.log" || fl_fail "no expiry of $lease in the agent log"
	fl_assert_eq "$(tc_filters)" "$pristine" "tc filters after the lease revert"
	fl_assert_eq "$(pings 5)" 5 "pings after the lease revert"

	# Closing the client reaps its (dead) ssh; the coprocess ends.
	call_close "$mode"
}
cut_run sshd
cut_run client
