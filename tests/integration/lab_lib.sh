# shellcheck shell=bash
# Helpers for the tests of scripts/lab.sh (test_lab*.sh, test_demo.sh): sourced after lib.sh,
# never run. The caller sets FL_LAB_NAME (and FL_LAB_RUN, else lab.sh's default) before
# sourcing; LAB is the script, LAB_SOCK the lab agent's socket.
LAB=$FL_SOURCE_DIR/scripts/lab.sh
LAB_SOCK=${FL_LAB_RUN:-/run/faultline-lab}/$FL_LAB_NAME/agent.sock
# Should anything fail, the lab goes too (down is idempotent).
fl_on_exit "bash '$LAB' down"

lab_namespaces() { ip netns list | awk -v p="fl-$FL_LAB_NAME-" 'index($1, p) == 1 { print $1 }'; }

# lab_query PROMQL: Prometheus's JSON answer, asked from the client namespace.
lab_query() {
	bash "$LAB" exec client curl -fsS --max-time 2 -G --data-urlencode "query=$1" \
		"http://$LAB_CLIENT_ADDR:$LAB_PROMETHEUS_PORT/api/v1/query"
}

# lab_wait_flow: Prometheus scrapes both demo targets and sees the load pass through (200s
# counted on the service and on the backend) within 15 s (scrapes run every second).
lab_wait_flow() {
	local i up flow
	for ((i = 0; i < 75; i++)); do
		up=$(lab_query 'sum(up{job=~"demo-service|demo-backend"})' |
			jq -r '.data.result[0].value[1] // 0')
		# Load answered 200 by the service means the backend answered too.
		flow=$(lab_query 'count(increase(demo_requests_total{code="200"}[10s]) > 0)' |
			jq -r '.data.result[0].value[1] // 0')
		[ "$up" = 2 ] && [ "$flow" = 2 ] && return 0
		sleep 0.2
	done
	bash "$LAB" status || true
	fl_fail "both targets up ($up of 2) and 200s on service and backend ($flow of 2)"
}

# lab_api METHOD PATH [BODY]: the lab agent's answer; fails the test on a non-2xx answer.
lab_api() {
	curl -fsS --max-time 10 --unix-socket "$LAB_SOCK" -X "$1" \
		${3:+-H 'Content-Type: application/json' --data-binary "$3"} "http://agent$2"
}

# lab_lease VAR: a 60 s lease on the lab's agent, released at exit.
lab_lease() {
	local _l
	_l=$(lab_api POST /v1/leases '{"ttl_ms": 60000}' | jq -r .lease.id)
	fl_on_exit "curl -sS --max-time 5 --unix-socket '$LAB_SOCK' -X DELETE http://agent/v1/leases/$_l"
	printf -v "$1" '%s' "$_l"
}

# lab_ratio: the service's error ratio over the last 5 s, as the lab experiments' guardrail.
lab_ratio() {
	lab_query 'sum(rate(demo_requests_total{role="service",code!="200"}[5s])) / sum(rate(demo_requests_total{role="service"}[5s]))' |
		jq -r '.data.result[0].value[1] // "none"'
}

# lab_wait_ratio AWK_CONDITION SECONDS WHAT: bounded wait until the error ratio meets it.
lab_wait_ratio() {
	local i r
	for ((i = 0; i < $2 * 5; i++)); do
		r=$(lab_ratio)
		[ "$r" != none ] && awk -v r="$r" "BEGIN { exit !(r $1) }" && return 0
		sleep 0.2
	done
	fl_fail "$3: error ratio $r after $2 s"
}

# lab_assert_gone PID...: none of them runs (a zombie has exited; it only waits to be reaped).
lab_assert_gone() {
	local p
	for p in "$@"; do
		case $(ps -o stat= -p "$p" 2>/dev/null || true) in
		"" | Z*) ;;
		*) fl_fail "process $p still runs: $(ps -o pid=,stat=,args= -p "$p")" ;;
		esac
	done
}
