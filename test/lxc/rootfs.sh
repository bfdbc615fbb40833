#!/usr/bin/env bash
# The root filesystem of the LXC end-to-end test, built once and cached.
#   rootfs.sh PACKAGE...   prints the directory of the cached root filesystem
#
# lxc-create's debian template builds Debian 12 (bookworm) with debootstrap from
# Debian's mirror and installs PACKAGE... into it: the container has no internet
# during the test, so everything provision.sh would install is there already.
# The result is then shifted to the unprivileged id range (container root =
# host uid/gid $CCO_LXC_ID_BASE, 65536 ids): tar runs inside a user namespace
# with that mapping, so owners, modes and setuid bits come out right.
# Needs root, lxc-create, debootstrap, lxc-usernsexec and root's range in
# /etc/subuid and /etc/subgid (the test adds it).
#
# The cache ($CCO_LXC_CACHE, /var/cache/cco-infra/lxc) is keyed by a hash of the
# package list, the id base and this script: a change of any rebuilds it.
set -euo pipefail

cache=${CCO_LXC_CACHE:-/var/cache/cco-infra/lxc}
id_base=${CCO_LXC_ID_BASE:-100000}
[ "$#" -gt 0 ] || { echo "usage: $0 PACKAGE..." >&2; exit 2; }
packages=$(printf '%s\n' "$@" | sort -u | paste -sd, -)
key=$({ echo "$packages"; echo "$id_base"; cat "$0"; } | sha256sum | cut -c1-16)
dir=$cache/bookworm-$key

mkdir -p "$cache"
exec 9> "$cache/.lock"
flock 9
if [ -f "$dir/complete" ]; then
  echo "$dir/rootfs"
  exit 0
fi

log() { printf '[rootfs] %s\n' "$*" >&2; }
work=$(mktemp -d "$cache/build.XXXXXX")
cleanup() {
  lxc-destroy -P "$work" -n build > /dev/null 2>&1 || true
  rm -rf "$work" "$dir.partial"
}
trap cleanup EXIT

log "building bookworm with: $packages (cache miss: $dir)"
# The template keeps its debootstrap base under our cache too.
LXC_CACHE_PATH=$cache/template lxc-create -P "$work" -n build -t debian -- \
  -r bookworm --packages="$packages" >&2
src=$work/build/rootfs
# Nothing in the container may fetch packages: drop what apt downloaded.
rm -rf "$src"/var/lib/apt/lists/* "$src"/var/cache/apt/archives/*.deb "$src"/var/cache/apt/*.bin

log "shifting ids to $id_base (unprivileged)"
rm -rf "$dir.partial"
mkdir -p "$dir.partial/rootfs"
chown "$id_base:$id_base" "$dir.partial/rootfs"
# /dev is LXC's (a tmpfs it fills at start); device nodes cannot be made in a user namespace.
tar -C "$src" --numeric-owner --exclude='./dev/*' -cpf - . |
  lxc-usernsexec -m "b:0:$id_base:65536" -- tar -C "$dir.partial/rootfs" --numeric-owner -xpf -
touch "$dir.partial/complete"
rm -rf "$dir"
mv "$dir.partial" "$dir"
# Older builds (another package list) are no use any more.
find "$cache" -maxdepth 1 -name 'bookworm-*' ! -name "bookworm-$key" -exec rm -rf {} +
echo "$dir/rootfs"
