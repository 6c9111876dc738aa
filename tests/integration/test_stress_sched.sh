#!/usr/bin/env bash
# Where the agent and its stressor workers are scheduled (faultlined(8) --nice, stressors.md):
#  - an agent that leads its session (setsid, as systemd starts every service) gives its
#    session autogroup its --nice (-7 here, not the default, so the option's value is seen);
#  - an agent started from this test's session leaves that session's autogroup as it was;
#  - where the cpu controller is on a cgroup v1 hierarchy (hybrid hosts), stress.cpu
#    workers run in its group "faultline", not in the agent's, which stays where it was.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/stress_lib.sh"

# The cpu controller's v1 mount point, if any (the super options list "cpu" as an item).
CPU1=$(findmnt -rn -t cgroup -o TARGET,OPTIONS |
	awk '{ n = split($2, o, ","); for (i = 1; i <= n; i++) if (o[i] == "cpu") { print $1; exit } }')
[ -r /proc/self/autogroup ] || [ -n "$CPU1" ] ||
	fl_skip "neither session autogroups (CONFIG_SCHED_AUTOGROUP) nor a v1 cpu hierarchy here"

ag_id() { sed -n 's/^\(\/autogroup-[0-9]*\) nice .*/\1/p' "/proc/$1/autogroup"; }
ag_nice() { sed -n 's/.* nice \(-\{0,1\}[0-9]*\)$/\1/p' "/proc/$1/autogroup"; }
cpu_group() { awk -F: '$2 ~ /(^|,)cpu(,|$)/ { print $3 }' "/proc/$1/cgroup"; }
stop_agent() {
	local rc
	kill -TERM "$FL_AGENT_PID"
	fl_wait_exit rc "$FL_AGENT_PID" 30
	FL_AGENT_PID=
}

if [ -r /proc/self/autogroup ]; then
	mine=$(ag_id $$) mine_nice=$(ag_nice $$)
	# Started from this test's session: that session's autogroup is not the agent's own.
	fl_start_agent "$ns" "$sock" "$dir/agent.log" "${AGENT_ARGS[@]}" --nice -7
	fl_assert_eq "$(ag_id "$FL_AGENT_PID")" "$mine" "autogroup of an agent started in this session"
	fl_assert_eq "$(ag_nice $$)" "$mine_nice" "nice of this session's autogroup after the agent's start"
	stop_agent
	# In a session of its own: its autogroup is its own and gets its --nice.
	FL_AGENT_SESSION=1 fl_start_agent "$ns" "$sock" "$dir/agent.log" "${AGENT_ARGS[@]}" --nice -7
	[ "$(ag_id "$FL_AGENT_PID")" != "$mine" ] || fl_fail "setsid did not give the agent an autogroup"
	fl_assert_eq "$(ag_nice "$FL_AGENT_PID")" -7 "nice of the autogroup of an agent leading its session"
	fl_assert_eq "$(ag_nice $$)" "$mine_nice" "nice of this session's autogroup"
else
	echo "  (no session autogroups here: their part is not tested)"
	fl_start_agent "$ns" "$sock" "$dir/agent.log" "${AGENT_ARGS[@]}" --nice -7
fi

if [ -z "$CPU1" ]; then
	echo "  (the cpu controller is not on a v1 hierarchy here: the workers' group is not tested)"
	exit 0
fi
stress_require_available
agent_group=$(cpu_group "$FL_AGENT_PID")
new_lease 600000
apply cpu stress.cpu '{"workers": 3, "load": "1%"}'
wait_state "$FID" running 20
for p in $PIDS; do
	fl_assert_eq "$(cpu_group "$p")" /faultline "cpu group of worker $p"
	grep -qx "$p" "$CPU1/faultline/cgroup.procs" || fl_fail "worker $p not in $CPU1/faultline"
done
fl_assert_eq "$(cpu_group "$FL_AGENT_PID")" "$agent_group" "cpu group of the agent"
api DELETE "/v1/faults/$FID"
fl_assert_eq "$HTTP_STATUS" 200 "revert"
no_residue "$CGROUP" "$PIDS"
