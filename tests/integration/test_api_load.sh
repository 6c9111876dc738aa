#!/usr/bin/env bash
# Load on the agent API:
#   - 100 concurrent clients, each making 20 keep-alive requests (info, leases, faults) while
#     10 more hold event streams open: every request answered 200, and once they are gone the
#     agent holds exactly the file descriptors it held before;
#   - 1,000 apply/revert cycles of a real fault (process.pause of a test process): every one
#     succeeds, no fd is leaked, and memory is stable: the heap the agent holds (GET /v1/info,
#     mallinfo2) grows by less than 64 KiB over the last 400 cycles (after the event history,
#     1024 entries, has filled), while a leak of a fault record per cycle (2 KiB or more with
#     its spec, JSON and timer) would grow it by 800 KiB. RSS is logged, not bounded: it also
#     moves with the allocator's fragmentation (measured: it levels off by cycle ~2,250).
#     The cycles share one keep-alive connection (socat as a coprocess) so they take seconds.
. "$(dirname "$0")/lib.sh"
fl_require_root
fl_require_cmd curl jq setsid
fl_require_build

fl_netns ns load
fl_tmpdir dir
sock=$dir/agent.sock
fl_start_agent "$ns" "$sock" "$dir/agent.log"
AGENT=$FL_AGENT_PID

fds() { find "/proc/$AGENT/fd" -mindepth 1 -maxdepth 1 | wc -l; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$AGENT/status"; }
U=http://agent

base_fds=$(fds)
fl_log "agent holds $base_fds fds, RSS $(rss_kib) KiB"

# --- 100 concurrent clients, 10 event streams -------------------------------------------
for ((i = 0; i < 10; i++)); do
	timeout 60 curl -sS -N --unix-socket "$sock" "$U/v1/events" >"$dir/events.$i" 2>&1 &
	eval "stream_$i=$!"
done
urls=()
for ((j = 0; j < 20; j++)); do
	case $((j % 3)) in
	0) urls+=("$U/v1/info") ;;
	1) urls+=("$U/v1/leases") ;;
	2) urls+=("$U/v1/faults") ;;
	esac
done
clients=()
for ((i = 0; i < 100; i++)); do
	timeout 60 curl -sS --unix-socket "$sock" -o /dev/null -w '%{http_code}\n' "${urls[@]}" \
		>"$dir/client.$i" 2>&1 &
	clients+=($!)
done
for p in "${clients[@]}"; do
	wait "$p" || fl_fail "a client failed: $(cat "$dir"/client.* | grep -v '^200$' | head -3)"
done
answers=$(cat "$dir"/client.* | grep -c '^200$')
fl_assert_eq "$answers" 2000 "requests answered 200 by 100 concurrent clients"
streams_fds=$(fds)
((streams_fds >= base_fds + 10)) || fl_fail "the 10 event streams are not open ($streams_fds fds)"
for ((i = 0; i < 10; i++)); do
	eval "kill \$stream_$i"
	eval "wait \$stream_$i" 2>/dev/null || true
done
for ((i = 0; i < 50; i++)); do
	[ "$(fds)" -eq "$base_fds" ] && break
	sleep 0.1
done
fl_assert_eq "$(fds)" "$base_fds" "agent fds after 110 clients came and went"

# --- 1,000 apply/revert cycles ------------------------------------------------------------
setsid sleep 3600 &
victim=$!
body=$(printf '{"name": "p", "type": "process.pause", "duration": "10m", "target": {"pid": %d, "all": true}}' "$victim")
lease=$(curl -sS --unix-socket "$sock" -X POST -H 'Content-Type: application/json' \
	--data-binary '{"ttl_ms": 600000}' "$U/v1/leases" | jq -r .lease.id)
[ -n "$lease" ] && [ "$lease" != null ] || fl_fail "no lease"
# One keep-alive connection for all 2,000 requests: socat as a coprocess, raw HTTP/1.1.
coproc CONN { socat - "UNIX-CONNECT:$sock"; }
# bash unsets CONN_PID once it reaps the coprocess: keep our own copy.
conn_pid=$CONN_PID
fl_on_exit "kill $conn_pid"
request() { # request METHOD TARGET BODY: sets STATUS and BODY from the answer
	local line len=0
	printf '%s %s HTTP/1.1\r\nHost: agent\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
		"$1" "$2" "${#3}" "$3" >&"${CONN[1]}"
	IFS= read -r -t 10 line <&"${CONN[0]}" || fl_fail "no answer to $1 $2"
	line=${line%$'\r'}
	STATUS=${line#HTTP/1.1 }
	STATUS=${STATUS%% *}
	while IFS= read -r -t 10 line <&"${CONN[0]}"; do
		line=${line%$'\r'}
		[ -z "$line" ] && break
		case "${line,,}" in content-length:*) len=${line#*: } ;; esac
	done
	BODY=
	((len == 0)) || IFS= read -r -t 10 -N "$len" BODY <&"${CONN[0]}" || fl_fail "short body for $1 $2"
}
for ((c = 1; c <= 1000; c++)); do
	request POST "/v1/leases/$lease/faults" "$body"
	[ "$STATUS" = 201 ] || fl_fail "cycle $c: apply answered $STATUS: $BODY"
	[[ $BODY =~ \"id\":\ ?\"(f-[0-9a-f]+)\" ]] || fl_fail "cycle $c: no fault id in $BODY"
	request DELETE "/v1/faults/${BASH_REMATCH[1]}" ""
	[ "$STATUS" = 200 ] || fl_fail "cycle $c: revert answered $STATUS: $BODY"
	if ((c == 600 || c == 1000)); then
		# After 512 cycles the event history (1024 events) is full and stays so.
		request GET /v1/info ""
		[[ $BODY =~ \"heap_in_use_bytes\":\ ?([0-9]+) ]] || fl_fail "no heap figure in /v1/info"
		heap[c]=${BASH_REMATCH[1]}
		rss[c]=$(rss_kib)
	fi
done
grow=$((heap[1000] - heap[600]))
fl_log "heap in use after 600 cycles ${heap[600]} B, after 1000 ${heap[1000]} B ($grow B); RSS ${rss[600]} KiB, ${rss[1000]} KiB"
fl_assert_eq "$(curl -sS --unix-socket "$sock" "$U/v1/faults" | jq '.faults | length')" 0 "faults left"
kill "$conn_pid" 2>/dev/null || true
wait "$conn_pid" 2>/dev/null || true
# The journal's write-ahead log is opened at the agent's first change and kept open (one fd,
# docs/api.md "Crash safety"): anything else beyond the start's count is a leak.
wal_fds() { find "/proc/$AGENT/fd" -mindepth 1 -maxdepth 1 -lname '*.wal' | wc -l; }
((wal_fds_now = $(wal_fds))) || true
((wal_fds_now <= 1)) || fl_fail "the agent holds $wal_fds_now journal logs open"
fl_log "journal logs held open after the cycles: $wal_fds_now"
for ((i = 0; i < 50; i++)); do
	[ "$(fds)" -eq "$((base_fds + wal_fds_now))" ] && break
	sleep 0.1
done
fl_assert_eq "$(fds)" "$((base_fds + wal_fds_now))" "agent fds after 1000 cycles (with $wal_fds_now journal log)"
((grow < 65536)) || fl_fail "the heap in use grew by $grow B over 400 cycles"
state=$(awk '{ print $3 }' "/proc/$victim/stat")
fl_assert_eq "$state" S "the victim runs after the last revert"
