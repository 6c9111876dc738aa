#!/usr/bin/env bash
# README command (a): a short game day in the namespace lab (docs/lab.md), from a fresh clone.
#
#   sudo scripts/demo.sh [--out DIR]
#
# In order: scripts/setup.sh (Debian packages) and scripts/build.sh; `scripts/lab.sh up
# --containers` (demo service and backend as podman containers, load, Prometheus and
# faultlined in network namespaces); `faultctl agent info` (capabilities kept, mechanisms and
# fault types available or not, with the kernel's reason) and `faultctl targets` (the
# containers the agent sees); validate the game-day plan experiments/gameday-lab.yaml and its
# experiments and plan each; wait until the lab's steady state is healthy; run the game day
# with `faultctl gameday --yes` from the client namespace: experiments/lab-backend-loss.yaml
# (must hold: exit 0), a 5 s pause, experiments/lab-backend-container-loss.yaml (loss inside
# the backend's container, named by its name: must hold), a 15 s pause,
# experiments/lab-backend-dns.yaml (the backend's name answered NXDOMAIN on the service's
# node: the service must fail fast with its 502 for a failed lookup and recover; must hold),
# a 5 s pause, experiments/lab-backend-partition.yaml (its guardrail must abort it: exit 1), so the
# game day itself exits 1; print its Markdown report, check every step's outcome and that
# every fault was reverted from its JSON report and from the agent, print a summary; then
# `scripts/lab.sh down`. The plan has no time window (the lab has no users to protect) and
# --yes answers its confirmations, so the demo runs unattended at any hour. A step with a
# fault type this kernel lacks stops the demo before anything runs, with the agent's reason
# (the plan cannot run in part; the lab's two use eBPF alone).
#
# Exit 0 only when every step had its expected outcome; 1 otherwise, with the reason last.
# Cleanup (lab down, which stops the agent and its faults, removes the containers and their
# image, and the temporary directory) runs on every exit, also on failure, Ctrl-C or SIGTERM:
# no namespace, process, container, image, qdisc or file of the demo stays. The game day's reports (gameday.json, gameday.junit.xml, gameday.md) are
# written to a temporary directory that goes with the cleanup, or to --out DIR, which is kept.
#
# Environment:
#   FL_DEMO_SKIP_SETUP=1   skip setup.sh and build.sh; the build must already be there
#                          (tests/integration/test_demo.sh uses this)
#   FL_BUILD_DIR           build directory (default build/)
#   FL_LAB_NAME, FL_LAB_RUN  the lab's name and state root, as for lab.sh (default "lab" and
#                          /run/faultline-lab). The lab experiments name the default lab's agent
#                          socket and container; for another lab the game day runs from copies of
#                          the plan and its experiments in the temporary directory with those
#                          names changed (printed).
set -euo pipefail
caller_dir=$(pwd)
cd "$(dirname "$0")/.."
src=$(pwd)

die() {
	echo "demo.sh: $*" >&2
	exit 1
}
usage() {
	sed -n '2,37p' "$0" | sed 's/^# \{0,1\}//' >&2
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

# The game day: the plan, and each of its steps in order with the outcome and exit code it
# must have. Both losses (on the target's side, and inside the backend's container) are
# absorbed by TCP within the service's backend timeout; the backend's name not resolving
# makes the service answer 502 at once (its error path for a failed lookup) and no 504; the
# partition makes every request a 504, which the error-ratio guardrail must catch and abort. The game day's own exit code is
# its most serious step's: 1, a hypothesis that did not hold.
PLAN=gameday-lab.yaml
GAME_DAY=(
	"lab-backend-loss held 0"
	"lab-backend-container-loss held 0"
	"lab-backend-dns held 0"
	"lab-backend-partition aborted 1"
)
GAME_DAY_RC=1
# The game day is bounded by its plan: experiments of 40, 25, 30 and 40 s, each with a
# recovery of at most 30 s, and 25 s of pauses, about 280 s at the most. This cap only
# catches a hang.
# faultctl gets SIGINT at the cap, so it reverts before it exits; SIGKILL 20 s later if it
# has not (the agent then reverts when the lease lapses, within its 5 s TTL).
RUN_CAP_S=300

build=${FL_BUILD_DIR:-$src/build}
faultctl=$build/ctl/faultctl
lab_name=${FL_LAB_NAME:-lab}
lab_run=${FL_LAB_RUN:-/run/faultline-lab}
lab_dir=$lab_run/$lab_name
lab_ns=fl-$lab_name
default_sock=/run/faultline-lab/lab/agent.sock
# The containers the lab experiments name are the default lab's (lab.sh names them fl-NAME-*).
default_ctr=fl-lab-
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
# A signal to the demo first reaches the game day in progress, which reverts its running
# step, writes its reports and exits; only then does the cleanup start. faultctl runs in the
# background (so that this trap runs at once, not after the game day) and gets the signal
# forwarded: a terminal's Ctrl-C reaches it directly too, a `kill` of the demo's pid would
# not.
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
# stop_run: bounded wait for the signalled faultctl gameday; SIGKILL after 20 s.
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

section "the namespace lab with containers (scripts/lab.sh up --containers)"
# Never take down a lab this demo did not bring up: someone else's stays untouched.
if [ -e "$lab_dir" ] || [ -e "/run/netns/$lab_ns-sw" ]; then
	die "lab '$lab_name' is already up (scripts/lab.sh down first, or set FL_LAB_NAME)"
fi
lab_started=1
bash scripts/lab.sh up --containers --load-duration 600
client_ns=$lab_ns-client
in_client() { nsenter --net="/run/netns/$client_ns" "$@"; }

section "faultctl agent info (the lab's agent, in the target namespace)"
"$faultctl" --agent "unix://$sock" agent info
info=$("$faultctl" --json --agent "unix://$sock" agent info)

section "faultctl targets (the containers the lab's agent sees)"
"$faultctl" --agent "unix://$sock" targets
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
	# Game-day plans (gameday-*.yaml) are not experiments; the plan's steps are gated below.
	case ${f##*/} in gameday-*) continue ;; esac
	mapfile -t m < <(cannot_run "$f")
	[ "${#m[@]}" -eq 0 ] || blocked+=("  $(basename "$f"): $(printf '%s\n' "${m[@]}" |
		sed 's/ unavailable$/ (unavailable on this host)/; s/ unknown$/ (not a fault type of this agent)/' |
		paste -sd, - | sed 's/,/, /g')")
done
if [ "${#blocked[@]}" -gt 0 ]; then
	echo "Example experiments this agent cannot run here (faultctl run would refuse them, exit 3):"
	printf '%s\n' "${blocked[@]}"
fi

# The plan the game day runs: the file itself for the default lab, else a copy in the
# temporary directory beside copies of its experiments whose agent address is this lab's
# socket and whose containers are this lab's (the only changes; the plan names its
# experiments relative to itself).
plan=experiments/$PLAN
files=()
for entry in "${GAME_DAY[@]}"; do
	read -r name _ <<<"$entry"
	files+=("experiments/$name.yaml")
done
if [ "$sock" != "$default_sock" ]; then
	cp "$plan" "$work/$PLAN"
	plan=$work/$PLAN
	for ((k = 0; k < ${#files[@]}; k++)); do
		f=${files[$k]}
		sed -e "s#unix://$default_sock#unix://$sock#" \
			-e "s#{name: $default_ctr\([a-z]*\)}#{name: fl-$lab_name-\1}#" "$f" >"$work/${f##*/}"
		grep -q "unix://$sock" "$work/${f##*/}" || die "$f does not name the agent unix://$default_sock"
		if grep -q "{name: $default_ctr" "$work/${f##*/}"; then
			die "$f names a container other than as {name: ${default_ctr}NODE}"
		fi
		files[k]=$work/${f##*/}
	done
	echo "lab '$lab_name': the game day runs from copies in $work with agent unix://$sock" \
		"and containers fl-$lab_name-*"
fi

section "validate and plan the game day ($plan)"
"$faultctl" validate "$plan" "${files[@]}"
for f in "${files[@]}"; do
	echo
	"$faultctl" plan "$f"
done
# A fault type the kernel lacks (network.latency without sch_netem and sch_fq) would make its
# step fail on the agent (exit 3) and a plan cannot run in part: stop here, before anything
# runs, with the agent's reason. The lab's steps use eBPF alone, which the lab needs anyway.
for ((k = 0; k < ${#files[@]}; k++)); do
	read -r name _ <<<"${GAME_DAY[$k]}"
	mapfile -t m < <(cannot_run "${files[$k]}")
	for t in "${m[@]}"; do
		case $t in
		*" unknown") die "step $((k + 1)) ($name) uses ${t% unknown}, not a fault type of this agent" ;;
		*) die "step $((k + 1)) ($name) needs ${t% unavailable}, unavailable on this host: $(jq -r \
			--arg t "${t% unavailable}" '.fault_types[] | select(.name == $t) | .reason' <<<"$info")" ;;
		esac
	done
done

# wait_steady FILE: bounded wait until the experiment's before-checks pass. Prometheus has
# no rate over the checks' 10 s window until it has scraped the lab for that long. (Between
# the steps the plan's 15 s pause lets the loss age out of the partition's window.)
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
# check_step K NAME WANT_OUTCOME WANT_RC: compares step K (from 0) of the game-day report with
# its expectation; a mismatch is recorded in failures.
check_step() {
	local k=$1 name=$2 want=$3 want_rc=$4 rep=$out/gameday.json got rc b2r rec line st
	st=$(jq -r --argjson k "$k" '.steps[$k] | "\(.name) \(.state)"' "$rep")
	got=$(jq -r --argjson k "$k" '.steps[$k].outcome' "$rep")
	rc=$(jq -r --argjson k "$k" '.steps[$k].exit_code // "-"' "$rep")
	b2r=$(jq -r --argjson k "$k" '.steps[$k].report.abort // null |
		if . then "\(.breach_to_reverted_ms * 10 | round / 10) ms" else "-" end' "$rep")
	rec=$(jq -r --argjson k "$k" '.steps[$k].report.steady_state.recovery_ms // null |
		if . then "\(. | round) ms" else "-" end' "$rep")
	line=$(printf '%-28s expected %-8s got %-8s exit %-3s breach-to-reverted %-10s recovery %s' \
		"$name" "$want" "$got" "$rc" "$b2r" "$rec")
	if [ "$st" = "$name ran" ] && [ "$got" = "$want" ] && [ "$rc" = "$want_rc" ]; then
		summary+=("ok    $line")
	else
		summary+=("FAIL  $line")
		failures+=("step $((k + 1)): expected $name to run with $want (exit $want_rc), got $st, $got (exit $rc)")
	fi
	if [ "$want" = aborted ] && [ "$got" = aborted ] &&
		! jq -e --argjson k "$k" '.steps[$k].report.abort.breach_to_reverted_ms | numbers' \
			"$rep" >/dev/null; then
		failures+=("$name: aborted but its report has no breach-to-reverted time")
	fi
}

# check_reverted: every agent of every step that ran confirmed its revert (the report), and
# the lab's agent holds no fault and no lease now (asked directly).
check_reverted() {
	local bad st
	bad=$(jq -r '[.steps[] | select(.state == "ran") | .name as $n | .report.agents[] |
		select(.revert == null or .revert.ok != true) | "\($n) on \(.name)"] | join(", ")' \
		"$out/gameday.json")
	[ -z "$bad" ] || failures+=("revert not confirmed: $bad")
	st=$("$faultctl" --json --agent "unix://$sock" status) || {
		failures+=("faultctl status failed on the lab's agent")
		return
	}
	if jq -e '[.agents[] | (.faults | length) + (.leases | length)] | add == 0' <<<"$st" >/dev/null; then
		summary+=("ok    every fault reverted: each step's revert confirmed; the agent holds no fault and no lease")
	else
		summary+=("FAIL  the agent still holds faults or leases after the game day")
		failures+=("left on the agent: $(jq -c '[.agents[] | {faults, leases}]' <<<"$st")")
	fi
}

# The game day, one `faultctl gameday` in the client namespace (the only place that reaches
# the lab's Prometheus; the agent's socket is a file and works from there too). --yes answers
# the plan's confirmations: nobody is at a terminal here.
run_game_day() {
	local entry name want want_rc rc t k=0 got line
	section "faultctl gameday $PLAN --yes (expected: exit $GAME_DAY_RC; $(printf '%s\n' "${GAME_DAY[@]}" |
		cut -d' ' -f1,2 | paste -sd, - | sed 's/,/, /g'))"
	echo "waiting for the steady state (faultctl check):"
	wait_steady "${files[0]}"
	# nsenter execs faultctl, so $! is faultctl itself (not a subshell, as a function
	# would be: a signal forwarded to that would not reach faultctl).
	nsenter --net="/run/netns/$client_ns" "$faultctl" gameday "$plan" --yes \
		--report-json "$out/gameday.json" --junit "$out/gameday.junit.xml" \
		--markdown "$out/gameday.md" &
	run_pid=$!
	for ((t = 0; t < RUN_CAP_S * 5; t++)); do
		is_running "$run_pid" || break
		sleep 0.2
	done
	if is_running "$run_pid"; then
		echo "demo.sh: the game day did not finish within $RUN_CAP_S s; interrupting it" >&2
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
	echo "-- report $out/gameday.md"
	cat "$out/gameday.md" 2>/dev/null || echo "(no Markdown report)"
	if ! jq -e '.kind == "gameday"' "$out/gameday.json" >/dev/null 2>&1; then
		failures+=("the game day wrote no JSON report (exit $rc)")
		return
	fi
	got=$(jq -r '"\(.outcome) \(.exit_code)"' "$out/gameday.json")
	line=$(printf '%-28s expected exit %-3s got exit %-3s outcome %s' "game day" "$GAME_DAY_RC" \
		"$rc" "${got% *}")
	if [ "$rc" = "$GAME_DAY_RC" ] && [ "${got#* }" = "$rc" ]; then
		summary+=("ok    $line")
	else
		summary+=("FAIL  $line")
		failures+=("the game day exited $rc (its report says ${got#* }), expected $GAME_DAY_RC")
	fi
	if [ "$(jq '.steps | length' "$out/gameday.json")" != "${#GAME_DAY[@]}" ]; then
		failures+=("$plan has $(jq '.steps | length' "$out/gameday.json") steps, the demo expects ${#GAME_DAY[@]}")
	fi
	for entry in "${GAME_DAY[@]}"; do
		read -r name want want_rc <<<"$entry"
		check_step "$k" "$name" "$want" "$want_rc"
		k=$((k + 1))
	done
	check_reverted
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
