#!/usr/bin/env bash
# Fault types whose capabilities the agent cannot hold are unavailable, named, and refused
# before anything changes. The agent is started with a reduced bounding set (setpriv, as a
# container's or a unit's CapabilityBoundingSet= would give it):
#   - without CAP_NET_ADMIN: GET /v1/info and `faultctl agent info` list every network.* type
#     unavailable with a reason naming CAP_NET_ADMIN, and the mechanisms the probe could not
#     try as unprobed for that reason (not as missing from the kernel); applying network.loss
#     and network.bandwidth answers 503 `unavailable` naming it, and `tc qdisc/class/filter show`
#     on the interface (a tbf root the test installed first) is byte-for-byte what it was, no
#     IFB device appears, nothing is journaled; `faultctl run` refuses the experiment (exit 3)
#     naming it, before any lease; a process.kill still kills its victim;
#   - without CAP_BPF and CAP_KILL: the probe, which runs before the agent drops to what its
#     types need and can load BPF with CAP_SYS_ADMIN, finds clsact+cls_bpf available, yet the
#     network types are unavailable naming CAP_BPF (without the check they failed at apply
#     time), process types naming CAP_KILL, and a process.kill is refused with its victim
#     untouched; stressors stay available;
#   - the ground truth for the capability sets is /proc/PID/status of the agent (CapBnd, CapEff),
#     read independently of the agent's own report.
. "$(dirname "$0")/lib.sh"
fl_require_root
fl_require_cmd ip tc jq curl socat nsenter setpriv setsid
fl_require_build

fl_netns A a
fl_netns B b
fl_veth "$A" "$B" 10.79.0.1/24 10.79.0.2/24
DEV=$FL_ID-a
fl_tmpdir dir

# start_agent NAME DROP: faultlined in A under a bounding set without DROP (setpriv syntax,
# e.g. -net_admin); sets sock, state and FL_AGENT_PID. setpriv and nsenter exec, so the pid
# is the agent's.
start_agent() {
	sock=$dir/$1/agent.sock
	state=$dir/$1/state
	mkdir -p "$dir/$1"
	nsenter --net="/run/netns/$A" setpriv --bounding-set="$2" "$FAULTLINED" --socket "$sock" \
		--state-dir "$state" --audit-log "$dir/$1/audit.log" >"$dir/$1/agent.log" 2>&1 &
	FL_AGENT_PID=$!
	fl_wait_socket "$sock" "$FL_AGENT_PID"
	curl -sS --max-time 20 --unix-socket "$sock" http://agent/v1/info >"$dir/$1/info.json" ||
		fl_fail "GET /v1/info failed"
}

stop_agent() {
	local rc
	kill -TERM "$FL_AGENT_PID"
	fl_wait_exit rc "$FL_AGENT_PID" 30
	fl_assert_eq "$rc" 0 "agent exit status after SIGTERM"
}

# has_cap PID BIT FIELD: is capability number BIT in the mask /proc/PID/status shows as FIELD?
CAP_KILL=5 CAP_NET_ADMIN=12 CAP_BPF=39
has_cap() {
	local mask
	mask=$(awk -v f="$3:" '$1 == f { print $2 }' "/proc/$1/status")
	[ -n "$mask" ] || fl_fail "no $3 in /proc/$1/status"
	(((0x$mask >> $2) & 1))
}

# type_field INFO TYPE FIELD
# (not "// empty": that would turn false into nothing)
type_field() {
	jq -r --arg t "$2" --arg f "$3" '.fault_types[] | select(.name == $t) | .[$f] |
		if . == null then "" else tostring end' "$1"
}

snapshot() { # the interface's whole tc state and the host's links, for before/after checks
	{
		tc -n "$A" qdisc show dev "$DEV"
		tc -n "$A" class show dev "$DEV"
		for p in root ingress egress; do tc -n "$A" filter show dev "$DEV" "$p"; done
		ip -n "$A" -o link show | awk '{ print $2 }'
	} 2>&1
}

api() { FL_API_TIMEOUT=20 fl_api "$@"; }

new_lease() {
	api POST /v1/leases '{"ttl_ms": 600000}'
	fl_assert_eq "$HTTP_STATUS" 201 "lease ($API_BODY)"
	LEASE=$(jq -r .lease.id <<<"$API_BODY")
}

journal_count() { fl_journal_count "$state/journal"; }


# A root the bandwidth fault would replace: it must still be there, untouched, after a refusal.
tc -n "$A" qdisc add dev "$DEV" root handle 7: tbf rate 50mbit burst 32kb limit 64kb

# ---- 1. without CAP_NET_ADMIN ----------------------------------------------------------------
start_agent nonet -net_admin
info=$dir/nonet/info.json
# The types by kind (their names' prefix), from the agent's own list of every type it
# implements: a new type is checked here without an edit.
types_of() { jq -r --arg p "$1" '[.fault_types[].name | select(startswith($p))] | join(" ")' "$info"; }
NET_TYPES=$(types_of network.)
PROC_TYPES=$(types_of process.)
STRESS_TYPES=$(types_of stress.)
[ -n "$NET_TYPES" ] && [ -n "$PROC_TYPES" ] && [ -n "$STRESS_TYPES" ] ||
	fl_fail "fault types by kind: network '$NET_TYPES', process '$PROC_TYPES', stress '$STRESS_TYPES'"
fl_assert_eq "$(wc -w <<<"$NET_TYPES $PROC_TYPES $STRESS_TYPES")" "$(jq '.fault_types | length' "$info")" \
	"fault types of a known kind"
has_cap "$FL_AGENT_PID" $CAP_NET_ADMIN CapBnd && fl_fail "setpriv left cap_net_admin in the bounding set"
has_cap "$FL_AGENT_PID" $CAP_NET_ADMIN CapEff && fl_fail "the agent holds cap_net_admin"
has_cap "$FL_AGENT_PID" $CAP_KILL CapEff || fl_fail "the agent lacks cap_kill"
jq -e '.capabilities.effective | index("cap_net_admin") | not' "$info" >/dev/null ||
	fl_fail "the agent reports cap_net_admin it cannot hold"

for t in $NET_TYPES; do
	fl_assert_eq "$(type_field "$info" "$t" available)" false "$t available without CAP_NET_ADMIN"
	reason=$(type_field "$info" "$t" reason)
	grep -q "needs CAP_NET_ADMIN, which the agent does not hold" <<<"$reason" ||
		fl_fail "$t: the reason does not name CAP_NET_ADMIN: '$reason'"
done
fl_log "network.loss: $(type_field "$info" network.loss reason)"
for t in $PROC_TYPES; do
	fl_assert_eq "$(type_field "$info" "$t" available)" true "$t available without CAP_NET_ADMIN"
done
# The probe could not try tc at all: it says so instead of blaming the kernel.
for m in clsact+cls_bpf htb tbf ifb netem fq; do
	fl_assert_eq "$(jq -r --arg m "$m" '.mechanisms[] | select(.name == $m) | .available' "$info")" \
		false "mechanism $m without CAP_NET_ADMIN"
	jq -r --arg m "$m" '.mechanisms[] | select(.name == $m) | .reason' "$info" |
		grep -q "cannot probe: the agent lacks CAP_NET_ADMIN" ||
		fl_fail "mechanism $m: reason does not name CAP_NET_ADMIN: $(jq -c '.mechanisms' "$info")"
done
grep -q "fault type network.loss: unavailable: needs CAP_NET_ADMIN" "$dir/nonet/agent.log" ||
	fl_fail "the start-up log does not say network.loss is unavailable: $(cat "$dir/nonet/agent.log")"

# The human view says the same.
"$FAULTCTL" --agent "unix://$sock" agent info >"$dir/nonet/info.txt"
grep -Eq "^  network\.bandwidth +unavailable +needs CAP_NET_ADMIN" "$dir/nonet/info.txt" ||
	fl_fail "faultctl agent info does not say network.bandwidth is unavailable: $(cat "$dir/nonet/info.txt")"
grep -Eq "^  process\.kill +available$" "$dir/nonet/info.txt" ||
	fl_fail "faultctl agent info does not say process.kill is available: $(cat "$dir/nonet/info.txt")"

# Applies are refused before anything changes.
before=$(snapshot)
new_lease
for body in \
	"{\"name\": \"l\", \"duration\": \"10m\", \"type\": \"network.loss\", \"target\": {\"interface\": \"$DEV\", \"cidrs\": [\"10.79.0.2\"]}, \"params\": {\"probability\": \"50%\"}}" \
	"{\"name\": \"b\", \"duration\": \"10m\", \"type\": \"network.bandwidth\", \"target\": {\"interface\": \"$DEV\", \"cidrs\": [\"10.79.0.2\"]}, \"params\": {\"rate\": \"1mbit\"}}"; do
	api POST "/v1/leases/$LEASE/faults" "$body"
	fl_assert_eq "$HTTP_STATUS" 503 "apply without CAP_NET_ADMIN ($API_BODY)"
	fl_assert_eq "$(jq -r .error.code <<<"$API_BODY")" unavailable "error code"
	jq -r .error.message <<<"$API_BODY" | grep -q "is unavailable on this host: needs CAP_NET_ADMIN" ||
		fl_fail "the refusal does not name CAP_NET_ADMIN: $API_BODY"
done
fl_assert_eq "$(snapshot)" "$before" "tc state and links after the refused applies"
tc -n "$A" qdisc show dev "$DEV" | grep >/dev/null "qdisc tbf 7: root" || fl_fail "the tbf root is gone"
fl_assert_eq "$(journal_count)" 0 "journal records after the refused applies"
api GET /v1/faults
fl_assert_eq "$(jq '.faults | length' <<<"$API_BODY")" 0 "faults listed after the refused applies"

# faultctl run refuses the experiment before any lease, naming the capability.
cat >"$dir/nonet/exp.yaml" <<EOF
version: 1
name: loss-without-net-admin
hypothesis: h
agents: [{name: host-1, address: "unix://$sock"}]
duration: 2s
faults:
  - {name: lossy, type: network.loss, duration: 1s, target: {interface: $DEV, cidrs: [10.79.0.2]}, params: {probability: 10%}}
EOF
leases_before=$(jq -s '[.[] | select(.method == "POST" and .target == "/v1/leases")] | length' "$dir/nonet/audit.log")
rc=0
"$FAULTCTL" run "$dir/nonet/exp.yaml" >"$dir/nonet/run.out" 2>&1 || rc=$?
fl_assert_eq "$rc" 3 "faultctl run exit status ($(cat "$dir/nonet/run.out"))"
grep -q "fault 'lossy': network.loss is unavailable on this agent: needs CAP_NET_ADMIN" "$dir/nonet/run.out" ||
	fl_fail "faultctl run does not name CAP_NET_ADMIN: $(cat "$dir/nonet/run.out")"
fl_assert_eq "$(jq -s '[.[] | select(.method == "POST" and .target == "/v1/leases")] | length' "$dir/nonet/audit.log")" \
	"$leases_before" "leases created by the refused run"
fl_assert_eq "$(snapshot)" "$before" "tc state and links after the refused run"

# Process faults still work: a victim of the test's own is killed.
setsid sleep 600 &
victim=$!
api POST "/v1/leases/$LEASE/faults" "{\"name\": \"k\", \"type\": \"process.kill\", \"target\": {\"pid\": $victim, \"all\": true}, \"params\": {\"signal\": \"SIGKILL\"}}"
fl_assert_eq "$HTTP_STATUS" 201 "process.kill without CAP_NET_ADMIN ($API_BODY)"
fl_assert_eq "$(jq -r .fault.status.kills <<<"$API_BODY")" 1 "kills"
fl_wait_exit rc "$victim" 10
fl_assert_eq "$rc" 137 "victim exit status (SIGKILL)"
stop_agent

# ---- 2. without CAP_BPF and CAP_KILL ----------------------------------------------------------
start_agent nobpf -bpf,-kill
info=$dir/nobpf/info.json
has_cap "$FL_AGENT_PID" $CAP_BPF CapEff && fl_fail "the agent holds cap_bpf"
has_cap "$FL_AGENT_PID" $CAP_KILL CapEff && fl_fail "the agent holds cap_kill"
has_cap "$FL_AGENT_PID" $CAP_NET_ADMIN CapEff || fl_fail "the agent lacks cap_net_admin"
# Probed with CAP_SYS_ADMIN before the drop: the kernel has the mechanism...
fl_assert_eq "$(jq -r '.mechanisms[] | select(.name == "clsact+cls_bpf") | .available' "$info")" true \
	"clsact+cls_bpf probed without CAP_BPF"
# ...but the agent, once it has dropped to what it can keep, cannot use it.
for t in $NET_TYPES; do
	fl_assert_eq "$(type_field "$info" "$t" available)" false "$t available without CAP_BPF"
	type_field "$info" "$t" reason | grep >/dev/null "needs CAP_BPF, which" ||
		fl_fail "$t: the reason does not name CAP_BPF: $(type_field "$info" "$t" reason)"
done
for t in $PROC_TYPES; do
	fl_assert_eq "$(type_field "$info" "$t" available)" false "$t available without CAP_KILL"
	type_field "$info" "$t" reason | grep >/dev/null "needs CAP_KILL, which" ||
		fl_fail "$t: the reason does not name CAP_KILL: $(type_field "$info" "$t" reason)"
done
# Stressors need neither: as available as in the first run (where cgroups allow).
for t in $STRESS_TYPES; do
	fl_assert_eq "$(type_field "$info" "$t" available)" \
		"$(type_field "$dir/nonet/info.json" "$t" available)" "$t availability without CAP_BPF"
	type_field "$info" "$t" reason | grep >/dev/null CAP_ && fl_fail "$t: blames a capability"
done
fl_assert_eq "$(type_field "$info" stress.cpu available)" \
	"$(jq -r '.mechanisms[] | select(.name == "cgroup-v2-bpf") | .available' "$info")" \
	"stress.cpu available where cgroup v2 is"
before=$(snapshot)
new_lease
api POST "/v1/leases/$LEASE/faults" "{\"name\": \"p\", \"duration\": \"10m\", \"type\": \"network.partition\", \"target\": {\"interface\": \"$DEV\", \"cidrs\": [\"10.79.0.2/32\"]}}"
fl_assert_eq "$HTTP_STATUS" 503 "network.partition without CAP_BPF ($API_BODY)"
setsid sleep 600 &
victim=$!
api POST "/v1/leases/$LEASE/faults" "{\"name\": \"k\", \"type\": \"process.kill\", \"target\": {\"pid\": $victim, \"all\": true}}"
fl_assert_eq "$HTTP_STATUS" 503 "process.kill without CAP_KILL ($API_BODY)"
jq -r .error.message <<<"$API_BODY" | grep -q "needs CAP_KILL" ||
	fl_fail "the refusal does not name CAP_KILL: $API_BODY"
fl_assert_state "$victim" S "victim after the refused kill"
kill -KILL "$victim"
wait "$victim" 2>/dev/null || true
fl_assert_eq "$(snapshot)" "$before" "tc state and links after the refused applies"
fl_assert_eq "$(journal_count)" 0 "journal records after the refused applies"
stop_agent
exit 0
