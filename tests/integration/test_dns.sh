#!/usr/bin/env bash
# network.dns with real clients: dnsmasq in namespace R serves a hosts file on 10.81.0.2 and
# fd00:81::2; the agent runs in namespace C, whose interface towards R it faults, and C asks
# with dig (bind9-dnsutils) and the C library's resolver (getent ahostsv4, with a resolv.conf of
# the test bind-mounted over /etc/resolv.conf in a mount namespace of its own).
#   - refusals (422 with the field): spoof without addresses, an IPv6 address in a, a
#     malformed pattern, direction ingress;
#   - nxdomain for db.internal. and *.example.com, type A only: those names get NXDOMAIN from
#     dig and fail in getent, in any letter case, and dnsmasq's query log never sees them;
#     example.com itself (not strictly below), AAAA of a matched name and other names resolve;
#     the same query over TCP is dropped (dig times out); the counters say queries, matched,
#     answered; a second fault for a name below its suffix pattern is refused (409, naming
#     the fault and the two patterns), one for other names on the same interface applies;
#   - servfail and refused answer with their status, drop makes dig time out;
#   - spoof: A and AAAA queries for matched names get the fault's records with its TTL (dig),
#     getent gets the spoofed address, other types get NOERROR without records (NODATA),
#     unmatched names resolve from dnsmasq, which never sees the spoofed ones;
#   - an IPv6 resolver (fd00:81::2): nxdomain and spoof over UDP (the answer's UDP checksum
#     computed: the client's stack checks it), TCP dropped, getent through it; spoof with
#     probability 30 % over 2,000 queries inside its binomial interval;
#   - probability 30 %: 2,000 queries, the NXDOMAIN count inside the exact binomial interval
#     at 0.001 (the test's flake budget), equal to the fault's answered counter;
#   - a netns target (an agent in namespace H, C named by its namespace file) answers the same
#     way;
#   - after each revert everything resolves; an nxdomain and a spoof fault with a 3 s lease
#     (15 s in the vm stage) whose agent (and watchdog) is SIGKILLed stop answering once the
#     lease lapses, their filters still there.
. "$(dirname "$0")/lib.sh"
fl_require_root
fl_require_cmd ip tc curl jq awk dnsmasq dig getent timeout unshare python3
fl_require_build

RES=10.81.0.2
RES6=fd00:81::2
N=2000
ALPHA=0.001

fl_netns C c
fl_netns R r
fl_veth "$C" "$R" 10.81.0.1/24 $RES/24
DEV=$FL_ID-a
# IPv6 on the same link, without duplicate address detection (the addresses work at once).
ip -n "$C" addr add fd00:81::1/64 dev "$DEV" nodad
ip -n "$R" addr add $RES6/64 dev "$FL_ID-b" nodad
fl_tmpdir dir
sock=$dir/agent.sock
state=$dir/state

cat >"$dir/hosts" <<HOSTS
10.81.0.50 db.internal
10.81.0.51 api.example.com
fd00::51 api.example.com
10.81.0.52 example.com
10.81.0.53 other.test
10.81.0.54 db.internal.other.test
fd00::50 db.internal
HOSTS
# dnsmasq logs every query it receives: the faulted ones must never reach it. It stays in the
# foreground with --keep-in-foreground, not --no-daemon, which would serve TCP in its one
# process: a TCP query the fault drops would then block every later query.
ip netns exec "$R" dnsmasq --keep-in-foreground --no-resolv --no-hosts --addn-hosts="$dir/hosts" \
	--listen-address=$RES --listen-address=$RES6 --bind-interfaces --pid-file= --user=root --group=root \
	--log-queries --log-facility="$dir/dnsmasq.log" >/dev/null 2>&1 &

# The C library's resolver in C asks R, once, with a short timeout: a resolv.conf of the test
# bind-mounted over /etc/resolv.conf in a mount namespace of getent's own (nothing in /etc
# changes, and it works on a read-only root such as the vm stage's).
printf 'nameserver %s\noptions timeout:1 attempts:1\n' $RES >"$dir/resolv.conf"
printf 'nameserver %s\noptions timeout:1 attempts:1\n' $RES6 >"$dir/resolv6.conf"

# q NAME TYPE [DIG_OPTS...]: the status dig reports for the query from C to $AT (the IPv4
# resolver unless set), or TIMEOUT.
AT=$RES
q() {
	local out
	out=$(ip netns exec "$C" dig +tries=1 +time=1 @$AT "$1" "$2" "${@:3}" 2>&1 || true)
	if grep -q 'status: ' <<<"$out"; then
		sed -n 's/.*status: \([A-Z]*\),.*/\1/p' <<<"$out"
	elif grep -q 'timed out' <<<"$out"; then
		echo TIMEOUT
	else
		echo "OTHER: $out"
	fi
}
expect() { # expect STATUS NAME TYPE [DIG_OPTS...]
	local got
	got=$(q "${@:2}")
	[ "$got" = "$1" ] || fl_fail "dig ${*:2}: $got, expected $1"
}
answer() { # answer NAME TYPE: the addresses dig gets, one line each
	ip netns exec "$C" dig +tries=1 +time=1 +short @$AT "$1" "$2"
}
records() { # records NAME TYPE: the answer section, "TTL TYPE ADDRESS" a line, sorted
	ip netns exec "$C" dig +tries=1 +time=1 +noall +answer @$AT "$1" "$2" |
		awk '{print $2, $4, $5}' | sort
}
c_getent() { # c_getent NAME [RESOLV_CONF]: getent ahostsv4 NAME in C, through R
	ip netns exec "$C" unshare -m sh -c \
		'mount --bind "$1" /etc/resolv.conf && exec timeout 10 getent ahostsv4 "$2"' \
		sh "${2:-$dir/resolv.conf}" "$1"
}
getent_ok() { c_getent "$1" "${3:-}" | grep >/dev/null "^$2 "; }
# log_sync: wait (bounded) until dnsmasq's log shows a query sent now: it writes its log
# behind its answers, so the lines of the queries before are there too.
SYNC=0
log_sync() {
	local i
	SYNC=$((SYNC + 1))
	q "sync$SYNC.test" A >/dev/null
	for ((i = 0; i < 50; i++)); do
		grep -q "query\[A\] sync$SYNC.test from" "$dir/dnsmasq.log" && return 0
		sleep 0.1
	done
	fl_fail "dnsmasq's log did not show query sync$SYNC.test within 5 s"
}
all_resolve() {
	expect NOERROR db.internal A
	[ "$(answer db.internal A)" = 10.81.0.50 ] || fl_fail "db.internal A: $(answer db.internal A)"
	expect NOERROR api.example.com A
	expect NOERROR other.test A
	expect NOERROR db.internal A +tcp
	getent_ok db.internal 10.81.0.50 || fl_fail "getent ahostsv4 db.internal failed"
	[ "$(AT=$RES6 answer db.internal AAAA)" = fd00::50 ] ||
		fl_fail "db.internal AAAA from $RES6: $(AT=$RES6 answer db.internal AAAA)"
	getent_ok db.internal 10.81.0.50 "$dir/resolv6.conf" ||
		fl_fail "getent ahostsv4 db.internal through $RES6 failed"
}

for ((i = 0; i < 50; i++)); do
	[ "$(q other.test A)" = NOERROR ] && break
	sleep 0.1
done
all_resolve
fl_log "dnsmasq answers from R, dig and getent in C"

fl_start_agent "$C" "$sock" "$dir/agent.log" --log-level debug
CAGENT=$FL_AGENT_PID
api() { FL_API_TIMEOUT=20 fl_api "$@"; }
lease() { # lease TTL_MS: sets LEASE
	api POST /v1/leases "{\"ttl_ms\": $1}"
	fl_assert_eq "$HTTP_STATUS" 201 "lease: $API_BODY"
	LEASE=$(jq -r .lease.id <<<"$API_BODY")
}
# fault PARAMS_JSON [TARGET_EXTRA]: network.dns towards R on C's interface
fault() {
	printf '{"name": "d", "type": "network.dns", "duration": "10m", "target": {"interface": "%s", "cidrs": ["%s/32"]%s}, "params": %s}' \
		"$DEV" $RES "${2:-}" "$1"
}
apply() {
	api POST "/v1/leases/$LEASE/faults" "$1"
	[ "$HTTP_STATUS" = 201 ] || fl_fail "apply: HTTP $HTTP_STATUS: $API_BODY"
	FID=$(jq -r .fault.id <<<"$API_BODY")
}
refused() { # refused BODY TEXT
	api POST "/v1/leases/$LEASE/faults" "$1"
	fl_assert_eq "$HTTP_STATUS" 422 "refusal ($API_BODY)"
	grep -qF -- "$2" <<<"$API_BODY" || fl_fail "refusal reason: $API_BODY"
	fl_log "refused: $(jq -r .error.message <<<"$API_BODY")"
}
revert() {
	api DELETE "/v1/faults/$1"
	[ "$HTTP_STATUS" = 200 ] || fl_fail "revert $1: HTTP $HTTP_STATUS: $API_BODY"
}
counter() { # counter FID NAME
	api GET "/v1/faults/$1"
	jq -r ".fault.status.counters.$2" <<<"$API_BODY"
}
lease 600000

# --- refusals ---------------------------------------------------------------------------------
refused "$(fault '{"names": ["db.internal"], "action": "spoof"}')" "spoof needs the addresses"
refused "$(fault '{"names": ["db.internal"], "action": "spoof", "a": ["fd00::1"]}')" \
	"a holds IPv4 addresses: put IPv6 ones in aaaa"
refused "$(fault '{"names": ["ok.test", "db..internal"], "action": "nxdomain"}')" "params.names[1]"
refused "$(fault '{"names": ["db.internal"], "action": "drop"}' ', "direction": "ingress"')" \
	"direction must be egress"
[ -z "$(tc -n "$C" filter show dev "$DEV" egress)" ] || fl_fail "a refusal left a filter"

# --- nxdomain, names and types ----------------------------------------------------------------
log_sync
before=$(grep -c 'query\[A\] db.internal from' "$dir/dnsmasq.log" || true)
apply "$(fault '{"names": ["db.internal.", "*.Example.COM"], "qtypes": ["A"], "action": "nxdomain"}')"
NX=$FID
expect NXDOMAIN db.internal A
expect NXDOMAIN DB.Internal A
expect NXDOMAIN api.example.com A
expect NXDOMAIN deep.api.EXAMPLE.com A
expect NOERROR example.com A
expect NOERROR db.internal AAAA
[ "$(answer api.example.com AAAA)" = fd00::51 ] || fl_fail "AAAA of a matched name did not resolve"
expect NOERROR other.test A
expect NOERROR db.internal.other.test A
getent_ok other.test 10.81.0.53 || fl_fail "getent ahostsv4 other.test failed under the fault"
# getent asks for A (and maybe AAAA, which resolves): db.internal has no IPv4 answer then.
if c_getent db.internal >/dev/null; then
	fl_fail "getent ahostsv4 db.internal resolved under nxdomain"
fi
log_sync
after=$(grep -c 'query\[A\] db.internal from' "$dir/dnsmasq.log" || true)
fl_assert_eq "$after" "$before" "queries for db.internal A that reached dnsmasq"
# One reading of the counters: 5 queries matched (dig: db.internal twice, api and
# deep.api.example.com; getent: db.internal), all answered; 12 queries in all (7 more from
# dig, getent's for other.test and log_sync's).
api GET "/v1/faults/$NX"
cnt=$(jq -c .fault.status.counters <<<"$API_BODY")
fl_log "nxdomain over UDP: $cnt"
fl_assert_eq "$(jq .matched <<<"$cnt")" 5 "matched"
fl_assert_eq "$(jq .answered <<<"$cnt")" 5 "answered"
fl_assert_eq "$(jq .dropped <<<"$cnt")" 0 "dropped"
fl_assert_eq "$(jq .queries <<<"$cnt")" 12 "queries"
# A second fault whose names overlap the first's (a name below its suffix pattern) is refused
# as a conflict naming the first and the pair of patterns; one for other names on the same
# interface is applied beside it, each name getting its own fault's answer.
api POST "/v1/leases/$LEASE/faults" "$(fault '{"names": ["API.example.com"], "action": "servfail"}')"
fl_assert_eq "$HTTP_STATUS" 409 "overlapping names ($API_BODY)"
grep -qF "conflicts with active fault $NX" <<<"$API_BODY" && grep -qF "'*.Example.COM' and 'API.example.com'" <<<"$API_BODY" ||
	fl_fail "conflict reason: $API_BODY"
fl_log "refused: $(jq -r .error.message <<<"$API_BODY")"
apply "$(fault '{"names": ["other.test"], "action": "servfail"}')"
expect SERVFAIL other.test A
expect NXDOMAIN api.example.com A
expect NOERROR db.internal.other.test A
revert "$FID"
# Over TCP the query is dropped (each retransmission again), the client times out.
expect TIMEOUT db.internal A +tcp
[ "$(counter $NX dropped)" -ge 1 ] || fl_fail "the TCP query was not counted as dropped"
revert $NX
all_resolve
fl_log "nxdomain: matched names and types answered, the rest resolved; revert restores"

# --- the other actions ------------------------------------------------------------------------
for a in servfail:SERVFAIL refused:REFUSED drop:TIMEOUT; do
	apply "$(fault "{\"names\": [\"db.internal\"], \"action\": \"${a%%:*}\"}")"
	expect "${a##*:}" db.internal A
	expect "${a##*:}" db.internal AAAA
	expect NOERROR other.test A
	revert "$FID"
	expect NOERROR db.internal A
	fl_log "${a%%:*}: db.internal gets ${a##*:}, others resolve; revert restores"
done

# --- spoof -------------------------------------------------------------------------------------
log_sync
before=$(grep -c 'db.internal from\|api.example.com from' "$dir/dnsmasq.log" || true)
apply "$(fault '{"names": ["db.internal", "*.example.com"], "action": "spoof", "a": ["10.99.0.1", "10.99.0.2"], "aaaa": ["fd00:99::1"], "ttl": 42}')"
SP=$FID
got=$(records db.internal A | tr '\n' ' ')
fl_assert_eq "$got" "42 A 10.99.0.1 42 A 10.99.0.2 " "db.internal A, spoofed"
got=$(records API.Example.com AAAA | tr '\n' ' ')
fl_assert_eq "$got" "42 AAAA fd00:99::1 " "API.Example.com AAAA, spoofed"
# Another type of a matched name: NOERROR without records (NODATA).
expect NOERROR db.internal MX
[ -z "$(records db.internal MX)" ] || fl_fail "db.internal MX has records: $(records db.internal MX)"
expect NOERROR other.test A
[ "$(answer other.test A)" = 10.81.0.53 ] || fl_fail "other.test A: $(answer other.test A)"
[ "$(answer example.com A)" = 10.81.0.52 ] || fl_fail "example.com A: $(answer example.com A)"
getent_ok db.internal 10.99.0.1 || fl_fail "getent ahostsv4 db.internal: $(c_getent db.internal)"
expect TIMEOUT db.internal A +tcp
log_sync
after=$(grep -c 'db.internal from\|api.example.com from' "$dir/dnsmasq.log" || true)
fl_assert_eq "$after" "$before" "spoofed queries that reached dnsmasq"
api GET "/v1/faults/$SP"
cnt=$(jq -c .fault.status.counters <<<"$API_BODY")
fl_log "spoof over UDP: $cnt"
# Answered: dig's A, AAAA, MX (twice: expect and records) and getent's A (ahostsv4 asks A only).
fl_assert_eq "$(jq .answered <<<"$cnt")" 5 "answered"
revert $SP
all_resolve
fl_log "spoof: A and AAAA records with the TTL, NODATA for other types, others resolved"

# --- an IPv6 resolver ---------------------------------------------------------------------------
fault6() { # fault6 PARAMS_JSON: network.dns towards R's IPv6 address
	printf '{"name": "d", "type": "network.dns", "duration": "10m", "target": {"interface": "%s", "cidrs": ["%s"]}, "params": %s}' \
		"$DEV" $RES6 "$1"
}
AT=$RES6
apply "$(fault6 '{"names": ["db.internal"], "action": "nxdomain"}')"
expect NXDOMAIN db.internal A
expect NXDOMAIN db.internal AAAA
expect NOERROR other.test A
expect TIMEOUT db.internal A +tcp
# The fault names the IPv6 resolver only: the IPv4 one still answers.
AT=$RES expect NOERROR db.internal A
if c_getent db.internal "$dir/resolv6.conf" >/dev/null; then
	fl_fail "getent ahostsv4 db.internal through $RES6 resolved under nxdomain"
fi
fl_assert_eq "$(counter "$FID" answered)" 3 "answered over IPv6 (dig A, AAAA, getent A)"
revert "$FID"
apply "$(fault6 '{"names": ["db.internal"], "action": "spoof", "a": ["10.99.0.3"], "aaaa": ["fd00:99::3", "fd00:99::4"]}')"
# The spoofed answers' UDP checksums, checked in software as they arrive in C (on a veth the
# receiving stack would trust any): packets from port 53 holding the label "internal".
rm -f "$dir/csum.ready" "$dir/csum.stop"
ip netns exec "$C" python3 "$(dirname "$0")/udp6_csum.py" "$DEV" 08696e7465726e616c \
	"$dir/csum.ready" "$dir/csum.stop" 120 >"$dir/csum.out" 2>&1 &
CSUM=$!
for ((i = 0; i < 100; i++)); do
	[ -e "$dir/csum.ready" ] && break
	kill -0 $CSUM 2>/dev/null || fl_fail "udp6_csum.py: $(cat "$dir/csum.out")"
	sleep 0.1
done
[ -e "$dir/csum.ready" ] || fl_fail "udp6_csum.py did not start within 10 s"
got=$(records db.internal AAAA | tr '\n' ' ')
fl_assert_eq "$got" "60 AAAA fd00:99::3 60 AAAA fd00:99::4 " "db.internal AAAA over IPv6, spoofed"
fl_assert_eq "$(answer DB.internal A)" 10.99.0.3 "DB.internal A over IPv6, spoofed"
getent_ok db.internal 10.99.0.3 "$dir/resolv6.conf" ||
	fl_fail "getent ahostsv4 db.internal through $RES6: $(c_getent db.internal "$dir/resolv6.conf")"
[ "$(answer other.test A)" = 10.81.0.53 ] || fl_fail "other.test A over IPv6: $(answer other.test A)"
touch "$dir/csum.stop"
fl_wait_exit _ $CSUM 20
read -r good bad <"$dir/csum.out" || fl_fail "udp6_csum.py: $(cat "$dir/csum.out")"
fl_log "spoofed answers over IPv6: $good with a right UDP checksum, $bad wrong"
[ "$bad" = 0 ] && [ "$good" -ge 3 ] || fl_fail "UDP checksums: $good right, $bad wrong"
revert "$FID"
AT=$RES
all_resolve
fl_log "IPv6 resolver: nxdomain and spoof answered (checksummed), TCP dropped; revert restores"

# spoof's probability, over IPv6: 2,000 queries, the spoofed answers inside the interval.
apply "$(fault6 '{"names": ["db.internal"], "action": "spoof", "a": ["10.99.0.9"], "probability": "30%"}')"
for ((i = 0; i < N; i++)); do echo "db.internal A"; done >"$dir/batch"
out=$(ip netns exec "$C" timeout 300 dig +tries=1 +time=2 +noall +answer @$RES6 -f "$dir/batch" 2>&1 || true)
sp=$(grep -c 'IN[[:space:]]*A[[:space:]]*10.99.0.9$' <<<"$out" || true)
ok=$(grep -c 'IN[[:space:]]*A[[:space:]]*10.81.0.50$' <<<"$out" || true)
fl_assert_eq "$((sp + ok))" $N "queries answered over IPv6"
read -r lo hi < <(fl_binom_interval $N 0.3 $ALPHA)
fl_log "spoof at 30% over IPv6: $sp of $N spoofed; 99.9% interval [$lo, $hi]"
[ "$sp" -ge "$lo" ] && [ "$sp" -le "$hi" ] || fl_fail "$sp spoofed outside [$lo, $hi]"
fl_assert_eq "$(counter "$FID" answered)" "$sp" "answered counter (spoof, IPv6)"
revert "$FID"

# --- probability ------------------------------------------------------------------------------
apply "$(fault '{"names": ["db.internal"], "action": "nxdomain", "probability": "30%"}')"
for ((i = 0; i < N; i++)); do echo "db.internal A"; done >"$dir/batch"
out=$(ip netns exec "$C" timeout 300 dig +tries=1 +time=2 @$RES -f "$dir/batch" 2>&1 || true)
nx=$(grep -c 'status: NXDOMAIN' <<<"$out" || true)
ok=$(grep -c 'status: NOERROR' <<<"$out" || true)
fl_assert_eq "$((nx + ok))" $N "queries answered"
read -r lo hi < <(fl_binom_interval $N 0.3 $ALPHA)
fl_log "probability 30%: $nx of $N NXDOMAIN; 99.9% interval [$lo, $hi]"
[ "$nx" -ge "$lo" ] && [ "$nx" -le "$hi" ] || fl_fail "$nx NXDOMAIN outside [$lo, $hi]"
fl_assert_eq "$(counter "$FID" answered)" "$nx" "answered counter"
fl_assert_eq "$(counter "$FID" matched)" $N "matched counter"
revert "$FID"

# --- a namespace target: an agent in namespace H faults C's queries --------------------------
fl_netns H h
hsock=$dir/h/agent.sock
mkdir -p "$dir/h"
fl_start_agent "$H" "$hsock" "$dir/h/agent.log"
HAGENT=$FL_AGENT_PID
sock_c=$sock
sock=$hsock
lease 600000
api POST "/v1/leases/$LEASE/faults" "$(printf '{"name": "d", "type": "network.dns", "duration": "10m", "target": {"netns": "/run/netns/%s", "interface": "%s", "cidrs": ["%s"]}, "params": {"names": ["*.example.com"], "action": "refused"}}' "$C" "$DEV" $RES)"
[ "$HTTP_STATUS" = 201 ] || fl_fail "apply (netns target): HTTP $HTTP_STATUS: $API_BODY"
FID=$(jq -r .fault.id <<<"$API_BODY")
expect REFUSED api.example.com A
expect NOERROR db.internal A
revert "$FID"
expect NOERROR api.example.com A
kill -TERM "$HAGENT"
fl_wait_exit _ "$HAGENT" 20
sock=$sock_c
fl_log "netns target: an agent in another namespace answers C's queries; revert restores"

# --- the lease outlives the agent: the kernel lets the rule lapse -----------------------------
# 3 s, 15 s in the vm stage (qemu TCG is many times slower: the checks before the lapse must
# fit in the lease).
TTL_S=3
[ -z "${FL_VM:-}" ] || TTL_S=15
lease $((TTL_S * 1000))
apply "$(fault '{"names": ["db.internal"], "action": "nxdomain"}')"
apply "$(fault '{"names": ["other.test"], "action": "spoof", "a": ["10.99.0.7"]}')"
expect NXDOMAIN db.internal A
fl_assert_eq "$(answer other.test A)" 10.99.0.7 "other.test A, spoofed before the crash"
fl_crash_agent "$CAGENT"
expect NXDOMAIN db.internal A
fl_assert_eq "$(answer other.test A)" 10.99.0.7 "other.test A, spoofed after the crash"
sleep "$TTL_S.5"
tc -n "$C" filter show dev "$DEV" egress | grep >/dev/null netfault_out ||
	fl_fail "the filter is gone: the lapse would prove nothing"
all_resolve
fl_assert_eq "$(answer other.test A)" 10.81.0.53 "other.test A once the lease lapsed"
fl_log "agent SIGKILLed: nxdomain and spoof answers stop once the lease lapses, filters still attached"
