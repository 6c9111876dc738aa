#!/usr/bin/env bash
# Builds (once) the initramfs of the vm test layer and prints its path.
#
#   build_initramfs.sh [OUTDIR]
#
# Contents: busybox-static (all applets as symlinks, /sbin/modprobe included so that the kernel's
# module autoloader works even after the chroot), tests/vm/init as /init, and the modules of the
# guest kernel unpacked by scripts/vm-kernel.sh under ${FL_VM_CACHE:-/var/cache/faultline/vm}:
# the ones listed in REQUIRED (loaded by /init) and OPTIONAL (autoloaded on demand), with
# everything they depend on. Compressed modules (.ko.xz/.zst/.gz) are decompressed here, because
# busybox insmod may not handle them.
#
# The result is cached in OUTDIR (default: $FL_VM_CACHE/initramfs) under a name derived from the
# kernel package, this script and init: it is rebuilt only when one of them changes.
# Exit status: 0 ok (path on stdout), 77 a prerequisite is missing (reason on stderr), 1 error.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${FL_VM_CACHE:-/var/cache/faultline/vm}
KROOT="$CACHE/current"
OUTDIR=${1:-$CACHE/initramfs}

# Loaded by /init before the chroot; the build fails if one of them is missing.
REQUIRED=(virtio_pci 9pnet_virtio 9p veth sch_ingress cls_bpf act_mirred sch_netem sch_fq
	sch_htb sch_tbf sch_prio ifb)
# Shipped for autoloading if the kernel has them: every tc qdisc/classifier/action, act_bpf, and a
# few link types handy for test topologies.
OPTIONAL=(act_bpf bridge dummy tun macvlan)
OPTIONAL_DIRS=(kernel/net/sched)

skip() {
	echo "build_initramfs.sh: $*" >&2
	exit 77
}
die() {
	echo "build_initramfs.sh: $*" >&2
	exit 1
}

[ -f "$KROOT/.complete" ] || skip "no guest kernel in $CACHE (run scripts/vm-kernel.sh as root)"
KVER=$(sed -n 's/^kver=//p' "$KROOT/.complete")
if [ -z "$KVER" ] || [ ! -f "$KROOT/boot/vmlinuz-$KVER" ]; then skip "incomplete guest kernel in $KROOT"; fi

key=$(cat "$KROOT/.complete" "${BASH_SOURCE[0]}" "$HERE/init" | sha256sum | cut -c1-16)
out="$OUTDIR/initramfs-$KVER-$key.cpio.gz"
if [ -f "$out" ]; then
	echo "$out"
	exit 0
fi

BUSYBOX=/bin/busybox
if ! "$BUSYBOX" --list-full >/dev/null 2>&1; then skip "busybox-static is not installed"; fi
if ldd "$BUSYBOX" >/dev/null 2>&1; then skip "$BUSYBOX is not static (install busybox-static)"; fi
for t in cpio gzip depmod modprobe flock sha256sum; do
	command -v "$t" >/dev/null 2>&1 || skip "missing tool: $t"
done

mkdir -p "$OUTDIR"
exec 8>"$OUTDIR/.lock"
flock -w 300 8 || die "timed out waiting for $OUTDIR/.lock"
if [ -f "$out" ]; then # built by a concurrent run while we waited
	echo "$out"
	exit 0
fi

stage=$(mktemp -d "$OUTDIR/.build.XXXXXX")
trap 'rm -rf "$stage"' EXIT
R="$stage/root"
MD="lib/modules/$KVER"
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,mnt,work,hosttmp,etc/modprobe.d,"$MD"}

# busybox and its applets
cp "$BUSYBOX" "$R/bin/busybox"
while read -r applet; do
	[ "$applet" = bin/busybox ] && continue
	[ -e "$R/$applet" ] || ln -s /bin/busybox "$R/$applet"
done < <("$BUSYBOX" --list-full)
[ -e "$R/sbin/modprobe" ] || ln -s /bin/busybox "$R/sbin/modprobe"
[ -e "$R/dev/console" ] || mknod -m 600 "$R/dev/console" c 5 1 2>/dev/null || true

# Modules: the closure of REQUIRED + OPTIONAL over modules.dep.
names=("${REQUIRED[@]}")
for m in "${OPTIONAL[@]}"; do
	modprobe -d "$KROOT" -S "$KVER" --show-depends "$m" >/dev/null 2>&1 && names+=("$m")
done
for d in "${OPTIONAL_DIRS[@]}"; do
	[ -d "$KROOT/$MD/$d" ] || continue
	while read -r f; do
		f=${f##*/}
		names+=("${f%%.ko*}")
	done < <(find "$KROOT/$MD/$d" -name '*.ko*')
done

files=()
for m in "${names[@]}"; do
	if ! deps=$(modprobe -d "$KROOT" -S "$KVER" --show-depends "$m" 2>&1); then
		die "guest kernel $KVER has no module $m: $deps"
	fi
	while read -r kind path _; do
		if [ "$kind" = insmod ]; then files+=("$path"); fi
	done <<<"$deps"
done
declare -A seen=()
for f in "${files[@]}"; do
	[ -n "${seen[$f]:-}" ] && continue
	seen[$f]=1
	rel=${f#"$KROOT"/}
	mkdir -p "$R/$(dirname "$rel")"
	case "$f" in
	*.ko) cp "$f" "$R/$rel" ;;
	*.ko.xz) xz -dc "$f" >"$R/${rel%.xz}" ;;
	*.ko.zst) zstd -q -dc "$f" >"$R/${rel%.zst}" ;;
	*.ko.gz) gzip -dc "$f" >"$R/${rel%.gz}" ;;
	*) die "unexpected module file $f" ;;
	esac
done
for f in modules.order modules.builtin modules.builtin.modinfo; do
	if [ -f "$KROOT/$MD/$f" ]; then cp "$KROOT/$MD/$f" "$R/$MD/"; fi
done
# modules.order may name compressed files: make it match what we ship.
if [ -f "$R/$MD/modules.order" ]; then sed -i -E 's/\.ko\.(xz|zst|gz)$/.ko/' "$R/$MD/modules.order"; fi
depmod -b "$R" "$KVER" || die "depmod -b failed"

# What /init loads (those built into the kernel need nothing).
for m in "${REQUIRED[@]}"; do
	if modprobe -d "$KROOT" -S "$KVER" --show-depends "$m" | grep >/dev/null '^insmod '; then
		echo "$m"
	fi
done >"$R/etc/fl-modules"
# Same defaults as a systemd host: no auto-created ifb0/dummy0/bond0 in the guest's init netns.
cat >"$R/etc/modprobe.d/fl.conf" <<'EOF'
options ifb numifbs=0
options dummy numdummies=0
options bonding max_bonds=0
EOF

cp "$HERE/init" "$R/init"
chmod 755 "$R/init"

(cd "$R" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -1) >"$stage/initramfs.cpio.gz"
mv "$stage/initramfs.cpio.gz" "$out"
# Drop initramfs images of older kernels or older versions of the harness.
for f in "$OUTDIR"/initramfs-*.cpio.gz; do
	[ "$f" = "$out" ] || rm -f "$f"
done
echo "$out"
