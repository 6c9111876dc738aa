#!/usr/bin/env bash
# Prometheus guardrails against a real Prometheus server (Debian package), started here on
# a free loopback port with its own config and storage, scraping itself and http_testsrv
# every second. A threshold guardrail and an error-budget burn rate from PromQL must stay
# quiet while the test service is healthy and breach once it answers 503.
. "$(dirname "$0")/lib.sh"
fl_require_cmd curl jq ss
command -v prometheus >/dev/null 2>&1 || fl_skip "needs 'prometheus' (run scripts/setup.sh)"
fl_require_build
SRV=$FL_BUILD_DIR/tests/integration/http_testsrv
[ -x "$SRV" ] || fl_fail "http_testsrv not built in $FL_BUILD_DIR"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy

fl_tmpdir dir
"$SRV" "$dir/port" 280 &
for ((i = 0; i < 100; i++)); do
	[ -s "$dir/port" ] && break
	sleep 0.1
done
[ -s "$dir/port" ] || fl_fail "http_testsrv did not start within 10 s"
sport=$(cat "$dir/port")
base=http://127.0.0.1:$sport
set_srv() { curl -sf --max-time 5 "$base/control?$1" >/dev/null || fl_fail "cannot set $1"; }

# A free loopback port for Prometheus: the first of a pid-dependent sequence nobody listens on.
pport=
for ((i = 0; i < 200; i++)); do
	p=$((20000 + ($$ * 7 + i * 13) % 30000))
	if ! ss -Hltn "sport = :$p" | grep >/dev/null .; then
		pport=$p
		break
	fi
done
[ -n "$pport" ] || fl_fail "no free loopback port found"
prom=http://127.0.0.1:$pport

cat >"$dir/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
scrape_configs:
  - job_name: prometheus
    static_configs: [{targets: ['127.0.0.1:$pport']}]
  - job_name: testsrv
    static_configs: [{targets: ['127.0.0.1:$sport']}]
EOF
prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
	--web.listen-address="127.0.0.1:$pport" --log.level=warn >"$dir/prometheus.log" 2>&1 &
prom_pid=$!
fl_on_exit "kill -KILL $prom_pid"

# query EXPR: the value of a one-result instant query, empty when there is none.
query() {
	curl -sf --max-time 5 -G "$prom/api/v1/query" --data-urlencode "query=$1" |
		jq -r '.data.result | if type == "array" then (.[0].value[1] // empty) else .[1] end'
}
for ((i = 0; i < 300; i++)); do
	curl -sf --max-time 2 "$prom/-/ready" >/dev/null 2>&1 && break
	kill -0 "$prom_pid" 2>/dev/null || fl_fail "prometheus exited: $(tail -5 "$dir/prometheus.log")"
	sleep 0.1
done
curl -sf --max-time 2 "$prom/-/ready" >/dev/null || fl_fail "prometheus not ready within 30 s"
# Targets are scraped a few seconds after start.
for ((i = 0; i < 300; i++)); do
	[ "$(query 'up{job="testsrv"}')" = 1 ] && [ "$(query 'up{job="prometheus"}')" = 1 ] && break
	sleep 0.1
done
[ "$(query 'up{job="testsrv"}')" = 1 ] || fl_fail "prometheus did not scrape http_testsrv in 30 s"
fl_log "prometheus $prom ready, scraping http_testsrv $base"

now_ns() { date +%s%N; }
in_range() {
	local ms=$(($2 / 1000000))
	[ "$ms" -ge "$3" ] && [ "$ms" -le "$4" ] || fl_fail "$1: ${ms} ms, expected $3..$4 ms"
	fl_log "$1: ${ms} ms (bound $3..$4 ms)"
}
mkexp() {
	{
		cat <<-EOF
			version: 1
			name: guard-prometheus-test
			hypothesis: the test service stays healthy
			agents:
			  - name: local
			    address: unix://$dir/none.sock
			duration: 10m
			faults:
			  - name: cpu
			    type: stress.cpu
			    duration: 1m
		EOF
		cat
	} >"$1"
	"$FAULTCTL" validate "$1" >/dev/null || fl_fail "$1 is not a valid experiment"
}

# --- threshold ---------------------------------------------------------------------------
# Every 1 s, for 2 s. After the switch: the next scrape (<= 1 s), the next query (<= 1 s),
# then 2 s of unhealthy readings.
mkexp "$dir/threshold.yaml" <<EOF
steady_state:
  before:
    - name: status-ok
      prometheus:
        url: $prom
        query: max(testsrv_status)
        expect: "< 500"
        interval: 1s
        timeout: 1s
    - name: no-such-metric
      prometheus:
        url: $prom
        query: no_such_metric_$$
        expect: "== 0"
        interval: 1s
        timeout: 1s
guardrails:
  - name: status
    prometheus:
      url: $prom
      query: max(testsrv_status)
      expect: "< 500"
      interval: 1s
      timeout: 1s
    for: 2s
EOF
fl_log "check: threshold passes; an empty result is a probe error (exit 3)"
rc=0
"$FAULTCTL" check "$dir/threshold.yaml" --json >"$dir/check.json" || rc=$?
fl_assert_eq "$rc" 3 "check exit"
jq -e '.checks[0].passed and .checks[0].reading.value == 200 and (.checks[1].passed | not) and
	(.checks[1].reading.valid | not) and (.checks[1].reading.summary | test("empty"))' \
	"$dir/check.json" >/dev/null || fl_fail "checks: $(cat "$dir/check.json")"

fl_log "threshold: healthy for 5 s, then 503 must breach within 2..8 s"
"$FAULTCTL" guard "$dir/threshold.yaml" --for 60s --json >"$dir/threshold.json" &
guard_pid=$!
sleep 5
ts=$(now_ns)
set_srv status=503
fl_wait_exit rc "$guard_pid" 70
fl_assert_eq "$rc" 1 "threshold guard exit"
b=$(jq -r '.guardrails[0].breach_ns' "$dir/threshold.json")
t0=$(jq -r .start_realtime_ns "$dir/threshold.json")
u=$(jq -r '.guardrails[0].unhealthy_since_ns' "$dir/threshold.json")
in_range "prometheus threshold breach after the switch" $((t0 + b - ts)) 1900 8000
in_range "prometheus threshold unhealthy after the switch" $((t0 + u - ts)) -50 4000
jq -e '.guardrails[0].breach.value == 503 and .guardrails[0].breach.threshold == 500 and
	.guardrails[0].samples >= 6' "$dir/threshold.json" >/dev/null ||
	fl_fail "threshold: $(jq -c '.guardrails[0]' "$dir/threshold.json")"
set_srv status=200

# --- burn rate from PromQL ---------------------------------------------------------------
# Traffic at 20/s from a guardrail that accepts every status (it never breaches), so the
# error ratio is what the service answers. Objective 99%, 10x over 1m: breached once more
# than 10% of the last minute's requests failed.
mkexp "$dir/traffic.yaml" <<EOF
guardrails:
  - name: traffic
    http:
      url: $base/api
      rate: 20/s
      window: 2s
      expect_status: ["100-599"]
      min_success_ratio: 1%
EOF
"$FAULTCTL" guard "$dir/traffic.yaml" --for 200s >/dev/null &
traffic_pid=$!
fl_on_exit "kill -TERM $traffic_pid"
ratio='sum(rate(testsrv_requests_total{code=~"5.."}[1m])) / sum(rate(testsrv_requests_total[1m]))'
for ((i = 0; i < 300; i++)); do
	v=$(query "$ratio")
	[ -n "$v" ] && [ "$v" != NaN ] && break
	sleep 0.1
done
[ "$v" = 0 ] || fl_fail "error ratio before the switch: '$v', expected 0"
sleep 3
mkexp "$dir/burn.yaml" <<EOF
guardrails:
  - name: budget
    burn_rate:
      objective: 99%
      prometheus:
        url: $prom
        query: sum(rate(testsrv_requests_total{code=~"5.."}[\$window])) / sum(rate(testsrv_requests_total[\$window]))
        timeout: 1s
      windows:
        - {window: 1m, max_burn: 10x}
        - {window: 2m, max_burn: 10x}
      interval: 1s
    for: 1s
EOF
fl_log "burn rate: healthy for 5 s, then 503s must exhaust the budget within 1..20 s"
"$FAULTCTL" guard "$dir/burn.yaml" --for 90s --json >"$dir/burn.json" &
guard_pid=$!
sleep 5
ts=$(now_ns)
set_srv status=503
fl_wait_exit rc "$guard_pid" 100
fl_assert_eq "$rc" 1 "burn guard exit"
b=$(jq -r '.guardrails[0].breach_ns' "$dir/burn.json")
t0=$(jq -r .start_realtime_ns "$dir/burn.json")
in_range "burn-rate breach after the switch" $((t0 + b - ts)) 1000 20000
jq -e '.guardrails[0].breach.valid and .guardrails[0].breach.value > 10 and
	.guardrails[0].breach.threshold == 10 and
	(.guardrails[0].breach.summary | test("over 1m.*over 2m"))' "$dir/burn.json" >/dev/null ||
	fl_fail "burn: $(jq -c '.guardrails[0]' "$dir/burn.json")"
fl_log "burn-rate breach: $(jq -r '.guardrails[0].breach.summary' "$dir/burn.json")"
