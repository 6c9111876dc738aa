# Helpers shared by the stressor tests (test_stress*.sh): sourced after lib.sh, never run.

fl_require_root
fl_require_cmd curl jq socat nsenter findmnt
fl_require_build

CGROOT=$(findmnt -n -t cgroup2 -o TARGET | head -n 1)
[ -n "$CGROOT" ] || fl_skip "no cgroup v2 hierarchy mounted"

fl_netns ns stress
fl_tmpdir dir
sock=$dir/agent.sock
state=$dir/state
AGENT_ARGS=(--state-dir "$state" --audit-log "$dir/audit.log" --log-level debug)

# At exit, also on failure: kill the agent (its workers die with it, PDEATHSIG) and let
# --cleanup remove the cgroups and files the journal names.
fl_on_exit fl_teardown_agent

api() { FL_API_TIMEOUT=60 fl_api "$@"; }
new_lease() { FL_API_TIMEOUT=60 fl_lease "$1"; } # new_lease TTL_MS -> LEASE
# apply NAME TYPE PARAMS_JSON -> FID, CGROUP, PIDS (space-separated), STATUS_JSON
apply() {
	api POST "/v1/leases/$LEASE/faults" \
		"{\"name\": \"$1\", \"type\": \"$2\", \"duration\": \"10m\", \"params\": $3}"
	fl_assert_eq "$HTTP_STATUS" 201 "apply $2 ($API_BODY)"
	FID=$(jq -r .fault.id <<<"$API_BODY")
	CGROUP=$(jq -r .fault.status.cgroup <<<"$API_BODY")
	PIDS=$(jq -r '[.fault.status.worker_states[].pid] | join(" ")' <<<"$API_BODY")
	[ -d "$CGROUP" ] || fl_fail "$2: cgroup $CGROUP does not exist"
}
status_of() { # status_of FID -> STATUS_JSON
	api GET "/v1/faults/$1"
	fl_assert_eq "$HTTP_STATUS" 200 "get fault $1"
	STATUS_JSON=$(jq -c .fault.status <<<"$API_BODY")
}
# wait_state FID STATE SECONDS: until every worker reports STATE.
wait_state() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		status_of "$1"
		jq -e --arg s "$2" '[.worker_states[].state] | all(. == $s)' <<<"$STATUS_JSON" \
			>/dev/null && return 0
		sleep 0.1
	done
	fl_fail "fault $1: workers not $2 within $3 s: $STATUS_JSON"
}
now_ns() { date +%s%N; }
cpu_usec() { awk '$1 == "usage_usec" {print $2}' "$1/cpu.stat"; }
# no_residue CGROUP "PIDS" [FILE...]: nothing of the stressor is left, waiting (bounded) for
# killed processes to be reaped by whoever is their parent now.
no_residue() {
	local cg=$1 pids=$2 p i f
	shift 2
	[ ! -e "$cg" ] || fl_fail "cgroup $cg survived"
	for p in $pids; do
		for ((i = 0; i < 50; i++)); do
			[ -e "/proc/$p" ] && grep -q internal-stress-worker "/proc/$p/cmdline" 2>/dev/null ||
				break
			sleep 0.1
		done
		if [ -e "/proc/$p" ] && grep -q internal-stress-worker "/proc/$p/cmdline" 2>/dev/null; then
			fl_fail "worker $p survived"
		fi
	done
	for f in "$@"; do
		[ ! -e "$f" ] || fl_fail "file $f survived"
	done
}
# Skip (with the agent's reason) when the stressors cannot run on this host.
stress_require_available() {
	local why
	api GET /v1/info
	why=$(jq -r '[.fault_types[] | select((.name | startswith("stress.")) and (.available | not))][0].reason // empty' <<<"$API_BODY")
	[ -z "$why" ] || fl_skip "the agent reports stressors unavailable: $why"
}
journal_count() { fl_journal_count "$state/journal"; }

# stress_allow_cpu_workers N: where this build knows the policy's max_cpu_workers (4 x the CPUs
# by default), a policy of the test's own raising it to N, added to AGENT_ARGS.
stress_allow_cpu_workers() {
	grep -q max_cpu_workers "$FL_SOURCE_DIR/lib/policy.c" || return 0
	printf 'max_cpu_workers: %d\n' "$1" >"$dir/policy.yaml"
	AGENT_ARGS+=(--policy "$dir/policy.yaml")
}

# stress_wait_applying POLLS: polls GET /v1/faults (at most POLLS times, 50 ms apart) until it
# lists a stress.cpu being applied; its id in BIG. The caller's apply runs in the background
# and writes its answer to $dir/apply.out (absent before): that file appearing first fails the
# test, since the apply then ended without ever being listed as applying (the loop was busy
# applying).
stress_wait_applying() {
	local i
	for ((i = 0; i < $1; i++)); do
		api GET /v1/faults
		BIG=$(jq -r '[.faults[] | select(.type == "stress.cpu" and .state == "applying") | .id][0] // empty' <<<"$API_BODY")
		[ -n "$BIG" ] && return 0
		[ -s "$dir/apply.out" ] && fl_fail "the apply ended ($(head -c 300 "$dir/apply.out")) and GET /v1/faults never showed it in state applying: the loop was busy applying"
		sleep 0.05
	done
	fl_fail "no stress.cpu in state applying after $1 polls 50 ms apart: $API_BODY"
}
