#!/usr/bin/env bash
# faultctl agent info against a running agent: version, kernel, capabilities, and a mechanism
# probe that must agree with what the kernel really accepts (checked here independently with
# tc/ip in a namespace of the test's own). In the vm stage (FL_VM=1, Debian's stock kernel),
# netem and fq must be reported available; on a kernel without them, unavailable with a reason.
. "$(dirname "$0")/lib.sh"
fl_require_root
fl_require_cmd tc ip jq socat
fl_require_build

fl_netns ns agent
fl_netns truth truth
fl_tmpdir dir
sock=$dir/agent.sock

# Ground truth: does this kernel accept each mechanism? (run in the test's own namespace)
try() { ip netns exec "$truth" "$@" >/dev/null 2>&1; }
untry() { try "$@" || true; }
declare -A expect
expect[netem]=false; try tc qdisc add dev lo root netem delay 1ms && expect[netem]=true
untry tc qdisc del dev lo root
expect[fq]=false; try tc qdisc add dev lo root fq && expect[fq]=true
untry tc qdisc del dev lo root
expect[htb]=false; try tc qdisc add dev lo root handle 1: htb && expect[htb]=true
untry tc qdisc del dev lo root
expect[tbf]=false; try tc qdisc add dev lo root tbf rate 1mbit burst 4kb limit 16kb && expect[tbf]=true
untry tc qdisc del dev lo root
expect[ifb]=false; try ip link add "$FL_ID-ifb" type ifb && expect[ifb]=true
untry ip link del "$FL_ID-ifb"
expect[clsact+cls_bpf]=false
if try tc qdisc add dev lo clsact &&
	try tc filter add dev lo ingress bpf direct-action obj "$FL_BUILD_DIR/bpf/probe.bpf.o" sec tc; then
	expect[clsact+cls_bpf]=true
fi
untry tc qdisc del dev lo clsact
expect[cgroup-v2-bpf]=false
grep -qw cgroup2 /proc/self/mounts && expect[cgroup-v2-bpf]=true

if [ "${FL_VM:-0}" = 1 ]; then
	# The vm stage exists because this kernel has them: if tc says no, the harness is broken.
	fl_assert_eq "${expect[netem]}" true "tc accepts netem in the vm stage"
	fl_assert_eq "${expect[fq]}" true "tc accepts fq in the vm stage"
fi

fl_start_agent "$ns" "$sock" "$dir/agent.log"
info=$dir/info.json
"$FAULTCTL" --agent "unix://$sock" --json agent info >"$info" ||
	fl_fail "faultctl agent info failed: $(cat "$info")"

fl_assert_eq "$(jq -r .version "$info")" "$("$FAULTLINED" --version | awk '{print $2}')" version
fl_assert_eq "$(jq -r .kernel.release "$info")" "$(uname -r)" "kernel release"
fl_assert_eq "$(jq -r .pid "$info")" "$FL_AGENT_PID" pid
# Least privilege: after setup the agent keeps only what its fault types need (CAP_SYS_ADMIN:
# the network types' optional capability, for netns and container targets; listed per type,
# and permitted only).
jq -e '.fault_types[] | select(.name == "network.partition") | .capabilities_optional == "cap_sys_admin"' \
	"$info" >/dev/null || fl_fail "network.partition does not name cap_sys_admin as optional"
for cap in cap_setuid cap_setgid cap_sys_module cap_dac_override cap_chown; do
	jq -e --arg c "$cap" '.capabilities.effective | index($c) | not' "$info" >/dev/null ||
		fl_fail "the agent kept $cap"
done
jq -e '.capabilities.effective | index("cap_kill")' "$info" >/dev/null ||
	fl_fail "cap_kill (process faults) missing from the kept capabilities"
# CAP_SYS_ADMIN alone is permitted but not effective: the thread that enters a namespace
# raises it for its setns() only (integration.agent_netns checks every thread).
fl_assert_eq "$(jq -c '.capabilities.raised_per_thread' "$info")" '["cap_sys_admin"]' \
	"capabilities permitted but not effective"
jq -e '(.capabilities.permitted - .capabilities.raised_per_thread) == .capabilities.effective' "$info" >/dev/null ||
	fl_fail "permitted set larger than the effective set and cap_sys_admin: $(jq -c .capabilities "$info")"
grep -q "^NoNewPrivs:[[:space:]]*1" "/proc/$FL_AGENT_PID/status" || fl_fail "no_new_privs not set"
# Every thread of the agent runs at the default --nice, so leases expire on time under load.
for t in /proc/"$FL_AGENT_PID"/task/*; do
	fl_assert_eq "$(awk '{ print $19 }' "$t/stat")" -10 "nice of agent thread ${t##*/}"
done

for m in "${!expect[@]}"; do
	got=$(jq -r --arg m "$m" '.mechanisms[] | select(.name == $m) | .available' "$info")
	fl_assert_eq "$got" "${expect[$m]}" "mechanism $m available"
	if [ "$got" = false ]; then
		reason=$(jq -r --arg m "$m" '.mechanisms[] | select(.name == $m) | .reason // ""' "$info")
		[ -n "$reason" ] || fl_fail "mechanism $m unavailable without a reason"
		fl_log "$m: unavailable: $reason"
	else
		fl_log "$m: available"
	fi
done
fl_assert_eq "$(jq '.mechanisms | length' "$info")" "${#expect[@]}" "number of mechanisms"

# The human view says the same.
"$FAULTCTL" --agent "unix://$sock" agent info >"$dir/info.txt"
for m in netem fq; do
	word=unavailable
	[ "${expect[$m]}" = true ] && word=available
	grep -Eq "^  $m +$word( |$)" "$dir/info.txt" ||
		fl_fail "human output does not say $m $word: $(cat "$dir/info.txt")"
done

# FAULTLINE_AGENT finds the same agent.
FAULTLINE_AGENT="unix://$sock" "$FAULTCTL" --json agent info | jq -e ".pid == $FL_AGENT_PID" >/dev/null ||
	fl_fail "FAULTLINE_AGENT was not used"

# The probe ran in its own namespace: the agent's namespace has no qdiscs or links from it.
[ "$(ip -n "$ns" -o link show | wc -l)" -eq 1 ] || fl_fail "probe left links in the agent's namespace"
tc -n "$ns" qdisc show dev lo | grep -Eq 'netem|fq|htb|tbf|clsact' &&
	fl_fail "probe left a qdisc on lo: $(tc -n "$ns" qdisc show dev lo)"
ls -d /sys/fs/cgroup/unified/faultline-probe.* /sys/fs/cgroup/faultline-probe.* 2>/dev/null &&
	fl_fail "probe left a cgroup behind"

kill -TERM "$FL_AGENT_PID"
fl_wait_exit rc "$FL_AGENT_PID" 30
fl_assert_eq "$rc" 0 "agent exit status after SIGTERM"
[ ! -e "$sock" ] || fl_fail "agent left its socket behind"
exit 0
