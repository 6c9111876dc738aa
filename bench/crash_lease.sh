#!/usr/bin/env bash
# Nothing outlives the agent: per fault type, the time from SIGKILL of the agent to the fault
# stopped, with no agent restart, side by side with the lease TTL (the promise: within the
# TTL; docs/api.md "Crash safety").
#
#   sudo bench/crash_lease.sh [--quick] [--rows FILE]
#
# Each round: a fresh agent, a lease of TTL_MS, the fault, a renewal, then SIGKILL right after
# the renewal's answer (so the lease has its whole TTL left: the worst case). Two kinds:
#   kernel    network faults in the eBPF data path, with the watchdog SIGKILLed too: nothing in
#             user space is left, the program lets the rules lapse at the lease deadline.
#             "Stopped" is the first ping reply (every 5 ms) from the faulted host, or for
#             duplication the last duplicate; for network.dns spoof (with dnsmasq in B)
#             the first query dnsmasq answers again; figure ~ TTL.
#   watchdog  the agent alone is SIGKILLed: its watchdog undoes the journal at once. "Stopped"
#             is the qdisc tree and IFB devices back as before (bandwidth), the paused process
#             running (pause), the stressor's cgroup or file gone (stress.*), polled every 2 ms.
# Medians over ROUNDS rounds (1 with --quick). Rows "crash|figure|value|reference|ratio" go
# to FILE when given (bench/run.sh reads them); progress goes to stderr. Everything (namespaces,
# agents, the victim, files) is removed at exit, also on failure; every wait is bounded.
. "$(dirname "$0")/lib.sh"
bench_options "$@"
fl_require_root
fl_require_cmd curl jq tc ip nsenter setsid ping pgrep awk
fl_require_build
ROUNDS=3
[ $QUICK = 1 ] && ROUNDS=1
TTL_MS=2000

say() { echo "  [crash] $*" >&2; }
row() { bench_row crash "$1" "$2 ms" "$3 ms" "$(ratio "$2" "$3")"; } # row FIGURE VALUE_MS REF_MS
# Milliseconds (with a decimal) of the wall clock, without forking.
now_ms() { local t=$EPOCHREALTIME; awk -v t="$t" 'BEGIN { printf "%.1f", t * 1000 }'; }

fl_lab 10.95.0
start_agent() {
	fl_start_agent "$A" "$sock" "$dir/agent.log"
	fl_watchdog WD "$FL_AGENT_PID"
}
lease_apply() { # lease_apply BODY: a lease of TTL_MS with the fault under it
	fl_lease "$TTL_MS"
	fl_api POST "/v1/leases/$LEASE/faults" "$1"
	APPLY_STATUS=$HTTP_STATUS
}

setsid sleep 3600 &
VICTIM=$!
fl_on_exit "kill -KILL $VICTIM"
for ((i = 0; i < 100; i++)); do [ "$(fl_proc_state "$VICTIM")" = S ] && break; sleep 0.05; done

# --- kernel: the BPF program lets the rules lapse at the lease deadline ---
net() { printf '{"name": "b", "type": "%s", "duration": "1h", "target": {"interface": "%s", "direction": "%s", "cidrs": ["10.95.0.2"], "protocol": "icmp"}, "params": %s}' "$1" "$DEV" "$2" "$3"; }
KERNEL=(
	"network.partition|$(net network.partition both '{}')"
	"network.loss 100%|$(net network.loss egress '{"probability": "100%"}')"
	"network.corruption 100%|$(net network.corruption egress '{"probability": "100%"}')"
	"network.duplication 100%|$(net network.duplication egress '{"probability": "100%"}')"
)
for f in "${KERNEL[@]}"; do
	name=${f%%|*} body=${f#*|}
	vals=()
	for ((r = 0; r < ROUNDS; r++)); do
		start_agent
		lease_apply "$body"
		[ "$APPLY_STATUS" = 201 ] || fl_fail "apply $name: $API_BODY"
		ip netns exec "$A" ping -D -n -i 0.005 -W 1 -w $((TTL_MS / 1000 + 5)) 10.95.0.2 >"$dir/ping" 2>&1 &
		pinger=$!
		sleep 0.3
		fl_renew
		kill_ms=$(now_ms)
		kill -KILL "$WD" "$FL_AGENT_PID"
		wait "$FL_AGENT_PID" 2>/dev/null || true
		fl_wait_exit rc "$pinger" $((TTL_MS / 1000 + 15))
		if [ "${name#network.duplication}" != "$name" ]; then
			stop=$(awk '/bytes from/ && /DUP!/ { t = substr($1, 2, length($1) - 2) * 1000 } END { printf "%.1f", t }' "$dir/ping")
		else
			stop=$(awk -v k="$kill_ms" '/bytes from/ { t = substr($1, 2, length($1) - 2) * 1000; if (t >= k) { printf "%.1f", t; exit } }' "$dir/ping")
		fi
		[ -n "$stop" ] || fl_fail "$name: traffic never came back: $(tail -2 "$dir/ping")"
		vals+=("$(awk -v a="$stop" -v b="$kill_ms" 'BEGIN { printf "%.0f", a - b }')")
		fl_cleanup "$A"
		say "$name round $r: ${vals[-1]} ms"
	done
	row "$name: SIGKILL of agent + watchdog to traffic again (kernel)" "$(echo "${vals[@]}" | median)" "$TTL_MS"
done

# network.dns spoof, kernel alone: the forged answers stop at the lease deadline. dnsmasq in B
# answers db.internal; "stopped" is the first answer from it again, asked by dns_rtt (one
# query, a process each, so every few ms). Skipped (a row says so) without dnsmasq.
RTT=$FL_BUILD_DIR/bench/dns_rtt
if command -v dnsmasq >/dev/null && [ -x "$RTT" ]; then
	printf '10.95.0.50 db.internal\n' >"$dir/hosts"
	ip netns exec "$B" dnsmasq --keep-in-foreground --no-resolv --no-hosts --addn-hosts="$dir/hosts" \
		--listen-address=10.95.0.2 --bind-interfaces --pid-file= --user=root --group=root \
		>"$dir/dnsmasq.out" 2>&1 &
	fl_on_exit "kill -KILL $!"
	ask() { nsenter --net="/run/netns/$A" "$RTT" 10.95.0.2 53 db.internal A 1 0 1000 2>&1 >/dev/null | awk '{ print $NF }'; }
	for ((i = 0; i < 50; i++)); do [ "$(ask)" = 10.95.0.50 ] && break; sleep 0.1; done
	[ "$(ask)" = 10.95.0.50 ] || fl_fail "dnsmasq in B does not answer: $(cat "$dir/dnsmasq.out")"
	name="network.dns spoof"
	vals=()
	for ((r = 0; r < ROUNDS; r++)); do
		start_agent
		lease_apply "$(printf '{"name": "b", "type": "network.dns", "duration": "1h", "target": {"interface": "%s", "cidrs": ["10.95.0.2"]}, "params": {"names": ["db.internal"], "action": "spoof", "a": ["10.99.0.1"]}}' "$DEV")"
		[ "$APPLY_STATUS" = 201 ] || fl_fail "apply $name: $API_BODY"
		[ "$(ask)" = 10.99.0.1 ] || fl_fail "$name: the answer is not spoofed: $(ask)"
		fl_renew
		kill_ms=$(now_ms)
		kill -KILL "$WD" "$FL_AGENT_PID"
		wait "$FL_AGENT_PID" 2>/dev/null || true
		stop=
		for ((i = 0; i < 5000; i++)); do
			got=$(ask)
			if [ "$got" = 10.95.0.50 ]; then
				stop=$(now_ms)
				break
			fi
			[ "$got" = 10.99.0.1 ] || fl_fail "$name: neither answer: $got"
			awk -v n="$(now_ms)" -v k="$kill_ms" -v t=$TTL_MS 'BEGIN { exit !(n - k > t + 10000) }' && break
		done
		[ -n "$stop" ] || fl_fail "$name: still spoofed 10 s past the lease TTL"
		vals+=("$(awk -v a="$stop" -v b="$kill_ms" 'BEGIN { printf "%.0f", a - b }')")
		fl_cleanup "$A"
		say "$name round $r: ${vals[-1]} ms"
	done
	row "$name: SIGKILL of agent + watchdog to the resolver answering again (kernel)" "$(echo "${vals[@]}" | median)" "$TTL_MS"
else
	bench_row crash "network.dns spoof (kernel): skipped: needs dnsmasq and dns_rtt" n/a n/a n/a
fi

# --- watchdog: what eBPF cannot undo ---
pristine_qdisc=$(tc -n "$A" qdisc show dev "$DEV")
pristine_links=$(ip -n "$A" -o link show type ifb)
gone() {
	case $1 in
	net) [ "$(tc -n "$A" qdisc show dev "$DEV")" = "$pristine_qdisc" ] &&
		[ "$(ip -n "$A" -o link show type ifb)" = "$pristine_links" ] &&
		[ -z "$(tc -n "$A" filter show dev "$DEV" egress)" ] ;;
	pause) [ "$(fl_proc_state "$VICTIM")" = S ] ;;
	path) [ ! -e "$MADE" ] ;;
	esac
}
bw() { printf '{"name": "b", "type": "network.bandwidth", "duration": "1h", "target": {"interface": "%s", "direction": "%s", "cidrs": ["10.95.0.2"]}, "params": {"rate": "1mbit"}}' "$DEV" "$1"; }
stress() { printf '{"name": "b", "type": "%s", "duration": "1h", "params": %s}' "$1" "$2"; }
WATCHDOG=(
	"network.partition|net|$(net network.partition both '{}')"
	"network.bandwidth egress|net|$(bw egress)"
	"network.bandwidth ingress|net|$(bw ingress)"
	"network.latency edt|net|$(printf '{"name": "b", "type": "network.latency", "duration": "1h", "target": {"interface": "%s", "direction": "egress", "cidrs": ["10.95.0.2"]}, "params": {"delay": "20ms", "mechanism": "edt"}}' "$DEV")"
	"process.pause|pause|{\"name\": \"b\", \"type\": \"process.pause\", \"duration\": \"1h\", \"target\": {\"pid\": $VICTIM, \"all\": true}}"
	"stress.cpu|path|$(stress stress.cpu '{"workers": 2, "load": "10%"}')"
	"stress.memory|path|$(stress stress.memory '{"size": "32MiB"}')"
	"stress.fds|path|$(stress stress.fds '{"count": 1000}')"
	"stress.io|path|$(stress stress.io "{\"path\": \"$dir/io.dat\", \"rate\": \"4MiB/s\"}")"
	"stress.disk_fill|path|$(stress stress.disk_fill "{\"path\": \"$dir/fill.dat\", \"size\": \"8MiB\"}")"
)
for f in "${WATCHDOG[@]}"; do
	IFS='|' read -r name kind body <<<"$f"
	vals=()
	for ((r = 0; r < ROUNDS; r++)); do
		start_agent
		lease_apply "$body"
		if [ "$APPLY_STATUS" = 503 ]; then
			why=$(jq -r .error.message <<<"$API_BODY")
			kill -TERM "$FL_AGENT_PID"
			fl_wait_exit rc "$FL_AGENT_PID" 30
			break
		fi
		[ "$APPLY_STATUS" = 201 ] || fl_fail "apply $name: $API_BODY"
		MADE=$(fl_journal_records "$state/journal" |
			jq -r '.undo | (.cgroup // empty), (.file.path // empty)' | head -1)
		[ "$kind" != path ] || [ -n "$MADE" ] || fl_fail "$name: nothing named in the journal"
		! gone "$kind" || fl_fail "$name: the fault shows no effect"
		fl_renew
		t0=$(now_us)
		kill -KILL "$FL_AGENT_PID"
		wait "$FL_AGENT_PID" 2>/dev/null || true
		for ((i = 0; i < 5000; i++)); do
			gone "$kind" && break
			sleep 0.002
		done
		gone "$kind" || fl_fail "$name: still in force long after the SIGKILL"
		vals+=("$((($(now_us) - t0) / 1000))")
		fl_wait_gone "$WD" 10
		say "$name round $r: ${vals[-1]} ms"
	done
	if [ ${#vals[@]} = 0 ]; then
		bench_row crash "$name: skipped: $why" n/a n/a n/a
		continue
	fi
	row "$name: SIGKILL of the agent to undone by its watchdog" "$(echo "${vals[@]}" | median)" "$TTL_MS"
done
