#!/usr/bin/env bash
# network.dns answer time: from a query to its answer when the fault answers it in the data
# path (nxdomain, spoof), side by side with the resolver's own answer, in the same run.
#
#   sudo bench/dns.sh [--quick] [--rows FILE]
#
# Namespaces C (the client, the agent, the fault on C's veth end) and R (dnsmasq serving a
# hosts file on 10.82.0.2 and fd00:82::2), a veth pair between them. dns_rtt (bench/dns_rtt.c)
# sends N queries over UDP from C, one at a time, each timed from just before send() to just
# after the answer's recv(); 20 unmeasured queries first. Configurations, over IPv4 (A) and
# IPv6 (AAAA), in ROUNDS rounds (1 with --quick) whose order rotates:
#   dnsmasq   no fault: the resolver answers (the reference);
#   attached  an nxdomain fault for another name: the program parses the query and lets it
#             through, dnsmasq answers;
#   nxdomain  an nxdomain fault for the name: the program answers from C's egress;
#   spoof     a spoof fault for the name (an A and an AAAA record): likewise.
# Each answer is checked (RCODE and the first address) before its figures count. Median and
# p99 of all the rounds' samples, ratio to dnsmasq's. N = 2,000 (200 with --quick). Rows
# "dns|figure|value|reference|ratio" go to FILE when given (bench/run.sh reads them); progress
# goes to stderr. Everything (namespaces, agent, dnsmasq, files) is removed at exit, also on
# failure; every wait is bounded (a query waits 2 s at most).
. "$(dirname "$0")/lib.sh"
bench_options "$@"
fl_require_root
fl_require_cmd ip jq awk dnsmasq
fl_require_build
RTT=$FL_BUILD_DIR/bench/dns_rtt
[ -x "$RTT" ] || fl_fail "dns_rtt not built in $FL_BUILD_DIR/bench (scripts/build.sh)"
N=2000 ROUNDS=3
[ $QUICK = 1 ] && N=200 ROUNDS=1
WARMUP=20

say() { echo "  [dns] $*" >&2; }

RES=10.82.0.2
RES6=fd00:82::2
fl_netns C c
fl_netns R r
fl_veth "$C" "$R" 10.82.0.1/24 $RES/24
DEV=$FL_ID-a
# IPv6 without duplicate address detection: the addresses work at once.
ip -n "$C" addr add fd00:82::1/64 dev "$DEV" nodad
ip -n "$R" addr add $RES6/64 dev "$FL_ID-b" nodad
fl_tmpdir dir
sock=$dir/agent.sock
printf '10.82.0.50 db.internal\nfd00::50 db.internal\n10.82.0.51 other.test\n' >"$dir/hosts"
# No query log: dnsmasq would write a line per query on its answer path.
ip netns exec "$R" dnsmasq --keep-in-foreground --no-resolv --no-hosts --addn-hosts="$dir/hosts" \
	--listen-address=$RES --listen-address=$RES6 --bind-interfaces --pid-file= --user=root \
	--group=root >"$dir/dnsmasq.out" 2>&1 &
DNSMASQ=$!
fl_on_exit "kill -KILL $DNSMASQ"

# rtt ADDR TYPE N WARMUP: runs dns_rtt from C; the samples (ns) in $dir/last, its summary in
# SUMMARY.
rtt() {
	ip netns exec "$C" "$RTT" "$1" 53 db.internal "$2" "$3" "$4" 2000 >"$dir/last" 2>"$dir/last.err" ||
		fl_fail "dns_rtt: $(cat "$dir/last.err")"
	SUMMARY=$(cat "$dir/last.err")
}
for ((i = 0; i < 50; i++)); do
	kill -0 $DNSMASQ 2>/dev/null || fl_fail "dnsmasq exited: $(cat "$dir/dnsmasq.out")"
	rtt $RES A 1 0
	[[ $SUMMARY == "answered 1 "* ]] && break
	sleep 0.1
done
[[ $SUMMARY == "answered 1 "* ]] || fl_fail "dnsmasq does not answer within 5 s: $SUMMARY"

fl_start_agent "$C" "$sock" "$dir/agent.log"
fl_lease 3600000
apply() { # apply CIDR PARAMS_JSON: sets FID
	fl_api POST "/v1/leases/$LEASE/faults" "$(printf '{"name": "bench", "type": "network.dns", "duration": "1h", "target": {"interface": "%s", "cidrs": ["%s"]}, "params": %s}' "$DEV" "$1" "$2")"
	[ "$HTTP_STATUS" = 201 ] || fl_fail "apply: HTTP $HTTP_STATUS: $API_BODY"
	FID=$(jq -r .fault.id <<<"$API_BODY")
}
revert() { fl_api DELETE "/v1/faults/$FID"; [ "$HTTP_STATUS" = 200 ] || fl_fail "revert: $API_BODY"; }

# measure FAMILY CONFIG: one run of N queries in that configuration, its samples appended to
# $dir/FAMILY.CONFIG, its answers checked.
measure() {
	local fam=$1 cfg=$2 addr=$RES type=A want_ok=10.82.0.50 want_spoof=10.99.0.1 want
	if [ "$fam" = v6 ]; then
		addr=$RES6 type=AAAA want_ok=fd00::50 want_spoof=fd00:99::1
	fi
	case $cfg in
	dnsmasq) want="rcode 0 ancount 1 first $want_ok" ;;
	attached)
		apply "$addr" '{"names": ["other.test"], "action": "nxdomain"}'
		want="rcode 0 ancount 1 first $want_ok"
		;;
	nxdomain)
		apply "$addr" '{"names": ["db.internal"], "action": "nxdomain"}'
		want="rcode 3 ancount 0 first -"
		;;
	spoof)
		apply "$addr" '{"names": ["db.internal"], "action": "spoof", "a": ["10.99.0.1"], "aaaa": ["fd00:99::1"]}'
		want="rcode 0 ancount 1 first $want_spoof"
		;;
	esac
	rtt "$addr" "$type" "$N" "$WARMUP"
	[ "$cfg" = dnsmasq ] || revert
	[[ $SUMMARY == *" $want" ]] || fl_fail "$fam $cfg: the answers are not right: $SUMMARY (want $want)"
	[[ $SUMMARY == "answered $N timeouts 0 "* ]] || fl_fail "$fam $cfg: queries without an answer in 2 s: $SUMMARY"
	cat "$dir/last" >>"$dir/$fam.$cfg"
}

CONFIGS=(dnsmasq attached nxdomain spoof)
say "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 0; r < ROUNDS; r++)); do
	for fam in v4 v6; do
		for ((k = 0; k < ${#CONFIGS[@]}; k++)); do
			cfg=${CONFIGS[(r + k) % ${#CONFIGS[@]}]}
			measure "$fam" "$cfg"
		done
	done
	say "round $((r + 1)) of $ROUNDS done"
done
say "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

# pct FILE P: the P-th percentile (nearest rank) of the samples, in microseconds.
pct() { sort -n "$1" | awk -v p="$2" '{ v[NR] = $1 } END { i = int(NR * p / 100 + 0.999999); if (i < 1) i = 1; printf "%.1f", v[i] / 1000 }'; }
declare -A WHAT=([dnsmasq]="dnsmasq answers (no fault)" [attached]="dnsmasq answers, nxdomain fault for another name"
	[nxdomain]="nxdomain answered in the data path" [spoof]="spoof answered in the data path")
for fam in v4 v6; do
	label="IPv4 A"
	[ $fam = v6 ] && label="IPv6 AAAA"
	m0=$(pct "$dir/$fam.dnsmasq" 50) p0=$(pct "$dir/$fam.dnsmasq" 99)
	for cfg in "${CONFIGS[@]}"; do
		m=$(pct "$dir/$fam.$cfg" 50) p=$(pct "$dir/$fam.$cfg" 99)
		bench_row dns "$label, ${WHAT[$cfg]}: median" "$m us" "$m0 us" "$(ratio "$m" "$m0")"
		bench_row dns "$label, ${WHAT[$cfg]}: p99" "$p us" "$p0 us" "$(ratio "$p" "$p0")"
	done
done
bench_row dns "1-minute load average at the end (2 cores shared)" "$(cut -d' ' -f1 /proc/loadavg)" n/a n/a
