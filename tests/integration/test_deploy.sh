#!/usr/bin/env bash
# deploy/ and lab/ checked offline:
#   - the DaemonSet against a vendored JSON Schema subset of the Kubernetes API plus rules a
#     schema cannot say (check_deploy.py, container targets included: hostPID, the engine
#     sockets on a read-only mount, the capabilities; no Debian package ships kubeconform or
#     kubeval), and
#     the CI examples' structure;
#   - the capability bounding set of faultlined.service (and the DaemonSet, which must match):
#     an agent started with only those capabilities probes exactly the mechanisms an
#     unrestricted one does, and keeps the same capabilities after its own drop;
#   - the lab's Prometheus configuration, rendered from lab/topology.env, passes promtool;
#   - lab/topology.env holds only KEY=VALUE lines (the Vagrantfile reads it without a shell).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

fl_require_root
fl_require_cmd python3 setpriv curl jq nsenter socat
fl_require_build
fl_tmpdir work

fl_log "DaemonSet schema and rules, CI examples"
rc=0
python3 "$FL_SOURCE_DIR/tests/integration/check_deploy.py" "$FL_SOURCE_DIR" || rc=$?
[ "$rc" -ne 77 ] || fl_skip "python3-yaml or python3-jsonschema missing"
[ "$rc" -eq 0 ] || fl_fail "deploy manifests (above)"

fl_log "the unit's capability bounding set is enough"
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$FL_SOURCE_DIR/deploy/systemd/faultlined.service")
[ -n "$caps" ] || fl_fail "no CapabilityBoundingSet= in faultlined.service"
bset=-all$(for c in $caps; do printf ',+%s' "$(tr '[:upper:]' '[:lower:]' <<<"${c#CAP_}")"; done)
fl_netns full full
fl_netns bounded bounded
mkdir "$work/full" "$work/bounded"
fl_start_agent "$full" "$work/full/agent.sock" "$work/full/agent.log"
# setpriv limits the bounding set and sets no_new_privs before exec, as systemd does for the
# unit (CapabilityBoundingSet=, NoNewPrivileges=yes).
nsenter --net="/run/netns/$bounded" setpriv --bounding-set "$bset" --inh-caps -all --no-new-privs -- \
	"$FAULTLINED" --socket "$work/bounded/agent.sock" --state-dir "$work/bounded/state" \
	--audit-log "$work/bounded/audit.log" >"$work/bounded/agent.log" 2>&1 &
fl_wait_socket "$work/bounded/agent.sock" "$!"
info() { curl -fsS --max-time 10 --unix-socket "$1" http://agent/v1/info; }
info "$work/full/agent.sock" >"$work/full.json"
info "$work/bounded/agent.sock" >"$work/bounded.json"
mech() { jq -c '[.mechanisms[] | {name, available}] | sort_by(.name)' "$1"; }
fl_assert_eq "$(mech "$work/bounded.json")" "$(mech "$work/full.json")" \
	"mechanisms with the unit's bounding set"
types() { jq -c '[.fault_types[] | {name, available}] | sort_by(.name)' "$1"; }
fl_assert_eq "$(types "$work/bounded.json")" "$(types "$work/full.json")" "fault types"
fl_assert_eq "$(jq -c '.capabilities.effective | sort' "$work/bounded.json")" \
	"$(jq -c '.capabilities.effective | sort' "$work/full.json")" "capabilities kept"
# The probe really had something to find: the BPF classifier path works on this machine.
fl_assert_eq "$(jq -r '.mechanisms[] | select(.name == "clsact+cls_bpf") | .available' \
	"$work/bounded.json")" true "clsact+cls_bpf with the bounded set"
# And the check can fail: without CAP_SYS_ADMIN the probe finds less (or the agent refuses).
nsenter --net="/run/netns/$bounded" setpriv --bounding-set "${bset/,+sys_admin/}" \
	--inh-caps -all --no-new-privs -- "$FAULTLINED" --socket "$work/bounded/less.sock" \
	--state-dir "$work/bounded/state2" --audit-log "$work/bounded/audit2.log" \
	>"$work/bounded/less.log" 2>&1 &
less_pid=$!
for ((i = 0; i < 600; i++)); do
	[ -S "$work/bounded/less.sock" ] && break
	kill -0 "$less_pid" 2>/dev/null || break
	sleep 0.1
done
if [ -S "$work/bounded/less.sock" ]; then
	info "$work/bounded/less.sock" >"$work/less.json"
	[ "$(mech "$work/less.json")" != "$(mech "$work/full.json")" ] ||
		fl_fail "the probe found the same without CAP_SYS_ADMIN: the comparison proves nothing"
	fl_log "without CAP_SYS_ADMIN: $(mech "$work/less.json")"
else
	kill -0 "$less_pid" 2>/dev/null && fl_fail "the agent without CAP_SYS_ADMIN neither listens nor exits"
	fl_log "without CAP_SYS_ADMIN the agent refuses to start: $(tail -n1 "$work/bounded/less.log")"
fi

fl_log "a stdio bridge to an agent socket (the kubectl exec recipe of docs/deployment.md)"
# kubectl exec -i only carries stdin and stdout; this is the same bridge with the remote
# part (faultctl dial-stdio) run locally.
socat "UNIX-LISTEN:$work/bridge.sock,fork" \
	"EXEC:$FAULTCTL dial-stdio --agent unix\://$work/full/agent.sock" 2>"$work/bridge.log" &
for ((i = 0; i < 50; i++)); do
	[ -S "$work/bridge.sock" ] && break
	sleep 0.1
done
out=$("$FAULTCTL" --agent "unix://$work/bridge.sock" --json agent info) ||
	fl_fail "faultctl through the bridge: $out $(cat "$work/bridge.log")"
fl_assert_eq "$(jq -r .pid <<<"$out")" "$(jq -r .pid "$work/full.json")" "the agent behind the bridge"

fl_log "lab/topology.env and the lab's Prometheus configuration"
if grep -nvE '^(#.*|[A-Z_][A-Z0-9_]*=[^[:space:]"'\''$`]*|)$' "$FL_SOURCE_DIR/lab/topology.env"; then
	fl_fail "lab/topology.env: lines above are not plain KEY=VALUE"
fi
if command -v promtool >/dev/null; then
	# shellcheck source=lab/topology.env
	. "$FL_SOURCE_DIR/lab/topology.env"
	sed -e "s/@LAB_SCRAPE_INTERVAL@/$LAB_SCRAPE_INTERVAL/g" \
		-e "s/@LAB_TARGET_ADDR@/$LAB_TARGET_ADDR/g" -e "s/@LAB_SERVICE_PORT@/$LAB_SERVICE_PORT/g" \
		-e "s/@LAB_BACKEND_ADDR@/$LAB_BACKEND_ADDR/g" -e "s/@LAB_BACKEND_PORT@/$LAB_BACKEND_PORT/g" \
		"$FL_SOURCE_DIR/lab/prometheus.yml.in" >"$work/prometheus.yml"
	grep -q @ "$work/prometheus.yml" && fl_fail "unfilled placeholders: $(grep @ "$work/prometheus.yml")"
	promtool check config "$work/prometheus.yml" >"$work/promtool.log" 2>&1 ||
		{ cat "$work/promtool.log"; fl_fail "promtool check config"; }
else
	fl_log "SKIPPED PART: promtool (package prometheus) not installed"
fi
