#!/usr/bin/env bash
# Crash anywhere: SIGKILL the agent at random points while it applies and while it reverts
# each fault type (every network type, network.dns with an answering action and with spoof,
# process.kill, process.pause and the stressors), then
# check that nothing is left, every time:
#   - in turn: the agent's watchdog (which outlives it) cleans up alone, with no restart;
#     the next agent start recovers (checked while that agent runs, then it is stopped with
#     SIGTERM); `faultlined --cleanup` alone does it (in the last two the watchdog is
#     SIGKILLed with the agent);
#   - residue = any difference in the interface's qdiscs, classes, filters (ingress, egress),
#     the namespace's IFB devices, a victim still stopped, or a journal record left over;
#     for stressors, any cgroup or file the journal named at the time of the kill, or the
#     fill or IO file; for process.kill, a kill round after the recovery: fresh processes
#     matching the fault's selector must all survive a window of 6 intervals (a control
#     during calibration shows a running kill loop does hit them in that window).
# The kill delay is drawn uniformly from [0, 1.5 x the fault type's measured apply (revert)
# time] with bash's $RANDOM seeded from FL_CRASH_SEED (printed, so a failure can be replayed),
# so the points spread over the whole window in which the agent changes the system.
# POINTS_PER_PHASE points per fault type and phase (a one-shot process.kill has no revert):
# at least 100 points in all, and at least an eighth of them must find the fault (partly) in
# place, so the kills really hit the window.
# FL_CRASH_TYPES (names of FAULTS below, separated by commas or spaces) runs only those; the
# default is every type but network.latency, whose mechanisms (sch_fq, sch_netem) only the vm
# layer's kernel has: tests/vm/crash_latency.sh runs the latency entries there. The minimum
# of 100 points holds for the default set only.
# Time: a point costs one or two agent starts (the mechanism probe) and a --cleanup or a stop,
# so the whole test scales with the machine's load, not with the fault types' apply times.
# Measured (145 points): 75 s unloaded (0.43 s median per point); 224 s with the 2 cores at a
# load average of ~800 (1.1 s median, 2.6 s p90, 4.6 s max), where the former 300 s CTest
# timeout had too little margin. CTest now allows 900 s and passes FL_CRASH_BUDGET_S=840:
# after every point the test projects its end from the median time per point so far and, when
# that is past the budget, fails at once with the figures instead of being killed silently.
. "$(dirname "$0")/lib.sh"
fl_require_root
fl_require_cmd curl jq tc ip nsenter setsid awk
fl_require_build

POINTS_PER_PHASE=${POINTS_PER_PHASE:-5}
API_TIMEOUT=10
[ -n "${FL_VM:-}" ] && API_TIMEOUT=30 # qemu TCG is many times slower
SEED=${FL_CRASH_SEED:-$(($(date +%s%N) % 32768))}
RANDOM=$SEED
fl_log "seed $SEED (FL_CRASH_SEED=$SEED replays the same kill delays)"

fl_lab 10.93.0
FILL=$dir/fill.dat
IOFILE=$dir/io.dat
ARGS=(--state-dir "$state" --audit-log "$dir/audit.log")

# Faults under test: NAME|BODY (target interface filled in).
net() { printf '{"name": "c", "type": "%s", "duration": "10m", "target": {"interface": "%s", %s}, "params": %s}' "$1" "$DEV" "$2" "$3"; }
FAULTS=(
	"loss-egress|$(net network.loss '"direction": "egress", "cidrs": ["10.93.0.2"]' '{"probability": "10%"}')"
	"loss-ge-ingress|$(net network.loss '"direction": "ingress", "cidrs": ["10.93.0.0/24"]' '{"model": "gilbert-elliott", "p": "5%", "r": "30%"}')"
	"corruption|$(net network.corruption '"direction": "both", "cidrs": ["10.93.0.2"], "protocol": "udp"' '{"probability": "1%"}')"
	"duplication|$(net network.duplication '"direction": "egress", "cidrs": ["10.93.0.2"]' '{"probability": "1%"}')"
	"partition|$(net network.partition '"cidrs": ["10.93.0.0/24"], "ports": [80]' '{}')"
	"dns|$(net network.dns '"cidrs": ["10.93.0.2"]' '{"names": ["db.internal", "*.example.com"], "action": "nxdomain"}')"
	"dns-spoof|$(net network.dns '"cidrs": ["10.93.0.2", "fd00:93::2"]' '{"names": ["db.internal"], "qtypes": ["A", "AAAA"], "action": "spoof", "a": ["10.99.0.1"], "aaaa": ["fd00:99::1"], "ttl": 30}')"
	"bandwidth-egress|$(net network.bandwidth '"direction": "egress", "cidrs": ["10.93.0.2"]' '{"rate": "10mbit"}')"
	"bandwidth-ingress|$(net network.bandwidth '"direction": "ingress", "cidrs": ["10.93.0.2"]' '{"rate": "10mbit"}')"
	"pause|PAUSE"
	"stress-cpu|{\"name\": \"c\", \"type\": \"stress.cpu\", \"duration\": \"10m\", \"params\": {\"workers\": 2, \"load\": \"10%\"}}"
	"stress-memory|{\"name\": \"c\", \"type\": \"stress.memory\", \"duration\": \"10m\", \"params\": {\"size\": \"32MiB\"}}"
	"stress-disk-fill|{\"name\": \"c\", \"type\": \"stress.disk_fill\", \"duration\": \"10m\", \"params\": {\"path\": \"FILL\", \"size\": \"8MiB\"}}"
	"stress-fds|{\"name\": \"c\", \"type\": \"stress.fds\", \"duration\": \"10m\", \"params\": {\"count\": 1000}}"
	"stress-io|{\"name\": \"c\", \"type\": \"stress.io\", \"duration\": \"10m\", \"params\": {\"path\": \"IOFILE\", \"rate\": \"4MiB/s\"}}"
	"kill-interval|KILL_INTERVAL"
	"kill-once|KILL_ONCE"
	# Only where the kernel has sch_fq and sch_netem (the vm layer).
	"latency-edt|$(net network.latency '"direction": "egress", "cidrs": ["10.93.0.2"]' '{"delay": "20ms", "mechanism": "edt"}')"
	"latency-netem|$(net network.latency '"direction": "both", "cidrs": ["10.93.0.0/24"]' '{"delay": "20ms", "jitter": "5ms", "mechanism": "netem"}')"
)
# The selection: FL_CRASH_TYPES, or every entry but the latency ones.
declare -A KNOWN
for f in "${FAULTS[@]}"; do KNOWN[${f%%|*}]=$f; done
SELECTED=()
if [ -n "${FL_CRASH_TYPES:-}" ]; then
	for n in ${FL_CRASH_TYPES//,/ }; do
		[ -n "${KNOWN[$n]:-}" ] ||
			fl_fail "FL_CRASH_TYPES: unknown fault '$n' (known: $(printf '%s\n' "${!KNOWN[@]}" | sort | paste -sd ' '))"
		SELECTED+=("${KNOWN[$n]}")
	done
else
	for f in "${FAULTS[@]}"; do
		case $f in latency-*) ;; *) SELECTED+=("$f") ;; esac
	done
fi
fl_log "fault types: $(for f in "${SELECTED[@]}"; do printf '%s ' "${f%%|*}"; done)"

# process.kill victims: copies of sleep under a name of their own (so the selector matches
# nothing else), each in its own session; count 1 every KILL_INTERVAL_MS.
KV=${FL_ID}k
KILL_INTERVAL_MS=100
KILL_QUIET_MS=$((6 * KILL_INTERVAL_MS))
cp "$(command -v sleep)" "$dir/$KV"
KV_PIDS=()
# Victims are disowned (a killed job would print a notice at every point); at exit each
# recorded one still running under the victims' name is killed, so no recycled pid is hit.
fl_on_exit 'for p in "${KV_PIDS[@]}"; do [ "$(cat /proc/$p/comm)" = "$KV" ] && kill -KILL "$p"; done'
kv_prune() { # drop the victims that are gone (the shell reaps them)
	local p alive=()
	for p in "${KV_PIDS[@]}"; do
		case "$(fl_proc_state "$p")" in
		"" | Z) ;;
		*) alive+=("$p") ;;
		esac
	done
	KV_PIDS=("${alive[@]}")
}
kv_fill() { # kv_fill N: at least N live victims, each already running under its name
	local p c i
	kv_prune
	while [ "${#KV_PIDS[@]}" -lt "$1" ]; do
		setsid "$dir/$KV" 3600 &
		p=$!
		disown "$p"
		KV_PIDS+=("$p")
		for ((i = 0; i < 500; i++)); do
			read -r c 2>/dev/null </proc/"$p"/comm || c=
			[ "$c" = "$KV" ] && break
			sleep 0.01
		done
		[ "$c" = "$KV" ] || fl_fail "victim $p did not start as $KV within 5 s"
	done
}
# kv_survive WHAT: the victims alive now are all still alive KILL_QUIET_MS later (no round).
kv_survive() {
	local p before
	kv_fill 3
	before=("${KV_PIDS[@]}")
	sleep "$(awk -v m="$KILL_QUIET_MS" 'BEGIN { print m / 1000 }')"
	for p in "${before[@]}"; do
		case "$(fl_proc_state "$p")" in
		"" | Z) fl_fail "$1: victim $p was killed ${KILL_QUIET_MS} ms after the recovery: a kill round ran" ;;
		esac
	done
}

api() { FL_API_TIMEOUT=${API_TIMEOUT} fl_api "$@" 2>/dev/null || true; } # the agent may be killed mid-request
proc_state() { fl_proc_state "$1"; }
system_state() { # everything a fault may leave behind
	tc -n "$A" -d qdisc show dev "$DEV"
	tc -n "$A" -d class show dev "$DEV"
	tc -n "$A" -d filter show dev "$DEV" ingress
	tc -n "$A" -d filter show dev "$DEV" egress
	ip -n "$A" -o link show type ifb
	echo "victim $(proc_state "$VICTIM")"
	echo "journal $(fl_journal_count "$state/journal")"
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
start_agent() {
	fl_start_agent "$A" "$sock" "$dir/agent.log" "${ARGS[@]}"
	fl_watchdog WD "$FL_AGENT_PID"
}
# The agent's watchdog (agent/watchdog.c) would undo the fault the moment the agent dies: it
# is stopped first, so the journal can be read as the crash left it; then it either gets to
# do its cleanup (SIGCONT) or is killed too, for the next start or --cleanup to do it.
kill_agent() {
	kill -STOP "$WD"
	kill -KILL "$FL_AGENT_PID" 2>/dev/null || true
	wait "$FL_AGENT_PID" 2>/dev/null || true
}
body_of() { # the fault body of a FAULTS entry, with the victim or the fill file filled in
	local b=${1#*|}
	case $b in
	PAUSE) b=$(printf '{"name": "c", "type": "process.pause", "duration": "10m", "target": {"pid": %d, "all": true}}' "$VICTIM") ;;
	KILL_INTERVAL) b=$(printf '{"name": "c", "type": "process.kill", "duration": "10m", "target": {"name": "%s", "count": 1}, "params": {"signal": "SIGKILL", "interval": "%dms"}}' "$KV" "$KILL_INTERVAL_MS") ;;
	KILL_ONCE) b=$(printf '{"name": "c", "type": "process.kill", "target": {"name": "%s", "count": 1}, "params": {"signal": "SIGKILL"}}' "$KV") ;;
	esac
	b=${b//IOFILE/$IOFILE}
	printf '%s' "${b//FILL/$FILL}"
}
# Stressors leave cgroups and files, not tc state: before recovering, note what the journal
# says was (being) made; after, each of those must be gone (a cgroup can only be removed
# once its last worker is gone, so that covers the workers too).
journal_made() {
	fl_journal_records "$state/journal" |
		jq -r '.undo // {} | (.cgroup // empty), (.file.path // empty)' || true
}
made_gone() { # made_gone LIST WHAT
	local m
	while read -r m; do
		[ -n "$m" ] || continue
		[ ! -e "$m" ] || fl_fail "$2: $m still there"
		made_checked=$((made_checked + 1))
	done <<<"$1"
	[ ! -e "$FILL" ] || fl_fail "$2: the fill file $FILL is still there"
	[ ! -e "$IOFILE" ] || fl_fail "$2: the IO file $IOFILE is still there"
}
# delay_s MAX_MS: a uniform random delay in [0, MAX_MS] ms, as seconds for sleep.
delay_s() { awk -v r=$((RANDOM * 32768 + RANDOM)) -v m="$1" 'BEGIN { printf "%.4f", r / 1073741823 * m / 1000 }'; }

setsid sleep 3600 &
VICTIM=$!
# The pristine state must show the victim asleep: right after the fork it may still be
# running (R) on a slow machine, which would never match again (seen in the VM under TCG).
for ((i = 0; i < 100; i++)); do
	[ "$(proc_state "$VICTIM")" = S ] && break
	sleep 0.05
done
[ "$(proc_state "$VICTIM")" = S ] || fl_fail "the victim $VICTIM is not asleep within 5 s"
pristine=$(system_state)

# Calibrate: how long apply and revert take for each type, on this machine, now.
declare -A APPLY_MS REVERT_MS
start_agent
for f in "${SELECTED[@]}"; do
	name=${f%%|*}
	case $name in kill-*) kv_fill 4 ;; esac
	pool=("${KV_PIDS[@]}")
	api POST /v1/leases '{"ttl_ms": 60000}'
	lease=$(jq -r .lease.id <<<"$API_BODY")
	t0=$(now_ms)
	api POST "/v1/leases/$lease/faults" "$(body_of "$f")"
	t1=$(now_ms)
	# The host kernel may lack a latency mechanism (skip); the vm layer's kernel has both.
	if [ "$HTTP_STATUS" = 503 ] && [ "${name#latency-}" != "$name" ] && [ -z "${FL_VM:-}" ]; then
		fl_skip "$name is unavailable on this kernel: $(jq -r .error.message <<<"$API_BODY")"
	fi
	[ "$HTTP_STATUS" = 201 ] || fl_fail "calibration apply $name: HTTP $HTTP_STATUS: $API_BODY"
	fid=$(jq -r .fault.id <<<"$API_BODY")
	APPLY_MS[$name]=$((t1 - t0 + 1))
	if [ "$name" = kill-once ]; then
		fl_assert_eq "$(jq -r .fault.state <<<"$API_BODY")" completed "calibration: $name state"
		fl_log "$name: apply ${APPLY_MS[$name]} ms (completes within its apply: no revert)"
		api DELETE "/v1/leases/$lease"
		continue
	fi
	if [ "$name" = kill-interval ]; then
		# The control for kv_survive: a running kill loop does not leave a pool of victims
		# alone for KILL_QUIET_MS. Of the pool of 4 the apply found, round 0 took one; at
		# least one more must be gone by the end of the window after the apply returned.
		# (Counted over the pool, not over those alive after the apply: round 1 may already
		# have run by then on a loaded machine.)
		sleep "$(awk -v m="$KILL_QUIET_MS" 'BEGIN { print m / 1000 }')"
		hit=0
		for p in "${pool[@]}"; do
			case "$(fl_proc_state "$p")" in "" | Z) hit=$((hit + 1)) ;; esac
		done
		[ "$hit" -ge 2 ] || fl_fail "control: a running $name killed $hit of ${#pool[@]} victims within ${KILL_QUIET_MS} ms after its apply; the survival check after recovery would prove nothing"
		fl_log "$name: control: $hit of ${#pool[@]} victims killed by ${KILL_QUIET_MS} ms after the apply"
	fi
	t1=$(now_ms)
	api DELETE "/v1/faults/$fid"
	t2=$(now_ms)
	[ "$HTTP_STATUS" = 200 ] || fl_fail "calibration revert $name: $API_BODY"
	REVERT_MS[$name]=$((t2 - t1 + 1))
	fl_log "$name: apply ${APPLY_MS[$name]} ms, revert ${REVERT_MS[$name]} ms"
	api DELETE "/v1/leases/$lease"
done
kill -TERM "$FL_AGENT_PID"
fl_wait_exit rc "$FL_AGENT_PID" 30
fl_assert_eq "$(system_state)" "$pristine" "state after calibration"

points=0 dirty=0 made_checked=0 quiet_checked=0
POINT_MS=()
planned=0
for f in "${SELECTED[@]}"; do
	case ${f%%|*} in kill-once) planned=$((planned + POINTS_PER_PHASE)) ;; *) planned=$((planned + 2 * POINTS_PER_PHASE)) ;; esac
done
budget_check() { # fail early, with the figures, when the median point says the end is past the budget
	local median left
	# Ten points at least: one slow start is not a trend.
	[ -n "${FL_CRASH_BUDGET_S:-}" ] && [ "${#POINT_MS[@]}" -ge 10 ] || return 0
	median=$(printf '%s\n' "${POINT_MS[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
	left=$((planned - ${#POINT_MS[@]}))
	if ((SECONDS + left * median / 1000 > FL_CRASH_BUDGET_S)); then
		fl_fail "after ${#POINT_MS[@]} of $planned points in ${SECONDS} s (median ${median} ms per point) the test would end after FL_CRASH_BUDGET_S=${FL_CRASH_BUDGET_S} s: the machine is too loaded for this test now"
	fi
}
for f in "${SELECTED[@]}"; do
	name=${f%%|*}
	phases=(apply revert)
	[ "$name" = kill-once ] && phases=(apply)
	for phase in "${phases[@]}"; do
		for ((i = 0; i < POINTS_PER_PHASE; i++)); do
			point_t0=$(now_ms)
			case $name in kill-*) kv_fill 3 ;; esac
			start_agent
			api POST /v1/leases '{"ttl_ms": 60000}'
			[ "$HTTP_STATUS" = 201 ] || fl_fail "lease: $API_BODY"
			lease=$(jq -r .lease.id <<<"$API_BODY")
			if [ $phase = apply ]; then
				max=$((APPLY_MS[$name] * 3 / 2))
				api POST "/v1/leases/$lease/faults" "$(body_of "$f")" &
			else
				max=$((REVERT_MS[$name] * 3 / 2))
				api POST "/v1/leases/$lease/faults" "$(body_of "$f")"
				[ "$HTTP_STATUS" = 201 ] || fl_fail "apply $name: HTTP $HTTP_STATUS: $API_BODY"
				fid=$(jq -r .fault.id <<<"$API_BODY")
				api DELETE "/v1/faults/$fid" &
			fi
			req=$!
			d=$(delay_s "$max")
			sleep "$d"
			kill_agent
			wait "$req" 2>/dev/null || true
			points=$((points + 1))
			what="$name, killed ${d}s into $phase (point $points)"
			# A journal record left means the kill came while the fault was (partly) in place.
			[ "$(fl_journal_count "$state/journal")" -gt 0 ] && dirty=$((dirty + 1))
			made=$(journal_made)
			if ((points % 3 == 0)); then
				kill -CONT "$WD"
				fl_wait_gone "$WD" 30
				grep -q "watchdog: .*died without a clean stop" "$dir/agent.log" ||
					fl_fail "the watchdog did not clean up: $what"
				fl_assert_eq "$(system_state)" "$pristine" "residue after the watchdog's cleanup: $what"
				made_gone "$made" "residue after the watchdog's cleanup: $what"
				case $name in kill-*)
					kv_survive "residue after the watchdog's cleanup: $what"
					quiet_checked=$((quiet_checked + 1))
					;;
				esac
			elif ((points % 3 == 1)); then
				kill -KILL "$WD"
				fl_wait_gone "$WD" 10
				start_agent
				fl_assert_eq "$(system_state)" "$pristine" "residue after restart: $what"
				made_gone "$made" "residue after restart: $what"
				# The restarted agent must not resume the rounds of the crashed one.
				case $name in kill-*)
					kv_survive "residue after restart: $what"
					quiet_checked=$((quiet_checked + 1))
					;;
				esac
				kill -TERM "$FL_AGENT_PID"
				fl_wait_exit rc "$FL_AGENT_PID" 30
				fl_assert_eq "$rc" 0 "agent exit after recovery: $what"
			else
				kill -KILL "$WD"
				fl_wait_gone "$WD" 10
				nsenter --net="/run/netns/$A" "$FAULTLINED" --cleanup "${ARGS[@]}" >"$dir/cleanup.json" 2>"$dir/cleanup.log" ||
					fl_fail "--cleanup failed: $what: $(cat "$dir/cleanup.log")"
				fl_assert_eq "$(system_state)" "$pristine" "residue after --cleanup: $what"
				made_gone "$made" "residue after --cleanup: $what"
				case $name in kill-*)
					kv_survive "residue after --cleanup: $what"
					quiet_checked=$((quiet_checked + 1))
					;;
				esac
			fi
			POINT_MS+=($(($(now_ms) - point_t0)))
			budget_check
		done
	done
done
fl_log "time per point: $(printf '%s\n' "${POINT_MS[@]}" | sort -n | awk '{ v[NR] = $1 } END { printf "min %d ms, median %d ms, p90 %d ms, max %d ms", v[1], v[int((NR + 1) / 2)], v[int(NR * 0.9 + 0.5)], v[NR] }')"
fl_log "$points crash points, recovered in turn by the watchdog, a restart and --cleanup ($dirty with the fault partly or fully in place; $made_checked stressor cgroups and files checked gone; $quiet_checked kill recoveries followed by ${KILL_QUIET_MS} ms without a kill), zero residue after every one"
[ -n "${FL_CRASH_TYPES:-}" ] || [ "$points" -ge 100 ] || fl_fail "only $points crash points (want at least 100)"
# Many kills land while a journal record exists (every apply point after the record is
# written, the revert points before it is removed); far fewer means the delays missed the
# window and the test would prove nothing.
[ $((dirty * 8)) -ge "$points" ] || fl_fail "only $dirty of $points kills found a fault in place"
