#!/usr/bin/env bash
# process.kill and the freezer pause over the agent's real API, against processes the test
# starts (each in its own session via setsid, so the agent may select it) next to decoys that
# must survive:
#  - one-shot kill by exact name, by command-line regex and by cgroup hits exactly the
#    victims (their exit status shows the signal really received: 137 for SIGKILL, a trap's
#    file for SIGTERM); the fault completes at once and leaves no journal record;
#  - the policy's protected names are skipped by a regex that matches them; exe and user
#    together hit only that executable run by that user;
#  - a recorded seed reproduces the choice (a pause picks, a kill with its seed hits the same);
#  - an interval kill hits a supervised worker every interval, each restart again, exactly
#    the planned number of rounds; when its lease expires, and after a SIGKILL of the agent,
#    nothing repeats (also not after the restart, and recovery reports it);
#  - process.pause with the cgroup freezer: frozen (no progress) during the fault, running
#    after revert, and after a SIGKILL of the agent once the next agent has started;
#    a cgroup holding a protected process is refused.
# The SIGSTOP pause and its crash recovery are covered by test_agent_core.sh.
. "$(dirname "$0")/lib.sh"
fl_require_root
fl_require_cmd curl jq socat nsenter setsid setpriv findmnt
fl_require_build

# The cgroup v2 hierarchy, wherever it is mounted (/sys/fs/cgroup/unified on a hybrid host).
CG_ROOT=$(findmnt -n -t cgroup2 -o TARGET | head -n1)
[ -n "$CG_ROOT" ] && [ -f "$CG_ROOT/cgroup.procs" ] || fl_skip "no cgroup v2 hierarchy mounted"

# Timing scale: TCG in the vm layer runs CPU-bound code about 20x slower, so intervals,
# durations and quiet periods are stretched there; the margins below are then in proportion.
T=1
[ -n "${FL_VM:-}" ] && T=8
ms() { echo "$(($1 * T))ms"; }                                     # a duration for a fault
pause_s() { sleep "$(awk -v s="$1" -v t="$T" 'BEGIN { print s * t }')"; } # sleep S seconds, scaled
wait_gone() { # wait_gone FAULT SECONDS: until the fault is no longer listed (bounded)
	local end=$(($(date +%s) + $2 * T))
	while [ "$(date +%s)" -le "$end" ]; do
		api GET "/v1/faults/$1"
		[ "$HTTP_STATUS" = 404 ] && return 0
		sleep 0.1
	done
	return 1
}
fault_events() { # fault_events FILE FAULT: one line per event of that fault, for diagnostics
	jq -c --arg f "$2" 'select(.fault == $f) | {type, round, pid, reason}' "$1" | tr '\n' ' '
}

fl_netns ns kill
fl_tmpdir dir
sock=$dir/agent.sock
state=$dir/state
AGENT_ARGS=(--log-level debug)

api() { FL_API_TIMEOUT=10 fl_api "$@"; }
proc_state() { fl_proc_state "$1"; }
alive() { local s; s=$(proc_state "$1"); [ -n "$s" ] && [ "$s" != Z ]; }
new_lease() {
	api POST /v1/leases '{"ttl_ms": 900000}'
	fl_assert_eq "$HTTP_STATUS" 201 "create lease"
	LEASE=$(jq -r .lease.id <<<"$API_BODY")
}
apply() { # apply BODY -> FAULT (id), API_BODY
	api POST "/v1/leases/$LEASE/faults" "$1"
	FAULT=$(jq -r '.fault.id // empty' <<<"$API_BODY")
}
journal_count() { fl_journal_count "$state/journal"; }
events() { # the agent's retained event history as JSON lines
	curl -sS --max-time 2 --unix-socket "$sock" "http://agent/v1/events?since=0" 2>/dev/null || true
}
wait_comm() { # wait_comm PID COMM: until the exec is visible
	local i
	for ((i = 0; i < 200; i++)); do
		[ "$(cat /proc/"$1"/comm 2>/dev/null)" = "$2" ] && return 0
		sleep 0.01
	done
	fl_fail "pid $1 did not become $2"
}

# Programs with names of their own: comm is the executable's name.
VICTIM=${FL_ID}v
DECOY=${FL_ID}d
WORKER=${FL_ID}w
cp "$(command -v sleep)" "$dir/$VICTIM"
cp "$(command -v sleep)" "$dir/$DECOY"
cp "$(command -v sleep)" "$dir/$WORKER"

start() { # start VAR PROGRAM ARGS...: a process in a session of its own
	local _v=$1
	shift
	setsid "$@" &
	printf -v "$_v" '%s' "$!"
}

fl_start_agent "$ns" "$sock" "$dir/agent.log" "${AGENT_ARGS[@]}"
new_lease

# --- one-shot kill by exact name: the two victims die of SIGKILL, decoys live ---
start v1 "$dir/$VICTIM" 600
start v2 "$dir/$VICTIM" 600
start d1 "$dir/$DECOY" 600
# The victim's name as argv[0] but another executable: the name selector is comm.
start d2 bash -c 'exec -a "$1" "$2" 600' x "$VICTIM" "$dir/$DECOY"
wait_comm "$v1" "$VICTIM"
wait_comm "$v2" "$VICTIM"
wait_comm "$d1" "$DECOY"
wait_comm "$d2" "$DECOY"
apply "{\"name\": \"k-name\", \"type\": \"process.kill\", \"target\": {\"name\": \"$VICTIM\", \"all\": true}}"
fl_assert_eq "$HTTP_STATUS" 201 "kill by name ($API_BODY)"
fl_assert_eq "$(jq -r .fault.state <<<"$API_BODY")" completed "one-shot kill state"
fl_assert_eq "$(jq -r '.fault.status.kills' <<<"$API_BODY")" 2 "kills reported"
fl_assert_eq "$(jq -r '[.fault.status.recent[].pid] | sort | join(" ")' <<<"$API_BODY")" \
	"$(printf '%s\n' "$v1" "$v2" | sort | tr '\n' ' ' | sed 's/ $//')" "pids killed"
fl_assert_eq "$(jq -r .fault.status.signal_name <<<"$API_BODY")" SIGKILL "default signal"
kill_fault=$FAULT
fl_wait_exit rc "$v1" 10
fl_assert_eq "$rc" 137 "victim 1 exit status (SIGKILL)"
fl_wait_exit rc "$v2" 10
fl_assert_eq "$rc" 137 "victim 2 exit status (SIGKILL)"
alive "$d1" || fl_fail "decoy $d1 was hit"
alive "$d2" || fl_fail "decoy $d2 (the victim's name as argv[0]) was hit"
fl_assert_eq "$(journal_count)" 0 "journal records after a completed kill"
api GET "/v1/faults/$kill_fault"
fl_assert_eq "$HTTP_STATUS" 404 "a completed fault is no longer listed"
events >"$dir/ev1.txt"
fl_assert_eq "$(jq -r --arg f "$kill_fault" 'select(.fault == $f) | .type' "$dir/ev1.txt" | sort | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' ')" \
	"fault.applied=1 fault.completed=1 process.killed=2 " "events of the one-shot kill"
jq -s -e --arg f "$kill_fault" --argjson a "$v1" --argjson b "$v2" '
	[.[] | select(.fault == $f and .type == "process.killed")] |
	(map(.pid) | sort) == ([$a, $b] | sort) and all(.[]; .round == 0 and .signal == 9 and
	.seed > 0 and (.comm | length) > 0)' "$dir/ev1.txt" >/dev/null ||
	fl_fail "process.killed events lack pid/comm/signal/seed/round: $(cat "$dir/ev1.txt")"
kill -KILL "$d1" "$d2"

# --- nothing matches: a clear error, nothing changes ---
apply "{\"name\": \"k-none\", \"type\": \"process.kill\", \"target\": {\"name\": \"$VICTIM\", \"all\": true}}"
fl_assert_eq "$HTTP_STATUS" 422 "kill with no match"
jq -e '.error.message | test("matches no process")' <<<"$API_BODY" >/dev/null ||
	fl_fail "unclear no-match error: $API_BODY"
apply '{"name": "k-stop", "type": "process.kill", "target": {"pid": 1, "all": true}, "params": {"signal": "SIGSTOP"}}'
fl_assert_eq "$HTTP_STATUS" 422 "a kill with a stop signal"

# --- one-shot SIGTERM by cmdline regex: the trap writes the signal's name ---
marker=${FL_ID}-term
# The trap runs between two short sleeps, so it fires within about 0.1 s.
victim_script='trap "echo TERM >\"$1\"; exit 0" TERM; while :; do sleep 0.1; done'
start t1 bash -c "$victim_script" "$marker-victim" "$dir/t1.got"
start t2 bash -c "$victim_script" "$marker-victim" "$dir/t2.got"
start t3 bash -c "$victim_script" "$marker-decoy" "$dir/t3.got"
sleep 0.3
apply "{\"name\": \"k-re\", \"type\": \"process.kill\", \"target\": {\"cmdline\": \"^bash -c .* $marker-victim \", \"all\": true}, \"params\": {\"signal\": \"TERM\"}}"
fl_assert_eq "$HTTP_STATUS" 201 "kill by cmdline ($API_BODY)"
fl_assert_eq "$(jq -r .fault.status.kills <<<"$API_BODY")" 2 "kills by cmdline"
fl_wait_exit rc "$t1" 10
fl_assert_eq "$rc/$(cat "$dir/t1.got" 2>/dev/null)" 0/TERM "regex victim 1 got SIGTERM"
fl_wait_exit rc "$t2" 10
fl_assert_eq "$rc/$(cat "$dir/t2.got" 2>/dev/null)" 0/TERM "regex victim 2 got SIGTERM"
alive "$t3" || fl_fail "regex decoy was hit"
[ ! -e "$dir/t3.got" ] || fl_fail "regex decoy received SIGTERM"
kill -KILL "$t3"

# --- one-shot kill by cgroup: only the processes inside it ---
cg=$CG_ROOT/$FL_ID-kill
mkdir "$cg"
fl_on_exit "for p in \$(cat $cg/cgroup.procs); do kill -KILL \$p; done; sleep 0.2; rmdir $cg"
start c1 "$dir/$VICTIM" 600
start c2 "$dir/$DECOY" 600
start c3 "$dir/$VICTIM" 600 # same name, outside the cgroup
wait_comm "$c3" "$VICTIM"
echo "$c1" >"$cg/cgroup.procs"
echo "$c2" >"$cg/cgroup.procs"
cgpath=$(sed -n 's/^0:://p' /proc/"$c1"/cgroup)
[ -n "$cgpath" ] && [ "$cgpath" != / ] || fl_fail "victim not in a v2 cgroup: $(cat /proc/"$c1"/cgroup)"
apply "{\"name\": \"k-cg\", \"type\": \"process.kill\", \"target\": {\"cgroup\": \"$cgpath\", \"all\": true}}"
fl_assert_eq "$HTTP_STATUS" 201 "kill by cgroup ($API_BODY)"
fl_assert_eq "$(jq -r .fault.status.kills <<<"$API_BODY")" 2 "kills in the cgroup"
fl_wait_exit rc "$c1" 10
fl_assert_eq "$rc" 137 "cgroup victim 1"
fl_wait_exit rc "$c2" 10
fl_assert_eq "$rc" 137 "cgroup victim 2"
alive "$c3" || fl_fail "same-named process outside the cgroup was hit"
kill -KILL "$c3"

# --- a recorded seed reproduces the choice: pause picks one of three, kill with its seed ---
start s1 "$dir/$VICTIM" 600
start s2 "$dir/$VICTIM" 600
start s3 "$dir/$VICTIM" 600
wait_comm "$s1" "$VICTIM"
wait_comm "$s2" "$VICTIM"
wait_comm "$s3" "$VICTIM"
apply "{\"name\": \"p-pick\", \"type\": \"process.pause\", \"duration\": \"1m\", \"target\": {\"name\": \"$VICTIM\", \"count\": 1}}"
fl_assert_eq "$HTTP_STATUS" 201 "pause one of three"
seed=$(jq -r .fault.status.seed <<<"$API_BODY")
picked=$(jq -r '.fault.status.processes[0].pid' <<<"$API_BODY")
fl_assert_eq "$(jq -r .fault.status.matched <<<"$API_BODY")" 3 "matches before the choice"
api DELETE "/v1/faults/$FAULT"
fl_assert_eq "$HTTP_STATUS" 200 "revert the pause"
apply "{\"name\": \"k-seed\", \"type\": \"process.kill\", \"target\": {\"name\": \"$VICTIM\", \"count\": 1, \"seed\": $seed}}"
fl_assert_eq "$HTTP_STATUS" 201 "kill with the recorded seed"
fl_assert_eq "$(jq -r '.fault.status.recent[0].pid' <<<"$API_BODY")" "$picked" "seed $seed picks the same process"
fl_assert_eq "$(jq -r '.fault.status.matched' <<<"$API_BODY")" 3 "matches of the seeded kill"
fl_wait_exit rc "$picked" 10
fl_assert_eq "$rc" 137 "seeded victim"
n_alive=0
for p in $s1 $s2 $s3; do alive "$p" && n_alive=$((n_alive + 1)); done
fl_assert_eq "$n_alive" 2 "processes left after count 1"
for p in $s1 $s2 $s3; do alive "$p" && kill -KILL "$p"; done

# --- interval kill of a supervised worker: every round hits the current one ---
# The supervisor (in the test's session, so protected) restarts the worker within
# milliseconds and records how each one ended.
supervise() {
	local i rc
	for ((i = 0; i < 40; i++)); do
		[ -e "$dir/stop-$1" ] && return 0
		setsid "$dir/$WORKER" 600 &
		echo "$!" >>"$dir/workers-$1"
		rc=0
		wait "$!" || rc=$?
		echo "$rc" >>"$dir/exits-$1"
	done
}
supervise a &
sup=$!
for ((i = 0; i < 200; i++)); do [ -s "$dir/workers-a" ] && break; sleep 0.01; done
wait_comm "$(tail -n1 "$dir/workers-a")" "$WORKER"
# Rounds at 0, 1, 2 and 3 s of a 3.5 s fault (times T): 4. A round is lost only if the
# agent's loop stalls for more than 1.5 s (the next round is due 1 s after the previous and
# its timer precedes the fault's end by 0.5 s), and a round finds nobody only if the restart
# takes over 1 s: both far beyond a loaded 2-core machine.
t0=$(date +%s%N)
apply "{\"name\": \"k-every\", \"type\": \"process.kill\", \"duration\": \"$(ms 3500)\", \"target\": {\"name\": \"$WORKER\", \"count\": 1}, \"params\": {\"interval\": \"$(ms 1000)\"}}"
fl_assert_eq "$HTTP_STATUS" 201 "interval kill ($API_BODY)"
fl_assert_eq "$(jq -r .fault.state <<<"$API_BODY")" active "interval kill state"
fl_assert_eq "$(jq -r .fault.status.rounds_planned <<<"$API_BODY")" 4 "rounds planned"
every=$FAULT
wait_gone "$every" 15 || fl_fail "interval kill did not end with its duration"
t1=$(date +%s%N)
fl_log "interval kill ended after $(((t1 - t0) / 1000000)) ms (duration $(ms 3500))"
# Nothing after the end: the current worker survives another interval and a half.
pause_s 1.5
last=$(tail -n1 "$dir/workers-a")
alive "$last" || fl_fail "a worker was killed after the fault ended: workers $(cat "$dir/workers-a" | tr "\n" " ") exits $(cat "$dir/exits-a" | tr "\n" " ") state $(proc_state "$last")"
touch "$dir/stop-a"
kill -KILL "$last"
fl_wait_exit rc "$sup" 10
events >"$dir/ev2.txt"
fl_assert_eq "$(jq -s --arg f "$every" '[.[] | select(.fault == $f and .type == "process.killed")] | length' "$dir/ev2.txt")" \
	4 "kills of the interval fault (events: $(fault_events "$dir/ev2.txt" "$every"))"
fl_assert_eq "$(jq -s -c --arg f "$every" '[.[] | select(.fault == $f and .type == "process.killed") | .round]' "$dir/ev2.txt")" \
	"[0,1,2,3]" "rounds of the kills"
# Every kill hit a different (restarted) worker, and exactly those the supervisor saw die.
killed=$(jq -s -r --arg f "$every" '[.[] | select(.fault == $f and .type == "process.killed") | .pid] | join(" ")' "$dir/ev2.txt")
fl_assert_eq "$(tr ' ' '\n' <<<"$killed" | sort -u | wc -l)" 4 "distinct workers killed"
fl_assert_eq "$(head -n4 "$dir/workers-a" | tr '\n' ' ' | sed 's/ $//')" "$killed" "killed workers in order"
fl_assert_eq "$(head -n4 "$dir/exits-a" | tr '\n' ' ')" "137 137 137 137 " "worker exit statuses"
jq -s -e --arg f "$every" 'any(.[]; .fault == $f and .type == "fault.reverted")' "$dir/ev2.txt" >/dev/null ||
	fl_fail "no fault.reverted for the interval kill"

# --- interval kill under a lease that is not renewed: its expiry stops the rounds ---
supervise c &
sup=$!
for ((i = 0; i < 200; i++)); do [ -s "$dir/workers-c" ] && break; sleep 0.01; done
wait_comm "$(tail -n1 "$dir/workers-c")" "$WORKER"
api POST /v1/leases "{\"ttl_ms\": $((1000 * T))}"
LEASE=$(jq -r .lease.id <<<"$API_BODY")
apply "{\"name\": \"k-lease\", \"type\": \"process.kill\", \"duration\": \"5m\", \"target\": {\"name\": \"$WORKER\", \"count\": 1}, \"params\": {\"interval\": \"$(ms 300)\"}}"
fl_assert_eq "$HTTP_STATUS" 201 "interval kill under a short lease"
wait_gone "$FAULT" 10 || fl_fail "interval kill not reverted when its lease expired"
for ((i = 0; i < 500; i++)); do
	last=$(tail -n1 "$dir/workers-c")
	alive "$last" && [ "$(cat /proc/"$last"/comm 2>/dev/null)" = "$WORKER" ] && break
	sleep 0.01
done
n_workers=$(wc -l <"$dir/workers-c")
[ "$n_workers" -ge 2 ] || fl_fail "no worker was killed before the lease expired"
# More than three intervals later: no further kills.
pause_s 1
fl_assert_eq "$(wc -l <"$dir/workers-c")" "$n_workers" "workers started after the lease expired"
touch "$dir/stop-c"
kill -KILL "$(tail -n1 "$dir/workers-c")"
fl_wait_exit rc "$sup" 10
events >"$dir/ev3.txt"
jq -s -e --arg l "$LEASE" 'any(.[]; .type == "lease.ended" and .lease == $l and (.reason | test("expired")) and .faults == 1)' \
	"$dir/ev3.txt" >/dev/null || fl_fail "no lease.ended event for the kill's lease"
new_lease

# --- interval kill, agent SIGKILLed: nothing repeats, recovery says so ---
supervise b &
sup=$!
for ((i = 0; i < 200; i++)); do [ -s "$dir/workers-b" ] && break; sleep 0.01; done
wait_comm "$(tail -n1 "$dir/workers-b")" "$WORKER"
apply "{\"name\": \"k-crash\", \"type\": \"process.kill\", \"duration\": \"1m\", \"target\": {\"name\": \"$WORKER\", \"all\": true}, \"params\": {\"interval\": \"$(ms 500)\"}}"
fl_assert_eq "$HTTP_STATUS" 201 "interval kill before the crash"
fl_assert_eq "$(journal_count)" 1 "journal record of the interval kill"
fl_crash_agent "$FL_AGENT_PID"
fl_wait_exit rc "$FL_AGENT_PID" 30
rm -f "$sock"
# A round just before the SIGKILL may have killed a worker: let the supervisor restart it.
for ((i = 0; i < 500; i++)); do
	last=$(tail -n1 "$dir/workers-b")
	alive "$last" && [ "$(cat /proc/"$last"/comm 2>/dev/null)" = "$WORKER" ] && break
	sleep 0.01
done
n_workers=$(wc -l <"$dir/workers-b")
# The next agent runs with a policy that protects the decoys' name.
printf 'protected_processes: [%s]\n' "$DECOY" >"$dir/policy.yaml"
fl_start_agent "$ns" "$sock" "$dir/agent2.log" "${AGENT_ARGS[@]}" --policy "$dir/policy.yaml"
grep -q "recovery: fault .* (process.kill): SIGKILL every $((500 * T)) ms ended by the agent's crash" "$dir/agent2.log" ||
	fl_fail "recovery of the interval kill not reported: $(grep -i recover "$dir/agent2.log")"
fl_assert_eq "$(journal_count)" 0 "journal records after recovery"
# Three intervals without a kill: the rounds died with the agent and were not resumed.
pause_s 1.5
fl_assert_eq "$(wc -l <"$dir/workers-b")" "$n_workers" "workers started after the crash (no more kills)"
alive "$(tail -n1 "$dir/workers-b")" || fl_fail "the worker was killed after the agent crashed"
touch "$dir/stop-b"
kill -KILL "$(tail -n1 "$dir/workers-b")"
fl_wait_exit rc "$sup" 10
new_lease

# --- the policy's protected names: a regex matching victims and decoys hits the victims ---
start v1 "$dir/$VICTIM" 600
start d1 "$dir/$DECOY" 600
wait_comm "$v1" "$VICTIM"
wait_comm "$d1" "$DECOY"
apply "{\"name\": \"k-policy\", \"type\": \"process.kill\", \"target\": {\"cmdline\": \"^$dir/$FL_ID[vd] 600\$\", \"all\": true}}"
fl_assert_eq "$HTTP_STATUS" 201 "kill by a regex that also matches protected names ($API_BODY)"
fl_assert_eq "$(jq -r '[.fault.status.recent[].pid] | join(" ")' <<<"$API_BODY")" "$v1" "only the unprotected process"
fl_wait_exit rc "$v1" 10
fl_assert_eq "$rc" 137 "unprotected victim"
alive "$d1" || fl_fail "a process protected by the policy was killed"
apply "{\"name\": \"k-policy2\", \"type\": \"process.kill\", \"target\": {\"cmdline\": \"^$dir/$FL_ID[d] 600\$\", \"all\": true}}"
fl_assert_eq "$HTTP_STATUS" 422 "a regex matching only protected processes"
kill -KILL "$d1"

# --- exe and user together: only the victim's executable run by that user ---
chmod 0711 "$dir"
start u1 setpriv --reuid=65534 --regid=65534 --clear-groups "$dir/$VICTIM" 600
start u2 "$dir/$VICTIM" 600                                                        # root
start u3 setpriv --reuid=65534 --regid=65534 --clear-groups "$(command -v sleep)" 600 # other exe
wait_comm "$u1" "$VICTIM"
wait_comm "$u2" "$VICTIM"
wait_comm "$u3" sleep
apply "{\"name\": \"k-exe\", \"type\": \"process.kill\", \"target\": {\"exe\": \"$dir/$VICTIM\", \"user\": \"nobody\", \"all\": true}}"
fl_assert_eq "$HTTP_STATUS" 201 "kill by exe and user ($API_BODY)"
fl_assert_eq "$(jq -r '[.fault.status.recent[].pid] | join(" ")' <<<"$API_BODY")" "$u1" "exe+user choice"
fl_wait_exit rc "$u1" 10
fl_assert_eq "$rc" 137 "exe+user victim"
alive "$u2" || fl_fail "the same executable run by root was hit"
alive "$u3" || fl_fail "another executable of that user was hit"
kill -KILL "$u2" "$u3"

# --- process.pause with the cgroup freezer ---
fz=$CG_ROOT/$FL_ID-freeze
mkdir "$fz"
fl_on_exit "echo 0 >$fz/cgroup.freeze; for p in \$(cat $fz/cgroup.procs); do kill -KILL \$p; done; sleep 0.2; rmdir $fz"
# A worker that counts: progress shows it is running, no progress that it is frozen.
start cnt bash -c 'i=0; while :; do i=$((i + 1)); echo $i >"$1.tmp"; mv "$1.tmp" "$1"; sleep 0.02; done' "${FL_ID}-count" "$dir/count"
echo "$cnt" >"$fz/cgroup.procs"
fzpath=$(sed -n 's/^0:://p' /proc/"$cnt"/cgroup)
count() { cat "$dir/count" 2>/dev/null || echo 0; }
frozen() { sed -n 's/^frozen //p' "$fz/cgroup.events"; }
wait_frozen() { # wait_frozen 0|1
	local i
	for ((i = 0; i < 100; i++)); do [ "$(frozen)" = "$1" ] && return 0; sleep 0.05; done
	fl_fail "cgroup.events frozen did not become $1"
}
progresses() { # the counter moves within a second
	local a i
	a=$(count)
	for ((i = 0; i < 100; i++)); do [ "$(count)" != "$a" ] && return 0; sleep 0.01; done
	return 1
}
progresses || fl_fail "counter does not run before the fault"
freeze_body="{\"name\": \"p-fz\", \"type\": \"process.pause\", \"duration\": \"1m\", \"target\": {\"cgroup\": \"$fzpath\", \"all\": true}, \"params\": {\"method\": \"freezer\"}}"
apply "$freeze_body"
fl_assert_eq "$HTTP_STATUS" 201 "freezer pause ($API_BODY)"
wait_frozen 1
api GET "/v1/faults/$FAULT"
fl_assert_eq "$(jq -r .fault.status.frozen <<<"$API_BODY")" true "status says frozen"
c_a=$(count)
sleep 0.5
fl_assert_eq "$(count)" "$c_a" "counter while frozen"
api DELETE "/v1/faults/$FAULT"
fl_assert_eq "$HTTP_STATUS" 200 "revert the freezer pause"
wait_frozen 0
progresses || fl_fail "counter does not run after revert"

# A cgroup frozen by someone else is not ours to freeze (and thaw).
echo 1 >"$fz/cgroup.freeze"
apply "$freeze_body"
fl_assert_eq "$HTTP_STATUS" 409 "freezing a cgroup that is already frozen"
echo 0 >"$fz/cgroup.freeze"
wait_frozen 0

# SIGKILL mid-fault: still frozen while no agent runs, thawed by the next start.
apply "$freeze_body"
fl_assert_eq "$HTTP_STATUS" 201 "freezer pause before SIGKILL"
wait_frozen 1
fl_crash_agent "$FL_AGENT_PID"
fl_wait_exit rc "$FL_AGENT_PID" 30
rm -f "$sock"
c_a=$(count)
sleep 0.5
fl_assert_eq "$(frozen)/$(count)" "1/$c_a" "frozen while the agent is dead"
fl_start_agent "$ns" "$sock" "$dir/agent3.log" "${AGENT_ARGS[@]}"
wait_frozen 0
progresses || fl_fail "counter does not run after the next agent started"
grep -q "recovery: fault .* (process.pause): thawed " "$dir/agent3.log" ||
	fl_fail "freezer recovery not reported: $(grep -i recover "$dir/agent3.log")"
fl_assert_eq "$(journal_count)" 0 "journal records after the freezer recovery"
new_lease

# The freezer refuses a cgroup holding a protected process (here one of the controller's
# session: the test's own, like curl's).
sleep 600 &
same_session=$!
echo "$same_session" >"$fz/cgroup.procs"
apply "$freeze_body"
fl_assert_eq "$HTTP_STATUS" 403 "freezing a cgroup with a protected process"
jq -e '.error.message | test("protected")' <<<"$API_BODY" >/dev/null || fl_fail "unclear refusal: $API_BODY"
fl_assert_eq "$(frozen)" 0 "cgroup left unfrozen"
kill -KILL "$same_session" "$cnt"
exit 0
