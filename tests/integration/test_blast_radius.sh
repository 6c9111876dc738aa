#!/usr/bin/env bash
# The blast radius of process faults, over the agent's real API, against processes the test
# starts (each in a session of its own via setsid, with a name the test gave it):
#  - a process.kill or process.pause whose selector would hit more than
#    max_processes_per_fault (16 built in) is refused with 422 naming the count and the key,
#    and none of the 20 matching processes is signalled (all alive, none stopped); count or
#    percent under the cap hit exactly that many; a freezer over a cgroup holding all 20 is
#    refused the same way;
#  - a policy file raising the cap lets the same kill through (all 20 die of SIGKILL), one
#    lowering max_cpu_workers refuses a stress.cpu above it (as the built-in 4 x CPUs does);
#  - a cmdline regex matching the empty string is refused;
#  - programs protected whatever the target says: a process whose comm is "dpkg" and one
#    whose executable is named "faultlined" (its comm renamed) are refused by pid, unharmed;
#    so is a child (named by the test) of a process named apt-get: a package manager's
#    descendants are protected with it;
#  - POST /v1/resolve and `faultctl plan --resolve` say what each fault would hit (pid, comm,
#    user, cgroup) and why one would be refused, and signal nothing;
#  - the run report (JSON and Markdown) lists what each fault hit: the paused pids, the link.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run_lib.sh"
fl_require_root
fl_require_cmd curl jq socat nsenter setsid findmnt
fl_require_build

# The cgroup v2 hierarchy, wherever it is mounted (/sys/fs/cgroup/unified on a hybrid host).
CG_ROOT=$(findmnt -n -t cgroup2 -o TARGET | head -n1)
[ -n "$CG_ROOT" ] && [ -f "$CG_ROOT/cgroup.procs" ] || fl_skip "no cgroup v2 hierarchy mounted"

fl_netns ns blast
fl_tmpdir dir
sock=$dir/agent.sock
N=20

api() { FL_API_TIMEOUT=20 fl_api "$@"; }
new_lease() {
	api POST /v1/leases '{"ttl_ms": 900000}'
	fl_assert_eq "$HTTP_STATUS" 201 "create lease"
	LEASE=$(jq -r .lease.id <<<"$API_BODY")
}
apply() { # apply BODY -> API_BODY, HTTP_STATUS
	api POST "/v1/leases/$LEASE/faults" "$1"
}
wait_comm() { # wait_comm PID COMM: until the exec (or the rename) is visible
	local i
	for ((i = 0; i < 300; i++)); do
		[ "$(cat /proc/"$1"/comm 2>/dev/null)" = "$2" ] && return 0
		sleep 0.01
	done
	fl_fail "pid $1 did not become $2"
}
# Every victim alive and not stopped: nothing was signalled.
all_untouched() { # all_untouched WHAT
	local p s
	for p in "${VICTIMS[@]}"; do
		s=$(fl_proc_state "$p")
		[ -n "$s" ] && [ "$s" != Z ] || fl_fail "$1: pid $p is gone"
		[ "$s" != T ] && [ "$s" != t ] || fl_fail "$1: pid $p is stopped"
	done
}
stop_agent() {
	kill -TERM "$FL_AGENT_PID"
	fl_wait_exit rc "$FL_AGENT_PID" 30
}

# The victims: a copy of sleep with a name of the test's own, in sessions of their own.
VICTIM=${FL_ID}br
cp "$(command -v sleep)" "$dir/$VICTIM"
VICTIMS=()
for ((i = 0; i < N; i++)); do
	setsid "$dir/$VICTIM" 600 &
	VICTIMS+=("$!")
done
for p in "${VICTIMS[@]}"; do wait_comm "$p" "$VICTIM"; done
# All of them in a cgroup of the test's own, for the freezer and for the cgroup resolve shows.
cg=$CG_ROOT/$FL_ID-blast
mkdir "$cg"
fl_on_exit "echo 0 >$cg/cgroup.freeze; for p in \$(cat $cg/cgroup.procs); do kill -KILL \$p; done; sleep 0.2; rmdir $cg"
for p in "${VICTIMS[@]}"; do echo "$p" >"$cg/cgroup.procs"; done

fl_start_agent "$ns" "$sock" "$dir/agent.log" --log-level debug
new_lease

# --- over the built-in cap: refused, nothing signalled ---
for t in process.kill process.pause; do
	dur=; [ "$t" = process.pause ] && dur='"duration": "1m", '
	apply "{\"name\": \"wide\", \"type\": \"$t\", $dur\"target\": {\"name\": \"$VICTIM\", \"all\": true}}"
	fl_assert_eq "$HTTP_STATUS" 422 "$t of $N processes under the built-in cap ($API_BODY)"
	jq -e --arg n "$N" '.error.message | test("would hit " + $n + " of " + $n) and
		test("max_processes_per_fault \\(16\\)") and test("nothing was signalled")' \
		<<<"$API_BODY" >/dev/null || fl_fail "$t: the refusal does not name the count and the key: $API_BODY"
	all_untouched "$t over the cap"
done
apply "{\"name\": \"wide\", \"type\": \"process.kill\", \"target\": {\"name\": \"$VICTIM\", \"percent\": \"90%\"}}"
fl_assert_eq "$HTTP_STATUS" 422 "a percentage over the cap ($API_BODY)"
all_untouched "percent over the cap"
apply "{\"name\": \"freeze\", \"type\": \"process.pause\", \"duration\": \"1m\", \"target\": {\"cgroup\": \"/$FL_ID-blast\", \"all\": true}, \"params\": {\"method\": \"freezer\"}}"
fl_assert_eq "$HTTP_STATUS" 422 "a freezer over a cgroup of $N processes ($API_BODY)"
jq -e --arg n "$N" '.error.message | test("holds " + $n + " processes") and test("max_processes_per_fault \\(16\\)")' \
	<<<"$API_BODY" >/dev/null || fl_fail "freezer refusal does not name the count and the key: $API_BODY"
fl_assert_eq "$(cat "$cg/cgroup.freeze")" 0 "cgroup.freeze after the refused freezer"
all_untouched "freezer over the cap"
curl -sS --max-time 2 --unix-socket "$sock" "http://agent/v1/events?since=0" >"$dir/events" 2>/dev/null || true
if grep -q '"process.killed"' "$dir/events"; then fl_fail "a process.killed event after refusals"; fi

# --- under the cap: count hits exactly that many ---
apply "{\"name\": \"few\", \"type\": \"process.pause\", \"duration\": \"1m\", \"target\": {\"name\": \"$VICTIM\", \"count\": 3}}"
fl_assert_eq "$HTTP_STATUS" 201 "a pause of 3 of $N ($API_BODY)"
FAULT=$(jq -r .fault.id <<<"$API_BODY")
fl_assert_eq "$(jq '.fault.status.processes | length' <<<"$API_BODY")" 3 "processes paused"
fl_assert_eq "$(jq '.fault.status.matched' <<<"$API_BODY")" "$N" "processes matched"
stopped=0
for p in "${VICTIMS[@]}"; do [ "$(fl_proc_state "$p")" = T ] && stopped=$((stopped + 1)); done
fl_assert_eq "$stopped" 3 "processes really stopped"
api DELETE "/v1/faults/$FAULT"
fl_assert_eq "$HTTP_STATUS" 200 "revert the pause"
all_untouched "after the count pause was reverted"

# --- a regex matching the empty string ---
apply '{"name": "any", "type": "process.kill", "target": {"cmdline": "x*", "count": 1}}'
fl_assert_eq "$HTTP_STATUS" 422 "an empty-matching cmdline ($API_BODY)"
jq -e '.error.problems[] | select(.path == "target.cmdline" and (.message | test("matches the empty string")))' \
	<<<"$API_BODY" >/dev/null || fl_fail "empty-matching regex: unclear refusal: $API_BODY"

# --- stress.cpu over the built-in max_cpu_workers (4 x the CPUs the agent may use) ---
cap=$((4 * $(nproc)))
apply "{\"name\": \"cpu\", \"type\": \"stress.cpu\", \"duration\": \"10s\", \"params\": {\"workers\": $((cap + 1)), \"load\": \"1%\"}}"
fl_assert_eq "$HTTP_STATUS" 422 "stress.cpu with $((cap + 1)) workers ($API_BODY)"
jq -e --arg c "$cap" '.error.message | test("max_cpu_workers \\(" + $c + "\\)")' <<<"$API_BODY" >/dev/null ||
	fl_fail "stress.cpu refusal does not name max_cpu_workers ($cap): $API_BODY"

# --- protected programs, targeted by pid: refused, unharmed ---
mkdir "$dir/bin"
cp "$(command -v sleep)" "$dir/bin/dpkg"
setsid "$dir/bin/dpkg" 600 &
fake_dpkg=$!
fl_on_exit "kill -KILL $fake_dpkg 2>/dev/null || true"
wait_comm "$fake_dpkg" dpkg
# An executable named faultlined whose comm says otherwise: protected by its executable.
cp "$(command -v bash)" "$dir/bin/faultlined"
setsid "$dir/bin/faultlined" -c 'printf %s "$1" >/proc/$$/comm; while :; do sleep 1; done' x "${FL_ID}fa" &
fake_agent=$!
fl_on_exit "kill -KILL $fake_agent 2>/dev/null || true"
wait_comm "$fake_agent" "${FL_ID}fa"
apply "{\"name\": \"pm\", \"type\": \"process.kill\", \"target\": {\"pid\": $fake_dpkg, \"all\": true}}"
fl_assert_eq "$HTTP_STATUS" 422 "a kill of a process named dpkg ($API_BODY)"
jq -e '.error.message | test("protected") and test("a package manager")' <<<"$API_BODY" >/dev/null ||
	fl_fail "dpkg refusal unclear: $API_BODY"
apply "{\"name\": \"fa\", \"type\": \"process.pause\", \"duration\": \"1m\", \"target\": {\"name\": \"${FL_ID}fa\", \"all\": true}}"
fl_assert_eq "$HTTP_STATUS" 422 "a pause of a renamed faultlined ($API_BODY)"
jq -e '.error.message | test("a faultline agent")' <<<"$API_BODY" >/dev/null ||
	fl_fail "faultlined refusal unclear: $API_BODY"
# A package manager's helpers run under other names (apt's methods/http, dpkg's maintainer
# scripts): a descendant of a process named dpkg is protected too, even by its own name.
cp "$(command -v bash)" "$dir/bin/apt-get"
cp "$(command -v sleep)" "$dir/bin/${FL_ID}pm"
setsid "$dir/bin/apt-get" -c '"$1" 600 & wait' x "$dir/bin/${FL_ID}pm" &
fake_apt=$!
fl_on_exit "pkill -KILL -s $fake_apt 2>/dev/null || true"
pm_child=""
for ((i = 0; i < 300; i++)); do
	pm_child=$(pgrep -P "$fake_apt" -x "${FL_ID}pm" || true)
	[ -z "$pm_child" ] || break
	sleep 0.01
done
[ -n "$pm_child" ] || fl_fail "the fake apt-get's child did not start"
apply "{\"name\": \"pmc\", \"type\": \"process.kill\", \"target\": {\"name\": \"${FL_ID}pm\", \"all\": true}}"
fl_assert_eq "$HTTP_STATUS" 422 "a kill of a child of a package manager ($API_BODY)"
jq -e '.error.message | test("run by a package manager")' <<<"$API_BODY" >/dev/null ||
	fl_fail "package-manager child refusal unclear: $API_BODY"
for p in "$fake_dpkg" "$fake_agent" "$fake_apt" "$pm_child"; do
	s=$(fl_proc_state "$p")
	[ -n "$s" ] && [ "$s" != T ] && [ "$s" != Z ] || fl_fail "protected pid $p was hit (state '$s')"
done

# --- see before you hit: the resolve endpoint and faultctl plan --resolve, nothing signalled ---
api POST /v1/resolve "{\"name\": \"few\", \"type\": \"process.pause\", \"duration\": \"1m\", \"target\": {\"name\": \"$VICTIM\", \"count\": 2, \"seed\": 7}}"
fl_assert_eq "$HTTP_STATUS" 200 "POST /v1/resolve of one fault ($API_BODY)"
jq -e --argjson n "$N" '.faults[0] | .would_apply and .target.matched == $n and .target.would_hit == 2 and
	([.target.processes[] | select(.chosen)] | length) == 2 and
	all(.target.processes[]; .user == "root" and .cgroup == "/'"$FL_ID"'-blast" and .comm != null)' \
	<<<"$API_BODY" >/dev/null || fl_fail "resolve of a pause of 2: $API_BODY"
all_untouched "after POST /v1/resolve"
# With the same seed the apply stops exactly the two processes the resolve said it would.
chosen=$(jq -r '[.faults[0].target.processes[] | select(.chosen) | .pid] | sort | join(" ")' <<<"$API_BODY")
apply "{\"name\": \"few\", \"type\": \"process.pause\", \"duration\": \"1m\", \"target\": {\"name\": \"$VICTIM\", \"count\": 2, \"seed\": 7}}"
fl_assert_eq "$HTTP_STATUS" 201 "the pause the resolve described ($API_BODY)"
fl_assert_eq "$(jq -r '[.fault.status.processes[].pid] | sort | join(" ")' <<<"$API_BODY")" "$chosen" \
	"processes paused vs the resolve's choice"
api DELETE "/v1/faults/$(jq -r .fault.id <<<"$API_BODY")"
fl_assert_eq "$HTTP_STATUS" 200 "revert the seeded pause"
all_untouched "after the seeded pause was reverted"
cat >"$dir/exp.yaml" <<EOF
version: 1
name: blast-radius
hypothesis: Nothing is hit while the plan is resolved.
agents:
  - {name: local, address: "unix://$sock"}
duration: 1m
faults:
  - {name: kill-all, type: process.kill, target: {name: $VICTIM, all: true}}
  - {name: pause-two, type: process.pause, duration: 10s, target: {name: $VICTIM, count: 2}}
  - {name: kill-dpkg, type: process.kill, target: {pid: $fake_dpkg, all: true}}
  - {name: kill-none, type: process.kill, target: {name: ${FL_ID}none, all: true}}
  - {name: loss-lo, type: network.loss, duration: 10s, target: {interface: lo, cidrs: [127.0.0.2/32]}, params: {probability: 5%}}
  - {name: loss-missing, type: network.loss, duration: 10s, target: {interface: ${FL_ID}x, cidrs: [127.0.0.2/32]}, params: {probability: 5%}}
EOF
rc=0
"$FAULTCTL" --json plan --resolve "$dir/exp.yaml" >"$dir/plan.json" 2>"$dir/plan.err" || rc=$?
fl_assert_eq "$rc" 4 "plan --resolve exit status with refusals ($(cat "$dir/plan.err" "$dir/plan.json"))"
jq -e --argjson n "$N" --arg dpkg "$fake_dpkg" '.would_apply == false and (.agents | length) == 1 and
	.agents[0].ok and ((.agents[0].faults | map({(.name): .}) | add) as $f |
	($f["kill-all"].refused.status == 422 and ($f["kill-all"].refused.message | test("max_processes_per_fault")) and
	 $f["kill-all"].target.matched == $n and ($f["kill-all"].target.processes | length) == $n and
	 all($f["kill-all"].target.processes[]; .pid > 0 and .user == "root" and .cgroup != null)) and
	($f["pause-two"].would_apply and $f["pause-two"].target.would_hit == 2) and
	($f["kill-dpkg"].refused.status == 422 and $f["kill-dpkg"].target.protected[0].pid == ($dpkg | tonumber) and
	 $f["kill-dpkg"].target.protected[0].why == "a package manager") and
	($f["kill-none"].refused.message | test("matches no process")) and
	($f["loss-lo"].would_apply and $f["loss-lo"].target.interface == "lo" and
	 ($f["loss-lo"].target.addresses | index("127.0.0.1")) != null) and
	($f["loss-missing"].refused.status == 422 and ($f["loss-missing"].refused.message | test("no interface"))))' \
	"$dir/plan.json" >/dev/null || fl_fail "plan --resolve (JSON) says the wrong thing: $(cat "$dir/plan.json")"
rc=0
"$FAULTCTL" plan --resolve "$dir/exp.yaml" >"$dir/plan.txt" 2>&1 || rc=$?
fl_assert_eq "$rc" 4 "plan --resolve (text) exit status"
grep -q "fault kill-all (process.kill): WOULD BE REFUSED" "$dir/plan.txt" &&
	grep -q "pid ${VICTIMS[0]} .*$VICTIM .*user root .*cgroup /$FL_ID-blast\$" "$dir/plan.txt" &&
	grep -q "pid $fake_dpkg .*dpkg .*protected: a package manager" "$dir/plan.txt" &&
	grep -q "interface lo (index 1, up), addresses: 127.0.0.1" "$dir/plan.txt" ||
	fl_fail "plan --resolve (text) lacks the processes or reasons: $(cat "$dir/plan.txt")"
all_untouched "after plan --resolve"
for p in "$fake_dpkg" "$fake_agent"; do
	s=$(fl_proc_state "$p")
	[ -n "$s" ] && [ "$s" != T ] && [ "$s" != Z ] || fl_fail "protected pid $p was hit by a resolve"
done
api GET /v1/faults
fl_assert_eq "$(jq '.faults | length' <<<"$API_BODY")" 0 "faults in place after resolve"

# --- a policy raising the cap lets the kill through; one lowering max_cpu_workers ---
stop_agent
printf 'max_processes_per_fault: 25\nmax_cpu_workers: 2\n' >"$dir/policy.yaml"
fl_start_agent "$ns" "$sock" "$dir/agent2.log" --log-level debug --policy "$dir/policy.yaml"
new_lease
apply "{\"name\": \"cpu\", \"type\": \"stress.cpu\", \"duration\": \"10s\", \"params\": {\"workers\": 3, \"load\": \"1%\"}}"
fl_assert_eq "$HTTP_STATUS" 422 "stress.cpu with 3 workers over a policy of 2 ($API_BODY)"
jq -e '.error.message | test("max_cpu_workers \\(2\\)")' <<<"$API_BODY" >/dev/null ||
	fl_fail "stress.cpu refusal does not name max_cpu_workers (2): $API_BODY"
all_untouched "before the run"

# --- the run report lists what each fault hit: the paused pids, the interface ---
cat >"$dir/run.yaml" <<EOF
version: 1
name: blast-radius-report
hypothesis: The report names what each fault hit.
agents:
  - {name: local, address: "unix://$sock"}
duration: 3s
faults:
  - {name: pause-two, type: process.pause, duration: 1s, target: {name: $VICTIM, count: 2}}
  - {name: loss-lo, type: network.loss, duration: 1s, target: {interface: lo, cidrs: [127.0.0.2/32]}, params: {probability: 5%}}
EOF
rc=0
"$FAULTCTL" run "$dir/run.yaml" --report-json "$dir/report.json" --markdown "$dir/report.md" \
	>"$dir/run.out" 2>&1 || rc=$?
fl_assert_eq "$rc" 0 "the run's exit status ($(cat "$dir/run.out"))"
run_validate_report "$dir/report.json"
printf '%s\n' "${VICTIMS[@]}" >"$dir/victims"
jq -e --slurpfile v "$dir/victims" --arg c "$VICTIM" --argjson n "$N" '(.faults | map({(.name): .matched}) | add) as $m |
	($m["pause-two"].processes | length) == 2 and all($m["pause-two"].processes[]; .comm == $c and
	(.pid as $p | $v | index($p) != null)) and $m["pause-two"].selector_matched == $n and
	$m["loss-lo"].interface == "lo"' "$dir/report.json" >/dev/null ||
	fl_fail "the report does not say what the faults hit: $(jq -c '[.faults[] | {name, matched}]' "$dir/report.json")"
grep -q "^- \`pause-two\` on local hit 2 processes: pid [0-9]* ($VICTIM), pid [0-9]* ($VICTIM); the selector matched $N" "$dir/report.md" &&
	grep -q "^- \`loss-lo\` on local hit interface \`lo\`" "$dir/report.md" ||
	fl_fail "the Markdown report does not say what the faults hit: $(cat "$dir/report.md")"
all_untouched "after the run (the pause was reverted)"
new_lease
apply "{\"name\": \"wide\", \"type\": \"process.kill\", \"target\": {\"name\": \"$VICTIM\", \"all\": true}}"
fl_assert_eq "$HTTP_STATUS" 201 "the kill under a raised cap ($API_BODY)"
fl_assert_eq "$(jq .fault.status.kills <<<"$API_BODY")" "$N" "kills under a raised cap"
for p in "${VICTIMS[@]}"; do
	fl_wait_exit rc "$p" 10
	fl_assert_eq "$rc" 137 "victim $p under a raised cap"
done
kill -KILL "$fake_dpkg" "$fake_agent" "$fake_apt" "$pm_child"
stop_agent
