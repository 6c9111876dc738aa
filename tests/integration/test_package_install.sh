#!/usr/bin/env bash
# The .deb on a fresh machine: debootstrap a minimal Debian 12 root, `apt-get install` the
# package there (apt resolves Depends/Recommends from the mirror, so a missing Depends shows up
# as a binary that cannot start), run what it installed with only the libraries it pulled in,
# then boot that root under a real systemd (systemd-nspawn --boot) and run the units: the agent
# reaches "active" through Type=notify, answers over its socket with the capabilities the
# hardening leaves; faults applied by that agent through its socket have their real effect
# and leave nothing after revert (a freezer and a SIGSTOP pause and a SIGKILL of transient
# services, a CPU stressor in its own cgroup, 100% loss on the container's loopback towards
# one address); ExecStopPost= runs at stop; after a SIGKILL of the agent with a freezer pause
# active its watchdog thaws the cgroup at once, and after a SIGKILL of both ExecStopPost=
# thaws it, each time before Restart= brings the agent back; the game-day timer
# loads; finally `apt-get remove` (prerm stops the running agent) and `apt-get purge` (postrm
# removes the state) leave no file of the package behind. Everything happens below this test's temporary directory; the
# chroot's mounts live in private mount namespaces that die with their process.
# Skips (77) when the Debian mirror is unreachable, except with CI=true, where it fails.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

fl_require_root
for c in debootstrap systemd-nspawn; do
	if [ "${CI:-}" = true ] && ! command -v "$c" >/dev/null; then
		fl_fail "needs '$c' (CI=true: scripts/setup.sh must install it)"
	fi
done
fl_require_cmd cpack dpkg-deb debootstrap systemd-nspawn nsenter unshare curl jq tc
fl_require_build
fl_tmpdir work
ver=$(sed -n 's/^project(faultline VERSION \([0-9.]*\).*/\1/p' "$FL_SOURCE_DIR/CMakeLists.txt")
[ -n "$ver" ] || fl_fail "no version in CMakeLists.txt"

# The mirror the host's apt uses for Debian itself (deb822 or one-line sources).
mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
	2>/dev/null | awk '
	/^deb[ \t]/ { for (i = 2; i <= NF; i++) if ($i ~ /^https?:\/\//) { print $i; exit } }
	/^URIs:/ { print $2; exit }' | grep -m1 -E '/debian/?$' || true)
mirror=${mirror:-http://deb.debian.org/debian}
mirror=${mirror%/}
if ! curl -sfI --max-time 30 "$mirror/dists/bookworm/Release" >/dev/null; then
	[ "${CI:-}" = true ] && fl_fail "the Debian mirror $mirror is unreachable (CI=true)"
	fl_skip "the Debian mirror $mirror is unreachable"
fi

fl_log "cpack -G DEB"
(cd "$work" && cpack -G DEB -B "$work/pkg" --config "$FL_BUILD_DIR/CPackConfig.cmake" \
	>"$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; fl_fail "cpack failed"; }
deb=$(compgen -G "$work/pkg/faultline_${ver}_*.deb") || fl_fail "no .deb in $work/pkg"

# Downloaded .debs are cached between runs; the root itself is fresh every time.
cache=/var/cache/faultline/debootstrap
cacheopt=()
if mkdir -p "$cache" 2>/dev/null && [ -w "$cache" ]; then cacheopt=(--cache-dir="$cache"); fi
root=$work/root
fl_log "debootstrap --variant=minbase bookworm from $mirror"
t0=$(date +%s)
timeout 900 debootstrap --variant=minbase "${cacheopt[@]}" bookworm "$root" "$mirror" \
	>"$work/debootstrap.log" 2>&1 || { tail -30 "$work/debootstrap.log"; fl_fail "debootstrap failed"; }
fl_log "debootstrap took $(($(date +%s) - t0)) s"
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp "$deb" "$root/tmp/"
debname=$(basename "$deb")

# inroot CMD...: runs CMD (sh -c) chrooted into the root, /proc, /sys and /dev mounted in a
# private mount namespace (gone when the command ends, also when it is killed).
inroot() {
	unshare --mount --propagation private /bin/sh -c '
		set -e
		mount -t proc proc "$1/proc"
		mount -t sysfs sysfs "$1/sys"
		mount --rbind /dev "$1/dev"
		r=$1
		shift
		exec chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
			DEBIAN_FRONTEND=noninteractive /bin/sh -c "$*"' _ "$root" "$@"
}

fl_log "apt-get install ./$debname in the fresh root"
inroot "apt-get update -q && apt-get install -y -q /tmp/$debname" >"$work/install.log" 2>&1 ||
	{ tail -40 "$work/install.log"; fl_fail "apt-get install failed"; }
fl_assert_eq "$(inroot "dpkg-query -W -f='\${Status} \${Version}' faultline")" \
	"install ok installed $ver" "dpkg status"
inroot "dpkg -L faultline" | sort -u >"$work/files"
grep -qx /usr/sbin/faultlined "$work/files" || fl_fail "dpkg -L lacks faultlined"

fl_log "the installed binaries run with only what the package pulled in"
fl_assert_eq "$(inroot "faultctl --version")" "faultctl $ver" "installed faultctl"
fl_assert_eq "$(inroot "faultlined --version")" "faultlined $ver" "installed faultlined"
fl_assert_eq "$(inroot "faultline-demo --version")" "faultline-demo $ver" "installed demo"
out=$(inroot "ldd /usr/sbin/faultlined /usr/bin/faultctl /usr/bin/faultline-demo")
grep "not found" <<<"$out" && fl_fail "unresolved libraries in the fresh root"
inroot "faultctl validate /usr/share/doc/faultline/experiments/*" >"$work/validate.log" 2>&1 ||
	{ cat "$work/validate.log"; fl_fail "the installed examples do not validate"; }

fl_log "postinst: the socket group"
grp=$(inroot "getent group faultline") || fl_fail "postinst created no group faultline"
gid=$(cut -d: -f3 <<<"$grp")
[ "$gid" -lt 1000 ] || fl_fail "group faultline is not a system group: $grp"
# The sysusers file it claims is the one in the package.
fl_assert_eq "$(inroot "cat /usr/lib/sysusers.d/faultline.conf" | grep -v '^#')" "g faultline -" "sysusers"

# The fault section below drives the API with curl and measures loss with ping inside the
# booted container; installed only now, after the checks above ran with what the package
# alone pulled in.
fl_log "apt-get install curl iputils-ping (for the fault section)"
inroot "apt-get install -y -q --no-install-recommends curl iputils-ping" >"$work/tools.log" 2>&1 ||
	{ tail -40 "$work/tools.log"; fl_fail "apt-get install curl iputils-ping failed"; }

# ---- the units under a real systemd ----
# systemd-nspawn writes below /run/systemd/nspawn; a private tmpfs /run keeps the host's /run
# untouched. --private-network: the container has only its own loopback.
# --capability=CAP_BPF,CAP_PERFMON --system-call-filter=bpf: nspawn's default bounding set
# lacks both capabilities and its seccomp filter answers bpf(2) with EPERM, which leaves every
# network.* type unavailable ("cannot load a BPF_PROG_TYPE_SCHED_CLS program: Operation not
# permitted"); with them the unit's own CapabilityBoundingSet= is what limits the agent.
fl_log "boot the root with systemd-nspawn --boot"
timeout 900 unshare --mount --propagation private /bin/sh -c '
	mount -t tmpfs tmpfs /run
	exec systemd-nspawn -q -D "$1" --boot --register=no --keep-unit --private-network \
		--capability=CAP_BPF,CAP_PERFMON --system-call-filter=bpf --console=pipe' _ "$root" </dev/null >"$work/boot.log" 2>&1 &
tpid=$!
nspid="" init=""
stop_container() {
	[ -n "$nspid" ] || return 0
	kill -TERM "$nspid" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$nspid" 2>/dev/null || break; sleep 0.2; done
	kill -KILL "$nspid" 2>/dev/null
	wait "$tpid" 2>/dev/null
	nspid=""
}
fl_on_exit stop_container
for _ in $(seq 300); do
	[ -n "$nspid" ] || nspid=$(pgrep -P "$tpid" -x systemd-nspawn || true)
	[ -n "$nspid" ] && init=$(pgrep -P "$nspid" -x systemd || true)
	[ -n "$init" ] && break
	kill -0 "$tpid" 2>/dev/null || break
	sleep 0.2
done
[ -n "$init" ] || { cat "$work/boot.log"; fl_fail "systemd-nspawn did not start systemd"; }
inc() { # CMD...: runs in the booted container
	nsenter -t "$init" -a /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
		DEBIAN_FRONTEND=noninteractive "$@"
}
# systemd is found before it has opened its private bus: until then systemctl answers "Failed
# to connect to bus" at once instead of waiting. Ask again (bounded) until it listens.
for _ in $(seq 300); do
	state=$(timeout 120 nsenter -t "$init" -a systemctl is-system-running --wait 2>&1 || true)
	case "$state" in *"Failed to connect to bus"*) sleep 0.2 ;; *) break ;; esac
done
[ "$state" = running ] || { inc systemctl --failed --no-pager; fl_fail "system state: $state"; }
fl_assert_eq "$(inc readlink /proc/1/exe)" /usr/lib/systemd/systemd "container PID 1"

fl_log "systemctl start faultlined (Type=notify)"
timeout 120 nsenter -t "$init" -a systemctl start faultlined ||
	{ inc journalctl -u faultlined --no-pager; fl_fail "systemctl start faultlined failed"; }
fl_assert_eq "$(inc systemctl show -P Type faultlined)" notify "Type"
fl_assert_eq "$(inc systemctl is-active faultlined)" active "after start"
mpid=$(inc systemctl show -P MainPID faultlined)
fl_assert_eq "$(inc readlink "/proc/$mpid/exe")" /usr/sbin/faultlined "MainPID"
# READY=1 came from the agent once it listened: the socket answers right away.
info=$(inc faultctl agent info) || fl_fail "faultctl agent info failed"
grep -qE "^version +$ver$" <<<"$info" || fl_fail "agent info: $info"
grep -qE "^pid +$mpid$" <<<"$info" || fl_fail "agent info pid is not MainPID $mpid: $info"
fl_assert_eq "$(inc stat -c '%U:%G %a' /run/faultline/agent.sock)" "root:faultline 660" "socket"

fl_log "capabilities under the unit's hardening"
capnames=(chown dac_override dac_read_search fowner fsetid kill setgid setuid setpcap
	linux_immutable net_bind_service net_broadcast net_admin net_raw ipc_lock ipc_owner
	sys_module sys_rawio sys_chroot sys_ptrace sys_pacct sys_admin sys_boot sys_nice
	sys_resource sys_time sys_tty_config mknod lease audit_write audit_control setfcap
	mac_override mac_admin syslog wake_alarm block_suspend audit_read perfmon bpf
	checkpoint_restore)
decode() { # hex mask -> "cap_a,cap_b" in bit order
	local m=$((16#$1)) i out=()
	for i in "${!capnames[@]}"; do
		((m >> i & 1)) && out+=("cap_${capnames[$i]}")
	done
	(IFS=,; echo "${out[*]}")
}
# Nice=-10 of the unit: the agent runs at the priority its --nice default asks for.
fl_assert_eq "$(inc awk '{ print $19 }' "/proc/$mpid/stat")" -10 "nice of the agent"
eff=$(decode "$(inc awk '/^CapEff/ { print $2 }' "/proc/$mpid/status")")
bnd=$(decode "$(inc awk '/^CapBnd/ { print $2 }' "/proc/$mpid/status")")
fl_log "CapEff $eff; CapBnd $bnd"
# What the agent reports keeping is what the kernel says it has.
caps=$(awk '$1 == "capabilities" { print $2 }' <<<"$info")
fl_assert_eq "$(tr , '\n' <<<"$caps" | sort | paste -sd,)" \
	"$(tr , '\n' <<<"$eff" | sort | paste -sd,)" "agent info capabilities vs CapEff"
for c in cap_net_admin cap_kill cap_sys_ptrace; do
	grep -qw "$c" <<<"$eff" || fl_fail "the hardened agent lacks $c: $eff"
done
# Nothing outside the unit's CapabilityBoundingSet=.
allowed=$(sed -n 's/^CapabilityBoundingSet=//p' "$FL_SOURCE_DIR/deploy/systemd/faultlined.service" |
	tr 'A-Z ' 'a-z\n')
for c in ${bnd//,/ }; do
	grep -qx "$c" <<<"$allowed" || fl_fail "$c is in the bounding set, the unit does not allow it"
done

# ---- faults applied by the agent under the unit's hardening ----
# Through the installed faultctl's socket, with curl inside the container: a lease, then one
# fault at a time, its effect observed from outside the agent (/proc, cgroupfs, ping), its
# revert, and nothing left (no fault listed, no cgroup). The victims are transient services
# (systemd-run): each has a session and a cgroup of its own. nsenter'd commands such as curl
# sit in a session whose leader is outside the container's pid namespace (session 0 there),
# which the agent protects as the requester's, so a victim must not be one of them.
api() { # METHOD PATH [BODY]: one request inside the container; sets HTTP_STATUS, API_BODY
	local out
	out=$(inc timeout 30 curl -sS --max-time 20 --unix-socket /run/faultline/agent.sock \
		-X "$1" -w '\n%{http_code}' ${3:+-H 'Content-Type: application/json' --data-binary "$3"} \
		"http://agent$2") || fl_fail "curl $1 $2 in the container failed: $out"
	HTTP_STATUS=${out##*$'\n'}
	API_BODY=${out%$'\n'*}
}
apply() { # BODY: asserts 201, sets FID
	api POST "/v1/leases/$lease/faults" "$1"
	fl_assert_eq "$HTTP_STATUS" 201 "apply $(jq -r .type <<<"$1") ($API_BODY)"
	FID=$(jq -r .fault.id <<<"$API_BODY")
}
revert() { # FID
	api DELETE "/v1/faults/$1"
	fl_assert_eq "$HTTP_STATUS" 200 "revert $1 ($API_BODY)"
}
no_faults() { # WHAT: the agent lists no fault
	api GET /v1/faults
	fl_assert_eq "$(jq '.faults | length' <<<"$API_BODY")" 0 "faults listed $1 ($API_BODY)"
}
cstate() { # PID: its state letter in the container, empty when gone
	inc awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null || true
}
victim() { # UNIT CMD...: starts CMD as a transient service; sets VPID (its MainPID)
	local unit=$1 comm=${2##*/}
	timeout 60 nsenter -t "$init" -a systemd-run -q --unit "$@" || fl_fail "systemd-run $unit failed"
	VPID=""
	for _ in $(seq 50); do
		VPID=$(inc systemctl show -P MainPID "$unit")
		[ -n "$VPID" ] && [ "$VPID" != 0 ] && [ "$(inc cat "/proc/$VPID/comm")" = "$comm" ] && break
		VPID=""
		sleep 0.1
	done
	[ -n "$VPID" ] || fl_fail "$unit has no $comm as MainPID"
}
api POST /v1/leases '{"ttl_ms": 600000}'
fl_assert_eq "$HTTP_STATUS" 201 "create lease ($API_BODY)"
lease=$(jq -r .lease.id <<<"$API_BODY")
api GET /v1/info
infojson=$API_BODY
avail() { jq -r --arg t "$1" '.fault_types[] | select(.name == $t) | "\(.available) \(.reason // "")"' <<<"$infojson"; }
for t in process.pause process.kill stress.cpu; do
	fl_assert_eq "$(avail "$t")" "true " "$t under the unit"
done

# The cgroup v2 hierarchy as the container mounts it: /sys/fs/cgroup, or /sys/fs/cgroup/unified
# when the host boots the hybrid layout (nspawn then gives the container the same).
cgroot=$(inc findmnt -n -t cgroup2 -o TARGET | head -n 1)
[ -n "$cgroot" ] || fl_fail "no cgroup v2 mount in the container"

fl_log "process.pause (freezer) of a transient service's cgroup"
# A shell that counts in a file ten times a second: frozen, the count stands still.
victim fl-freeze /bin/sh -c 'i=0; while :; do i=$((i + 1)); echo $i >/run/fl-freeze.count; sleep 0.1; done'
count() { inc cat /run/fl-freeze.count 2>/dev/null || true; }
for _ in $(seq 50); do [ "$(count)" -ge 3 ] 2>/dev/null && break; sleep 0.1; done
vcg=/system.slice/fl-freeze.service
apply "{\"name\": \"fz\", \"type\": \"process.pause\", \"duration\": \"5m\", \"target\": {\"cgroup\": \"$vcg\", \"all\": true}, \"params\": {\"method\": \"freezer\"}}"
fl_assert_eq "$(jq -r .fault.status.frozen <<<"$API_BODY")" true "freezer status ($API_BODY)"
fl_assert_eq "$(inc grep -x 'frozen [01]' "$cgroot$vcg/cgroup.events")" "frozen 1" "cgroup.events while paused"
c0=$(count)
sleep 1.5
c1=$(count)
fl_assert_eq "$c1" "$c0" "the frozen shell's count after 1.5 s"
revert "$FID"
fl_assert_eq "$(inc grep -x 'frozen [01]' "$cgroot$vcg/cgroup.events")" "frozen 0" "cgroup.events after revert"
fl_assert_eq "$(inc cat "$cgroot$vcg/cgroup.freeze")" 0 "cgroup.freeze after revert"
sleep 1
c2=$(count)
if [ -z "$c2" ] || [ "$c2" -le "$c1" ]; then
	fl_fail "the shell does not count after the thaw: $c1 then $c2"
fi
fl_log "freezer: count $c0 -> $c1 frozen for 1.5 s, $c2 one second after the thaw"
timeout 60 nsenter -t "$init" -a systemctl stop fl-freeze
no_faults "after the freezer pause"

fl_log "process.pause (SIGSTOP) and process.kill of a transient service's pid"
victim fl-victim /usr/bin/sleep 300
apply "{\"name\": \"st\", \"type\": \"process.pause\", \"duration\": \"5m\", \"target\": {\"pid\": $VPID, \"all\": true}}"
st=""
for _ in $(seq 50); do st=$(cstate "$VPID"); [ "$st" = T ] && break; sleep 0.1; done
fl_assert_eq "$st" T "victim $VPID state while paused with SIGSTOP"
revert "$FID"
st=""
for _ in $(seq 50); do st=$(cstate "$VPID"); [ "$st" = T ] || break; sleep 0.1; done
fl_assert_eq "$st" S "victim $VPID state after revert"
no_faults "after the SIGSTOP pause"
apply "{\"name\": \"k\", \"type\": \"process.kill\", \"target\": {\"pid\": $VPID, \"all\": true}}"
fl_assert_eq "$(jq -r '.fault.state + " " + (.fault.status.kills | tostring) + " " + .fault.status.signal_name' <<<"$API_BODY")" \
	"completed 1 SIGKILL" "kill status"
res=""
for _ in $(seq 100); do
	res=$(inc systemctl show -P Result fl-victim)
	[ "$res" = signal ] && break
	sleep 0.1
done
fl_assert_eq "$res" signal "fl-victim's Result after the kill"
fl_assert_eq "$(inc systemctl show -P ExecMainStatus fl-victim)" 9 "fl-victim killed by signal"
[ -z "$(cstate "$VPID")" ] || fl_fail "victim $VPID still exists after SIGKILL"
inc systemctl reset-failed fl-victim 2>/dev/null || true
no_faults "after the kill"

fl_log "stress.cpu: one worker at 20% in the agent's cgroup"
apply '{"name": "cpu", "type": "stress.cpu", "duration": "1m", "params": {"workers": 1, "load": "20%"}}'
scg=$(jq -r .fault.status.cgroup <<<"$API_BODY")
wpid=$(jq -r '.fault.status.worker_states[0].pid' <<<"$API_BODY")
case $scg in "$cgroot"/faultline/stress-*) ;; *) fl_fail "stressor cgroup $scg";; esac
inc test -d "$scg" || fl_fail "stressor cgroup $scg does not exist"
grep -qx "$wpid" <<<"$(inc cat "$scg/cgroup.procs")" || fl_fail "worker $wpid not in $scg/cgroup.procs"
u0=$(inc awk '$1 == "usage_usec" { print $2 }' "$scg/cpu.stat")
sleep 2
u1=$(inc awk '$1 == "usage_usec" { print $2 }' "$scg/cpu.stat")
# 20% of 2 s is 400 ms; more than 100 ms shows the worker really runs.
[ $((u1 - u0)) -gt 100000 ] || fl_fail "the worker used $((u1 - u0)) us of CPU in 2 s"
fl_log "stressor $scg: worker $wpid used $(((u1 - u0) / 1000)) ms of CPU in 2 s"
revert "$FID"
gone=""
for _ in $(seq 50); do inc test -e "$scg" || { gone=1; break; }; sleep 0.1; done
[ -n "$gone" ] || fl_fail "stressor cgroup $scg survived the revert"
no_faults "after the stressor"

# network.loss needs BPF: systemd-nspawn withholds CAP_BPF and CAP_PERFMON from the
# container's bounding set and its seccomp filter answers bpf(2) with EPERM, so the boot
# above passes --capability=CAP_BPF,CAP_PERFMON --system-call-filter=bpf. 127.0.0.77 is
# local (all of 127/8 is on lo): its echo requests leave through lo's egress, where the
# fault's filter sits.
fl_log "network.loss 100% on lo towards 127.0.0.77"
na=$(avail network.loss)
fl_assert_eq "$na" "true " "network.loss under the unit in the container"
pings() { # ADDR COUNT: how many echo replies of COUNT came back (0.05 s apart, 1 s for the last)
	inc timeout 10 ping -n -q -c "$2" -i 0.05 -W 1 "$1" 2>&1 |
		sed -n 's/.* transmitted, \([0-9]*\) received.*/\1/p' || true
}
fl_assert_eq "$(pings 127.0.0.77 20)" 20 "echo replies from 127.0.0.77 before the fault"
# The container's netns seen with the host's tc (the root has no iproute2).
ctc() { nsenter -t "$init" -n tc "$@"; }
ctc qdisc show dev lo | grep >/dev/null clsact && fl_fail "lo has a clsact qdisc before the fault"
apply '{"name": "loss", "type": "network.loss", "duration": "5m", "target": {"interface": "lo", "direction": "egress", "cidrs": ["127.0.0.77"]}, "params": {"probability": "100%"}}'
fl_assert_eq "$(pings 127.0.0.77 20)" 0 "echo replies from 127.0.0.77 under 100% loss"
ctc qdisc show dev lo | grep >/dev/null clsact || fl_fail "no clsact qdisc on lo under the fault"
# Only the fault's CIDR: the rest of loopback still answers.
fl_assert_eq "$(pings 127.0.0.1 5)" 5 "echo replies from 127.0.0.1 under the fault"
api GET "/v1/faults/$FID"
fl_log "loss status: $(jq -c .fault.status <<<"$API_BODY")"
fl_assert_eq "$(jq .fault.status.counters.dropped <<<"$API_BODY")" 20 "packets the agent counts dropped"
revert "$FID"
fl_assert_eq "$(pings 127.0.0.77 20)" 20 "echo replies from 127.0.0.77 after revert"
ctc qdisc show dev lo | grep >/dev/null clsact && fl_fail "the clsact qdisc is left on lo after revert"
no_faults "after the loss"
api DELETE "/v1/leases/$lease"
fl_assert_eq "$HTTP_STATUS" 200 "end the lease ($API_BODY)"

fl_log "systemctl stop faultlined: ExecStopPost= runs"
timeout 120 nsenter -t "$init" -a systemctl stop faultlined || fl_fail "systemctl stop failed"
fl_assert_eq "$(inc systemctl is-active faultlined || true)" inactive "after stop"
grep -qF 'argv[]=/usr/sbin/faultlined --cleanup --systemd ;' <<<"$(inc systemctl show \
	-p ExecStopPost faultlined)" || fl_fail "the unit has no ExecStopPost=faultlined --cleanup"
# systemd resets the ExecStopPost= status once the unit is inactive; the journal keeps what the
# cleanup run (a process other than MainPID) logged: nothing was left to undo after a clean stop.
# The agent itself may log a cleanup line at its start; the ExecStopPost= run is the one whose
# _PID is not MainPID (JSON output: field order within an entry is not fixed).
# poststop_line PREFIX TRIES: "PID MESSAGE" of the journal line of faultlined starting with
# PREFIX logged by a pid other than MainPID $mpid (the ExecStopPost= run), polled every 0.2 s.
poststop_line() {
	local line=""
	for _ in $(seq "$2"); do
		line=$(inc journalctl -u faultlined -o json --no-pager --output-fields=_PID,MESSAGE |
			jq -r --arg m "$mpid" --arg p "$1" 'select((.MESSAGE | type) == "string" and
				(.MESSAGE | startswith($p)) and ._PID != $m) | "\(._PID) \(.MESSAGE)"')
		[ -n "$line" ] && break
		sleep 0.2
	done
	echo "$line"
}
post=$(poststop_line "cleanup: " 50)
[ -n "$post" ] || fl_fail "no log line of the ExecStopPost= cleanup run (a pid other than MainPID $mpid) in the journal"
fl_log "ExecStopPost: $post"
grep -q " cleanup: 0 records from an earlier run, 0 failed" <<<"$post" ||
	fl_fail "the cleanup run found leftovers after a clean stop: $post"
inc test -S /run/faultline/agent.sock && fl_fail "the socket outlived the agent"

fl_log "the game-day timer"
inc mkdir -p /etc/faultline/experiments
inc cp /usr/share/doc/faultline/experiments/worker-kill.yaml /etc/faultline/experiments/smoke.yaml
vout=$(inc systemd-analyze verify --man=no faultline-gameday@smoke.timer faultline-gameday@smoke.service 2>&1) ||
	fl_fail "verify in the booted system: $vout"
timeout 60 nsenter -t "$init" -a systemctl start faultline-gameday@smoke.timer ||
	fl_fail "cannot start the timer"
timers=$(inc systemctl list-timers --all --no-pager --no-legend faultline-gameday@smoke.timer)
grep -q "^Tue .* faultline-gameday@smoke.timer *faultline-gameday@smoke.service$" <<<"$timers" ||
	fl_fail "list-timers: $timers"
timeout 60 nsenter -t "$init" -a systemctl stop faultline-gameday@smoke.timer

# The unit's processes besides its MainPID $mpid: the agent's watchdog (agent/watchdog.h).
watchdog_pid() {
	local cg p
	cg=$cgroot$(inc systemctl show -P ControlGroup faultlined)
	for p in $(inc cat "$cg/cgroup.procs"); do
		[ "$p" != "$mpid" ] && [ "$(inc cat "/proc/$p/comm" 2>/dev/null)" = faultlined-wd ] && echo "$p"
	done
	true
}
victim fl-crash /bin/sh -c 'i=0; while :; do i=$((i + 1)); echo $i >/run/fl-crash.count; sleep 0.1; done'
ccount() { inc cat /run/fl-crash.count 2>/dev/null || true; }
vcg=/system.slice/fl-crash.service
crash_freeze() { # a lease and a freezer pause of fl-crash
	api POST /v1/leases '{"ttl_ms": 600000}'
	fl_assert_eq "$HTTP_STATUS" 201 "create lease ($API_BODY)"
	lease=$(jq -r .lease.id <<<"$API_BODY")
	apply "{\"name\": \"fz-crash\", \"type\": \"process.pause\", \"duration\": \"5m\", \"target\": {\"cgroup\": \"$vcg\", \"all\": true}, \"params\": {\"method\": \"freezer\"}}"
	fl_assert_eq "$(inc grep -x 'frozen [01]' "$cgroot$vcg/cgroup.events")" "frozen 1" "cgroup.events before the crash"
}
counts() { # WHAT: the shell in fl-crash counts again
	local c0 c1
	c0=$(ccount)
	sleep 1
	c1=$(ccount)
	if [ -z "$c1" ] || [ "$c1" -le "$c0" ]; then
		fl_fail "the shell does not count $1: $c0 then $c1"
	fi
}
# wait_restart: Restart=on-failure (RestartSec=2s) brings a new agent; sets npid.
wait_restart() {
	npid=""
	for _ in $(seq 150); do
		if [ "$(inc systemctl is-active faultlined || true)" = active ]; then
			npid=$(inc systemctl show -P MainPID faultlined)
			[ "$npid" != "$mpid" ] && [ "$npid" != 0 ] && break
		fi
		npid=""
		sleep 0.2
	done
	[ -n "$npid" ] || fl_fail "faultlined did not come back after the SIGKILL"
}

fl_log "SIGKILL of the agent alone with a freezer pause active: its watchdog thaws at once"
timeout 120 nsenter -t "$init" -a systemctl start faultlined || fl_fail "start before the crash failed"
mpid=$(inc systemctl show -P MainPID faultlined)
wd=$(watchdog_pid)
[ -n "$wd" ] || fl_fail "the unit runs no watchdog beside the agent $mpid"
crash_freeze
inc systemctl kill --kill-whom=main --signal=SIGKILL faultlined
wline=""
for _ in $(seq 150); do
	# The watchdog writes to the agent's stdout stream: journald files it under MainPID.
	wline=$(inc journalctl -u faultlined -o json --no-pager --output-fields=MESSAGE |
		jq -r 'select((.MESSAGE | type) == "string" and
			(.MESSAGE | startswith("watchdog: 1 record undone"))) | .MESSAGE')
	[ -n "$wline" ] && break
	sleep 0.2
done
[ -n "$wline" ] || fl_fail "no cleanup by the watchdog $wd: $(inc journalctl -u faultlined --no-pager | tail -20)"
grep -qx "watchdog: 1 record undone, 0 failed" <<<"$wline" || fl_fail "the watchdog's cleanup: $wline"
fl_assert_eq "$(inc grep -x 'frozen [01]' "$cgroot$vcg/cgroup.events")" "frozen 0" "cgroup.events after the watchdog's cleanup"
counts "after the watchdog's cleanup"
wait_restart
fl_log "after SIGKILL of the agent: its watchdog ($wd): $wline; restarted as $npid"
mpid=$npid

fl_log "SIGKILL of the agent and its watchdog with a freezer pause active: ExecStopPost= thaws, Restart= restarts"
restarts0=$(inc systemctl show -P NRestarts faultlined)
wd=$(watchdog_pid)
[ -n "$wd" ] || fl_fail "the restarted agent $mpid runs no watchdog"
crash_freeze
# Only the agent and its watchdog: nothing else runs in its cgroup (no stressor). The watchdog
# first, so that the second line, ExecStopPost=, is what undoes the freeze.
inc /bin/sh -c "kill -KILL $wd"
inc systemctl kill --kill-whom=main --signal=SIGKILL faultlined
# The agent cannot have thawed anything; the ExecStopPost= run (a pid other than the killed
# MainPID) finds the journaled freeze and undoes it.
post=$(poststop_line "cleanup: 1 record " 150)
[ -n "$post" ] || fl_fail "no ExecStopPost= cleanup of 1 record after the SIGKILL: $(inc journalctl -u faultlined --no-pager | tail -20)"
fl_log "after SIGKILL: $post"
grep -q " cleanup: 1 record from an earlier run, 0 failed$" <<<"$post" || fl_fail "cleanup after the crash: $post"
fl_assert_eq "$(inc grep -x 'frozen [01]' "$cgroot$vcg/cgroup.events")" "frozen 0" "cgroup.events after the crash's cleanup"
counts "after the cleanup"
# Restart=on-failure: a new agent, which holds no fault and no lease.
wait_restart
# The restarted agent also runs recovery at start; the thaw must have been ExecStopPost='s.
[ "${post%% *}" != "$npid" ] || fl_fail "the restarted agent did the cleanup, not ExecStopPost=: $post"
fl_assert_eq "$(inc systemctl show -P NRestarts faultlined)" $((restarts0 + 1)) "NRestarts"
no_faults "by the restarted agent"
api GET /v1/leases
fl_assert_eq "$(jq '.leases | length' <<<"$API_BODY")" 0 "leases of the restarted agent"
timeout 60 nsenter -t "$init" -a systemctl stop fl-crash

fl_log "apt-get remove with the agent running: prerm stops it"
timeout 120 nsenter -t "$init" -a systemctl start faultlined || fl_fail "restart failed"
inc apt-get remove -y -q faultline >"$work/remove.log" 2>&1 ||
	{ cat "$work/remove.log"; fl_fail "apt-get remove failed"; }
fl_assert_eq "$(inc systemctl is-active faultlined || true)" inactive "after remove"
inc sh -c 'grep -lx faultlined /proc/[0-9]*/comm' 2>/dev/null && fl_fail "faultlined runs after remove"
inc test -d /var/lib/faultline || fl_fail "remove deleted the journal dir (only purge may)"
inc test -e /usr/sbin/faultlined && fl_fail "remove left the binary"
inc apt-get purge -y -q faultline >"$work/purge.log" 2>&1 ||
	{ cat "$work/purge.log"; fl_fail "apt-get purge failed"; }
for d in /var/lib/faultline /var/log/faultline; do
	inc test -e "$d" && fl_fail "purge left $d"
done
fl_assert_eq "$(inc dpkg-query -W -f='${Status}' faultline 2>/dev/null || true)" "" "dpkg after purge"

fl_log "no file of the package is left"
left=()
while read -r f; do
	[ -e "$root$f" ] || [ -L "$root$f" ] || continue
	# A directory still there must be another package's (/usr/share/man, ...).
	if [ -d "$root$f" ] && [ ! -L "$root$f" ] && inc dpkg-query -S "$f" >/dev/null 2>&1; then
		continue
	fi
	left+=("$f")
done <"$work/files"
[ ${#left[@]} -eq 0 ] || fl_fail "left after purge: ${left[*]}"
fl_log "$(wc -l <"$work/files") paths of the package checked"

timeout 60 nsenter -t "$init" -a systemctl poweroff >/dev/null 2>&1 || true
for _ in $(seq 300); do kill -0 "$tpid" 2>/dev/null || break; sleep 0.2; done
kill -0 "$tpid" 2>/dev/null && fl_fail "the container did not power off"
wait "$tpid" 2>/dev/null
nspid=""
