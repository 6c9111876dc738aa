#!/usr/bin/env bash
# scripts/lab.sh: "up" builds the namespace lab (service, backend, resolver, agent, load,
# Prometheus), Prometheus sees both demo targets up and the load reaching the backend through
# the service, which finds it by name through the lab's resolver (its own /etc/resolv.conf,
# bind-mounted in a mount namespace of its own; the host's file untouched); faults through
# the lab's agent show in Prometheus: a partition, 2% loss, and the backend's name answered
# NXDOMAIN (the service fails fast with 502, counted as dns_error, and no 504; it recovers
# after the revert); and "down" leaves nothing: no namespaces, no processes (dnsmasq
# included), no state directory. An "up" that fails half-way removes what it had created.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

fl_require_root
fl_require_cmd ip nsenter curl jq prometheus dnsmasq dig sha256sum
fl_require_build
[ -x "$FL_BUILD_DIR/lab/demo/faultline-demo" ] || fl_fail "faultline-demo not built"

fl_tmpdir run
export FL_LAB_NAME=t$$ FL_LAB_RUN=$run/labs
# shellcheck source=lab/topology.env
. "$FL_SOURCE_DIR/lab/topology.env"
# shellcheck source=tests/integration/lab_lib.sh
. "$(dirname "$0")/lab_lib.sh"

host_resolv=$(sha256sum /etc/resolv.conf)
fl_log "up"
bash "$LAB" up --load-duration 90 --load-rate 20
mapfile -t pids < <(cat "$FL_LAB_RUN/$FL_LAB_NAME"/*.pid)
fl_assert_eq "${#pids[@]}" 6 "processes started (backend, service, dns, agent, prometheus, load)"
fl_assert_eq "$(lab_namespaces | wc -l)" 5 "namespaces"
# The service sees the lab's resolv.conf (in its mount namespace), the host its own.
svc_pid=$(cat "$FL_LAB_RUN/$FL_LAB_NAME/service.pid")
fl_assert_eq "$(cat "/proc/$svc_pid/root/etc/resolv.conf")" \
	"$(printf 'nameserver %s\noptions timeout:1 attempts:2' "$LAB_DNS_ADDR")" \
	"the service's /etc/resolv.conf"
fl_assert_eq "$(sha256sum /etc/resolv.conf)" "$host_resolv" "the host's /etc/resolv.conf"
fl_assert_eq "$(bash "$LAB" exec target dig +short +time=2 +tries=1 "@$LAB_DNS_ADDR" \
	"$LAB_BACKEND_NAME" A)" "$LAB_BACKEND_ADDR" "the lab's resolver's answer"
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

# lab_sum PROMQL: a scalar query's value, 0 when it has none.
lab_sum() { lab_query "$1" | jq -r '.data.result[0].value[1] // 0'; }
fl_log "the backend's name answered NXDOMAIN (what lab-backend-dns.yaml does)"
# The 2% loss's errors age out of the 5 s window first, and the lookups must have been fine.
lab_wait_ratio "< 0.01" 25 "recovery after the loss"
dns_before=$(lab_sum 'sum(demo_backend_requests_total{role="service",result="dns_error"})')
fl_assert_eq "$dns_before" 0 "dns_error calls before the fault"
to_before=$(lab_sum 'sum(demo_requests_total{role="service",code="504"})')
fid=$(lab_api POST "/v1/leases/$lease/faults" "$(printf '{"name": "dns", "type": "network.dns",
	"duration": "60s", "target": {"interface": "eth0", "cidrs": ["%s/32"]},
	"params": {"names": ["%s."], "action": "nxdomain"}}' "$LAB_DNS_ADDR" "$LAB_BACKEND_NAME")" |
	jq -r .fault.id)
# Every call now fails at its lookup: 502 at once.
lab_wait_ratio "> 0.9" 15 "errors while the name does not resolve"
code=$(bash "$LAB" exec client curl -sS --max-time 5 -o "$run/body" -w '%{http_code}' \
	"http://$LAB_TARGET_ADDR:$LAB_SERVICE_PORT/")
fl_assert_eq "$code $(cat "$run/body")" \
	"502 backend name $LAB_BACKEND_NAME did not resolve: unknown node or service" \
	"the service's answer while the name does not resolve"
read -r queries answered < <(lab_api GET "/v1/faults/$fid" |
	jq -r '.fault.status.counters | "\(.queries) \(.answered)"')
lab_api DELETE "/v1/faults/$fid" >/dev/null
[ "$answered" -gt 0 ] || fl_fail "the agent answered none of $queries queries"
lab_wait_ratio "< 0.01" 25 "recovery after the name resolves again"
# The failures were the lookup's (Prometheus has scraped the counters by now: the recovery
# took a 5 s window), and none waited into the backend timeout.
dns_errors=$(lab_sum 'sum(demo_backend_requests_total{role="service",result="dns_error"})')
[ "$dns_errors" -gt 0 ] || fl_fail "no dns_error call counted"
fl_assert_eq "$(lab_sum 'sum(demo_requests_total{role="service",code="504"})')" "$to_before" \
	"504s while the name did not resolve"
fl_log "NXDOMAIN: $answered of $queries queries answered by the agent, $dns_errors calls failed as dns_error, no 504"

fl_log "down"
bash "$LAB" down
fl_assert_eq "$(lab_namespaces | wc -l)" 0 "namespaces left"
lab_assert_gone "${pids[@]}"
[ ! -e "$FL_LAB_RUN/$FL_LAB_NAME" ] || fl_fail "state directory left"
fl_assert_eq "$(sha256sum /etc/resolv.conf)" "$host_resolv" "the host's /etc/resolv.conf after down"
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
