# Helpers for RTT measurements with ping (test_agent_latency.sh, bench/latency_vm.sh): sourced
# after lib.sh, never run. A run is named by a TAG: its replies are in $dir/TAG.N (one file per
# ping flow, "seq rtt_ms" in arrival order), so the caller sets `dir` (fl_tmpdir dir) first.

# ping_flows NS TAG ADDR FLOWS COUNT INTERVAL: FLOWS ping processes in parallel (each its own
# flow) in the background. Adds the pids to PIDS. Bounded by timeout.
PIDS=()
ping_flows() {
	local ns=$1 tag=$2 addr=$3 flows=$4 count=$5 iv=$6 i
	for ((i = 0; i < flows; i++)); do
		ip netns exec "$ns" timeout 120 ping -n -c "$count" -i "$iv" -W 2 "$addr" 2>&1 |
			sed -n 's/.*icmp_seq=\([0-9]*\) .*time=\([0-9.]*\) ms.*/\1 \2/p' >"$dir/$tag.$i" &
		PIDS+=($!)
	done
}

# rtts TAG: every RTT of a run, sorted.
rtts() { cat "$dir/$1".* | awk '{ print $2 }' | sort -n; }

samples() { cat "$dir/$1".* | wc -l; }

# median TAG: the median RTT over every flow of a run ("none" without replies).
median() {
	rtts "$1" | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "none"; exit }
		print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# percentile TAG P: the P-th percentile RTT (nearest rank) of a run.
percentile() {
	rtts "$1" | awk -v p="$2" '{ v[NR] = $1 } END {
		if (NR == 0) { print "none"; exit }
		k = int(NR * p / 100 + 0.999999); if (k < 1) k = 1; if (k > NR) k = NR; print v[k] }'
}

# stdev TAG: the sample standard deviation of the RTTs of a run.
stdev() {
	rtts "$1" | awk '{ s += $1; q += $1 * $1 } END {
		if (NR < 2) { print "none"; exit }
		v = (q - s * s / NR) / (NR - 1); printf "%.3f\n", (v > 0) ? sqrt(v) : 0 }'
}

# spread TAG: "p10 .. p90" of the RTTs of a run.
spread() {
	rtts "$1" | awk '{ v[NR] = $1 } END {
		printf "p10 %s, p90 %s ms", v[int(NR / 10) + 1], v[int(NR * 9 / 10)] }'
}

# reorders TAG: replies that arrived after a reply with a higher sequence number, per flow.
reorders() {
	local f n=0 r
	for f in "$dir/$1".*; do
		r=$(awk '$1 < max { r++ } $1 > max { max = $1 } END { print r + 0 }' "$f")
		n=$((n + r))
	done
	echo $n
}

# median_ci TAG: "LO HI", the distribution-free 99.9 % confidence interval of the median (the
# order statistics n/2 -+ 3.29 sqrt(n)/2).
median_ci() {
	rtts "$1" | awk '{ v[NR] = $1 } END {
		h = 3.29 * sqrt(NR) / 2; lo = int(NR / 2 - h); hi = int(NR / 2 + h) + 1
		if (lo < 1) lo = 1; if (hi > NR) hi = NR; print v[lo], v[hi] }'
}
