#!/usr/bin/env bash
# Control-plane latencies of `faultctl run`, with 1 agent and with N agents (50; 5 with
# --quick), every agent a faultlined in its own network namespace with its own socket and
# state directory, all driven by one `faultctl run` through an inventory. Each agent pauses
# one sleeping process of its own (process.pause), so the figures are the control plane's,
# not a fault type's.
#
#   sudo bench/control_plane.sh [--quick]
#
# Rows go to stdout, one per line, tab-separated: figure, value, reference, ratio (bench/run.sh
# puts them in its table); progress goes to stderr. Per round, interleaved: a run on agent 1
# alone, then the same run on all N agents; the 1-agent figure is the reference of the N-agent
# one. Medians over the rounds. The figures:
#   run to all active   from launching `faultctl run` (the shell's clock just before the exec)
#                       to the latest `fault.applied` event among the agents (GET /v1/events;
#                       the agents stamp events with the same host clock, in ms)
#   connect to applied  the report's own clock: from "connecting to N agents" (the first
#                       timeline entry) to the last fault whose apply faultctl saw confirmed
#   breach to reverted  the report's abort.breach_to_reverted_ms: an HTTP guardrail against
#                       http_testsrv, switched to answer 503 once every fault is active, from
#                       the breaching sample to the last agent's revert confirmation
#   lease expiry        faultctl SIGKILLed mid-run; per agent, from the last renewal it accepted
#                       (its audit log, written right after the renewal in the same loop
#                       iteration) to its `fault.reverted` event, and from the kill to that
#                       event; reference: the TTL. Audit and event times are whole ms.
# Everything (namespaces, agents, victims, the HTTP server, files) is removed at exit, also on
# failure; every wait is bounded.
. "$(dirname "$0")/lib.sh"
. "$FL_SOURCE_DIR/tests/integration/run_lib.sh"
fl_require_root
fl_require_cmd curl jq awk nsenter setsid socat
fl_require_build
SRV=$FL_BUILD_DIR/tests/integration/http_testsrv
[ -x "$SRV" ] || fl_fail "http_testsrv not built in $FL_BUILD_DIR (scripts/build.sh)"

QUICK=0
for a in "$@"; do
	case "$a" in
	--quick) QUICK=1 ;;
	*) fl_fail "unknown option '$a' (use --quick)" ;;
	esac
done
if [ $QUICK = 1 ]; then
	N=5 ROUNDS=1 LEASE_ROUNDS=1
else
	N=50 ROUNDS=5 LEASE_ROUNDS=3
fi
# FL_CONTROL_AGENTS, FL_CONTROL_ROUNDS: another N and number of rounds (lease rounds too).
N=${FL_CONTROL_AGENTS:-$N} ROUNDS=${FL_CONTROL_ROUNDS:-$ROUNDS}
LEASE_ROUNDS=${FL_CONTROL_ROUNDS:-$LEASE_ROUNDS}
# The breach runs' lease TTL does not enter their figures; the lease runs' is their reference.
BREACH_TTL_MS=2000 LEASE_TTL_MS=2000
GOAL_MS=100

T0=$SECONDS
say() { echo "  [control +$((SECONDS - T0))s] $*" >&2; }
row() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4"; }
ms() { awk -v u="$1" 'BEGIN { printf "%.1f", u / 1000 }'; }

# --- the lab: N agents, N victims, faultctl's namespace with the HTTP server ---------------
fl_tmpdir dir
fl_netns CTL cpctl
nsenter --net="/run/netns/$CTL" "$SRV" "$dir/port" 900 >"$dir/srv.log" 2>&1 &
for ((i = 0; i < 100; i++)); do [ -s "$dir/port" ] && break; sleep 0.05; done
PORT=$(cat "$dir/port")
[ -n "$PORT" ] || fl_fail "http_testsrv did not start: $(cat "$dir/srv.log")"
srv_status() {
	run_in "$CTL" curl -sS --max-time 5 -o /dev/null "http://127.0.0.1:$PORT/control?status=$1" ||
		fl_fail "cannot switch http_testsrv to $1"
}

say "starting $N agents, one network namespace each"
AGENT_PIDS=() VICTIMS=()
for ((k = 1; k <= N; k++)); do
	fl_netns ns "cp$k"
	mkdir "$dir/a$k"
	# As fl_start_agent, but without waiting for each socket: the agents start in parallel
	# (FL_AGENT_SESSION=1: each in a session of its own, as systemd starts services).
	${FL_AGENT_SESSION:+setsid} nsenter --net="/run/netns/$ns" "$FAULTLINED" --socket "$dir/a$k/agent.sock" \
		--state-dir "$dir/a$k/state" --audit-log "$dir/a$k/audit.log" >"$dir/a$k.log" 2>&1 &
	AGENT_PIDS[k]=$!
done
for ((k = 1; k <= N; k++)); do
	fl_wait_socket "$dir/a$k/agent.sock" "${AGENT_PIDS[k]}"
	run_start_victim v
	VICTIMS[k]=$v
done
{
	echo "version: 1"
	echo "agents:"
	for ((k = 1; k <= N; k++)); do
		echo "  - {name: a$k, address: \"unix://$dir/a$k/agent.sock\"}"
	done
} >"$dir/inventory.yaml"

# exp_file FILE COUNT GUARDRAIL TTL_MS: an experiment on agents a1..aCOUNT, each pausing its
# victim, with leases of TTL_MS; GUARDRAIL 1 adds the HTTP guardrail against http_testsrv.
exp_file() {
	local k
	{
		echo "version: 1"
		echo "name: bench-control-plane-$2"
		echo "hypothesis: the control plane's latencies are measured (benchmark)"
		echo "inventory: inventory.yaml"
		echo "agents:"
		for ((k = 1; k <= $2; k++)); do echo "  - {name: a$k}"; done
		echo "duration: 60s"
		echo "safety: {lease_ttl: ${4}ms}"
		if [ "$3" = 1 ]; then
			echo "guardrails:"
			echo "  - name: service"
			echo "    http: {url: \"http://127.0.0.1:$PORT/ping\", rate: 50/s, timeout: 1s, window: 1s, min_success_ratio: 90%}"
		fi
		echo "faults:"
		for ((k = 1; k <= $2; k++)); do
			echo "  - {name: pause-a$k, type: process.pause, agents: [a$k], duration: 50s, target: {pid: ${VICTIMS[k]}, all: true}}"
		done
	} >"$1"
}
for c in 1 "$N"; do
	exp_file "$dir/breach-$c.yaml" "$c" 1 $BREACH_TTL_MS
	exp_file "$dir/lease-$c.yaml" "$c" 0 $LEASE_TTL_MS
done

# launch NAME COUNT: start faultctl on NAME-COUNT.yaml (in faultctl's namespace, where the
# HTTP server is); sets CTL_PID and LAUNCH_US, waits (bounded) until COUNT faults are applied.
launch() {
	local i n
	LAUNCH_US=$(now_us)
	nsenter --net="/run/netns/$CTL" "$FAULTCTL" run "$dir/$1-$2.yaml" \
		--report-json "$dir/$1-$2.json" >"$dir/$1-$2.out" 2>&1 &
	CTL_PID=$!
	for ((i = 0; i < 600; i++)); do
		n=$(grep -c ': applied .* as f-' "$dir/$1-$2.out" 2>/dev/null || true)
		[ "${n:-0}" -ge "$2" ] && return 0
		kill -0 "$CTL_PID" 2>/dev/null || fl_fail "faultctl ended before applying: $(cat "$dir/$1-$2.out")"
		sleep 0.05
	done
	fl_fail "$2 faults not applied within 30 s: $(cat "$dir/$1-$2.out")"
}

# events COUNT: every agent's retained events (GET /v1/events replays them, then streams;
# the stream is cut after two seconds, time enough on a loaded machine), all in
# $dir/events.json: one array, each event with its agent's number in .k and its time as epoch
# microseconds in .us.
events() {
	local k p=()
	for ((k = 1; k <= $1; k++)); do
		curl -sSN --max-time 2 --unix-socket "$dir/a$k/agent.sock" \
			'http://agent/v1/events?since=0' >"$dir/ev-$k.raw" 2>/dev/null &
		p+=($!)
	done
	for k in "${p[@]}"; do wait "$k" || true; done
	for ((k = 1; k <= $1; k++)); do echo "$dir/ev-$k.raw"; done |
		xargs jq -n '[inputs | . + {k: (input_filename | capture("ev-(?<k>[0-9]+)\\.raw$").k | tonumber),
			us: (((.time[0:19] + "Z") | fromdateiso8601) * 1000000 + (.time[20:23] | tonumber) * 1000)}]' \
			>"$dir/events.json" || fl_fail "unreadable events"
}

# victims_running COUNT: bounded wait until no victim of a1..aCOUNT is stopped.
victims_running() {
	local i k stopped
	for ((i = 0; i < 400; i++)); do
		stopped=0
		for ((k = 1; k <= $1; k++)); do
			[ "$(proc_state "${VICTIMS[k]}")" = T ] && stopped=$((stopped + 1))
		done
		[ $stopped = 0 ] && return 0
		sleep 0.025
	done
	fl_fail "$stopped victims still stopped 10 s after the run"
}

# breach_run COUNT: appends to ACTIVE[COUNT] (run to all active, µs), CONNECT[COUNT] (connect
# to last apply confirmed, ms) and BREACH[COUNT] (breach to all reverted, ms).
declare -A ACTIVE CONNECT BREACH RENEW KILL RENEW_MAX
breach_run() {
	local c=$1 rep=$dir/breach-$1.json rc out
	srv_status 200
	launch breach "$c"
	# The guardrail sees a healthy window first, then every answer fails.
	sleep 0.5
	srv_status 503
	fl_wait_exit rc "$CTL_PID" 30
	srv_status 200
	[ "$rc" = 1 ] || fl_fail "breach run on $c agents: exit $rc, not 1: $(cat "$dir/breach-$c.out")"
	jq -e --argjson n "$c" '.outcome == "aborted" and .abort.all_confirmed and
		(.abort.agents | length == $n) and
		([.faults[] | select(.state == "reverted" and .achieved_final)] | length == $n)' \
		"$rep" >/dev/null || fl_fail "breach run on $c agents: $(jq -c '{outcome, reason, abort}' "$rep")"
	victims_running "$c"
	events "$c"
	# The latest fault.applied event of the run's faults (by id) among the agents.
	out=$(jq -r --slurpfile ev "$dir/events.json" '
		[.faults[].id] as $ids
		| [$ev[0][] | select(.type == "fault.applied" and (.fault as $f | $ids | index($f)))] as $a
		| if ($a | length) != ($ids | length) then
			error("\($ids | length) faults, \($a | length) fault.applied events")
		  else
			"\($a | map(.us) | max) \((([.faults[].applied_ms] | max) - .timeline[0].t_ms) * 10 | round / 10) \(.abort.breach_to_reverted_ms * 10 | round / 10)"
		  end' "$rep") || fl_fail "breach run on $c agents: events do not match the report"
	read -r last conn breach <<<"$out"
	say "  breach to all reverted $breach ms: $(jq -r '"decided \(.abort.decided_ms - .abort.sample_ms | . * 1000 | round / 1000) ms after the sample, reverts sent \(.abort.revert_sent_ms - .abort.decided_ms | . * 1000 | round / 1000) ms later; slowest agent \(.abort.agents | max_by(.breach_to_confirmed_ms) | "\(.name) \(.breach_to_confirmed_ms * 10 | round / 10) ms")"' "$rep")"
	ACTIVE[$c]+=" $((last - LAUNCH_US))"
	CONNECT[$c]+=" $conn"
	BREACH[$c]+=" $breach"
}

# lease_run COUNT: SIGKILL faultctl once every fault is active and a renewal has happened;
# appends per-round medians over the agents to RENEW and KILL, maxima to RENEW_MAX (µs).
lease_run() {
	local c=$1 k kill_us out
	launch lease "$c"
	# Half a TTL: at least one renewal (every TTL/3) after the applies.
	sleep "$(awk -v t=$LEASE_TTL_MS 'BEGIN { print t / 2000 }')"
	# Not this shell's job any more: bash would print "Killed" when it reaps it.
	disown "$CTL_PID"
	kill -KILL "$CTL_PID"
	kill_us=$(now_us)
	sleep "$(awk -v t=$LEASE_TTL_MS 'BEGIN { print t / 1000 + 0.2 }')"
	victims_running "$c"
	events "$c"
	# Per agent: the lease that expired last (this run's), its last accepted renewal in the
	# agent's audit log (written right after the renewal, in the same loop iteration), and
	# the fault.reverted event under it.
	out=$(for ((k = 1; k <= c; k++)); do echo "$dir/a$k/audit.log"; done |
		xargs jq -n -r --slurpfile ev "$dir/events.json" --argjson kill "$kill_us" \
			--argjson n "$c" '
		[inputs | select(.method == "POST" and (.target | endswith("/renew")) and .status == 200)
		 | {k: (input_filename | capture("/a(?<k>[0-9]+)/audit.log$").k | tonumber),
		    lease: (.target | split("/")[3]),
		    us: (((.time[0:19] + "Z") | fromdateiso8601) * 1000000 + (.time[20:23] | tonumber) * 1000)}]
		as $renewals
		| range(1; $n + 1) as $k
		| ([$ev[0][] | select(.k == $k and .type == "lease.ended" and (.reason | test("expired")))]
		   | max_by(.seq) // error("agent a\($k): no lease ended by expiry")) as $ended
		| ([$renewals[] | select(.k == $k and .lease == $ended.lease) | .us] | max
		   // error("agent a\($k): no renewal of lease \($ended.lease) in the audit log")) as $renew
		| ([$ev[0][] | select(.k == $k and .type == "fault.reverted" and .lease == $ended.lease)][0].us
		   // error("agent a\($k): no fault.reverted event under lease \($ended.lease)")) as $rev
		| "\($rev - $renew) \($rev - $kill)"') || fl_fail "lease run on $c agents: $out"
	RENEW[$c]+=" $(awk '{ print $1 }' <<<"$out" | median)"
	RENEW_MAX[$c]+=" $(awk '{ print $1 }' <<<"$out" | maximum)"
	KILL[$c]+=" $(awk '{ print $2 }' <<<"$out" | median)"
}

for ((r = 1; r <= ROUNDS; r++)); do
	for c in 1 "$N"; do
		say "round $r/$ROUNDS: $c agent(s): run to active and breach to reverted"
		breach_run "$c"
		[ "$r" -le $LEASE_ROUNDS ] || continue
		say "round $r/$ROUNDS: $c agent(s): lease expiry after SIGKILL of faultctl"
		lease_run "$c"
	done
done
for ((k = 1; k <= N; k++)); do
	run_agent_idle "$dir/a$k/agent.sock"
done

med() { echo "$1" | median; }
a1=$(med "${ACTIVE[1]}") an=$(med "${ACTIVE[$N]}")
row "run to all active (agents' events), 1 agent" "$(ms "$a1") ms" "$(ms "$a1") ms" 1.000
row "run to all active (agents' events), $N agents (ref 1)" "$(ms "$an") ms" "$(ms "$a1") ms" "$(ratio "$an" "$a1")"
c1=$(med "${CONNECT[1]}") cn=$(med "${CONNECT[$N]}")
row "connect to last apply confirmed (report), 1 agent" "$c1 ms" "$c1 ms" 1.000
row "connect to last apply confirmed (report), $N agents (ref 1)" "$cn ms" "$c1 ms" "$(ratio "$cn" "$c1")"
b1=$(med "${BREACH[1]}") bn=$(med "${BREACH[$N]}") bmax=$(echo "${BREACH[$N]}" | maximum)
row "breach to all reverted (report), 1 agent" "$b1 ms" "$b1 ms" 1.000
row "breach to all reverted (report), $N agents (ref 1)" "$bn ms" "$b1 ms" "$(ratio "$bn" "$b1")"
# The goal is judged on the median and on the worst round, both said: a loaded machine can
# stall one round, and the median alone would hide that.
say "breach to all reverted per round: 1 agent:${BREACH[1]} ms; $N agents:${BREACH[$N]} ms"
if awk -v m="$bmax" -v g=$GOAL_MS 'BEGIN { exit !(m < g) }'; then
	goal="met (median $bn ms, worst $bmax ms in $ROUNDS rounds)"
elif awk -v m="$bn" -v g=$GOAL_MS 'BEGIN { exit !(m < g) }'; then
	goal="met by the median ($bn ms), NOT by the worst round ($bmax ms in $ROUNDS)"
else
	goal="NOT met (median $bn ms, worst $bmax ms in $ROUNDS rounds)"
fi
row "goal: breach to reverted < $GOAL_MS ms with $N agents" "$goal" "$GOAL_MS ms" "$(ratio "$bn" $GOAL_MS)"
for c in 1 "$N"; do
	rm=$(med "${RENEW[$c]}") rx=$(echo "${RENEW_MAX[$c]}" | maximum)
	km=$(med "${KILL[$c]}")
	row "lease: last renewal to reverted, $c agent(s), median" "$(ms "$rm") ms" "$LEASE_TTL_MS ms" "$(ratio "$rm" $((LEASE_TTL_MS * 1000)))"
	row "lease: last renewal to reverted, $c agent(s), worst" "$(ms "$rx") ms" "$LEASE_TTL_MS ms" "$(ratio "$rx" $((LEASE_TTL_MS * 1000)))"
	row "lease: SIGKILL to reverted, $c agent(s), median" "$(ms "$km") ms" "$LEASE_TTL_MS ms" "$(ratio "$km" $((LEASE_TTL_MS * 1000)))"
done
