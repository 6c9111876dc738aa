#!/usr/bin/env bash
# The Vagrant lab without VMs: `vagrant validate` accepts vagrant/Vagrantfile (libvirt, the
# provider Debian packages; VirtualBox's settings are only checked with --ignore-provider,
# VirtualBox not being in Debian) and rejects a broken copy; vagrant/provision.sh passes
# bash -n and shellcheck, and the configuration it writes for each role (systemd units,
# Prometheus configuration, experiments) passes systemd-analyze verify and promtool.
# Not tested here: the package installation and build steps of provision.sh inside a VM
# (they are the commands scripts/build.sh and test_package.sh run on this machine).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

fl_require_build
fl_tmpdir work
V=$FL_SOURCE_DIR/vagrant
DEMO=$FL_BUILD_DIR/lab/demo/faultline-demo

fl_log "provision.sh: syntax and lint"
bash -n "$V/provision.sh" || fl_fail "bash -n provision.sh"
if command -v shellcheck >/dev/null; then
	shellcheck -x "$V/provision.sh" || fl_fail "shellcheck provision.sh"
else
	fl_log "SKIPPED PART: shellcheck not installed"
fi

fl_log "provision.sh --config-only for each role"
# shellcheck disable=SC1091 # KEY=VALUE lines
. "$FL_SOURCE_DIR/lab/topology.env"
for role in target backend client; do
	root=$work/$role
	units=$(bash "$V/provision.sh" "$role" --config-only "$root")
	[ -n "$units" ] || fl_fail "$role: no units to enable"
	cmp -s "$root/etc/faultline/experiments/worker-kill.yaml" \
		"$FL_SOURCE_DIR/experiments/worker-kill.yaml" || fl_fail "$role: experiments not copied"
	for u in $units; do
		case $u in
		faultlined.service | prometheus.service) continue ;; # from their packages
		esac
		f=$root/etc/systemd/system/$u
		[ -f "$f" ] || fl_fail "$role: $u not written"
		grep -q "^ExecStart=/usr/bin/faultline-demo " "$f" || fl_fail "$role: $u runs $(grep ExecStart "$f")"
		if command -v systemd-analyze >/dev/null; then
			sed "s|/usr/bin/faultline-demo|$DEMO|" "$f" >"$work/$u"
			out=$(systemd-analyze verify --man=no "$work/$u" 2>&1) || fl_fail "$u: $out"
			[ -z "$out" ] || fl_fail "systemd-analyze verify $u: $out"
		fi
	done
done
grep -q -- "--listen $LAB_TARGET_ADDR:$LAB_SERVICE_PORT --backend http://$LAB_BACKEND_ADDR:$LAB_BACKEND_PORT/" \
	"$work/target/etc/systemd/system/faultline-demo-service.service" ||
	fl_fail "the target's service does not use the topology's addresses"
if command -v promtool >/dev/null; then
	promtool check config "$work/client/etc/prometheus/prometheus.yml" >"$work/promtool.log" 2>&1 ||
		{ cat "$work/promtool.log"; fl_fail "promtool check config"; }
fi
grep -q "^ARGS=\"--web.listen-address=$LAB_CLIENT_ADDR:$LAB_PROMETHEUS_PORT\"$" \
	"$work/client/etc/default/prometheus" || fl_fail "Prometheus listen address"

command -v vagrant >/dev/null || fl_skip "vagrant is not installed (apt-get install vagrant vagrant-libvirt)"
fl_log "vagrant validate"
# Vagrant's own state goes to the test's directory, not to ~/.vagrant.d or vagrant/.vagrant.
export VAGRANT_HOME=$work/vagrant-home VAGRANT_DOTFILE_PATH=$work/dotfile VAGRANT_CHECKPOINT_DISABLE=1
vv() { (cd "$1" && vagrant validate "${@:2}" 2>&1); }
out=$(vv "$V") || fl_fail "vagrant validate: $out"
grep -q "validated successfully" <<<"$out" || fl_fail "vagrant validate: $out"
out=$(vv "$V" --ignore-provider) || fl_fail "vagrant validate --ignore-provider: $out"
# The check can fail: a misspelt setting in a copy of the lab is rejected.
mkdir -p "$work/copy/vagrant" "$work/copy/lab"
cp "$FL_SOURCE_DIR/lab/topology.env" "$work/copy/lab/"
sed 's/node.vm.hostname =/node.vm.hostnme =/' "$V/Vagrantfile" >"$work/copy/vagrant/Vagrantfile"
cp "$V/provision.sh" "$work/copy/vagrant/"
if out=$(vv "$work/copy/vagrant"); then
	fl_fail "vagrant validate accepted a misspelt setting: $out"
fi
grep -q hostnme <<<"$out" || fl_fail "vagrant validate failed for another reason: $out"
