#!/usr/bin/env bash
# vm.kernel: runs INSIDE the vm layer (tests/vm/run.sh) and asserts that the guest kernel really
# has what the layer exists for, measuring rather than trusting the config:
#   - netem: a 50 ms delay on a veth raises the ping RTT between two namespaces by ~50 ms,
#   - ifb + clsact + act_mirred: ingress redirected to an ifb with netem adds its delay too,
#   - fq, htb, tbf, prio qdiscs can be added,
#   - BPF LSM is active (bpf in /sys/kernel/security/lsm) and kernel BTF is there.
# Reported, not asserted: kprobe_events, and bpftool's probe of lsm/tracing program types.
# Everything happens in two network namespaces it creates and always removes.
set -euo pipefail

if [ "${FL_VM:-}" != 1 ]; then
	echo "SKIP: runs only in the vm layer (tests/vm/run.sh $0)"
	exit 77
fi

A="flk-a-$$"
B="flk-b-$$"
DELAY=50    # ms, netem on veth-a egress (the echo requests)
IN_DELAY=30 # ms, netem on the ifb that receives veth-a's ingress (the echo replies)
PINGS=10
failures=0

cleanup() {
	ip netns del "$A" 2>/dev/null || true
	ip netns del "$B" 2>/dev/null || true
}
trap cleanup EXIT

ok() { echo "ok:   $*"; }
bad() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}
check() { # DESCRIPTION CMD...
	local what=$1
	shift
	local out
	if out=$("$@" 2>&1); then ok "$what"; else bad "$what: $out"; fi
}
# rtt NAME -> "min avg max" in ms, from PINGS pings A -> B
rtt() {
	local out
	out=$(ip netns exec "$A" timeout 60 ping -n -q -c "$PINGS" -i 0.2 -W 5 10.99.0.2 2>&1) || true
	echo "$out" | sed -n 's|^rtt min/avg/max/mdev = \([0-9.]*\)/\([0-9.]*\)/\([0-9.]*\)/.*|\1 \2 \3|p'
}
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }

echo "kernel $(uname -r)"

# --- topology: A(veth-a 10.99.0.1) <-> B(veth-b 10.99.0.2)
ip netns add "$A"
ip netns add "$B"
ip link add veth-a netns "$A" type veth peer name veth-b netns "$B"
ip -n "$A" addr add 10.99.0.1/24 dev veth-a
ip -n "$B" addr add 10.99.0.2/24 dev veth-b
for ns in "$A" "$B"; do ip -n "$ns" link set lo up; done
ip -n "$A" link set veth-a up
ip -n "$B" link set veth-b up

read -r bmin bavg bmax < <(rtt) || true
if [ -z "${bavg:-}" ]; then
	bad "no baseline ping between the namespaces"
	exit 1
fi
echo "baseline rtt ms: min $bmin avg $bavg max $bmax"

# --- netem on egress
if tc -n "$A" qdisc add dev veth-a root netem delay "${DELAY}ms"; then
	read -r nmin navg nmax < <(rtt) || true
	echo "netem ${DELAY}ms rtt ms: min ${nmin:-?} avg ${navg:-?} max ${nmax:-?}"
	# Minimum against minimum (TCG hiccups inflate single pings), then a generous upper bound on
	# the average: netem never delivers early, and TCG makes things slower, never faster.
	rise=$(awk -v a="${nmin:-0}" -v b="$bmin" 'BEGIN { printf "%.1f", a - b }')
	arise=$(awk -v a="${navg:-0}" -v b="$bavg" 'BEGIN { printf "%.1f", a - b }')
	if [ -n "${nmin:-}" ] && ge "$rise" $((DELAY - 5)) && ! ge "$arise" $((DELAY + 250)); then
		ok "netem delay ${DELAY}ms raised the RTT by ${rise} ms (min) / ${arise} ms (avg)"
	else
		bad "netem delay ${DELAY}ms raised the RTT by ${rise} ms (min) / ${arise} ms (avg)"
	fi
else
	bad "tc qdisc add netem"
fi

# --- ingress delay: clsact + matchall/mirred redirect to an ifb carrying netem
check "ifb link created" ip -n "$A" link add ifb-fl type ifb
check "ifb link up" ip -n "$A" link set ifb-fl up
check "clsact added" tc -n "$A" qdisc add dev veth-a clsact
check "netem on ifb" tc -n "$A" qdisc add dev ifb-fl root netem delay "${IN_DELAY}ms"
if check "ingress mirred redirect to ifb" tc -n "$A" filter add dev veth-a ingress \
	matchall action mirred egress redirect dev ifb-fl; then :; fi
read -r imin iavg imax < <(rtt) || true
echo "netem ${DELAY}ms egress + ${IN_DELAY}ms ingress (ifb) rtt ms: min ${imin:-?} avg ${iavg:-?} max ${imax:-?}"
if [ -n "${imin:-}" ] && ge "$imin" $((DELAY + IN_DELAY - 5)); then
	ok "ingress delay through ifb adds ${IN_DELAY}ms"
else
	bad "ingress delay through ifb: min RTT ${imin:-none} < $((DELAY + IN_DELAY - 5)) ms"
fi
tc -n "$A" qdisc del dev veth-a clsact 2>/dev/null || true

# --- other qdiscs the agent uses
tc -n "$A" qdisc del dev veth-a root 2>/dev/null || true
check "fq qdisc added" tc -n "$A" qdisc add dev veth-a root fq
if tc -n "$A" qdisc show dev veth-a | grep >/dev/null '^qdisc fq '; then ok "fq shown by tc"; else bad "fq not shown by tc"; fi
read -r _ favg _ < <(rtt) || true
if [ -n "${favg:-}" ]; then ok "ping through fq: avg ${favg} ms"; else bad "no ping through fq"; fi
tc -n "$A" qdisc del dev veth-a root 2>/dev/null || true
check "htb qdisc added" tc -n "$A" qdisc add dev veth-a root handle 1: htb default 10
tc -n "$A" qdisc del dev veth-a root 2>/dev/null || true
check "tbf qdisc added" tc -n "$A" qdisc add dev veth-a root tbf rate 1mbit burst 32kb latency 400ms
tc -n "$A" qdisc del dev veth-a root 2>/dev/null || true
check "prio qdisc added" tc -n "$A" qdisc add dev veth-a root prio
tc -n "$A" qdisc del dev veth-a root 2>/dev/null || true

# --- BPF side
lsm=$(cat /sys/kernel/security/lsm 2>/dev/null || true)
echo "lsm: ${lsm:-<no /sys/kernel/security/lsm>}"
if [[ ",$lsm," == *,bpf,* ]]; then ok "BPF LSM active"; else bad "bpf is not in the active LSM list"; fi
if [ -r /sys/kernel/btf/vmlinux ]; then ok "kernel BTF present"; else bad "no /sys/kernel/btf/vmlinux"; fi
if [ -e /sys/kernel/tracing/kprobe_events ]; then
	echo "info: kprobe_events present"
else
	echo "info: no /sys/kernel/tracing/kprobe_events"
fi
if command -v bpftool >/dev/null 2>&1; then
	probe=$(timeout 120 bpftool feature probe kernel 2>/dev/null |
		grep -E 'program_type (lsm|tracing|kprobe) ' || true)
	while read -r line; do echo "info: $line"; done <<<"${probe:-bpftool probe gave nothing}"
fi

if [ "$failures" -ne 0 ]; then
	echo "guest_kernel: $failures check(s) failed"
	exit 1
fi
echo "guest_kernel: all checks passed"
