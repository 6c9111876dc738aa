#!/usr/bin/env bash
# README command (a): set up, build, start an agent and show what it can do on this host.
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
cleanup() {
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
echo "== stopping the agent (SIGTERM)"
kill -TERM "$agent_pid"
wait "$agent_pid"
agent_pid=
[ ! -e "$sock" ] && echo "agent stopped; socket removed"
