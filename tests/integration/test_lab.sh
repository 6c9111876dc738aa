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
# shellcheck source=lab/topology.env
. "$FL_SOURCE_DIR/lab/topology.env"
# shellcheck source=tests/integration/lab_lib.sh
. "$(dirname "$0")/lab_lib.sh"

fl_log "up"
bash "$LAB" up --load-duration 60 --load-rate 20
mapfile -t pids < <(cat "$FL_LAB_RUN/$FL_LAB_NAME"/*.pid)
fl_assert_eq "${#pids[@]}" 5 "processes started (backend, service, agent, prometheus, load)"
fl_assert_eq "$(lab_namespaces | wc -l)" 4 "namespaces"
# The agent answers on the lab's socket, from the target namespace.
info=$(lab_api GET /v1/info)
[ "$(jq -r .version <<<"$info")" != null ] || fl_fail "agent info: $info"
fl_assert_eq "$(bash "$LAB" env | sed -n 's/^LAB_PROMETHEUS_URL=//p')" \
	"http://$LAB_CLIENT_ADDR:$LAB_PROMETHEUS_PORT" "Prometheus's address in lab.sh env"

fl_log "Prometheus scrapes both targets and sees the load pass through"
lab_wait_flow
bash "$LAB" status >/dev/null || fl_fail "status reports a problem"

# Guardrails need something real to watch: faults on the target's link to the backend,
# through the lab's agent, must show in what Prometheus reports.
lab_lease lease

fl_log "a partition of target and backend breaks the service (what lab-backend-partition.yaml does)"
fid=$(lab_api POST "/v1/leases/$lease/faults" '{"name": "partition", "type": "network.partition",
	"duration": "60s", "target": {"interface": "eth0", "cidrs": ["10.213.0.11/32"]}}' |
	jq -r .fault.id)
# Every request now waits the backend timeout (2.5 s) for its 504; Prometheus needs a scrape
# or two on top.
lab_wait_ratio "> 0.5" 20 "errors during the partition"
lab_api DELETE "/v1/faults/$fid" >/dev/null
lab_wait_ratio "< 0.01" 25 "recovery after the partition"

fl_log "2% loss towards the backend is absorbed (what lab-backend-loss.yaml expects)"
fid=$(lab_api POST "/v1/leases/$lease/faults" '{"name": "loss", "type": "network.loss",
	"duration": "60s", "target": {"interface": "eth0", "direction": "egress",
	"cidrs": ["10.213.0.11/32"], "ports": [8081], "protocol": "tcp"},
	"params": {"probability": "2%"}}' | jq -r .fault.id)
# A request fails only when TCP needs more than 2.5 s to get it through (a SYN lost twice:
# p = 0.0004), so a 5 s window above the guardrail's 5% (of about 100 requests) is out of
# reach of chance; sampled for 10 s.
worst=0
for ((i = 0; i < 20; i++)); do
	r=$(lab_ratio)
	[ "$r" = none ] && fl_fail "no error ratio during the loss"
	worst=$(awk -v a="$worst" -v b="$r" 'BEGIN { print (b > a) ? b : a }')
	sleep 0.5
done
read -r matched dropped < <(lab_api GET "/v1/faults/$fid" |
	jq -r '.fault.status.counters | "\(.matched) \(.dropped)"')
lab_api DELETE "/v1/faults/$fid" >/dev/null
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
lab_assert_gone "${pids[@]}"
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
