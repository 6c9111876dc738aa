#!/usr/bin/env bash
# faultline benchmarks: every figure side by side with a reference measured in the same run.
#
#   sudo bench/run.sh [--quick] [--write-docs]
#
# Sections (docs/benchmarks.md explains each):
#   datapath    per-packet cost of the tc program (BPF_PROG_TEST_RUN) vs an empty tc program
#   throughput  TCP over a veth pair (iperf3): no program vs our program attached with a fault
#               that does not match vs an equivalent iptables statistic rule
#   fidelity    requested vs measured loss on real UDP traffic over veth: ours vs iptables
#               `statistic --mode random`, and Gilbert-Elliott vs the model's loss and burst
#   footprint   agent RSS idle vs with 100 active faults; agent CPU while idle vs `sleep`
#   control     `faultctl run` with 1,000 agents (FL_BENCH_AGENTS; 5 with --quick) vs 1 agent:
#               run to every fault active, guardrail breach to all reverted, faultctl's memory,
#               fds and threads; lease expiry after SIGKILL of faultctl vs the TTL
#               (bench/control_plane.sh, which also runs on its own)
#   ctlpath     apply + revert of network.loss, .partition, .bandwidth and process.pause through
#               the API on one kept-alive connection vs spawning `ip netns exec NS tc` (add, del)
#               or /bin/kill (-STOP, -CONT), median and p90; tcx links attach + detach vs
#               clsact + cls_bpf (bench/control_path.sh, which also runs on its own)
#   stress      achieved vs requested CPU load and memory of the stressors, side by side with
#               stress-ng asked for the same (bench/stress.sh, which also runs on its own)
#   crash       SIGKILL of the agent during each fault type to the fault stopped, with no
#               restart, vs the lease TTL: the kernel alone (eBPF rules lapse at the lease
#               deadline) and the agent's watchdog (bench/crash_lease.sh, which also runs on
#               its own)
#   lease       a 300 ms lease's revert past its TTL and GET /v1/info's worst answer while
#               another client applies stress.cpu with 1,000 workers, vs the same with no apply
#               in flight (bench/lease_load.sh, which also runs on its own)
#   dns         query to answer over UDP (dns_rtt, one query at a time): network.dns
#               nxdomain and spoof answered in the data path, and dnsmasq with the program
#               attached for another name, vs dnsmasq's own answer; IPv4 and IPv6, median and
#               p99 (bench/dns.sh, which also runs on its own; skipped without dnsmasq)
#   containers  one network.loss on 50 podman containers of a compose service (5 with --quick):
#               `faultctl run` to the fault active in all vs in one container, the agent's RSS
#               with it vs idle, TCP inside a container with the program attached vs none
#               (bench/containers.sh, which also runs on its own; skipped without podman;
#               not with --quick)
#   latency     added median and p99 RTT and jitter of network.latency (edt, netem) vs plain
#               netem at the same moment, and TCP throughput under 100 ms vs netem's default
#               limit; in the vm stage's guest (bench/latency.sh, which also runs on its own;
#               not with --quick)
#
# Everything runs in network namespaces this script creates and removes (traffic stays inside
# them); every loop is bounded. --quick shortens the runs (for a smoke test); --write-docs
# regenerates docs/benchmarks.md from this run. Needs root and a build (scripts/build.sh).
. "$(dirname "$0")/lib.sh"
fl_require_root
fl_require_cmd iperf3 iptables curl jq awk nsenter setsid taskset
fl_require_build

QUICK=0 WRITE_DOCS=0
for a in "$@"; do
	case "$a" in
	--quick) QUICK=1 ;;
	--write-docs) WRITE_DOCS=1 ;;
	*) fl_fail "unknown option '$a' (use --quick, --write-docs)" ;;
	esac
done
BENCH_DIR=$FL_BUILD_DIR/bench
[ -x "$BENCH_DIR/bench_datapath" ] && [ -x "$BENCH_DIR/udp_seq" ] ||
	fl_fail "bench tools not built in $BENCH_DIR (scripts/build.sh)"
if [ $QUICK = 1 ]; then
	IPERF_S=2 TP_ROUNDS=1 LOSS_N=5000 GE_N=20000 IDLE_S=2 NFAULTS=20
else
	IPERF_S=5 TP_ROUNDS=6 LOSS_N=50000 GE_N=200000 IDLE_S=10 NFAULTS=100
fi
PPS=20000

ROWS=() # "section|figure|value|reference|ratio"
row() { ROWS+=("$1|$2|$3|$4|$5"); printf '  %-58s %14s  ref %14s  ratio %s\n' "$2" "$3" "$4" "$5"; }

# --- datapath ---------------------------------------------------------------------------
echo "== datapath: ns per packet, BPF_PROG_TEST_RUN (reference: empty tc program)"
while read -r name ns ref r; do
	row datapath "$name" "$ns ns" "$ref ns" "$r"
done < <("$BENCH_DIR/bench_datapath")

# --- the lab: A (agent, sender) <-> B (receiver) ----------------------------------------
fl_netns A a
fl_netns B b
fl_veth "$A" "$B" 10.91.0.1/24 10.91.0.2/24
DEV=$FL_ID-a
fl_tmpdir dir
sock=$dir/agent.sock
fl_start_agent "$A" "$sock" "$dir/agent.log"
AGENT=$FL_AGENT_PID

api() { FL_API_TIMEOUT=20 fl_api "$@"; }
api POST /v1/leases '{"ttl_ms": 3600000}'
[ "$HTTP_STATUS" = 201 ] || fl_fail "lease: $API_BODY"
LEASE=$(jq -r .lease.id <<<"$API_BODY")
apply() { # apply TYPE TARGET_JSON PARAMS_JSON: sets FID
	api POST "/v1/leases/$LEASE/faults" "$(printf '{"name": "bench", "type": "%s", "duration": "1h", "target": {"interface": "%s", %s}, "params": %s}' "$1" "$DEV" "$2" "$3")"
	[ "$HTTP_STATUS" = 201 ] || fl_fail "apply $1: HTTP $HTTP_STATUS: $API_BODY"
	FID=$(jq -r .fault.id <<<"$API_BODY")
}
revert() { api DELETE "/v1/faults/$1"; [ "$HTTP_STATUS" = 200 ] || fl_fail "revert: $API_BODY"; }
ipt() { ip netns exec "$A" iptables "$@"; }

# --- throughput ---------------------------------------------------------------------------
echo "== throughput: TCP A -> B over veth, iperf3 ${IPERF_S}s x $TP_ROUNDS rounds, order rotating (reference: no program)"
iperf_bps() {
	local out
	# Client and server each on a CPU of their own: where the scheduler puts them otherwise
	# moves the figure by more than the program costs.
	ip netns exec "$B" timeout 60 taskset -c 1 iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
	local srv=$!
	for ((i = 0; i < 50; i++)); do
		ip netns exec "$B" ss -ltn 2>/dev/null | grep >/dev/null ':5201 ' && break
		sleep 0.1
	done
	out=$(ip netns exec "$A" timeout 60 taskset -c 0 iperf3 -c 10.91.0.2 -p 5201 -t "$IPERF_S" -O 1 -J) ||
		fl_fail "iperf3 failed"
	wait "$srv" 2>/dev/null || true
	jq -r '.end.sum_received.bits_per_second' <<<"$out"
}
none=() ours=() iptr=()
tp_none() { none+=("$(iperf_bps)"); }
tp_ours() { # a 50 % loss fault for a prefix the traffic does not go to
	apply network.loss '"direction": "both", "cidrs": ["192.0.2.0/24"]' '{"probability": "50%"}'
	ours+=("$(iperf_bps)")
	revert "$FID"
}
tp_iptr() {
	ipt -A OUTPUT -d 192.0.2.0/24 -m statistic --mode random --probability 0.5 -j DROP
	ipt -A INPUT -s 192.0.2.0/24 -m statistic --mode random --probability 0.5 -j DROP
	iptr+=("$(iperf_bps)")
	ipt -F OUTPUT
	ipt -F INPUT
}
# The order rotates from round to round, so a drift over the run favours none of the three.
order=(tp_none tp_ours tp_iptr)
for ((r = 0; r < TP_ROUNDS; r++)); do
	for ((k = 0; k < 3; k++)); do "${order[(r + k) % 3]}"; done
done
n=$(echo "${none[*]}" | median) o=$(echo "${ours[*]}" | median) t=$(echo "${iptr[*]}" | median)
gbit() { awk -v b="$1" 'BEGIN { printf "%.2f Gbit/s", b / 1e9 }'; }
row throughput "no program" "$(gbit "$n")" "$(gbit "$n")" 1.000
row throughput "faultline attached, not matching" "$(gbit "$o")" "$(gbit "$n")" "$(ratio "$o" "$n")"
row throughput "iptables statistic, not matching" "$(gbit "$t")" "$(gbit "$n")" "$(ratio "$t" "$n")"

# --- fidelity -----------------------------------------------------------------------------
echo "== fidelity: loss on $LOSS_N UDP datagrams at $PPS/s, A -> B egress (reference: iptables statistic)"
udp_run() { # udp_run N: sets UDP_RESULT ("received R lost L bursts B mean_burst M"), SEND_ERRORS
	local out=$dir/recv.out i
	rm -f "$out"
	ip netns exec "$B" "$BENCH_DIR/udp_seq" recv 9999 "$1" 1500 >"$out" &
	local rcv=$!
	for ((i = 0; i < 50; i++)); do
		grep -q ready "$out" 2>/dev/null && break
		sleep 0.1
	done
	SEND_ERRORS=$(ip netns exec "$A" "$BENCH_DIR/udp_seq" send 10.91.0.2 9999 "$1" $PPS) ||
		fl_fail "udp_seq send"
	SEND_ERRORS=${SEND_ERRORS#send_errors }
	wait "$rcv" || fl_fail "udp_seq recv"
	UDP_RESULT=$(grep '^received' "$out")
}
loss_of() { awk '{ printf "%.5f", $4 / ($2 + $4) }' <<<"$UDP_RESULT"; }
udp_run "$LOSS_N"
row fidelity "no fault: loss" "$(loss_of)" 0 n/a
for p in 0.01 0.10 0.50; do
	pct=$(awk -v p=$p 'BEGIN { printf "%g%%", p * 100 }')
	apply network.loss '"direction": "egress", "cidrs": ["10.91.0.2"], "protocol": "udp"' "{\"probability\": \"$pct\"}"
	udp_run "$LOSS_N"
	got=$(loss_of) got_err=$SEND_ERRORS
	revert "$FID"
	ipt -A OUTPUT -d 10.91.0.2 -p udp -m statistic --mode random --probability "$p" -j DROP
	udp_run "$LOSS_N"
	ref=$(loss_of) ref_err=$SEND_ERRORS
	ipt -F OUTPUT
	row fidelity "random loss $pct: faultline (iptables ref)" "$got" "$ref" "$(ratio "$got" "$ref")"
	row fidelity "random loss $pct: faultline vs requested" "$got" "$p" "$(ratio "$got" "$p")"
	row fidelity "random loss $pct: errors the sender saw" "$got_err" "$ref_err" n/a
done
# Gilbert-Elliott: p=5 %, r=30 %, 1-h=100 %, 1-k=0: loss = p/(p+r), mean burst = 1/r.
apply network.loss '"direction": "egress", "cidrs": ["10.91.0.2"], "protocol": "udp"' \
	'{"model": "gilbert-elliott", "p": "5%", "r": "30%"}'
udp_run "$GE_N"
revert "$FID"
read -r _ rec _ lost _ bursts _ mb <<<"$UDP_RESULT"
ge_loss=$(awk -v l="$lost" -v r="$rec" 'BEGIN { printf "%.5f", l / (l + r) }')
row fidelity "GE p=5% r=30%: loss ratio vs model" "$ge_loss" 0.14286 "$(ratio "$ge_loss" 0.142857)"
row fidelity "GE p=5% r=30%: mean burst vs model" "$mb" 3.33333 "$(ratio "$mb" 3.333333)"

# --- footprint ----------------------------------------------------------------------------
echo "== footprint: agent RSS and idle CPU (references: the idle agent, a sleeping process)"
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
setsid sleep 3600 &
SLEEPER=$!
idle_rss=$(rss_kib "$AGENT")
a0=$(cpu_ticks "$AGENT") s0=$(cpu_ticks "$SLEEPER")
sleep "$IDLE_S"
a1=$(cpu_ticks "$AGENT") s1=$(cpu_ticks "$SLEEPER")
hz=$(getconf CLK_TCK)
acpu=$(awk -v d=$((a1 - a0)) -v hz="$hz" -v s="$IDLE_S" 'BEGIN { printf "%.3f%%", 100 * d / hz / s }')
scpu=$(awk -v d=$((s1 - s0)) -v hz="$hz" -v s="$IDLE_S" 'BEGIN { printf "%.3f%%", 100 * d / hz / s }')
row footprint "agent CPU while idle (${IDLE_S}s)" "$acpu" "$scpu" n/a
victims=()
for ((i = 0; i < NFAULTS; i++)); do
	setsid sleep 3600 &
	victims+=($!)
done
for v in "${victims[@]}"; do
	api POST "/v1/leases/$LEASE/faults" "{\"name\": \"p$v\", \"type\": \"process.pause\", \"duration\": \"1h\", \"target\": {\"pid\": $v, \"all\": true}}"
	[ "$HTTP_STATUS" = 201 ] || fl_fail "pause $v: $API_BODY"
done
busy_rss=$(rss_kib "$AGENT")
row footprint "agent RSS with $NFAULTS active faults" "${busy_rss} KiB" "${idle_rss} KiB" "$(ratio "$busy_rss" "$idle_rss")"
api DELETE "/v1/leases/$LEASE"
[ "$HTTP_STATUS" = 200 ] || fl_fail "end lease: $API_BODY"

# --- control plane ------------------------------------------------------------------------
# Its own script with its own namespaces, agents and cleanup; rows come back tab-separated.
echo "== control: faultctl run with N agents vs 1 agent; lease expiry vs the TTL"
bash "$FL_SOURCE_DIR/bench/control_plane.sh" $([ $QUICK = 1 ] && echo --quick) >"$dir/control.rows" ||
	fl_fail "control-plane benchmark failed"
while IFS=$'\t' read -r name v ref r; do
	[ -n "$r" ] || continue # its teardown's PASS line
	row control "$name" "$v" "$ref" "$r"
done <"$dir/control.rows"

# section SECTION SCRIPT [ARGS...]: a benchmark script of its own (its own agent, namespaces and
# cleanup), run with --rows; its rows come back in our format, its progress on stderr. Exit 77
# (what it needs is missing here) leaves one row saying why.
section() {
	local name=$1 script=$2 rc=0
	shift 2
	bash "$FL_SOURCE_DIR/bench/$script" --rows "$dir/$name.rows" "$@" >"$dir/$name.out" || rc=$?
	if [ $rc = "$FL_SKIP" ]; then
		row "$name" "skipped: $(sed -n 's/^SKIP: [^:]*: //p' "$dir/$name.out")" n/a n/a n/a
		return
	fi
	[ $rc = 0 ] || fl_fail "$name benchmark failed: $(cat "$dir/$name.out")"
	while IFS='|' read -r _ fig v ref r; do
		row "$name" "$fig" "$v" "$ref" "$r"
	done <"$dir/$name.rows"
}

# --- control path -------------------------------------------------------------------------
echo "== ctlpath: apply + revert through the API vs spawning tc / kill twice"
section ctlpath control_path.sh $([ $QUICK = 1 ] && echo --quick)

# --- stress -------------------------------------------------------------------------------
# stress-ng in a cgroup of its own; skipped without stress-ng or where the stressors are
# unavailable.
echo "== stress: achieved vs requested CPU load and memory, faultline vs stress-ng"
section stress stress.sh $([ $QUICK = 1 ] && echo --quick)

# --- crash --------------------------------------------------------------------------------
echo "== crash: SIGKILL of the agent to the fault stopped (no restart) vs the lease TTL"
section crash crash_lease.sh $([ $QUICK = 1 ] && echo --quick)

# --- lease under a big apply --------------------------------------------------------------
# Its own agent and namespace; skipped where the stressors are unavailable.
echo "== lease: a 300 ms lease and GET /v1/info while another client applies 1,000 cpu workers"
section lease lease_load.sh $([ $QUICK = 1 ] && echo --quick)

# --- dns ----------------------------------------------------------------------------------
# dnsmasq and the agent in namespaces of its own; skipped without dnsmasq.
echo "== dns: query to answer, answered in the data path vs by the resolver (dnsmasq)"
section dns dns.sh $([ $QUICK = 1 ] && echo --quick)

# --- containers ---------------------------------------------------------------------------
# Its own containers, image, engine service, agent and namespaces; skipped without podman. Not
# with --quick: even its quick run (5 containers) took from 50 s to 4 minutes here, most of it
# podman starting and removing containers on a loaded machine, more than the smoke run
# (integration.bench_smoke) can afford; `bench/containers.sh --quick` runs it on its own.
if [ $QUICK = 0 ]; then
	echo "== containers: a network.loss on every container of a compose service (podman)"
	section containers containers.sh
fi

# --- latency ------------------------------------------------------------------------------
# In the vm stage's guest (this kernel has no sch_netem or sch_fq); skipped without qemu or
# the guest kernel. Not with --quick: the smoke run (integration.bench_smoke) would boot a VM
# beside the vm layer's; vm.bench_latency runs the guest half shortened instead.
if [ $QUICK = 0 ]; then
	echo "== latency: fidelity and throughput under delay vs plain netem, in the vm stage (qemu TCG)"
	section latency latency.sh
fi

# --- report -------------------------------------------------------------------------------
if [ $WRITE_DOCS = 1 ]; then
	out=$FL_SOURCE_DIR/docs/benchmarks.md
	{
		echo "# Benchmarks"
		echo
		echo "Generated by \`sudo bench/run.sh --write-docs\` on $(date -u +%Y-%m-%d) on $(uname -srm),"
		echo "$(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)."
		echo "Every figure is measured side by side with its reference in the same run; see"
		echo "bench/README.md for what each one means. Do not edit by hand: rerun the command."
		echo
		echo "The stress rows compare each stressor with stress-ng asked for the same load or size,"
		echo "both measured from outside: a cgroup's cpu.stat usage_usec over the same window, and the"
		echo "anonymous memory (Pss_Anon) of every process in the cgroup. On a machine others load, a"
		echo "duty cycle cannot exceed what the scheduler grants: the host rows give that ceiling (a"
		echo "spinning process's share of a CPU) at the start and the end of the section."
		echo
		echo "The latency rows come from the vm stage's guest (Debian's stock kernel under qemu TCG on"
		echo "this machine: this kernel lacks sch_netem and sch_fq). TCG fires qdisc timers late, so"
		echo "the absolute figures carry that; plain netem measured at the same moment carries the"
		echo "same, and the ratios compare like with like."
		echo
		echo "| section | figure | value | reference | ratio |"
		echo "|---|---|---|---|---|"
		for r in "${ROWS[@]}"; do
			echo "| ${r//|/ | } |"
		done
	} >"$out"
	echo "wrote $out"
fi
