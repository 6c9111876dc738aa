#!/usr/bin/env bash
# scripts/lab.sh: "up" builds the namespace lab (service, backend, agent, load, Prometheus),
# Prometheus sees both demo targets up and the load reaching the backend through the service,
# and "down" leaves nothing: no namespaces, no processes, no state directory. An "up" that
# fails half-way removes what it had created.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

fl_require_root
fl_require_cmd ip nsenter curl jq prometheus
fl_require_build
[ -x "$FL_BUILD_DIR/lab/demo/faultline-demo" ] || fl_fail "faultline-demo not built"

fl_tmpdir run
export FL_LAB_NAME=t$$ FL_LAB_RUN=$run/labs
LAB=$FL_SOURCE_DIR/scripts/lab.sh
# Should anything below fail, the lab goes too (down is idempotent).
fl_on_exit "bash '$LAB' down"

lab_namespaces() { ip netns list | awk -v p="fl-$FL_LAB_NAME-" 'index($1, p) == 1 { print $1 }'; }

fl_log "up"
bash "$LAB" up --load-duration 60 --load-rate 20
mapfile -t pids < <(cat "$FL_LAB_RUN/$FL_LAB_NAME"/*.pid)
fl_assert_eq "${#pids[@]}" 5 "processes started (backend, service, agent, prometheus, load)"
fl_assert_eq "$(lab_namespaces | wc -l)" 4 "namespaces"
# The agent answers on the lab's socket, from the target namespace.
sock=$FL_LAB_RUN/$FL_LAB_NAME/agent.sock
info=$(curl -fsS --max-time 5 --unix-socket "$sock" http://agent/v1/info)
[ "$(jq -r .version <<<"$info")" != null ] || fl_fail "agent info: $info"

prom=$(bash "$LAB" env | sed -n 's/^LAB_PROMETHEUS_URL=//p')
query() { bash "$LAB" exec client curl -fsS --max-time 2 -G --data-urlencode "query=$1" \
	"$prom/api/v1/query"; }
fl_log "Prometheus scrapes both targets and sees the load pass through"
ok=0
# Scrapes run every second; 15 s leaves room for a loaded machine.
for ((i = 0; i < 75; i++)); do
	up=$(query 'sum(up{job=~"demo-service|demo-backend"})' | jq -r '.data.result[0].value[1] // 0')
	# Load answered 200 by the service means the backend answered too: both counters grow.
	flow=$(query 'count(increase(demo_requests_total{code="200"}[10s]) > 0)' |
		jq -r '.data.result[0].value[1] // 0')
	if [ "$up" = 2 ] && [ "$flow" = 2 ]; then
		ok=1
		break
	fi
	sleep 0.2
done
bash "$LAB" status || true
fl_assert_eq "$ok" 1 "both targets up ($up) and 200s on service and backend ($flow)"
bash "$LAB" status >/dev/null || fl_fail "status reports a problem"

# Guardrails need something real to watch: faults on the target's link to the backend,
# through the lab's agent, must show in what Prometheus reports.
api() { # METHOD PATH [BODY]: prints the body; fails the test on a non-2xx answer
	curl -fsS --max-time 10 --unix-socket "$sock" -X "$1" \
		${3:+-H 'Content-Type: application/json' --data-binary "$3"} "http://agent$2"
}
ratio() { # the service's error ratio over the last 5 s, as the lab experiments' guardrail
	query 'sum(rate(demo_requests_total{role="service",code!="200"}[5s])) / sum(rate(demo_requests_total{role="service"}[5s]))' |
		jq -r '.data.result[0].value[1] // "none"'
}
wait_ratio() { # AWK_CONDITION SECONDS WHAT
	local i r
	for ((i = 0; i < $2 * 5; i++)); do
		r=$(ratio)
		[ "$r" != none ] && awk -v r="$r" "BEGIN { exit !(r $1) }" && return 0
		sleep 0.2
	done
	fl_fail "$3: error ratio $r after $2 s"
}
lease=$(api POST /v1/leases '{"ttl_ms": 60000}' | jq -r .lease.id)
fl_on_exit "curl -sS --max-time 5 --unix-socket '$sock' -X DELETE http://agent/v1/leases/$lease"

fl_log "a partition of target and backend breaks the service (what lab-backend-partition.yaml does)"
fid=$(api POST "/v1/leases/$lease/faults" '{"name": "partition", "type": "network.partition",
	"duration": "60s", "target": {"interface": "eth0", "cidrs": ["10.213.0.11/32"]}}' |
	jq -r .fault.id)
# Every request now waits the backend timeout (2.5 s) for its 504; Prometheus needs a scrape
# or two on top.
wait_ratio "> 0.5" 20 "errors during the partition"
api DELETE "/v1/faults/$fid" >/dev/null
wait_ratio "< 0.01" 25 "recovery after the partition"

fl_log "2% loss towards the backend is absorbed (what lab-backend-loss.yaml expects)"
fid=$(api POST "/v1/leases/$lease/faults" '{"name": "loss", "type": "network.loss",
	"duration": "60s", "target": {"interface": "eth0", "direction": "egress",
	"cidrs": ["10.213.0.11/32"], "ports": [8081], "protocol": "tcp"},
	"params": {"probability": "2%"}}' | jq -r .fault.id)
# A request fails only when TCP needs more than 2.5 s to get it through (a SYN lost twice:
# p = 0.0004), so a 5 s window above the guardrail's 5% (of about 100 requests) is out of
# reach of chance; sampled for 10 s.
worst=0
for ((i = 0; i < 20; i++)); do
	r=$(ratio)
	[ "$r" = none ] && fl_fail "no error ratio during the loss"
	worst=$(awk -v a="$worst" -v b="$r" 'BEGIN { print (b > a) ? b : a }')
	sleep 0.5
done
read -r matched dropped < <(api GET "/v1/faults/$fid" |
	jq -r '.fault.status.counters | "\(.matched) \(.dropped)"')
api DELETE "/v1/faults/$fid" >/dev/null
awk -v w="$worst" 'BEGIN { exit !(w < 0.05) }' || fl_fail "error ratio reached $worst under 2% loss"
# The loss was real. With n packets matched, none dropped has probability 0.98^n: below
# 1e-4 from n = 456 on; a slower run with fewer packets only checks that some matched.
[ "$matched" -gt 0 ] || fl_fail "the loss fault matched no packet"
if [ "$matched" -ge 456 ] && [ "$dropped" -eq 0 ]; then
	fl_fail "2% loss dropped none of $matched packets"
fi
fl_log "worst error ratio under 2% loss: $worst; packets matched $matched, dropped $dropped"

fl_log "down"
bash "$LAB" down
fl_assert_eq "$(lab_namespaces | wc -l)" 0 "namespaces left"
# A zombie has exited; it waits only for its new parent (pid 1) to reap it.
for p in "${pids[@]}"; do
	case $(ps -o stat= -p "$p" 2>/dev/null || true) in
	"" | Z*) ;;
	*) fl_fail "process $p still runs: $(ps -o pid=,stat=,args= -p "$p")" ;;
	esac
done
[ ! -e "$FL_LAB_RUN/$FL_LAB_NAME" ] || fl_fail "state directory left"
bash "$LAB" status >/dev/null && fl_fail "status of a lab that is down succeeded"

fl_log "an up that fails half-way removes what it created"
fl_tmpdir fake
mkdir -p "$fake/lab/demo" "$fake/agent"
printf '#!/bin/sh\nexit 1\n' >"$fake/lab/demo/faultline-demo"
chmod +x "$fake/lab/demo/faultline-demo"
if FL_BUILD_DIR=$fake bash "$LAB" up --no-agent 2>"$run/up.err"; then
	fl_fail "up with a failing service succeeded"
fi
grep -q "backend exited while starting" "$run/up.err" || fl_fail "reason: $(cat "$run/up.err")"
fl_assert_eq "$(lab_namespaces | wc -l)" 0 "namespaces left after the failed up"
[ ! -e "$FL_LAB_RUN/$FL_LAB_NAME" ] || fl_fail "state directory left after the failed up"
