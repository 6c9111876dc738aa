#!/usr/bin/env bash
# README command (a): a short game day in the namespace lab (docs/lab.md), from a fresh clone.
#
#   sudo scripts/demo.sh [--out DIR]
#
# In order: scripts/setup.sh (Debian packages) and scripts/build.sh; `scripts/lab.sh up` (demo
# service, backend, load, Prometheus and faultlined in network namespaces); `faultctl agent info`
# (capabilities kept, mechanisms and fault types available or not, with the kernel's reason);
# validate and plan the game day's experiments; wait until the lab's steady state is healthy;
# run experiments/lab-backend-loss.yaml (must hold: exit 0) and
# experiments/lab-backend-partition.yaml (its guardrail must abort it: exit 1) with
# `faultctl run` from the client namespace; print each Markdown report and a summary; then
# `scripts/lab.sh down`. An experiment with a fault type this kernel lacks (network.latency
# without sch_netem and sch_fq) is skipped with the agent's reason instead of failing.
#
# Exit 0 only when every experiment that ran had its expected outcome; 1 otherwise, with the
# reason last. Cleanup (lab down, which stops the agent and its faults, and the temporary
# directory) runs on every exit, also on failure, Ctrl-C or SIGTERM: no namespace, process,
# qdisc or file of the demo stays. The reports (JSON, JUnit, Markdown) are written to a
# temporary directory that goes with the cleanup, or to --out DIR, which is kept.
#
# Environment:
#   FL_DEMO_SKIP_SETUP=1   skip setup.sh and build.sh; the build must already be there
#                          (tests/integration/test_demo.sh uses this)
#   FL_BUILD_DIR           build directory (default build/)
#   FL_LAB_NAME, FL_LAB_RUN  the lab's name and state root, as for lab.sh (default "lab" and
#                          /run/faultline-lab). The lab experiments name the default lab's agent
#                          socket; for another lab they run from copies in the temporary
#                          directory with that one address changed (printed).
set -euo pipefail
caller_dir=$(pwd)
cd "$(dirname "$0")/.."
src=$(pwd)

die() {
	echo "demo.sh: $*" >&2
	exit 1
}
usage() {
	sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

out=
while [ $# -gt 0 ]; do
	case $1 in
	--out)
		out=${2:?--out needs a directory}
		# Relative to where the demo was started, not to the repository it changes into.
		[[ $out == /* ]] || out=$caller_dir/$out
		shift
		;;
	-h | --help) usage ;;
	*) usage ;;
	esac
	shift
done

[ "$(id -u)" -eq 0 ] || die "run as root (sudo $0): the lab creates network namespaces and the agent needs root"

# The game day: each experiment with the outcome and exit code it must have. The loss is
# absorbed by TCP within the service's backend timeout; the partition makes every request a
# 504, which the error-ratio guardrail must catch and abort.
#
# faultctl gameday (branch h-gameday) will run such a list as one plan with one combined
# report. Switching to it is a change of run_game_day alone: replace its loop of `faultctl run`
# with one `faultctl gameday experiments/gameday-lab.yaml` in the client namespace (same
# report options, into "$out/gameday.*") and have check_outcome read each experiment's
# outcome from the combined report instead of from its own report file. The expectations
# below, the agent-info gate for unavailable fault types and the cleanup stay as they are.
GAME_DAY=(
	"lab-backend-loss held 0"
	"lab-backend-partition aborted 1"
)
# Each run is bounded by its experiment (40 s, recovery within 30 s); this cap only catches a
# hang. faultctl gets SIGINT at the cap, so it reverts before it exits; SIGKILL 20 s later if
# it has not (the agent then reverts when the lease lapses, within its 5 s TTL).
RUN_CAP_S=150

build=${FL_BUILD_DIR:-$src/build}
faultctl=$build/ctl/faultctl
lab_name=${FL_LAB_NAME:-lab}
lab_run=${FL_LAB_RUN:-/run/faultline-lab}
lab_dir=$lab_run/$lab_name
lab_ns=fl-$lab_name
default_sock=/run/faultline-lab/lab/agent.sock
sock=$lab_dir/agent.sock
export FL_BUILD_DIR=$build FL_LAB_NAME=$lab_name FL_LAB_RUN=$lab_run

t0=$(date +%s%N)
work=
lab_started=0
result="FAILED (see the messages above)"
elapsed() { awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'; }

cleanup() {
	local rc=$?
	# A second Ctrl-C must not cut the cleanup short; every step of it is bounded.
	trap '' INT TERM
	set +e
	echo
	echo "== cleanup"
	if [ "$lab_started" -eq 1 ]; then
		bash scripts/lab.sh down
	fi
	if [ -n "$work" ]; then
		rm -rf "$work"
		echo "removed $work"
	fi
	if [ "$rc" -eq 0 ]; then
		result="ok"
	elif [ "$rc" -eq 130 ] || [ "$rc" -eq 143 ]; then
		result="INTERRUPTED (exit $rc)"
	fi
	echo
	echo "demo: $result; took $(elapsed) s"
	exit "$rc"
}
trap cleanup EXIT
# A signal to the demo first reaches a faultctl run in progress, which reverts, writes its
# reports and exits; only then does the cleanup start. faultctl runs in the background (so
# that this trap runs at once, not after the run) and gets the signal forwarded: a terminal's
# Ctrl-C reaches it directly too, a `kill` of the demo's pid would not.
run_pid=
on_signal() { # STATUS SIGNAL
	if [ -n "$run_pid" ]; then
		kill -s "$2" "$run_pid" 2>/dev/null || true
		stop_run
	fi
	exit "$1"
}
# is_running PID: PID (a child of this shell) has not exited; a zombie has.
is_running() {
	local st
	read -r st 2>/dev/null </proc/"$1"/stat || return 1
	st=${st##*) }
	[ "${st%% *}" != Z ]
}
# stop_run: bounded wait for the signalled faultctl run; SIGKILL after 20 s.
stop_run() {
	local i
	for ((i = 0; i < 100; i++)); do
		is_running "$run_pid" || break
		sleep 0.2
	done
	is_running "$run_pid" && kill -KILL "$run_pid" 2>/dev/null
	wait "$run_pid" 2>/dev/null || true
	run_pid=
}
trap 'on_signal 130 INT' INT
trap 'on_signal 143 TERM' TERM

section() {
	echo
	echo "== $* [+$(elapsed) s]"
}

if [ "${FL_DEMO_SKIP_SETUP:-0}" = 1 ]; then
	section "setup and build skipped (FL_DEMO_SKIP_SETUP=1)"
	for f in "$faultctl" "$build/agent/faultlined" "$build/lab/demo/faultline-demo"; do
		[ -x "$f" ] || die "$f is not built (scripts/build.sh, or unset FL_DEMO_SKIP_SETUP)"
	done
else
	section "setup (Debian packages) and build"
	bash scripts/setup.sh
	bash scripts/build.sh
fi

work=$(mktemp -d /tmp/faultline-demo.XXXXXX)
if [ -n "$out" ]; then
	mkdir -p "$out"
	out=$(cd "$out" && pwd)
else
	out=$work/reports
	mkdir "$out"
fi
echo "temporary directory: $work (removed at exit)"
echo "reports: $out$([ "$out" = "$work/reports" ] && echo " (removed at exit; --out DIR keeps them)")"

section "the namespace lab (scripts/lab.sh up)"
# Never take down a lab this demo did not bring up: someone else's stays untouched.
if [ -e "$lab_dir" ] || [ -e "/run/netns/$lab_ns-sw" ]; then
	die "lab '$lab_name' is already up (scripts/lab.sh down first, or set FL_LAB_NAME)"
fi
lab_started=1
bash scripts/lab.sh up --load-duration 600
client_ns=$lab_ns-client
in_client() { nsenter --net="/run/netns/$client_ns" "$@"; }

section "faultctl agent info (the lab's agent, in the target namespace)"
"$faultctl" --agent "unix://$sock" agent info
info=$("$faultctl" --json --agent "unix://$sock" agent info)
mapfile -t missing < <(jq -r '.fault_types[] | select(.available | not) | .name' <<<"$info")
for t in "${missing[@]}"; do
	echo
	echo "$t is unavailable on this host: $(jq -r --arg t "$t" \
		'.fault_types[] | select(.name == $t) | .reason' <<<"$info")."
	if [ "$t" = network.latency ]; then
		echo "Latency steps are therefore skipped here (the VM stage tests them on a kernel that has sch_netem and sch_fq)."
	fi
done
# cannot_run FILE: the fault types of FILE this agent cannot apply, one a line as "TYPE WHY",
# WHY being "unavailable" (the agent lists it with the kernel's reason) or "unknown" (this
# agent has no such fault type).
cannot_run() {
	"$faultctl" --json plan "$1" | jq -r '[.experiment.faults[].type] | unique | .[]' |
		jq -rR --argjson info "$info" '. as $t | [$info.fault_types[] | select(.name == $t)] |
			if length == 0 then "\($t) unknown" elif .[0].available then empty
			else "\($t) unavailable" end'
}
blocked=()
for f in experiments/*.yaml experiments/*.json; do
	mapfile -t m < <(cannot_run "$f")
	[ "${#m[@]}" -eq 0 ] || blocked+=("  $(basename "$f"): $(printf '%s\n' "${m[@]}" |
		sed 's/ unavailable$/ (unavailable on this host)/; s/ unknown$/ (not a fault type of this agent)/' |
		paste -sd, - | sed 's/,/, /g')")
done
if [ "${#blocked[@]}" -gt 0 ]; then
	echo "Example experiments this agent cannot run here (faultctl run would refuse them, exit 3):"
	printf '%s\n' "${blocked[@]}"
fi

# The experiment file each game-day entry runs: the file itself for the default lab, else a
# copy whose agent address is this lab's socket (the only change).
experiment_file() {
	local f=experiments/$1.yaml copy
	if [ "$sock" = "$default_sock" ]; then
		echo "$f"
		return
	fi
	copy=$work/$1.yaml
	sed "s#unix://$default_sock#unix://$sock#" "$f" >"$copy"
	grep -q "unix://$sock" "$copy" || die "$f does not name the agent unix://$default_sock"
	echo "$copy"
}

section "validate and plan the game day"
files=()
for entry in "${GAME_DAY[@]}"; do
	read -r name _ <<<"$entry"
	files+=("$(experiment_file "$name")")
done
if [ "$sock" != "$default_sock" ]; then
	echo "lab '$lab_name': the experiments run from copies in $work with agent unix://$sock"
fi
"$faultctl" validate "${files[@]}"
for f in "${files[@]}"; do
	echo
	"$faultctl" plan "$f"
done

# wait_steady FILE: bounded wait until the experiment's before-checks pass. Prometheus has
# no rate over the checks' 10 s window until it has scraped the lab for that long, and after
# an experiment the window still holds its errors for a while.
wait_steady() {
	local i
	for ((i = 0; i < 60; i++)); do
		if in_client "$faultctl" check "$1" >"$work/check.out" 2>&1; then
			sed 's/^/  /' "$work/check.out"
			return 0
		fi
		sleep 1
	done
	sed 's/^/  /' "$work/check.out"
	die "the steady state of $(basename "$1") was not healthy within 60 s"
}

summary=()
failures=()
# check_outcome NAME WANT_OUTCOME WANT_RC RC REPORT: compares one experiment's result with
# its expectation; a mismatch is recorded in failures.
check_outcome() {
	local name=$1 want=$2 want_rc=$3 rc=$4 report=$5 got b2r rec line
	got=$(jq -r '.outcome // "none"' "$report" 2>/dev/null || echo "no report")
	b2r=$(jq -r 'if .abort then "\(.abort.breach_to_reverted_ms * 10 | round / 10) ms" else "-" end' \
		"$report" 2>/dev/null || echo "-")
	rec=$(jq -r '.steady_state.recovery_ms // null | if . then "\(. | round) ms" else "-" end' \
		"$report" 2>/dev/null || echo "-")
	line=$(printf '%-24s expected %-8s got %-8s exit %-3s breach-to-reverted %-10s recovery %s' \
		"$name" "$want" "$got" "$rc" "$b2r" "$rec")
	if [ "$got" = "$want" ] && [ "$rc" = "$want_rc" ]; then
		summary+=("ok    $line")
	else
		summary+=("FAIL  $line")
		failures+=("$name: expected $want (exit $want_rc), got $got (exit $rc)")
	fi
	if [ "$want" = aborted ] && [ "$got" = aborted ] &&
		! jq -e '.abort.breach_to_reverted_ms | numbers' "$report" >/dev/null; then
		failures+=("$name: aborted but its report has no breach-to-reverted time")
	fi
}

# The game day, one `faultctl run` per experiment, in the client namespace (the only place
# that reaches the lab's Prometheus; the agent's socket is a file and works from there too).
run_game_day() {
	local entry name want want_rc f rc i=0 m t
	for entry in "${GAME_DAY[@]}"; do
		read -r name want want_rc <<<"$entry"
		f=${files[$i]}
		i=$((i + 1))
		section "faultctl run $name (expected: $want, exit $want_rc)"
		# A fault type the kernel lacks (network.latency without sch_netem and sch_fq) skips
		# the experiment with the agent's reason; one the agent does not know is a failure.
		mapfile -t m < <(cannot_run "$f")
		if [ "${#m[@]}" -gt 0 ]; then
			if printf '%s\n' "${m[@]}" | grep -q ' unknown$'; then
				die "$name uses fault types this agent does not have: ${m[*]}"
			fi
			for t in "${m[@]}"; do
				t=${t% unavailable}
				echo "skipped: $name has a $t fault, unavailable on this host:" \
					"$(jq -r --arg t "$t" '.fault_types[] | select(.name == $t) | .reason' <<<"$info")"
			done
			summary+=("skip  $name: needs $(printf '%s\n' "${m[@]%% *}" | paste -sd, -), unavailable on this host")
			continue
		fi
		echo "waiting for the steady state (faultctl check):"
		wait_steady "$f"
		# nsenter execs faultctl, so $! is faultctl itself (not a subshell, as a function
		# would be: a signal forwarded to that would not reach faultctl).
		nsenter --net="/run/netns/$client_ns" "$faultctl" run "$f" --report-json "$out/$name.json" \
			--junit "$out/$name.junit.xml" --markdown "$out/$name.md" &
		run_pid=$!
		for ((t = 0; t < RUN_CAP_S * 5; t++)); do
			is_running "$run_pid" || break
			sleep 0.2
		done
		if is_running "$run_pid"; then
			echo "demo.sh: $name did not finish within $RUN_CAP_S s; interrupting it" >&2
			kill -s INT "$run_pid"
			stop_run
			rc=124
		else
			rc=0
			wait "$run_pid" || rc=$?
			run_pid=
		fi
		# Interrupted from elsewhere: faultctl has reverted; the demo stops with its status.
		if [ "$rc" -eq 130 ] || [ "$rc" -eq 143 ]; then
			exit "$rc"
		fi
		echo
		echo "-- report $out/$name.md"
		cat "$out/$name.md" 2>/dev/null || echo "(no Markdown report)"
		check_outcome "$name" "$want" "$want_rc" "$rc" "$out/$name.json"
	done
}

section "the lab before the game day (scripts/lab.sh status)"
bash scripts/lab.sh status || true
run_game_day

section "game day summary"
printf '%s\n' "${summary[@]}"
echo "reports (JSON, JUnit, Markdown): $out"
find "$out" -mindepth 1 -maxdepth 1 -printf '  %f\n' | sort
if [ "${#failures[@]}" -gt 0 ]; then
	echo
	printf 'demo.sh: %s\n' "${failures[@]}" >&2
	die "the game day did not go as expected"
fi
