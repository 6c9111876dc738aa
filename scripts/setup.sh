#!/usr/bin/env bash
# Installs every Debian package faultline needs to build, test and run its demo.
# Non-interactive and idempotent; prints nothing when everything is already there.
set -euo pipefail

PKGS=(
	# toolchain and build
	build-essential cmake pkg-config clang llvm lld libclang-rt-14-dev
	# BPF: libbpf, bpftool for skeletons, UAPI headers
	libbpf-dev bpftool linux-libc-dev libelf-dev zlib1g-dev
	# libraries
	libnl-3-dev libnl-route-3-dev libcap-dev libuv1-dev libcmocka-dev
	libyaml-dev libjansson-dev libcurl4-openssl-dev
	# integration tests: namespaces, traffic, processes
	iproute2 iputils-ping iperf3 procps psmisc socat curl jq kmod
	# system-call counts of the control path (test_agent_ctlpath.sh, bench/control_path.sh)
	strace
	# benchmarks: references measured side by side (stress-ng: the stressors' reference)
	iptables stress-ng
	# the namespace lab (scripts/lab.sh) and the guardrail tests: a real Prometheus server
	prometheus
	# packaging and deployment checks: man page lint, bash completion, the DaemonSet schema,
	# the audit log's rotation with the packaged logrotate file
	mandoc bash-completion python3-yaml python3-jsonschema logrotate
	# `vagrant validate` of the Vagrant lab (no VM is started)
	vagrant vagrant-libvirt
	# faultctl run tests: JUnit well-formedness (the report schema uses python3-jsonschema)
	libxml2-utils
	# ssh:// transport: faultctl runs ssh; its test starts its own throwaway sshd (on a host
	# with systemd the package also enables ssh.service: 'systemctl disable --now ssh' if the
	# host should not run one)
	openssh-client openssh-server
	# package install test: a fresh Debian root, booted under systemd-nspawn
	debootstrap systemd-container
	# vm stage: Debian's stock kernel under qemu (kernel is unpacked, never installed)
	qemu-system-x86 busybox-static cpio
	# container targets: real containers (runc: crun refuses hybrid cgroups) whose images
	# are built locally FROM scratch with busybox-static, and the Docker Engine API that
	# `podman system service` serves
	podman runc
	# network.dns tests and the lab's resolver node: a real resolver serving a hosts file
	# (dnsmasq) and real clients (dig)
	dnsmasq-base bind9-dnsutils
)

if [ "$(id -u)" -ne 0 ]; then
	echo "setup.sh: must run as root (it installs Debian packages)" >&2
	exit 1
fi

missing=()
for p in "${PKGS[@]}"; do
	case "$p" in \#*) continue ;; esac
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$st" = "install ok installed" ] || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
	export DEBIAN_FRONTEND=noninteractive
	log=$(mktemp)
	trap 'rm -f "$log"' EXIT
	if ! { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
		cat "$log" >&2
		echo "setup.sh: failed to install: ${missing[*]}" >&2
		exit 1
	fi
fi
bash "$(dirname "$0")/vm-kernel.sh"
