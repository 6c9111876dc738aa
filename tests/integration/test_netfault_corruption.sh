#!/usr/bin/env bash
# network.corruption behaves like a wire, over the agent's API on a veth pair between two
# namespaces of the test:
#  - a 4 MiB TCP transfer under 1% corruption, on egress (A sends) and on ingress (A
#    receives), arrives byte-identical (sha256): TCP retransmits what the receiver's checksum
#    refused, no corrupted byte reaches the application;
#  - 3000 numbered UDP datagrams with a known payload under 1% corruption: no datagram is
#    received with a changed payload, and exactly the corrupted ones are missing;
#  - the agent's corrupted counter is above 0 and within a binomial bound of 1% of the
#    packets it matched.
# Offloads: the veths keep checksum offload (local TCP and UDP are CHECKSUM_PARTIAL, the case a
# plain bit flip gets wrong), and gso_max_segs 1 so that each skb is one wire packet, giving
# enough packets for the statistics.
. "$(dirname "$0")/lib.sh"
fl_require_root
fl_require_cmd ip curl jq socat nsenter python3 sha256sum awk
fl_require_build

P=0.01
SIGMA=5 # binomial bound: mean +- 5 standard deviations (a flake rate below 1e-6 per check)

fl_netns A a
fl_netns B b
for ns in "$A" "$B"; do
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1
done
fl_veth "$A" "$B" 10.79.0.1/24 10.79.0.2/24
DEV=$FL_ID-a
ip -n "$A" link set "$DEV" gso_max_segs 1
ip -n "$B" link set "$FL_ID-b" gso_max_segs 1
fl_tmpdir dir
sock=$dir/agent.sock
head -c 4194304 /dev/urandom >"$dir/data.bin"
want=$(sha256sum "$dir/data.bin" | cut -d' ' -f1)

api() { FL_API_TIMEOUT=20 fl_api "$@"; }
apply() { # apply DIRECTION PROTOCOL -> FID
	api POST "/v1/leases/$LEASE/faults" "{\"name\": \"c\", \"type\": \"network.corruption\",
		\"duration\": \"10m\", \"target\": {\"interface\": \"$DEV\", \"direction\": \"$1\",
		\"cidrs\": [\"10.79.0.2\"], \"protocol\": \"$2\"}, \"params\": {\"probability\": \"1%\"}}"
	fl_assert_eq "$HTTP_STATUS" 201 "apply corruption $1 $2 ($API_BODY)"
	FID=$(jq -r .fault.id <<<"$API_BODY")
}
# revert_counters FID -> MATCHED CORRUPTED (read just before the revert)
revert_counters() {
	api GET "/v1/faults/$1"
	MATCHED=$(jq -r .fault.status.counters.matched <<<"$API_BODY")
	CORRUPTED=$(jq -r .fault.status.counters.corrupted <<<"$API_BODY")
	api DELETE "/v1/faults/$1"
	fl_assert_eq "$HTTP_STATUS" 200 "revert $1 ($API_BODY)"
}
# check_binomial WHAT N K: K (> 0) within mean +- SIGMA sd of Binomial(N, P)
check_binomial() {
	local bounds
	bounds=$(awk -v n="$2" -v p="$P" -v s="$SIGMA" 'BEGIN {
		m = n * p; sd = sqrt(n * p * (1 - p)); lo = m - s * sd; if (lo < 1) lo = 1
		printf "%d %d", lo, m + s * sd + 1 }')
	fl_log "$1: $3 of $2 packets corrupted (bounds ${bounds% *}..${bounds#* })"
	[ "$3" -ge "${bounds% *}" ] && [ "$3" -le "${bounds#* }" ] ||
		fl_fail "$1: $3 corrupted of $2 is outside ${bounds% *}..${bounds#* } for p=$P"
}

# tcp_transfer FROM_NS TO_NS TO_ADDR: send data.bin, print the receiver's byte count and sha256.
tcp_transfer() {
	rm -f "$dir/recv.out"
	ip netns exec "$2" timeout 60 python3 -c '
import hashlib, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 5555)); s.listen(1); open(sys.argv[2], "w").close()
c, _ = s.accept(); h = hashlib.sha256(); n = 0
while True:
    d = c.recv(65536)
    if not d: break
    h.update(d); n += len(d)
print(n, h.hexdigest())' "$3" "$dir/listening" >"$dir/recv.out" &
	local rpid=$! i
	for ((i = 0; i < 100; i++)); do [ -e "$dir/listening" ] && break; sleep 0.05; done
	rm -f "$dir/listening"
	ip netns exec "$1" timeout 60 python3 -c '
import socket, sys
s = socket.create_connection((sys.argv[1], 5555), timeout=30)
s.sendall(open(sys.argv[2], "rb").read()); s.close()' "$3" "$dir/data.bin" ||
		fl_fail "TCP sender failed"
	fl_wait_exit rc "$rpid" 60
	fl_assert_eq "$rc" 0 "TCP receiver exit status"
	cat "$dir/recv.out"
}

fl_start_agent "$A" "$sock" "$dir/agent.log" --log-level debug
api POST /v1/leases '{"ttl_ms": 600000}'
fl_assert_eq "$HTTP_STATUS" 201 "create lease"
LEASE=$(jq -r .lease.id <<<"$API_BODY")

# --- TCP, 4 MiB, corruption on A's egress (A sends) and on A's ingress (A receives) ---
for dir_ in egress ingress; do
	apply "$dir_" tcp
	if [ "$dir_" = egress ]; then
		got=$(tcp_transfer "$A" "$B" 10.79.0.2)
	else
		got=$(tcp_transfer "$B" "$A" 10.79.0.1)
	fi
	revert_counters "$FID"
	fl_assert_eq "$got" "4194304 $want" "TCP transfer under 1% corruption on $dir_ (bytes sha256)"
	check_binomial "TCP $dir_" "$MATCHED" "$CORRUPTED"
done

# --- UDP: numbered datagrams with a known payload; none arrives changed ---
N=3000
cat >"$dir/udp.py" <<'EOF'
import hashlib, socket, struct, sys, time
def payload(i):
    return struct.pack("!I", i) + hashlib.sha256(struct.pack("!I", i)).digest() * 31
if sys.argv[1] == "recv":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # Room for every datagram even if this process is not scheduled for a while on a loaded
    # host: SO_RCVBUFFORCE (root) is not capped by net.core.rmem_max.
    s.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), 32 << 20)
    s.bind((sys.argv[2], 5556)); s.settimeout(60)
    open(sys.argv[4], "w").close()
    seen, bad = set(), 0
    while True:
        try:
            d = s.recv(4096)
        except socket.timeout:
            break
        s.settimeout(3)  # the first datagram may be slow to come, the next ones are not
        i = struct.unpack("!I", d[:4])[0] if len(d) >= 4 else -1
        if i < 0 or i >= int(sys.argv[3]) or d != payload(i) or i in seen:
            bad += 1
        else:
            seen.add(i)
    print(len(seen), bad)
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(int(sys.argv[3])):
        s.sendto(payload(i), (sys.argv[2], 5556))
        if i % 50 == 49:
            time.sleep(0.002)  # paced: the veth backlog never overflows
EOF
apply egress udp
ip netns exec "$B" timeout 120 python3 "$dir/udp.py" recv 10.79.0.2 "$N" "$dir/listening" >"$dir/udp.out" &
rpid=$!
for ((i = 0; i < 100; i++)); do [ -e "$dir/listening" ] && break; sleep 0.05; done
ip netns exec "$A" timeout 60 python3 "$dir/udp.py" send 10.79.0.2 "$N" || fl_fail "UDP sender failed"
fl_wait_exit rc "$rpid" 120
fl_assert_eq "$rc" 0 "UDP receiver exit status"
revert_counters "$FID"
read -r good bad <"$dir/udp.out"
fl_log "UDP: $N sent, $good received intact, $bad received changed, $CORRUPTED corrupted"
fl_assert_eq "$bad" 0 "UDP datagrams received with a changed payload"
fl_assert_eq "$MATCHED" "$N" "UDP datagrams the rule matched"
fl_assert_eq "$((N - good))" "$CORRUPTED" "UDP datagrams missing vs corrupted"
check_binomial UDP "$MATCHED" "$CORRUPTED"
