#!/usr/bin/env bash
# Network faults in many containers at once: one network.loss whose container target selects
# every container of a compose service (docs/containers.md, "Several containers").
#
#   sudo bench/containers.sh [--quick] [--rows FILE]
#
# N podman containers (50; 5 with --quick) of one image built here FROM scratch with a static
# busybox, each with the compose labels of one service and its own network namespace that this
# script creates, joined to the agent's by a veth (10.83.K.2 inside, 10.83.K.1 on the agent's
# side, the container's default route). `podman system service` on the script's own socket
# serves the labels. Measured side by side:
#   run to active   from launching `faultctl run` (an experiment with one network.loss whose
#                   target is {container: {compose: ...}, all: true}) to the agent's
#                   fault.applied event (its clock, ms), vs the same with a target naming one
#                   container; vs the goal, 1 s; and vs the same run with one program
#                   loaded per namespace (FAULTLINED_PROGRAM_PER_NAMESPACE=1, on an agent
#                   started again for it: the way the agent worked before it loaded one
#                   program for all the namespaces of a fault)
#   agent RSS       VmRSS of the agent with the fault active in the N namespaces vs idle
#                   (before the first fault)
#   throughput      TCP (iperf3 of the host, run in container 1's network namespace through
#                   nsenter: nothing is needed in the image) from container 1 to the agent's
#                   namespace over its veth, with the program attached there by a fault on all
#                   N containers for a prefix the traffic does not go to, vs no program; rounds
#                   interleaved, medians; the goal is >= 0.98
# Rows "containers|figure|value|reference|ratio" go to FILE when given (bench/run.sh reads
# them). Everything this script starts (containers, image, engine service, agent, namespaces)
# is removed at exit, also on failure; every wait is bounded.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../tests/integration/container_lib.sh"
bench_options "$@"
fl_require_root
fl_require_cmd curl jq iperf3 nsenter setsid taskset
ctr_require
fl_require_build

if [ "$QUICK" = 1 ]; then
	N=5 IPERF_S=1 TP_ROUNDS=1
else
	N=50 IPERF_S=3 TP_ROUNDS=7
fi
GOAL_MS=1000
row() { bench_row containers "$@"; }
say() { echo "  [containers] $*" >&2; }

fl_netns A agent
fl_tmpdir dir
sock=$dir/agent.sock
state=$dir/state
PROJECT=${FL_ID}bench
NAMES=()
for ((k = 1; k <= N; k++)); do NAMES+=("$FL_ID-c$k"); done

# Teardown runs in reverse: faultctl run, the agent, the containers, the service, the image;
# the namespaces last (container_lib.sh, lib.sh).
ctr_on_exit "${NAMES[@]}"
fl_on_exit '[ -z "${CTL_PID:-}" ] || { kill -KILL "$CTL_PID"; wait "$CTL_PID"; }'
ctr_image '["/bin/busybox", "sleep", "3600"]'

say "starting $N containers"
t0=$(now_us)
PNS=()
for ((k = 1; k <= N; k++)); do
	ctr_netns p "$A" "$k" 10.83
	PNS+=("$p")
	ctr_run "${NAMES[k - 1]}" "$p" --label "com.docker.compose.project=$PROJECT" \
		--label "com.docker.compose.service=web" "$IMG"
done
say "$N containers up after $((($(now_us) - t0) / 1000000)) s"
MAIN1=$(ctr_main_pid "${NAMES[0]}")

ctr_start_service

# The default cap is 10 containers per fault; the benchmark's service has N.
cat >"$dir/policy.yaml" <<EOP
max_containers_per_fault: $N
EOP
fl_start_agent "$A" "$sock" "$dir/agent.log" --container-engines "$api_sock" --policy "$dir/policy.yaml"
AGENT=$FL_AGENT_PID
api() { FL_API_TIMEOUT=60 fl_api "$@"; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
# A first call so that the idle figure counts what any request allocates once.
api GET /v1/containers
[ "$HTTP_STATUS" = 200 ] || fl_fail "GET /v1/containers: $API_BODY"
[ "$(jq '[.containers[] | select(.compose.project == "'"$PROJECT"'")] | length' <<<"$API_BODY")" = "$N" ] ||
	fl_fail "the agent does not see the $N containers: $API_BODY"
sleep 1
idle_rss=$(rss_kib "$AGENT")

# The target of every fault: every container of the service, or the first one by name.
ALL_TARGET="{container: {compose: {project: $PROJECT, service: web}}, all: true, cidrs: [192.0.2.0/24]}"
ONE_TARGET="{container: {name: ${NAMES[0]}}, cidrs: [192.0.2.0/24]}"
exp_file() { # exp_file FILE TARGET
	cat >"$1" <<EOF
version: 1
name: bench-containers
hypothesis: a loss fault on a compose service is active in every container within 1 s (benchmark)
agents:
  - {name: a, address: "unix://$sock"}
duration: 5m
# The apply holds the agent's event loop until every namespace is set up (docs/containers.md):
# on a loaded machine that may outlast a short lease's renewal.
safety: {lease_ttl: 60s}
faults:
  - name: loss
    type: network.loss
    duration: 5m
    target: $2
    params: {probability: 50%}
EOF
}
exp_file "$dir/all.yaml" "$ALL_TARGET"
exp_file "$dir/one.yaml" "$ONE_TARGET"

# applied FAULT_ID: "EPOCH_US CONTAINERS" of the agent's fault.applied event of that fault (its
# time in ms, as epoch microseconds; how many containers its status lists, 1 for a single
# one), from the events it retains; empty when the replay did not reach it within 2 s.
applied() {
	curl -sN --max-time 2 --unix-socket "$sock" "http://a/v1/events?since=0" 2>/dev/null |
		jq -rs --arg id "$1" '[.[] | select(.type == "fault.applied" and .fault == $id)] | last | select(. != null) |
			"\((((.time[0:19] + "Z") | fromdateiso8601) * 1000000 + (.time[20:23] | tonumber) * 1000)) \(.status.containers // [1] | length)"'
}

# run_to_active FILE WANT: launch faultctl run on FILE, wait (bounded) until it says the fault
# is applied; ACTIVE_MS: the ms from the launch to the agent's fault.applied event (whose
# status should list WANT containers). The run keeps going (CTL_PID) until stop_run.
run_to_active() {
	local i launch ev= n id
	launch=$(now_us)
	"$FAULTCTL" run "$1" >"$dir/run.out" 2>&1 &
	CTL_PID=$!
	for ((i = 0; i < 1200; i++)); do
		grep -q ': applied .* as f-' "$dir/run.out" 2>/dev/null && break
		kill -0 "$CTL_PID" 2>/dev/null || fl_fail "faultctl run ended before applying: $(cat "$dir/run.out")"
		sleep 0.05
	done
	grep -q ': applied .* as f-' "$dir/run.out" || fl_fail "faultctl run: not applied within 60 s: $(cat "$dir/run.out")"
	id=$(grep -m1 -o ': applied .* as f-[0-9a-f]*' "$dir/run.out" | grep -o 'f-[0-9a-f]*$')
	for ((i = 0; i < 10; i++)); do
		read -r ev n < <(applied "$id") && break
	done
	[ -n "${ev:-}" ] || fl_fail "no fault.applied event of $id in the agent's events"
	# That every namespace holds the program is checked by the caller, on the interfaces.
	say "fault.applied of $id: its status lists $n container(s) (want $2)"
	ACTIVE_MS=$(((ev - launch) / 1000))
}
stop_run() {
	kill -TERM "$CTL_PID"
	for ((i = 0; i < 600; i++)); do
		kill -0 "$CTL_PID" 2>/dev/null || break
		sleep 0.05
	done
	wait "$CTL_PID" 2>/dev/null || true
	CTL_PID=
}

say "faultctl run, one container"
run_to_active "$dir/one.yaml" 1
one_ms=$ACTIVE_MS
stop_run
say "faultctl run, $N containers"
run_to_active "$dir/all.yaml" "$N"
all_ms=$ACTIVE_MS
# Every namespace has the program, not only the first.
for ((k = 1; k <= N; k++)); do
	[[ "$(tc -n "${PNS[k - 1]}" filter show dev "$FL_ID-c$k" egress)" == *netfault* ]] ||
		fl_fail "no filter in ${NAMES[k - 1]}'s namespace while the fault is active"
done
busy_rss=$(rss_kib "$AGENT")
stop_run
for ((k = 1; k <= N; k++)); do
	! tc -n "${PNS[k - 1]}" qdisc show dev "$FL_ID-c$k" | grep >/dev/null clsact ||
		fl_fail "clsact left in ${NAMES[k - 1]}'s namespace after the run"
done

# Throughput from container 1 to the agent's side of its veth, client and server each on a
# CPU of their own.
iperf_bps() {
	local out srv i
	ip netns exec "$A" timeout 60 taskset -c 1 iperf3 -s -1 -B 10.83.1.1 -p 5201 >/dev/null 2>&1 &
	srv=$!
	for ((i = 0; i < 50; i++)); do
		ip netns exec "$A" ss -ltn 2>/dev/null | grep >/dev/null '10.83.1.1:5201 ' && break
		sleep 0.1
	done
	out=$(nsenter --net="/proc/$MAIN1/ns/net" timeout 60 taskset -c 0 iperf3 -c 10.83.1.1 -p 5201 \
		-t "$IPERF_S" -O 1 -J) || fl_fail "iperf3 failed: $out"
	wait "$srv" 2>/dev/null || true
	jq -r '.end.sum_received.bits_per_second' <<<"$out"
}
api POST /v1/leases '{"ttl_ms": 600000}'
[ "$HTTP_STATUS" = 201 ] || fl_fail "create lease: $API_BODY"
LEASE=$(jq -r .lease.id <<<"$API_BODY")
none=() ours=()
tp_none() {
	local v
	v=$(iperf_bps) || fl_fail "throughput without a program"
	none+=("$v")
}
tp_ours() {
	api POST "/v1/leases/$LEASE/faults" "{\"name\": \"tp\", \"type\": \"network.loss\", \"duration\": \"5m\", \"target\": {\"container\": {\"compose\": {\"project\": \"$PROJECT\", \"service\": \"web\"}}, \"all\": true, \"direction\": \"both\", \"cidrs\": [\"192.0.2.0/24\"]}, \"params\": {\"probability\": \"50%\"}}"
	[ "$HTTP_STATUS" = 201 ] || fl_fail "apply on $N containers: $API_BODY"
	local id v
	id=$(jq -r .fault.id <<<"$API_BODY")
	v=$(iperf_bps) || fl_fail "throughput with the program attached"
	ours+=("$v")
	api DELETE "/v1/faults/$id"
	[ "$HTTP_STATUS" = 200 ] || fl_fail "revert: $API_BODY"
}
say "throughput, $TP_ROUNDS round(s) of ${IPERF_S} s each way"
for ((r = 0; r < TP_ROUNDS; r++)); do
	if ((r % 2)); then tp_ours; tp_none; else tp_none; tp_ours; fi
	say "round $((r + 1)): attached $(awk -v b="${ours[r]}" 'BEGIN { printf "%.2f", b / 1e9 }'), none $(awk -v b="${none[r]}" 'BEGIN { printf "%.2f", b / 1e9 }') Gbit/s"
done
api DELETE "/v1/leases/$LEASE"

# The reference for the N-container figure: the same run with one program loaded per
# namespace (FAULTLINED_PROGRAM_PER_NAMESPACE=1, what the agent did before it loaded one for
# all of them; docs/netfault.md), on an agent started again for it.
say "faultctl run, $N containers, one program per namespace (reference)"
fl_teardown_agent || true # the killed agent's wait status is not a failure
FL_AGENT_PID=
FAULTLINED_PROGRAM_PER_NAMESPACE=1 fl_start_agent "$A" "$sock" "$dir/agent-ref.log" \
	--container-engines "$api_sock" --policy "$dir/policy.yaml"
run_to_active "$dir/all.yaml" "$N"
ref_ms=$ACTIVE_MS
stop_run
n=$(echo "${none[*]}" | median) o=$(echo "${ours[*]}" | median)
# The ratio of each round's two runs, side by side in time: run-to-run spread here is about
# 10 %, which the medians of the two series alone would carry into their ratio.
pr=$(for ((r = 0; r < TP_ROUNDS; r++)); do ratio "${ours[r]}" "${none[r]}"; echo; done | median)
gbit() { awk -v b="$1" 'BEGIN { printf "%.2f Gbit/s", b / 1e9 }'; }

row "faultctl run to network.loss active in $N containers" "$all_ms ms" "$one_ms ms (1 ctr)" "$(ratio "$all_ms" "$one_ms")"
row "faultctl run to active in $N containers vs the goal" "$all_ms ms" "$GOAL_MS ms" "$(ratio "$all_ms" "$GOAL_MS")"
row "faultctl run to active in $N containers, one program vs one per namespace" "$all_ms ms" "$ref_ms ms (per ns)" "$(ratio "$all_ms" "$ref_ms")"
row "agent RSS with the fault active in $N containers" "$busy_rss KiB" "$idle_rss KiB" "$(ratio "$busy_rss" "$idle_rss")"
row "TCP in a container, program attached (no match)" "$(gbit "$o")" "$(gbit "$n")" "$(ratio "$o" "$n")"
row "TCP in a container, attached vs none, median of the $TP_ROUNDS rounds' own ratios" "$pr" "1" "$pr"
exit 0
