#!/usr/bin/env bash
# `faultctl run` over ssh:// addresses, where every connection is a pipe to an ssh process
# (docs/transport.md) that the fleet loop reads without waiting: renewals, event streams and
# the revert. The ssh program is a stand-in of the test's own ($FAULTLINE_SSH) that runs the
# remote command line here, as sshd would through the user's shell (test_ssh_transport.sh
# covers a real sshd). Three agents each pause a process of their own under a 1 s lease:
# a run that holds (every lease renewed about every 333 ms, every fault's final status from
# its event stream, every revert confirmed), then a run where agent a2 is SIGKILLed: its
# renewals fail with ssh's own exit status and words, the others revert, exit 3.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run_lib.sh"
run_require

fl_netns ns sshpipe
fl_tmpdir dir
cat >"$dir/ssh" <<'EOF'
#!/bin/sh
# The last argument is the remote command line.
for last; do :; done
exec sh -c "$last"
EOF
chmod +x "$dir/ssh"
export FAULTLINE_SSH=$dir/ssh FAULTLINE_REMOTE_FAULTCTL=$FAULTCTL
declare -a PIDS VICTIMS
for k in 1 2 3; do
	mkdir "$dir/a$k"
	fl_start_agent "$ns" "$dir/a$k/agent.sock" "$dir/a$k.log"
	PIDS[k]=$FL_AGENT_PID
	run_start_victim v
	VICTIMS[k]=$v
	fl_on_exit "kill -CONT $v 2>/dev/null; kill -KILL $v 2>/dev/null"
done
{
	echo "version: 1"
	echo "name: run-over-ssh-pipes"
	echo "hypothesis: the fleet loop drives agents behind ssh"
	echo "agents:"
	for k in 1 2 3; do echo "  - {name: a$k, address: \"ssh://root@localhost$dir/a$k/agent.sock\"}"; done
	echo "duration: 4s"
	echo "safety: {lease_ttl: 1s}"
	echo "faults:"
	for k in 1 2 3; do
		echo "  - {name: pause-a$k, type: process.pause, agents: [a$k], duration: 3s, target: {pid: ${VICTIMS[k]}, all: true}}"
	done
} >"$dir/exp.yaml"

rc=0
"$FAULTCTL" run "$dir/exp.yaml" --report-json "$dir/held.json" >"$dir/held.out" 2>&1 || rc=$?
fl_assert_eq "$rc" 0 "exit status of the run over ssh:// ($(cat "$dir/held.out"))"
run_validate_report "$dir/held.json"
# 4 s of a 1 s lease renewed every 333 ms: 12 renewals; at least half on a loaded machine
# (each renewal is due a period after the last answer, so a late one shifts the rest).
jq -e 'all(.agents[]; .renewals >= 6 and .renew_failures == 0 and (.lease_lost | not) and .revert.ok) and
	all(.faults[]; .state == "reverted" and .achieved_final)' "$dir/held.json" >/dev/null ||
	fl_fail "report over ssh://: $(jq -c '{agents: [.agents[] | {name, renewals, renew_failures, lease_lost, revert}], faults: [.faults[] | {agent, state, achieved_final}]}' "$dir/held.json")"
for k in 1 2 3; do
	fl_assert_eq "$(proc_state "${VICTIMS[k]}")" S "victim of a$k after the run"
	run_agent_idle "$dir/a$k/agent.sock"
done
fl_log "run over ssh:// held: $(jq -c '[.agents[] | .renewals]' "$dir/held.json") renewals"

"$FAULTCTL" run "$dir/exp.yaml" --report-json "$dir/dead.json" >"$dir/dead.out" 2>&1 &
ctl=$!
fl_on_exit "kill -KILL $ctl 2>/dev/null"
for ((i = 0; i < 200; i++)); do
	paused=0
	for k in 1 2 3; do [ "$(proc_state "${VICTIMS[k]}")" = T ] && paused=$((paused + 1)); done
	[ $paused = 3 ] && break
	sleep 0.05
done
fl_assert_eq "$paused" 3 "victims paused over ssh:// ($(cat "$dir/dead.out"))"
kill -KILL "${PIDS[2]}"
fl_wait_exit rc "$ctl" 20
fl_assert_eq "$rc" 3 "exit status when a2 died ($(cat "$dir/dead.out"))"
run_validate_report "$dir/dead.json"
jq -e '.reason | test("agent a2 lost its lease .*ssh exited with status 3")' "$dir/dead.json" >/dev/null ||
	fl_fail "reason: $(jq -r .reason "$dir/dead.json")"
jq -e '(.agents[] | select(.name == "a2") | .lease_lost and (.revert.ok | not)) and
	([.agents[] | select(.name != "a2") | select(.revert.ok)] | length == 2)' "$dir/dead.json" >/dev/null ||
	fl_fail "report: $(jq -c '[.agents[] | {name, lease_lost, revert}]' "$dir/dead.json")"
# a2's victim: resumed by a2's watchdog when a2 died.
for ((i = 0; i < 100; i++)); do [ "$(proc_state "${VICTIMS[2]}")" = S ] && break; sleep 0.05; done
fl_assert_eq "$(proc_state "${VICTIMS[2]}")" S "victim of a2 after a2 died"
for k in 1 3; do
	fl_assert_eq "$(proc_state "${VICTIMS[k]}")" S "victim of a$k after a2 died"
	run_agent_idle "$dir/a$k/agent.sock"
done
fl_log "a2 died under a run over ssh://: $(jq -r .reason "$dir/dead.json" | head -c 300)"
