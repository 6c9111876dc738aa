#!/usr/bin/env bash
# scripts/lab.sh up --containers: the demo service and its backend run as podman containers
# (fl-NAME-service, fl-NAME-backend) of an image lab.sh builds FROM scratch, on the lab's own
# namespaces, the service's /etc/resolv.conf naming the lab's resolver; Prometheus sees both up and the load pass through them; the lab's agent lists
# both by name with their namespaces (through the `podman system service` the lab starts);
# a network.loss naming the backend's container by name is applied in that container's
# namespace only (its tc filter there, none on the agent's own eth0) and drops a share of
# the backend's packets to the service that a binomial bound accepts, then its revert
# removes what it added there. "down" leaves nothing: no container, no image, no namespace,
# no process (the lab's, the containers' and their conmon monitors), no state directory;
# nor does an "up --containers" whose backend container exits at once.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

fl_require_root
fl_require_cmd ip nsenter curl jq prometheus tc podman runc
fl_require_build
[ -x "$FL_BUILD_DIR/lab/demo/faultline-demo" ] || fl_fail "faultline-demo not built"

fl_tmpdir run
export FL_LAB_NAME=c$$ FL_LAB_RUN=$run/labs
# shellcheck source=lab/topology.env
. "$FL_SOURCE_DIR/lab/topology.env"
SVC=fl-$FL_LAB_NAME-service
BE=fl-$FL_LAB_NAME-backend
IMG=localhost/faultline-lab-demo:$FL_LAB_NAME
PODMAN=(podman --runtime runc --cgroup-manager cgroupfs)
# Should lab.sh's own down fail, its containers and image go anyway (run after it).
fl_on_exit "${PODMAN[*]} rm -f -i -t 0 $SVC $BE; ${PODMAN[*]} rmi -f -i $IMG"
# shellcheck source=tests/integration/lab_lib.sh
. "$(dirname "$0")/lab_lib.sh"

fl_log "up --containers"
bash "$LAB" up --containers --load-duration 120 --load-rate 20
mapfile -t pids < <(cat "$FL_LAB_RUN/$FL_LAB_NAME"/*.pid)
fl_assert_eq "${#pids[@]}" 5 "processes started (agent, dns, engine, load, prometheus)"
fl_assert_eq "$(lab_namespaces | wc -l)" 5 "namespaces"
fl_assert_eq "$("${PODMAN[@]}" ps -q --filter "label=faultline-lab=$FL_LAB_NAME" | wc -l)" 2 \
	"running containers of the lab"
# Each container runs faultline-demo from the image, in its node's namespace.
declare -A main
for c in "$SVC:target" "$BE:backend"; do
	name=${c%%:*}
	node=${c#*:}
	main[$name]=$("${PODMAN[@]}" inspect -f '{{.State.Pid}}' "$name")
	fl_assert_eq "$(ip netns identify "${main[$name]}")" "fl-$FL_LAB_NAME-$node" "$name's namespace"
	fl_assert_eq "$(readlink "/proc/${main[$name]}/exe")" /usr/bin/faultline-demo "$name's program"
	fl_assert_eq "$("${PODMAN[@]}" inspect -f '{{.ImageName}}' "$name")" "$IMG" "$name's image"
	pids+=("${main[$name]}" "$("${PODMAN[@]}" inspect -f '{{.State.ConmonPid}}' "$name")")
done
# The service's container asks the lab's resolver (podman --dns) for its backend's name.
grep -qx "nameserver $LAB_DNS_ADDR" "/proc/${main[$SVC]}/root/etc/resolv.conf" ||
	fl_fail "the service container's resolv.conf: $(cat "/proc/${main[$SVC]}/root/etc/resolv.conf")"
# FROM scratch: one layer, the one lab.sh built (no base image was pulled).
fl_assert_eq "$("${PODMAN[@]}" image inspect -f '{{len .RootFS.Layers}}' "$IMG")" 1 "image layers"
st=$(bash "$LAB" status) || fl_fail "status reports a problem: $st"
grep -qx "  backend (container $BE, pid ${main[$BE]}, backend): running" <<<"$st" ||
	fl_fail "status does not list the backend's container: $st"

fl_log "Prometheus scrapes both containers and sees the load pass through"
lab_wait_flow

fl_log "the agent sees both containers by name, through the lab's engine socket"
be_ns=$(stat -L -c %i "/run/netns/$BE")
ctrs=$(lab_api GET /v1/containers)
fl_assert_eq "$(jq -r --arg n "$BE" '.containers[] | select(.name == $n) | "\(.runtime) \(.main_pid) \(.netns_inode)"' <<<"$ctrs")" \
	"podman ${main[$BE]} $be_ns" "backend container as the agent sees it"
fl_assert_eq "$(jq -r --arg n "$SVC" '.containers[] | select(.name == $n) | .netns_inode' <<<"$ctrs")" \
	"$(stat -L -c %i "/run/netns/fl-$FL_LAB_NAME-target")" "service container's namespace"

fl_log "network.loss on the backend's container, by name"
lab_lease lease
fault=$(lab_api POST "/v1/leases/$lease/faults" "{\"name\": \"ctr-loss\", \"type\": \"network.loss\",
	\"duration\": \"60s\", \"target\": {\"container\": {\"name\": \"$BE\"}, \"interface\": \"eth0\",
	\"direction\": \"egress\", \"cidrs\": [\"$LAB_TARGET_ADDR/32\"], \"protocol\": \"tcp\"},
	\"params\": {\"probability\": \"10%\"}}")
fid=$(jq -r .fault.id <<<"$fault")
fl_assert_eq "$(jq -r '.fault.status.netns.inode' <<<"$fault")" "$be_ns" "the fault's namespace"
# The filter is in the container's namespace, and only there.
tc -n "$BE" filter show dev eth0 egress | grep >/dev/null netfault_out ||
	fl_fail "no netfault filter on eth0 in $BE: $(tc -n "$BE" filter show dev eth0 egress)"
if tc -n "fl-$FL_LAB_NAME-target" filter show dev eth0 egress 2>/dev/null | grep >/dev/null netfault; then
	fl_fail "a netfault filter on the agent's own eth0"
fi
# 20 requests/s, each some 5 packets from the backend to the service: 400 within about 4 s;
# bounded at 40 s for a loaded machine.
for ((i = 0; i < 200; i++)); do
	read -r matched dropped < <(lab_api GET "/v1/faults/$fid" |
		jq -r '.fault.status.counters | "\(.matched) \(.dropped)"')
	[ "$matched" -ge 400 ] && break
	sleep 0.2
done
[ "$matched" -ge 400 ] || fl_fail "only $matched packets matched within 40 s"
lab_api DELETE "/v1/faults/$fid" >/dev/null
# Binomial(n, 10%): outside mean +- 5 standard deviations with probability below 1e-6.
awk -v n="$matched" -v d="$dropped" 'BEGIN { m = n * 0.1; s = sqrt(n * 0.1 * 0.9);
	exit !(d >= m - 5 * s && d <= m + 5 * s) }' ||
	fl_fail "10% loss dropped $dropped of $matched packets"
fl_log "10% loss in $BE: dropped $dropped of $matched packets"
if tc -n "$BE" qdisc show dev eth0 | grep >/dev/null clsact; then
	fl_fail "clsact left in $BE after the revert"
fi

fl_log "down"
bash "$LAB" down
fl_assert_eq "$(lab_namespaces | wc -l)" 0 "namespaces left"
fl_assert_eq "$("${PODMAN[@]}" ps -a -q --filter "label=faultline-lab=$FL_LAB_NAME")" "" "containers left"
fl_assert_eq "$("${PODMAN[@]}" images -a -q "$IMG")" "" "image left"
lab_assert_gone "${pids[@]}"
[ ! -e "$FL_LAB_RUN/$FL_LAB_NAME" ] || fl_fail "state directory left"

fl_log "an up --containers whose backend exits at once removes what it created"
# busybox-static as faultline-demo: a static binary (no library for the image) that exits
# at once, since it has no applet of that name.
if [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; then
	fl_tmpdir fake
	mkdir -p "$fake/lab/demo" "$fake/agent"
	cp /bin/busybox "$fake/lab/demo/faultline-demo"
	if FL_BUILD_DIR=$fake bash "$LAB" up --containers --no-agent 2>"$run/up.err"; then
		fl_fail "up with a failing backend container succeeded"
	fi
	grep -q "backend exited while starting" "$run/up.err" || fl_fail "reason: $(cat "$run/up.err")"
	fl_assert_eq "$(lab_namespaces | wc -l)" 0 "namespaces left after the failed up"
	fl_assert_eq "$("${PODMAN[@]}" ps -a -q --filter "label=faultline-lab=$FL_LAB_NAME")" "" \
		"containers left after the failed up"
	fl_assert_eq "$("${PODMAN[@]}" images -a -q "$IMG")" "" "image left after the failed up"
	[ ! -e "$FL_LAB_RUN/$FL_LAB_NAME" ] || fl_fail "state directory left after the failed up"
else
	fl_log "SKIPPED PART: no static /bin/busybox (busybox-static) for the failing image"
fi
