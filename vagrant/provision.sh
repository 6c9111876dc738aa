#!/usr/bin/env bash
# Provisions one VM of the Vagrant lab from this repository (see Vagrantfile, docs/lab.md):
#
#   provision.sh ROLE                    as root in the VM: packages, build, .deb, units
#   provision.sh ROLE --config-only DIR  only write ROLE's configuration under DIR (the
#                                        units and files it would install; for tests)
#
# ROLE is target, backend or client. The LAB_* variables come from lab/topology.env (the
# Vagrantfile passes them; otherwise the file is read from the repository at $FL_SRC).
#   1. installs the packages to build and run faultline (and Prometheus on the client)
#   2. builds faultline, makes the .deb with cpack and installs it (binaries, faultlined
#      unit, man pages, completion, examples)
#   3. writes and starts the role's units: target runs faultlined and the demo service,
#      backend the demo backend, client the load generator and Prometheus scraping both
# Idempotent: a second run rebuilds and restarts.
set -euo pipefail

FL_SRC=${FL_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
role=${1:-}
config_root=
case ${2:-} in
"") ;;
--config-only)
	config_root=${3:?--config-only needs a directory}
	;;
*)
	echo "usage: provision.sh ROLE [--config-only DIR]" >&2
	exit 2
	;;
esac
case $role in
target | backend | client) ;;
*)
	echo "provision.sh: ROLE must be target, backend or client" >&2
	exit 2
	;;
esac
if [ -z "${LAB_TARGET_ADDR:-}" ]; then
	# shellcheck disable=SC1091 # lab/topology.env: KEY=VALUE lines
	. "$FL_SRC/lab/topology.env"
fi

BUILD_PKGS=(build-essential cmake pkg-config clang llvm bpftool libbpf-dev linux-libc-dev
	libelf-dev zlib1g-dev libnl-3-dev libnl-route-3-dev libcap-dev libuv1-dev libcmocka-dev
	libyaml-dev libjansson-dev libcurl4-openssl-dev dpkg-dev)
RUN_PKGS=(curl jq iproute2 socat)

svc=$LAB_TARGET_ADDR:$LAB_SERVICE_PORT
be=$LAB_BACKEND_ADDR:$LAB_BACKEND_PORT

# demo_unit DESCRIPTION ARGS...: a hardened unit for one faultline-demo mode.
demo_unit() {
	local desc=$1
	shift
	cat <<UNIT
[Unit]
Description=$desc (faultline lab)
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=/usr/bin/faultline-demo $*
Restart=always
RestartSec=1s
DynamicUser=yes
CapabilityBoundingSet=
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
RestrictNamespaces=yes
SystemCallArchitectures=native

[Install]
WantedBy=multi-user.target
UNIT
}

# Write ROLE's files under $1 ("" for the real root); print the units to enable.
write_config() {
	local root=$1 units=/etc/systemd/system
	mkdir -p "$root$units" "$root/etc/faultline/experiments"
	cp "$FL_SRC"/experiments/*.yaml "$FL_SRC"/experiments/*.json "$root/etc/faultline/experiments/"
	case $role in
	target)
		demo_unit "demo service" serve --listen "$svc" \
			--backend "http://$be/" --backend-timeout-ms "$LAB_BACKEND_TIMEOUT_MS" \
			>"$root$units/faultline-demo-service.service"
		echo faultlined.service faultline-demo-service.service
		;;
	backend)
		demo_unit "demo backend" backend --listen "$be" \
			>"$root$units/faultline-demo-backend.service"
		echo faultline-demo-backend.service
		;;
	client)
		# A day of load per start; systemd starts the next day's.
		demo_unit "load generator" load --url "http://$svc/" --rate "$LAB_LOAD_RATE" \
			--duration 86400 --timeout-ms $((LAB_BACKEND_TIMEOUT_MS + 2500)) \
			>"$root$units/faultline-demo-load.service"
		mkdir -p "$root/etc/prometheus"
		sed -e "s/@LAB_SCRAPE_INTERVAL@/$LAB_SCRAPE_INTERVAL/g" \
			-e "s/@LAB_TARGET_ADDR@/$LAB_TARGET_ADDR/g" -e "s/@LAB_SERVICE_PORT@/$LAB_SERVICE_PORT/g" \
			-e "s/@LAB_BACKEND_ADDR@/$LAB_BACKEND_ADDR/g" -e "s/@LAB_BACKEND_PORT@/$LAB_BACKEND_PORT/g" \
			"$FL_SRC/lab/prometheus.yml.in" >"$root/etc/prometheus/prometheus.yml"
		# Debian's unit reads ARGS from here: listen on the lab address only.
		mkdir -p "$root/etc/default"
		echo "ARGS=\"--web.listen-address=$LAB_CLIENT_ADDR:$LAB_PROMETHEUS_PORT\"" \
			>"$root/etc/default/prometheus"
		echo faultline-demo-load.service prometheus.service
		;;
	esac
}

if [ -n "$config_root" ]; then
	mkdir -p "$config_root"
	write_config "$config_root"
	exit 0
fi

[ "$(id -u)" -eq 0 ] || {
	echo "provision.sh: run as root (vagrant does)" >&2
	exit 1
}
export DEBIAN_FRONTEND=noninteractive
echo "== packages"
pkgs=("${BUILD_PKGS[@]}" "${RUN_PKGS[@]}")
[ "$role" != client ] || pkgs+=(prometheus)
apt-get update -q
apt-get install -y -q --no-install-recommends "${pkgs[@]}"

echo "== build and install the .deb"
build=/var/tmp/faultline-build
cmake -S "$FL_SRC" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
(cd "$build" && cpack -G DEB >/dev/null)
apt-get install -y -q --reinstall "$(compgen -G "$build/faultline_*.deb" | head -n1)"

echo "== $role: units"
read -r -a units <<<"$(write_config "")"
systemctl daemon-reload
systemctl enable "${units[@]}"
systemctl restart "${units[@]}"
systemctl --no-pager --lines=0 status "${units[@]}"
echo "== $role ready; try: vagrant ssh $role -c 'faultctl validate /etc/faultline/experiments/*'"
