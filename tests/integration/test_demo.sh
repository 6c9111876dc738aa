#!/usr/bin/env bash
# README command (a), scripts/demo.sh, non-interactively with the build already there
# (FL_DEMO_SKIP_SETUP=1) in a lab of its own name, its service and backend podman containers
# (lab.sh up --containers): a game day (experiments/gameday-lab.yaml, run with `faultctl
# gameday --yes`, with no terminal and at whatever hour the test runs).
# Checked: exit 0 within its time bound; the game day exited 1, its loss step held (exit 0),
# its container step (loss inside the backend's container, by name) held after the plan's
# 5 s pause with packets dropped in that container's namespace, its DNS step (the backend's
# name answered NXDOMAIN on the service's node, after the plan's 15 s pause) held with every
# query the agent matched answered by it and its after-check counting the service's 502s for
# a failed lookup (result="dns_error") in Prometheus, and its partition step, started after
# the plan's 5 s pause, was aborted by its guardrail (exit 1) with a breach-to-reverted time, in the printed summary, the printed Markdown and the JSON and
# JUnit reports (the game-day JSON schema-valid, and each step's run report too); every
# confirmation answered by --yes; every fault reverted; the agent info, the containers the
# agent sees and the latency note printed; and nothing left afterwards: none of the lab's
# namespaces, containers or its image, none of its processes (the pids the demo's lab status
# printed, and no process naming the lab's state directory), no state directory, no
# temporary directory. Then, while the loss is applied, a Ctrl-C (SIGINT to the demo's
# process group, as a terminal sends it) and a SIGTERM to the demo's pid alone: each ends the
# demo within seconds with 130 or 143, the step reverted and the game day reported as
# interrupted, the later steps never started, and again nothing left.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/run_lib.sh
. "$(dirname "$0")/run_lib.sh"

run_require
fl_require_cmd ip prometheus timeout podman runc
[ -x "$FL_BUILD_DIR/lab/demo/faultline-demo" ] || fl_fail "faultline-demo not built"

dir=
fl_tmpdir dir
# A lab name of this test alone, so that a lab someone else runs (the default "lab" included)
# is never touched; its state lives where the demo's does, under /run/faultline-lab.
export FL_LAB_NAME=d$$
unset FL_LAB_RUN
DEMO=$FL_SOURCE_DIR/scripts/demo.sh
lab_dir=/run/faultline-lab/$FL_LAB_NAME
[ ! -e "$lab_dir" ] || fl_fail "$lab_dir exists before the test"
# shellcheck source=tests/integration/lab_lib.sh
. "$(dirname "$0")/lab_lib.sh"

# assert_nothing_left OUTPUT: the lab and the demo's temporary directory are gone.
assert_nothing_left() {
	local out=$1 p tmp
	fl_assert_eq "$(lab_namespaces)" "" "lab namespaces left"
	[ ! -e "$lab_dir" ] || fl_fail "state directory $lab_dir left"
	mapfile -t pids < <(sed -n 's/^  [a-z]* (pid \([0-9]*\), [a-z]*): running$/\1/p' "$out")
	fl_assert_eq "${#pids[@]}" 5 "lab processes in the demo's status (agent, dns, engine, prometheus, load)"
	mapfile -t ctrs < <(sed -n 's/^  [a-z]* (container \([a-z0-9-]*\), pid \([0-9]*\), [a-z]*): running$/\1 \2/p' "$out")
	fl_assert_eq "${ctrs[*]}" "fl-$FL_LAB_NAME-backend ${ctrs[0]#* } fl-$FL_LAB_NAME-service ${ctrs[1]#* }" \
		"lab containers in the demo's status"
	pids+=("${ctrs[0]#* }" "${ctrs[1]#* }")
	fl_assert_eq "$(podman ps -a -q --filter "label=faultline-lab=$FL_LAB_NAME")" "" "lab containers left"
	fl_assert_eq "$(podman images -q "localhost/faultline-lab-demo:$FL_LAB_NAME")" "" "lab image left"
	lab_assert_gone "${pids[@]}"
	for p in /proc/[0-9]*; do
		# A process that exits meanwhile has no cmdline left to read.
		if tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep >/dev/null -F "$lab_dir/"; then
			fl_fail "process ${p#/proc/} still names $lab_dir: $(tr '\0' ' ' <"$p/cmdline")"
		fi
	done
	tmp=$(sed -n 's/^temporary directory: \(.*\) (removed at exit)$/\1/p' "$out")
	case $tmp in
	/tmp/faultline-demo.*) ;;
	*) fl_fail "no temporary directory printed: '$tmp'" ;;
	esac
	[ ! -e "$tmp" ] || fl_fail "temporary directory $tmp left"
}

fl_log "the whole demo"
out=$dir/out
rc=0
FL_DEMO_SKIP_SETUP=1 timeout -k 10 360 bash "$DEMO" --out "$out" </dev/null >"$dir/demo.log" 2>&1 ||
	rc=$?
if [ "$rc" -ne 0 ]; then
	tail -n 60 "$dir/demo.log" >&2
	fl_fail "demo exited $rc"
fi
log=$dir/demo.log
took=$(sed -n 's/^demo: ok; took \([0-9.]*\) s$/\1/p' "$log")
[ -n "$took" ] || fl_fail "no 'demo: ok; took N s' line"
# 144 s here: 40 s of loss, the plan's 5 s pause, 25 s of loss in the container, the 15 s
# pause, 30 s of the DNS step, the 5 s pause, about 15 s of partition and recovery, the lab
# with its image and containers, and the checks. The bound leaves room for
# a loaded 2-core machine and is still "a few minutes".
awk -v t="$took" 'BEGIN { exit !(t < 300) }' || fl_fail "demo took $took s"
fl_log "demo took $took s"

grep -q '^capabilities ' "$log" || fl_fail "no agent info printed"
grep -Eq "^[0-9a-f]{12} +fl-$FL_LAB_NAME-backend +podman " "$log" ||
	fl_fail "faultctl targets did not list the backend's container"
if grep -Eq '^  netem +unavailable' "$log" && grep -Eq '^  fq +unavailable' "$log"; then
	grep -q '^Latency steps are therefore skipped here' "$log" ||
		fl_fail "netem and fq are unavailable but the demo does not say latency is skipped"
fi
grep -q '/gameday-lab.yaml: valid$' "$log" || fl_fail "game-day plan not validated"
grep -q '/lab-backend-loss.yaml: valid$' "$log" || fl_fail "experiments not validated"
grep -q '^plan: lab-backend-partition ' "$log" || fl_fail "plan not printed"
grep -q '^game day lab-gameday: aborted: step 4 (lab-backend-partition) aborted$' "$log" ||
	fl_fail "faultctl gameday's last line not printed"
grep -Eq '^ok +game day +expected exit 1 +got exit 1 +outcome aborted$' "$log" ||
	fl_fail "summary: game day: $(grep 'game day  ' "$log" | tail -n 1)"
grep -Eq '^ok +lab-backend-loss +expected held +got held +exit 0 ' "$log" ||
	fl_fail "summary: loss did not hold: $(grep 'lab-backend-loss ' "$log" | tail -n 1)"
grep -Eq '^ok +lab-backend-container-loss +expected held +got held +exit 0 ' "$log" ||
	fl_fail "summary: container loss did not hold: $(grep 'lab-backend-container-loss ' "$log" | tail -n 1)"
grep -Eq '^ok +lab-backend-dns +expected held +got held +exit 0 ' "$log" ||
	fl_fail "summary: DNS did not hold: $(grep 'lab-backend-dns ' "$log" | tail -n 1)"
grep -Eq '^ok +lab-backend-partition +expected aborted +got aborted +exit 1 +breach-to-reverted [0-9.]+ ms' "$log" ||
	fl_fail "summary: partition not aborted: $(grep 'lab-backend-partition ' "$log" | tail -n 1)"
grep -q '^ok    every fault reverted: ' "$log" || fl_fail "summary: no revert check"
# The backticks are Markdown's, not command substitutions.
# shellcheck disable=SC2016
grep -qxF '# Game day `lab-gameday`: aborted' "$log" || fl_fail "game-day Markdown not printed"
# shellcheck disable=SC2016
grep -qxF '## Step 1: Experiment `lab-backend-loss`: held' "$log" || fl_fail "loss Markdown not printed"
# shellcheck disable=SC2016
grep -qxF '## Step 2: Experiment `lab-backend-container-loss`: held' "$log" ||
	fl_fail "container loss Markdown not printed"
# shellcheck disable=SC2016
grep -qxF '## Step 3: Experiment `lab-backend-dns`: held' "$log" ||
	fl_fail "DNS Markdown not printed"
# shellcheck disable=SC2016
grep -qxF '## Step 4: Experiment `lab-backend-partition`: aborted' "$log" ||
	fl_fail "partition Markdown not printed"

gd=$out/gameday.json
run_validate_report_schema "$gd" gameday.schema.json
for k in 0 1 2 3; do
	jq ".steps[$k].report" "$gd" >"$dir/step$k.json"
	run_validate_report "$dir/step$k.json"
done
run_check_junit "$out/gameday.junit.xml"
[ -s "$out/gameday.md" ] || fl_fail "$out/gameday.md missing"
fl_assert_eq "$(jq -r '"\(.outcome) \(.exit_code)"' "$gd")" "aborted 1" "game-day report"
fl_assert_eq "$(jq -r '[.steps[] | "\(.name):\(.state):\(.confirmed_by)"] | join(" ")' "$gd")" \
	"lab-backend-loss:ran:--yes lab-backend-container-loss:ran:--yes lab-backend-dns:ran:--yes lab-backend-partition:ran:--yes" \
	"steps, confirmed by --yes"
# The plan's pauses (5 s, 15 s, then 5 s) really came between the steps.
jq -e '(.steps[1].started_ms - (.steps[0].started_ms + .steps[0].elapsed_ms) >= 5000) and
	(.steps[2].started_ms - (.steps[1].started_ms + .steps[1].elapsed_ms) >= 15000) and
	(.steps[3].started_ms - (.steps[2].started_ms + .steps[2].elapsed_ms) >= 5000)' "$gd" \
	>/dev/null || fl_fail "pauses: $(jq -c '[.steps[] | {started_ms, elapsed_ms}]' "$gd")"
rep=$dir/step0.json
fl_assert_eq "$(jq -r '"\(.outcome) \(.exit_code) \(.abort)"' "$rep")" "held 0 null" "loss report"
fl_assert_eq "$(jq -r '.faults[0].state' "$rep")" reverted "loss fault state"
jq -e '.faults[0].achieved_final' "$rep" >/dev/null || fl_fail "loss: not the agent's final counters"
[ "$(jq -r '.faults[0].achieved.counters.matched' "$rep")" -gt 0 ] ||
	fl_fail "the loss matched no packet"
fl_assert_eq "$(jq -r '.agents[0].revert.ok' "$rep")" true "loss reverted"
fl_assert_eq "$(xmllint --xpath 'count(/testsuites/testsuite)' "$out/gameday.junit.xml")" 4 \
	"JUnit testsuites (one per step)"
fl_assert_eq "$(xmllint --xpath 'count(/testsuites/testsuite[1]//failure)' "$out/gameday.junit.xml")" 0 \
	"JUnit failures of the loss step"
rep=$dir/step1.json
fl_assert_eq "$(jq -r '"\(.outcome) \(.exit_code) \(.abort)"' "$rep")" "held 0 null" "container loss report"
fl_assert_eq "$(jq -r '.faults[0].state' "$rep")" reverted "container loss fault state"
fl_assert_eq "$(jq -r '.agents[0].revert.ok' "$rep")" true "container loss reverted"
# The loss acted inside the backend's container: the agent's final status names it, in the
# namespace faultctl targets printed for it, which is not the agent's (the service's) own.
targets_col() { # CONTAINER COLUMN: a column of the container's row in faultctl targets
	awk -v c="fl-$FL_LAB_NAME-$1" -v k="$2" '$2 == c && $3 == "podman" { print $k }' "$log"
}
fl_assert_eq "$(jq -r '.faults[0].achieved.netns.desc' "$rep")" \
	"container fl-$FL_LAB_NAME-backend ($(targets_col backend 1))" \
	"container loss: the namespace the agent acted in"
fl_assert_eq "$(jq -r '.faults[0].achieved.netns.inode' "$rep")" "$(targets_col backend 5)" \
	"container loss: netns inode"
[ "$(targets_col backend 5)" != "$(targets_col service 5)" ] ||
	fl_fail "backend and service share a namespace"
read -r matched dropped < <(jq -r '.faults[0].achieved.counters | "\(.matched) \(.dropped)"' "$rep")
jq -e '.faults[0].achieved_final' "$rep" >/dev/null || fl_fail "container loss: not the agent's final counters"
[ "$matched" -gt 0 ] || fl_fail "the container loss matched no packet"
# 5% of n packets: binomial, outside mean +- 5 standard deviations with probability < 1e-6;
# checked once there are enough packets for the bounds to mean something (n >= 200).
if [ "$matched" -ge 200 ]; then
	awk -v n="$matched" -v d="$dropped" 'BEGIN { m = n * 0.05; s = sqrt(n * 0.05 * 0.95);
		exit !(d >= m - 5 * s && d <= m + 5 * s && d > 0) }' ||
		fl_fail "5% loss dropped $dropped of $matched packets"
fi
fl_log "container loss: dropped $dropped of $matched packets inside fl-$FL_LAB_NAME-backend"
rep=$dir/step2.json
fl_assert_eq "$(jq -r '"\(.outcome) \(.exit_code) \(.abort)"' "$rep")" "held 0 null" "DNS report"
fl_assert_eq "$(jq -r '.faults[0] | "\(.type) \(.state)"' "$rep")" "network.dns reverted" "DNS fault state"
fl_assert_eq "$(jq -r '.agents[0].revert.ok' "$rep")" true "DNS fault reverted"
jq -e '.faults[0].achieved_final' "$rep" >/dev/null || fl_fail "DNS: not the agent's final counters"
# Every matched query (the service's A and AAAA lookups of the backend's name) was answered
# NXDOMAIN by the agent, none dropped.
read -r queries matched answered < <(jq -r '.faults[0].achieved.counters |
	"\(.queries) \(.matched) \(.answered)"' "$rep")
if [ "$matched" -eq 0 ] || [ "$answered" != "$matched" ]; then
	fl_fail "DNS: $answered of $matched matched queries answered ($queries seen)"
fi
# The service took its error path for a failed lookup: the after-check's reading is the
# number of dns_error calls Prometheus counted around the fault (it needs 50).
dns_errors=$(jq -r '.steady_state.after[] | select(.name == "service-failed-on-dns") |
	select(.ok) | .reading.value' "$rep")
[ -n "$dns_errors" ] || fl_fail "DNS: after-check service-failed-on-dns: $(jq -c .steady_state.after "$rep")"
fl_assert_eq "$(jq -r '.steady_state.recovered' "$rep")" true "DNS: service recovered"
fl_log "DNS: $answered queries answered NXDOMAIN; about $(printf %.0f "$dns_errors") calls failed as dns_error"
rep=$dir/step3.json
fl_assert_eq "$(jq -r '"\(.outcome) \(.exit_code)"' "$rep")" "aborted 1" "partition report"
fl_assert_eq "$(jq -r '.abort.guardrail' "$rep")" service-error-ratio \
	"the breached guardrail"
fl_assert_eq "$(jq -r '.agents[0].revert.ok' "$rep")" true "partition reverted"
b2r=$(jq -r '.abort.breach_to_reverted_ms' "$rep")
# The agent removes one BPF rule: milliseconds (test_run_partition.sh asserts < 250 ms with
# its own namespace); here the whole lab shares the loaded machine, hence 1 s.
awk -v v="$b2r" 'BEGIN { exit !(v > 0 && v < 1000) }' || fl_fail "breach to reverted: $b2r ms"
[ "$(jq -r '.faults[0].achieved.counters.dropped' "$rep")" -gt 0 ] ||
	fl_fail "the partition dropped no packet"
fl_assert_eq "$(xmllint --xpath 'count(/testsuites/testsuite[2]//failure)' "$out/gameday.junit.xml")" 0 \
	"JUnit failures of the container loss step"
fl_assert_eq "$(xmllint --xpath 'count(/testsuites/testsuite[3]//failure)' "$out/gameday.junit.xml")" 0 \
	"JUnit failures of the DNS step"
[ "$(xmllint --xpath 'count(/testsuites/testsuite[4]//failure)' "$out/gameday.junit.xml")" -ge 1 ] ||
	fl_fail "JUnit of the aborted step has no failure"
fl_log "losses and DNS held; partition aborted, reverted $b2r ms after the breaching sample"
assert_nothing_left "$log"

# interrupt HOW STATUS: start the demo, signal it while the loss is applied, and check that
# it exits STATUS soon after (a forwarded signal reverts at once: without it the game day
# would go on for the 35 s the loss has left and the steps after it), its game-day report
# says interrupted with the step's revert confirmed, the later steps never start and nothing
# is left. HOW: "INT-group" is a terminal's Ctrl-C (SIGINT
# to the whole foreground process group), "TERM-pid" a `kill` of the demo's pid alone.
interrupt() {
	local how=$1 want=$2 demo i applied=0 t_sig t_end
	fl_log "$how while the loss is applied"
	log=$dir/demo-$how.log
	out=$dir/out-$how
	# Job control gives the demo a process group of its own, as a terminal's foreground job
	# has, and keeps SIGINT from being ignored in it.
	set -m
	FL_DEMO_SKIP_SETUP=1 bash "$DEMO" --out "$out" </dev/null >"$log" 2>&1 &
	demo=$!
	set +m
	for ((i = 0; i < 900; i++)); do
		if grep -q 'applied backend-packet-loss' "$log"; then
			applied=1
			break
		fi
		kill -0 "$demo" 2>/dev/null || break
		sleep 0.1
	done
	if [ "$applied" -ne 1 ]; then
		tail -n 40 "$log" >&2
		fl_fail "the loss was not applied within 90 s"
	fi
	t_sig=$(now_ms)
	case $how in
	INT-group) kill -INT -- "-$demo" ;;
	TERM-pid) kill -TERM "$demo" ;;
	esac
	fl_wait_exit rc "$demo" 60
	t_end=$(now_ms)
	if [ "$rc" -ne "$want" ]; then
		tail -n 40 "$log" >&2
		fl_fail "$how: demo exited $rc, not $want"
	fi
	# The revert takes milliseconds and lab.sh down at most about 5 s; 25 s is far from the
	# 35 s an unforwarded signal would take.
	[ $((t_end - t_sig)) -lt 25000 ] || fl_fail "$how: demo took $((t_end - t_sig)) ms to exit"
	grep -q "^demo: INTERRUPTED (exit $want); took " "$log" || fl_fail "$how: no INTERRUPTED line"
	rep=$out/gameday.json
	run_validate_report_schema "$rep" gameday.schema.json
	fl_assert_eq "$(jq -r '"\(.outcome) \(.exit_code)"' "$rep")" "interrupted $want" "$how: report"
	fl_assert_eq "$(jq -r '.steps[0] | "\(.name) \(.outcome) \(.exit_code)"' "$rep")" \
		"lab-backend-loss interrupted $want" "$how: the loss step"
	fl_assert_eq "$(jq -r '.steps[0].report.agents[0].revert.ok' "$rep")" true "$how: revert confirmed"
	fl_assert_eq "$(jq -r '[.steps[1:][] | "\(.state) \(.report)"] | join(", ")' "$rep")" \
		"not_started null, not_started null, not_started null" "$how: the later steps after the signal"
	assert_nothing_left "$log"
	fl_log "$how: exit $rc $((t_end - t_sig)) ms after the signal, nothing left"
}
interrupt INT-group 130
interrupt TERM-pid 143
