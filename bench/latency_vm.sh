#!/usr/bin/env bash
# Latency fidelity against plain netem. Runs inside the vm stage's guest (Debian's stock kernel,
# which has sch_netem and sch_fq), started by bench/latency.sh through tests/vm/run.sh:
#
#   tests/vm/run.sh /abs/path/bench/latency_vm.sh [--quick]
#
# Two identical three-namespace paths, S -> R -> T over veth pairs with R forwarding:
#   path 1: the agent runs in R1 and delays R1's egress to T1 with network.latency;
#   path 2: the reference, the kernel's netem set up by tc on R2's egress to T2 (its defaults,
#           limit 1000 packets, as a user would type it).
# Figures, each printed as "fl-bench-row|latency|FIGURE|VALUE|REFERENCE|RATIO" on stdout:
#   - 50 ms fixed and 50 ms +- 10 ms normal, for the agent's edt and netem mechanisms: the
#     added median and added p99 RTT (RTT percentile minus the path's own baseline median) and
#     the jitter (standard deviation of the RTTs) of pings R -> T, measured at the same moment
#     as the same pings through the reference path with the same parameters;
#   - TCP throughput under a 100 ms delay (iperf3), sent by R itself (local sockets, TSO
#     packets of up to 64 KiB) and forwarded from S through R (packets of one MTU each, as from
#     a wire without GRO: netem's 1000-packet limit is then 1.5 MB, less than the flow's
#     bandwidth-delay product once it passes 120 Mbit/s), for both mechanisms, against the
#     reference path's netem with its default limit; and the packets each delaying qdisc
#     dropped on the forwarded runs.
# Under TCG every qdisc timer fires late (by 3-15 ms, depending on the host's load), so the
# absolute figures carry that lateness; the reference carries the same, which is why every
# figure is a ratio to it. Throughput swings by about 2x between runs under TCG: rounds are
# interleaved (reference, edt, netem) and figures are medians.
# Exits 77 on a kernel without sch_fq or sch_netem (not the guest's). Everything is in network
# namespaces this script creates and removes; every wait is bounded.
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/ping_lib.sh
. "$(dirname "$0")/../tests/integration/ping_lib.sh"
fl_require_root
fl_require_cmd ip tc ping iperf3 jq awk nsenter ss timeout
fl_require_build

QUICK=0
for a in "$@"; do
	case "$a" in
	--quick) QUICK=1 ;;
	*) fl_fail "unknown option '$a' (use --quick)" ;;
	esac
done
if [ $QUICK = 1 ]; then
	PING="2 150 0.03" ROUNDS=1 IPERF_S=3
else
	PING="4 300 0.03" ROUNDS=3 IPERF_S=6
fi

fl_netns X probe
for kind in fq netem; do
	tc -n "$X" qdisc add dev lo root handle 1: $kind 2>/dev/null ||
		fl_skip "the kernel has no sch_$kind; run bench/latency.sh (it boots the vm stage's kernel)"
	tc -n "$X" qdisc del dev lo root
done

# path N: namespaces S<N>, R<N>, T<N>; 10.8N.1.0/24 between S and R, 10.8N.2.0/24 between R
# and T. Sets RDEV<N> (R's device towards T).
path() {
	local n=$1 s r t
	fl_netns s "s$n"
	fl_netns r "r$n"
	fl_netns t "t$n"
	printf -v "S$n" %s "$s"
	printf -v "R$n" %s "$r"
	printf -v "T$n" %s "$t"
	# S sends packets of one MTU (gso_max_segs 1), as a wire without GRO delivers them to a
	# router: forwarded through R they stay that size, so a queue's packet limit is bytes.
	ip link add "$FL_ID-s$n" netns "$s" gso_max_segs 1 type veth peer name "$FL_ID-ra$n" netns "$r"
	ip link add "$FL_ID-rb$n" netns "$r" type veth peer name "$FL_ID-t$n" netns "$t"
	ip -n "$s" addr add "10.8$n.1.1/24" dev "$FL_ID-s$n"
	ip -n "$r" addr add "10.8$n.1.2/24" dev "$FL_ID-ra$n"
	ip -n "$r" addr add "10.8$n.2.1/24" dev "$FL_ID-rb$n"
	ip -n "$t" addr add "10.8$n.2.2/24" dev "$FL_ID-t$n"
	for d in "$s:$FL_ID-s$n" "$r:$FL_ID-ra$n" "$r:$FL_ID-rb$n" "$t:$FL_ID-t$n"; do
		ip -n "${d%%:*}" link set "${d#*:}" up
	done
	ip -n "$s" route add default via "10.8$n.1.2"
	ip -n "$t" route add default via "10.8$n.2.1"
	ip netns exec "$r" sysctl -qw net.ipv4.ip_forward=1
	# One receive CPU per device, as in test_agent_latency.sh: no reordering the veth made.
	ip netns exec "$t" sh -c "echo 1 >/sys/class/net/$FL_ID-t$n/queues/rx-0/rps_cpus"
	ip netns exec "$r" sh -c "echo 1 >/sys/class/net/$FL_ID-ra$n/queues/rx-0/rps_cpus"
	printf -v "RDEV$n" %s "$FL_ID-rb$n"
}
path 1
path 2

fl_tmpdir dir
sock=$dir/agent.sock
fl_start_agent "$R1" "$sock" "$dir/agent.log"
api() { FL_API_TIMEOUT=60 fl_api "$@"; }
api POST /v1/leases '{"ttl_ms": 3600000}'
[ "$HTTP_STATUS" = 201 ] || fl_fail "lease: $API_BODY"
LEASE=$(jq -r .lease.id <<<"$API_BODY")

# apply PROTOCOL PARAMS_JSON: a latency fault on R1's egress to T1; sets FID.
apply() {
	api POST "/v1/leases/$LEASE/faults" "$(printf '{"name": "bench", "type": "network.latency", "duration": "1h", "target": {"interface": "%s", "direction": "egress", "cidrs": ["10.81.2.2/32"], "protocol": "%s"}, "params": %s}' "$RDEV1" "$1" "$2")"
	[ "$HTTP_STATUS" = 201 ] || fl_fail "apply $2: HTTP $HTTP_STATUS: $API_BODY"
	FID=$(jq -r .fault.id <<<"$API_BODY")
	api GET "/v1/faults/$FID"
	fl_assert_eq "$(jq -r .fault.status.egress.mechanism <<<"$API_BODY")" \
		"$(jq -r .mechanism <<<"$2")" "mechanism of $2"
}
revert() { api DELETE "/v1/faults/$FID"; [ "$HTTP_STATUS" = 200 ] || fl_fail "revert: $API_BODY"; }
ref_set() { tc -n "$R2" qdisc replace dev "$RDEV2" root netem "$@"; }
ref_clear() { tc -n "$R2" qdisc del dev "$RDEV2" root 2>/dev/null || true; }
# drops NS DEV: packets every qdisc of DEV dropped so far.
drops() {
	tc -n "$1" -s qdisc show dev "$2" |
		awk '{ for (i = 1; i < NF; i++) if ($i == "(dropped") { sub(",", "", $(i + 1)); s += $(i + 1) } } END { print s + 0 }'
}

row() { # FIGURE VALUE REFERENCE: prints the row, with the ratio
	local r
	r=$(awk -v a="${2%% *}" -v b="${3%% *}" 'BEGIN { if (b == 0) print "n/a"; else printf "%.3f", a / b }')
	printf 'fl-bench-row|latency|%s|%s|%s|%s\n' "$1" "$2" "$3" "$r"
}
ms() { awk -v v="$1" 'BEGIN { printf "%.2f ms", v }'; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
# ping_lib.sh's median takes a tag of ping replies; this one, numbers on stdin.
median_of() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# both TAG: pings R1 -> T1 and, at the same time, R2 -> T2; replies in TAG and ref-TAG.
both() {
	PIDS=()
	ping_flows "$R1" "$1" 10.81.2.2 $PING
	ping_flows "$R2" "ref-$1" 10.82.2.2 $PING
	wait "${PIDS[@]}" || true
	local n
	for n in "$1" "ref-$1"; do
		(($(samples "$n") >= $(awk '{ print int($1 * $2 * 0.98) }' <<<"$PING"))) ||
			fl_fail "$n: only $(samples "$n") replies"
	done
}

start=$SECONDS
echo "== latency fidelity: pings R -> T ($PING: flows, pings per flow, spacing), reference netem at the same time"
both base
BASE=$(median base) REF_BASE=$(median ref-base)
fl_log "baseline: median RTT $BASE ms ($(spread base)); reference path $REF_BASE ms ($(spread ref-base))"
row "baseline RTT median (no fault)" "$(ms "$BASE")" "$(ms "$REF_BASE")"
for spec in "50ms|{\"delay\": \"50ms\"}|delay 50ms" \
	"50ms+-10ms normal|{\"delay\": \"50ms\", \"jitter\": \"10ms\", \"distribution\": \"normal\"}|delay 50ms 10ms distribution normal"; do
	IFS='|' read -r name params netem <<<"$spec"
	# shellcheck disable=SC2086 # the netem arguments are words
	ref_set $netem
	for mech in edt netem; do
		apply icmp "$(jq -c --arg m "$mech" '. + {mechanism: $m}' <<<"$params")"
		tag=$mech-${name//[^a-z0-9]/}
		both "$tag"
		revert
		fl_log "$name $mech: median $(median "$tag") ms ($(spread "$tag")), reference $(median "ref-$tag") ms ($(spread "ref-$tag"))"
		row "$name, $mech: added median" "$(ms "$(sub "$(median "$tag")" "$BASE")")" \
			"$(ms "$(sub "$(median "ref-$tag")" "$REF_BASE")")"
		row "$name, $mech: added p99" "$(ms "$(sub "$(percentile "$tag" 99)" "$BASE")")" \
			"$(ms "$(sub "$(percentile "ref-$tag" 99)" "$REF_BASE")")"
		row "$name, $mech: jitter stdev" "$(ms "$(stdev "$tag")")" "$(ms "$(stdev "ref-$tag")")"
	done
	ref_clear
done

# iperf_mbps FROM_NS ADDR SERVER_NS: Mbit/s received by a one-off iperf3 server.
iperf_mbps() {
	local out srv i
	ip netns exec "$3" timeout 60 iperf3 -s -1 -B "$2" -p 5302 >/dev/null 2>&1 &
	srv=$!
	for ((i = 0; i < 100; i++)); do
		[ -n "$(ip netns exec "$3" ss -Htln "sport = :5302")" ] && break
		sleep 0.1
	done
	out=$(ip netns exec "$1" timeout 40 iperf3 -c "$2" -p 5302 -t "$IPERF_S" -O 2 -J 2>&1) || true
	kill "$srv" 2>/dev/null || true
	wait "$srv" 2>/dev/null || true
	jq -r '.end.sum_received.bits_per_second / 1e6 | . * 10 | floor / 10' <<<"$out" 2>/dev/null |
		grep -E '^[0-9.]+$' || fl_fail "iperf3 $1 -> $2: $out"
}

echo "== throughput under a 100 ms delay: iperf3 ${IPERF_S}s x $ROUNDS rounds; reference: netem with its default limit (1000 packets)"
for how in local forwarded; do
	ref=() edt=() netem=() dref=() dedt=() dnetem=()
	for ((k = 0; k < ROUNDS; k++)); do
		ref_set delay 100ms
		d0=$(drops "$R2" "$RDEV2")
		if [ $how = local ]; then v=$(iperf_mbps "$R2" 10.82.2.2 "$T2"); else v=$(iperf_mbps "$S2" 10.82.2.2 "$T2"); fi
		ref+=("$v") dref+=($(($(drops "$R2" "$RDEV2") - d0)))
		ref_clear
		for mech in edt netem; do
			apply tcp "{\"delay\": \"100ms\", \"mechanism\": \"$mech\"}"
			d0=$(drops "$R1" "$RDEV1")
			if [ $how = local ]; then v=$(iperf_mbps "$R1" 10.81.2.2 "$T1"); else v=$(iperf_mbps "$S1" 10.81.2.2 "$T1"); fi
			d=$(($(drops "$R1" "$RDEV1") - d0))
			revert
			eval "$mech+=(\"\$v\") d$mech+=(\"\$d\")"
		done
		fl_log "$how round $((k + 1)): netem ref ${ref[-1]} Mbit/s (${dref[-1]} dropped), edt ${edt[-1]} (${dedt[-1]}), netem ${netem[-1]} (${dnetem[-1]})"
	done
	r=$(median_of <<<"${ref[*]}")
	row "100ms TCP $how, edt" "$(median_of <<<"${edt[*]}") Mbit/s" "$r Mbit/s"
	row "100ms TCP $how, netem" "$(median_of <<<"${netem[*]}") Mbit/s" "$r Mbit/s"
	if [ $how = forwarded ]; then
		dr=$(median_of <<<"${dref[*]}")
		printf 'fl-bench-row|latency|%s|%s|%s|n/a\n' "100ms TCP forwarded, edt: packets dropped" \
			"$(median_of <<<"${dedt[*]}")" "$dr"
		printf 'fl-bench-row|latency|%s|%s|%s|n/a\n' "100ms TCP forwarded, netem: packets dropped" \
			"$(median_of <<<"${dnetem[*]}")" "$dr"
	fi
done
api DELETE "/v1/leases/$LEASE"
fl_log "done in $((SECONDS - start)) s"
