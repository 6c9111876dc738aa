#!/usr/bin/env bash
# Fetches Debian's stock kernel (linux-image-amd64 -> linux-image-X.Y.Z-N-amd64) for the "vm"
# test layer WITHOUT installing it: the .deb is downloaded with `apt-get download`, unpacked with
# `dpkg-deb -x` under the cache dir and depmod'ed there. The host's /boot, /lib/modules and boot
# configuration are never touched.
#
# Cache: ${FL_VM_CACHE:-/var/cache/faultline/vm}
#   kernel/<package>_<version>/   the unpacked package (boot/vmlinuz-KVER, lib/modules/KVER)
#   current -> kernel/<package>_<version>   what tests/vm/run.sh boots
#
# Non-interactive and idempotent; prints nothing when the kernel is already there. Runs
# `apt-get update` only when the package cannot be resolved or downloaded with the current lists.
set -euo pipefail

META=linux-image-amd64
CACHE=${FL_VM_CACHE:-/var/cache/faultline/vm}
export DEBIAN_FRONTEND=noninteractive

die() {
	echo "vm-kernel.sh: $*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "must run as root"
for t in apt-cache apt-get dpkg-deb depmod flock; do
	command -v "$t" >/dev/null 2>&1 || die "missing tool: $t"
done

mkdir -p "$CACHE/kernel"
exec 9>"$CACHE/.lock"
flock -w 600 9 || die "timed out waiting for the lock on $CACHE/.lock"

# The versioned image package behind the metapackage, e.g. linux-image-6.1.0-56-amd64, and its
# candidate version. Both print nothing (and succeed) when the package lists do not know them.
resolve() {
	local out
	out=$(apt-cache depends "$META" 2>/dev/null) || return 0
	sed -n 's/^ *|\{0,1\}Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' <<<"$out" | head -n1
}
candidate() {
	local out
	out=$(apt-cache policy "$1" 2>/dev/null) || return 0
	sed -n 's/^ *Candidate: //p' <<<"$out" | head -n1
}

complete_tree() { # DIR -> true if DIR holds a finished, depmod'ed kernel
	[ -f "$1/.complete" ] && compgen -G "$1/boot/vmlinuz-*" >/dev/null
}

log=$(mktemp)
tmp=""
cleanup() {
	rm -f "$log"
	if [ -n "$tmp" ]; then rm -rf "$tmp"; fi
}
trap cleanup EXIT

updated=0
apt_update() {
	[ "$updated" -eq 0 ] || return 1
	updated=1
	if ! apt-get update -q >"$log" 2>&1; then
		cat "$log" >&2
		die "apt-get update failed"
	fi
}

pkg=$(resolve)
ver=""
[ -z "$pkg" ] || ver=$(candidate "$pkg")
if [ -z "$pkg" ] || [ -z "$ver" ] || [ "$ver" = "(none)" ]; then
	# No usable package lists. Keep a kernel we already have rather than going online.
	if [ -L "$CACHE/current" ] && complete_tree "$CACHE/current"; then
		exit 0
	fi
	apt_update
	pkg=$(resolve)
	[ -n "$pkg" ] || die "cannot resolve the package behind $META"
	ver=$(candidate "$pkg")
	{ [ -n "$ver" ] && [ "$ver" != "(none)" ]; } || die "no candidate version for $pkg"
fi

name="${pkg}_${ver//:/%3a}"
dest="$CACHE/kernel/$name"

if ! complete_tree "$dest"; then
	rm -rf "$dest"
	tmp=$(mktemp -d "$CACHE/kernel/.tmp.XXXXXX")
	download() {
		(cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$ver") >"$log" 2>&1
	}
	if ! download; then
		# Most likely stale lists (the archive moved on): refresh once and resolve again.
		if apt_update; then
			pkg=$(resolve)
			ver=$(candidate "$pkg")
			if [ -z "$pkg" ] || [ -z "$ver" ]; then die "cannot resolve the package behind $META"; fi
			name="${pkg}_${ver//:/%3a}"
			dest="$CACHE/kernel/$name"
		fi
		if ! download; then
			cat "$log" >&2
			die "apt-get download $pkg=$ver failed"
		fi
	fi
	deb=$(compgen -G "$tmp/*.deb" | head -n1) || die "apt-get download left no .deb"
	mkdir "$tmp/root"
	dpkg-deb -x "$deb" "$tmp/root" || die "dpkg-deb -x $deb failed"
	rm -f "$deb"
	kver=$(find "$tmp/root/lib/modules" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | head -n1)
	[ -n "$kver" ] || die "$pkg ships no lib/modules/<version>"
	[ -f "$tmp/root/boot/vmlinuz-$kver" ] || die "$pkg ships no boot/vmlinuz-$kver"
	if ! depmod -b "$tmp/root" "$kver" >"$log" 2>&1; then
		cat "$log" >&2
		die "depmod -b failed for $kver"
	fi
	printf 'package=%s\nversion=%s\nkver=%s\n' "$pkg" "$ver" "$kver" >"$tmp/root/.complete"
	rm -rf "$dest"
	mv "$tmp/root" "$dest"
	rm -rf "$tmp"
	tmp=""
fi

# Point "current" at it (atomic rename), then drop older kernels and leftovers of killed runs.
if [ "$(readlink "$CACHE/current" 2>/dev/null || true)" != "kernel/$name" ]; then
	ln -sfn "kernel/$name" "$CACHE/.current.new"
	mv -T "$CACHE/.current.new" "$CACHE/current"
fi
for d in "$CACHE"/kernel/* "$CACHE"/kernel/.tmp.*; do
	[ -e "$d" ] || continue
	[ "$d" = "$dest" ] && continue
	rm -rf "$d"
done
