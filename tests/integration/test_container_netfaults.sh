#!/usr/bin/env bash
# A network fault on several real podman containers at once (docs/containers.md, "Several
# containers"): three containers of one compose service, each in a network namespace of its
# own that this test creates and joins to the agent's by a veth, the Docker Engine API served
# by `podman system service` on the test's socket.
#  - faultctl targets lists each container's interfaces with their addresses (inside its
#    namespace);
#  - a network.loss whose container target matches the three without count, percent or all is
#    refused (422) naming the count and the field path;
#  - with all: true it acts in every namespace: 50% egress loss measured by pings to each
#    container (binomial bounds), a filter in each namespace and none in the agent's, the status
#    lists each container with its namespace inode and counters; the revert leaves no clsact in
#    any of them;
#  - one program is loaded for the three (status: program_shared_by 3); a second fault on all
#    three adds one rule slot to it and its revert leaves the first fault's rule in force; a
#    fault on container 1 alone (100% loss) gives it a program of its own with the first fault's rules
#    copied, and acts there only (the other two still lose 50%); the shared fault's revert
#    leaves the second one in force and nothing in the other two, the second's revert
#    nothing in container 1;
#  - with count: 2 exactly two of the three namespaces get the filter;
#  - each member is watched: podman stop of the first member (which holds the shared
#    program's rules) during a fault on all three drops it (fault.member_gone with
#    "remaining": 2, nothing left in its namespace, the journal record without it) while the
#    other two keep losing packets (binomial checks); the last one's exit ends the fault as
#    target_gone;
#  - all or nothing: with a foreign filter at our priority and handle in the third namespace
#    the apply fails naming that container, and the other two are left without anything;
#  - SIGKILL of the agent while the fault is on all three: --cleanup reopens each journaled
#    namespace and removes what the agent added there.
# Everything is removed at exit, also on failure: containers, image, service, namespaces.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/container_lib.sh"
fl_require_root
fl_require_cmd curl jq nsenter setsid ping tc
ctr_require
fl_require_build

N=3
fl_netns ns agent
fl_tmpdir dir
sock=$dir/agent.sock
state=$dir/state
PROJECT=${FL_ID}shop
NAMES=()
for ((k = 1; k <= N; k++)); do NAMES+=("$FL_ID-c$k"); done

ctr_on_exit "${NAMES[@]}"
ctr_image '["/bin/busybox", "sleep", "600"]'

# Container k: namespace P_k, veth $FL_ID-hk (agent's side, 10.82.k.1) / $FL_ID-ck (10.82.k.2,
# its default route).
PNS=()
for ((k = 1; k <= N; k++)); do
	ctr_netns p "$ns" "$k" 10.82
	PNS+=("$p")
	ctr_run "${NAMES[k - 1]}" "$p" --label "com.docker.compose.project=$PROJECT" \
		--label "com.docker.compose.service=web" "$IMG"
done
ino() { stat -L -c %i "/run/netns/${PNS[$1 - 1]}"; }

ctr_start_service
fl_start_agent "$ns" "$sock" "$dir/agent.log" --log-level debug --container-engines "$api_sock"
api() { FL_API_TIMEOUT=30 fl_api "$@"; }

# faultctl targets: each container's interfaces and addresses, read inside its namespace.
"$FAULTCTL" targets --agent "unix://$sock" --json >"$dir/targets.json" ||
	fl_fail "faultctl targets --json failed"
for ((k = 1; k <= N; k++)); do
	fl_assert_eq "$(jq -r --arg n "${NAMES[k - 1]}" --arg i "$FL_ID-c$k" \
		'.containers[] | select(.name == $n) | .interfaces[] | select(.name == $i) | .addresses[] | select(startswith("10."))' "$dir/targets.json")" \
		"10.82.$k.2/24" "IPv4 address of ${NAMES[k - 1]} in faultctl targets --json"
done
"$FAULTCTL" --agent "unix://$sock" targets >"$dir/targets.txt" || fl_fail "faultctl targets failed"
grep -q "^  *$FL_ID-c2  *up  *10\.82\.2\.2/24" "$dir/targets.txt" ||
	fl_fail "faultctl targets does not show ${NAMES[1]}'s interface: $(cat "$dir/targets.txt")"

api POST /v1/leases '{"ttl_ms": 900000}'
fl_assert_eq "$HTTP_STATUS" 201 "create lease"
LEASE=$(jq -r .lease.id <<<"$API_BODY")
fault() { # fault NAME PICK_JSON_MEMBERS
	api POST "/v1/leases/$LEASE/faults" "{\"name\": \"$1\", \"type\": \"network.loss\", \"duration\": \"5m\", \"target\": {\"container\": {\"compose\": {\"project\": \"$PROJECT\", \"service\": \"web\"}}$2, \"cidrs\": [\"10.82.0.0/16\"]}, \"params\": {\"probability\": \"50%\"}}"
}

# Three matches without count, percent or all: refused, saying how many and where.
fault nl0 ""
fl_assert_eq "$HTTP_STATUS" 422 "several containers without all ($API_BODY)"
grep -qF "target.container: without count, percent or all a network fault acts in one container's network namespace, and $N match" <<<"$API_BODY" ||
	fl_fail "the refusal does not name the count and the field: $API_BODY"
grep -qF "add target.all: true, target.count or target.percent" <<<"$API_BODY" ||
	fl_fail "the refusal does not say what to add: $API_BODY"

# 400 pings to each container; with 50% of its replies dropped, received ~ Binomial(400, 0.5):
# mean 200, sd 10; [140, 260] is 6 sd either side. Without the fault all 400 come back.
pings() { # pings K -> received
	ip netns exec "$ns" timeout 60 ping -q -n -c 400 -i 0.002 -W 1 "10.82.$1.2" 2>&1 |
		sed -n 's/.* \([0-9]*\) received.*/\1/p'
}
has_filter() { [[ "$(tc -n "${PNS[$1 - 1]}" filter show dev "$FL_ID-c$1" egress 2>/dev/null)" == *netfault* ]]; }
has_clsact() { tc -n "${PNS[$1 - 1]}" qdisc show dev "$FL_ID-c$1" | grep >/dev/null clsact; }

fault nl1 ', "all": true'
fl_assert_eq "$HTTP_STATUS" 201 "loss on every container of the service ($API_BODY)"
NL=$(jq -r .fault.id <<<"$API_BODY")
fl_assert_eq "$(jq -r '.fault.status.containers | length' <<<"$API_BODY")" "$N" "containers in the status"
for ((k = 1; k <= N; k++)); do
	fl_assert_eq "$(jq -r --arg n "$(ino "$k")" '[.fault.status.containers[] | select(.netns.inode == ($n | tonumber))] | .[0].interface' <<<"$API_BODY")" \
		"$FL_ID-c$k" "the status lists ${NAMES[k - 1]} with its namespace and interface"
	has_filter "$k" || fl_fail "no filter in ${NAMES[k - 1]}'s namespace"
	got=$(pings "$k")
	[ "$got" -ge 140 ] && [ "$got" -le 260 ] ||
		fl_fail "${NAMES[k - 1]}: $got of 400 pings answered through 50% loss (want 140..260)"
	fl_log "${NAMES[k - 1]}: $got of 400 pings answered through 50% loss"
done
[ -z "$(tc -n "$ns" filter show dev "$FL_ID-h1" egress)" ] || fl_fail "a filter in the agent's namespace"
api GET "/v1/faults/$NL"
for ((k = 1; k <= N; k++)); do
	d=$(jq -r --arg n "$(ino "$k")" '.fault.status.containers[] | select(.netns.inode == ($n | tonumber)) | .counters.dropped' <<<"$API_BODY")
	[ "$d" -ge 140 ] || fl_fail "${NAMES[k - 1]}: $d drops counted ($API_BODY)"
	# One program loaded for the three namespaces (docs/netfault.md).
	fl_assert_eq "$(jq -r --arg n "$(ino "$k")" '.fault.status.containers[] | select(.netns.inode == ($n | tonumber)) | .program_shared_by' <<<"$API_BODY")" \
		"$N" "${NAMES[k - 1]}'s interface runs the program shared by the $N namespaces"
done
[ "$(grep -c 'netfault: ifindex .*: program of its own now' "$dir/agent.log")" = 0 ] || fl_fail "a member diverged already"

# A second fault on all three (for a prefix nothing goes to) adds its rules to the same shared
# program, once; its revert leaves the first fault's rules in force there.
api POST "/v1/leases/$LEASE/faults" "{\"name\": \"all2\", \"type\": \"network.loss\", \"duration\": \"5m\", \"target\": {\"container\": {\"compose\": {\"project\": \"$PROJECT\", \"service\": \"web\"}}, \"all\": true, \"cidrs\": [\"192.0.2.0/24\"]}, \"params\": {\"probability\": \"100%\"}}"
fl_assert_eq "$HTTP_STATUS" 201 "a second fault on all three ($API_BODY)"
ALL2=$(jq -r .fault.id <<<"$API_BODY")
fl_assert_eq "$(jq -r '[.fault.status.containers[].program_shared_by] | unique | join(",")' <<<"$API_BODY")" "$N" \
	"the second fault on all three runs in the program they share"
fl_assert_eq "$(jq -r '[.fault.status.rules[].slot] | unique | length' <<<"$API_BODY")" 1 \
	"the second fault's rule is one slot of the shared program"
[ "$(grep -c 'netfault: ifindex .*: program of its own now' "$dir/agent.log")" = 0 ] ||
	fl_fail "a fault on every interface of the shared program split it"
api DELETE "/v1/faults/$ALL2"
fl_assert_eq "$HTTP_STATUS" 200 "revert the second fault on all three ($API_BODY)"
for ((k = 1; k <= N; k++)); do has_filter "$k" || fl_fail "the second fault's revert took ${NAMES[k - 1]}'s filter"; done
got=$(pings 3)
[ "$got" -ge 140 ] && [ "$got" -le 260 ] ||
	fl_fail "${NAMES[2]}: $got of 400 pings answered after the second fault's revert (want 140..260: the first fault's rule in force)"

# A second fault on container 1 alone, dropping every packet to the agent's side of its veth:
# its rules must not reach the program the other two run, so container 1 gets a program of
# its own (with the first fault's rules copied). Each fault then reverts on its own.
api POST "/v1/leases/$LEASE/faults" "{\"name\": \"one\", \"type\": \"network.loss\", \"duration\": \"5m\", \"target\": {\"container\": {\"name\": \"${NAMES[0]}\"}, \"cidrs\": [\"10.82.1.1/32\"]}, \"params\": {\"probability\": \"100%\"}}"
fl_assert_eq "$HTTP_STATUS" 201 "a second fault on ${NAMES[0]} alone ($API_BODY)"
ONE=$(jq -r .fault.id <<<"$API_BODY")
grep -q 'netfault: ifindex .*: program of its own now' "$dir/agent.log" || fl_fail "${NAMES[0]} did not get a program of its own"
fl_assert_eq "$(pings 1)" 0 "pings to ${NAMES[0]} with its own 100% loss"
for k in 2 3; do
	got=$(pings "$k")
	[ "$got" -ge 140 ] && [ "$got" -le 260 ] ||
		fl_fail "${NAMES[k - 1]}: $got of 400 pings answered: the first fault alone should drop 50% (want 140..260)"
done
api GET "/v1/faults/$NL"
fl_assert_eq "$(jq -r --arg n "$(ino 1)" '.fault.status.containers[] | select(.netns.inode == ($n | tonumber)) | .program_shared_by' <<<"$API_BODY")" \
	null "${NAMES[0]} runs a program of its own"
fl_assert_eq "$(jq -r --arg n "$(ino 2)" '.fault.status.containers[] | select(.netns.inode == ($n | tonumber)) | .program_shared_by' <<<"$API_BODY")" \
	2 "the other two still share one"
api DELETE "/v1/faults/$NL"
fl_assert_eq "$HTTP_STATUS" 200 "revert ($API_BODY)"
for k in 2 3; do
	! has_clsact "$k" || fl_fail "clsact left in ${NAMES[k - 1]}'s namespace after the revert"
	fl_assert_eq "$(pings "$k")" 400 "pings to ${NAMES[k - 1]} after the revert"
done
has_filter 1 || fl_fail "the revert of the shared fault took ${NAMES[0]}'s filter with it"
# The first fault's 50% rule left container 1's own program with the revert; its 100% stays.
fl_assert_eq "$(pings 1)" 0 "pings to ${NAMES[0]} with the second fault alone"
api DELETE "/v1/faults/$ONE"
fl_assert_eq "$HTTP_STATUS" 200 "revert the second fault ($API_BODY)"
! has_clsact 1 || fl_fail "clsact left in ${NAMES[0]}'s namespace after both reverts"
fl_assert_eq "$(pings 1)" 400 "pings to ${NAMES[0]} after both reverts"
fl_log "two faults, one on all three (shared program), one on ${NAMES[0]} (its own since): each reverted alone, nothing left"

# count: 2 picks two of the three.
fault nl2 ', "count": 2'
fl_assert_eq "$HTTP_STATUS" 201 "loss on two containers ($API_BODY)"
NL=$(jq -r .fault.id <<<"$API_BODY")
hit=0
for ((k = 1; k <= N; k++)); do has_filter "$k" && hit=$((hit + 1)); done
fl_assert_eq "$hit" 2 "namespaces with a filter for count: 2"
api DELETE "/v1/faults/$NL"
fl_assert_eq "$HTTP_STATUS" 200 "revert count: 2 ($API_BODY)"

# Members watched: a container that exits during a fault on all three is dropped from it
# (fault.member_gone naming it, "remaining": 2; nothing of ours left in its namespace, the
# journal record without it), and the other two keep losing packets; when the last one exits
# the fault ends as target_gone (docs/containers.md, "Several containers").
fl_events EVP "$dir/events.jsonl" 240
wait_event() { # wait_event TYPE FAULT_ID [N]: the Nth (default 1st) such event, bounded 30 s
	local i ev
	for ((i = 0; i < 300; i++)); do
		ev=$(jq -c --arg t "$1" --arg f "$2" 'select(.type == $t and .fault == $f)' \
			"$dir/events.jsonl" 2>/dev/null | sed -n "${3:-1}p")
		[ -n "$ev" ] && { echo "$ev"; return 0; }
		sleep 0.1
	done
	fl_fail "no $1 event for fault $2 within 30 s: $(tail -5 "$dir/events.jsonl")"
}
stop_ctr() { timeout 60 "${PODMAN[@]}" stop -t 0 "$1" >/dev/null 2>&1 || fl_fail "podman stop $1"; }
start_ctr() { timeout 60 "${PODMAN[@]}" start "$1" >/dev/null 2>&1 || fl_fail "podman start $1"; }
record() { fl_journal_records "$state/journal" | jq -c --arg f "$1" 'select(.id == $f)'; }
fault nlw ', "all": true'
fl_assert_eq "$HTTP_STATUS" 201 "loss on all three, watched ($API_BODY)"
NL=$(jq -r .fault.id <<<"$API_BODY")
# The first member goes first (the status lists them in order): it holds the rules of the
# program the three share, which must stay in force for the other two.
A=0
for ((k = 1; k <= N; k++)); do
	[ "$(jq -r '.fault.status.containers[0].netns.inode' <<<"$API_BODY")" = "$(ino "$k")" ] && A=$k
done
[ "$A" != 0 ] || fl_fail "the first member is none of the three: $API_BODY"
OTHERS=()
for ((k = 1; k <= N; k++)); do [ "$k" = "$A" ] || OTHERS+=("$k"); done
api GET "/v1/faults/$NL"
fl_assert_eq "$(jq -r '.fault.container_watch | "\(.containers) \(.remaining) \([.members[].state] | unique | join(","))"' <<<"$API_BODY")" \
	"3 3 running" "the three containers watched"
fl_assert_eq "$(record "$NL" | jq -r '.undo.more_netns | length')" 2 "journaled members besides the first"
IDA=$(ctr_id "${NAMES[A - 1]}")
PIDA=$(ctr_main_pid "${NAMES[A - 1]}")
stop_ctr "${NAMES[A - 1]}"
ev=$(wait_event fault.member_gone "$NL")
fl_assert_eq "$(jq -r '"\(.container) \(.remaining) \(.removed) \(.state)"' <<<"$ev")" "$IDA 2 true active" \
	"fault.member_gone: container, remaining, removed, state ($ev)"
grep -qF "container ${NAMES[A - 1]} (" <<<"$(jq -r .reason <<<"$ev")" || fl_fail "member_gone reason names no ${NAMES[A - 1]}: $ev"
grep -qF "exited (main pid $PIDA)" <<<"$(jq -r .reason <<<"$ev")" || fl_fail "member_gone reason: $ev"
! has_filter "$A" || fl_fail "a filter left in ${NAMES[A - 1]}'s namespace after its container exited"
! has_clsact "$A" || fl_fail "clsact left in ${NAMES[A - 1]}'s namespace after its container exited"
api GET "/v1/faults/$NL"
fl_assert_eq "$(jq -r .fault.state <<<"$API_BODY")" active "the fault after one of its containers exited"
fl_assert_eq "$(jq -r --arg i "$IDA" '.fault.container_watch | "\(.remaining) \(.members[] | select(.container == $i) | .state)"' <<<"$API_BODY")" \
	"2 gone" "container_watch after ${NAMES[A - 1]} exited"
fl_assert_eq "$(jq -r '.fault.status.containers | length' <<<"$API_BODY")" 2 "members in the status"
rec=$(record "$NL")
fl_assert_eq "$(jq -r '[.undo, .undo.more_netns[]?] | length' <<<"$rec")" 2 "members in the journal record ($rec)"
fl_assert_eq "$(jq -r --arg i "$IDA" '[.undo.netns.container, .undo.more_netns[]?.netns.container] | map(select(. == $i)) | length' <<<"$rec")" 0 \
	"records of ${NAMES[A - 1]} in the journal ($rec)"
# The other two still lose about half of the replies: 400 pings each, Binomial(400, 0.5)
# losses, checked at level 1e-6 shared by the two checks.
for k in "${OTHERS[@]}"; do
	got=$(pings "$k")
	fl_check_loss "${NAMES[k - 1]} after ${NAMES[A - 1]} exited" 400 0.5 $((400 - got)) 1e-6 2
done
# The second one exits: dropped too; the last: the fault ends as target_gone, nothing left.
B=${OTHERS[0]} C=${OTHERS[1]}
stop_ctr "${NAMES[B - 1]}"
ev=$(wait_event fault.member_gone "$NL" 2)
fl_assert_eq "$(jq -r '"\(.remaining) \(.state)"' <<<"$ev")" "1 active" "the second fault.member_gone ($ev)"
! has_clsact "$B" || fl_fail "clsact left in ${NAMES[B - 1]}'s namespace after its container exited"
has_filter "$C" || fl_fail "${NAMES[C - 1]} lost its filter when ${NAMES[B - 1]} exited"
got=$(pings "$C")
fl_check_loss "${NAMES[C - 1]}, the last one" 400 0.5 $((400 - got)) 1e-6 1
stop_ctr "${NAMES[C - 1]}"
ev=$(wait_event fault.target_gone "$NL")
grep -qF "every one of its 3 containers exited, the last container ${NAMES[C - 1]} (" <<<"$(jq -r .reason <<<"$ev")" ||
	fl_fail "target_gone reason: $ev"
fl_assert_eq "$(jq -r .state <<<"$ev")" reverted "state in fault.target_gone"
for ((k = 1; k <= N; k++)); do ! has_clsact "$k" || fl_fail "clsact left in ${NAMES[k - 1]}'s namespace after target_gone"; done
fl_assert_eq "$(record "$NL")" "" "journal record after target_gone"
[ -z "$(jq -c --arg f "$NL" 'select(.type == "fault.reverted" and .fault == $f)' "$dir/events.jsonl")" ] ||
	fl_fail "a fault.reverted event as well as fault.target_gone"
for ((k = 1; k <= N; k++)); do start_ctr "${NAMES[k - 1]}"; done
fl_log "a fault on all three: each container's exit dropped it from the fault, the last ended it as target_gone"

# All or nothing: a filter of someone else's on the third namespace's interface, at the
# priority and handle ours takes, fails the attach there; the other two are rolled back.
tc -n "${PNS[2]}" qdisc add dev "$FL_ID-c3" clsact
tc -n "${PNS[2]}" filter add dev "$FL_ID-c3" egress pref 1 handle 0xfa17 bpf bytecode '1,6 0 0 4294967295,'
fault nl4 ', "all": true'
[ "$HTTP_STATUS" != 201 ] || fl_fail "applied over a foreign filter in ${NAMES[2]}'s namespace: $API_BODY"
grep -qF "container ${NAMES[2]} (" <<<"$API_BODY" || fl_fail "the refusal does not name ${NAMES[2]}: $API_BODY"
grep -qF "another filter holds priority 1 handle 0xfa17" <<<"$API_BODY" || fl_fail "the refusal does not say why: $API_BODY"
for k in 1 2; do
	! has_clsact "$k" || fl_fail "clsact left in ${NAMES[k - 1]}'s namespace after the failed apply: $(tc -n "${PNS[k - 1]}" filter show dev "$FL_ID-c$k" egress; tc -n "${PNS[k - 1]}" filter show dev "$FL_ID-c$k" ingress; grep -E 'netif|netfault|clsact|fault ' "$dir/agent.log" | tail -40)"
done
tc -n "${PNS[2]}" qdisc del dev "$FL_ID-c3" clsact
fl_log "an apply failing in ${NAMES[2]}'s namespace ($HTTP_STATUS) left nothing in the other two"

# A crash with the fault on all three: --cleanup finds each journaled namespace again.
fault nl3 ', "all": true'
fl_assert_eq "$HTTP_STATUS" 201 "loss on every container again ($API_BODY)"
fl_crash_agent "$FL_AGENT_PID"
wait "$FL_AGENT_PID" 2>/dev/null || true
FL_AGENT_PID=
for ((k = 1; k <= N; k++)); do has_filter "$k" || fl_fail "the crash took the filter of ${NAMES[k - 1]} already"; done
"$FAULTLINED" --cleanup --state-dir "$state" --audit-log "$dir/audit.log" >"$dir/cleanup.log" 2>&1 ||
	fl_fail "--cleanup failed: $(cat "$dir/cleanup.log")"
for ((k = 1; k <= N; k++)); do
	! has_filter "$k" || fl_fail "a filter left in ${NAMES[k - 1]}'s namespace after --cleanup"
	! has_clsact "$k" || fl_fail "clsact left in ${NAMES[k - 1]}'s namespace after --cleanup"
	grep -qE "container ${NAMES[k - 1]} \([0-9a-f]{12}\): $FL_ID-c$k: [1-9][0-9]* filter\(s\) of ours removed, clsact \(ours\) deleted" "$dir/cleanup.log" ||
		fl_fail "--cleanup does not report ${NAMES[k - 1]}: $(cat "$dir/cleanup.log")"
done
fl_log "network.loss on $N containers of one compose service: measured in each, reverted and crash-cleaned in each namespace"
exit 0
