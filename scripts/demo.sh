#!/usr/bin/env bash
# README command (a): set up, build, start an agent and show what it can do on this host:
# its mechanism probe, the example experiments validated and planned, and one real fault
# (process.pause of a demo process) applied over the API under a lease, observed, and
# reverted by the agent when its duration ends.
# Everything it starts is stopped and removed on exit, also on failure or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
	echo "demo.sh: run as root (sudo $0): the agent needs root to probe the kernel" >&2
	exit 1
fi

echo "== setup and build"
bash scripts/setup.sh
bash scripts/build.sh

work=$(mktemp -d /tmp/faultline-demo.XXXXXX)
agent_pid=
victim_pid=
cleanup() {
	if [ -n "$victim_pid" ]; then
		kill -KILL "$victim_pid" 2>/dev/null || true
		wait "$victim_pid" 2>/dev/null || true
	fi
	if [ -n "$agent_pid" ] && kill -0 "$agent_pid" 2>/dev/null; then
		kill -TERM "$agent_pid"
		wait "$agent_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

sock=$work/agent.sock
export FAULTLINE_AGENT=unix://$sock

echo "== starting faultlined on $sock"
build/agent/faultlined --socket "$sock" --state-dir "$work/state" --audit-log "$work/audit.log" \
	2>"$work/agent.log" &
agent_pid=$!
for ((i = 0; i < 600; i++)); do
	[ -S "$sock" ] && break
	kill -0 "$agent_pid" 2>/dev/null || { cat "$work/agent.log" >&2; exit 1; }
	sleep 0.1
done
[ -S "$sock" ] || { echo "demo.sh: the agent did not start" >&2; exit 1; }

echo
echo "== faultctl agent info"
build/ctl/faultctl agent info

echo
echo "== faultctl validate experiments/*"
build/ctl/faultctl validate experiments/*

echo
echo "== faultctl plan experiments/cache-pause.yaml (a dry run: nothing is applied)"
build/ctl/faultctl plan experiments/cache-pause.yaml

echo
echo "== a real fault: pause a demo process for 2 s under a 5 s lease"
setsid sleep 300 &
victim_pid=$!
api() { curl -sS --max-time 10 --unix-socket "$sock" -X "$1" ${3:+--data-binary "$3"} "http://agent$2"; }
state() { awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$victim_pid/stat"; }
lease=$(api POST /v1/leases '{"ttl_ms": 5000}' | jq -r .lease.id)
echo "lease $lease; demo process $victim_pid is in state $(state)"
api POST "/v1/leases/$lease/faults" "{\"name\": \"demo-pause\", \"type\": \"process.pause\",
	\"duration\": \"2s\", \"target\": {\"pid\": $victim_pid, \"all\": true}}" |
	jq -c '.fault | {id, type, state, status}'
echo "demo process state while the fault is active: $(state) (T = stopped)"
for ((i = 0; i < 50; i++)); do
	[ "$(state)" = T ] || break
	sleep 0.1
done
echo "after the fault's duration: $(state) (S = running again); journal records left:" \
	"$(find "$work/state/journal" -name '*.json' | wc -l)"
echo "events:"
curl -sS --max-time 1 --unix-socket "$sock" "http://agent/v1/events?since=0" 2>/dev/null |
	jq -c '{seq, type, fault, reason}' || true

echo
echo "== stopping the agent (SIGTERM)"
kill -TERM "$agent_pid"
wait "$agent_pid"
agent_pid=
[ ! -e "$sock" ] && echo "agent stopped; socket removed"
