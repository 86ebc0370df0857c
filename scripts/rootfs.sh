#!/usr/bin/env bash
# rootfs.sh — turns a release tarball into a minimal root filesystem for a container: the
# release at /opt/layerkeep, the shared libraries ldd lists for its node and addons (and for cp,
# which stop-time captures use), CA certificates, and the few files a process expects.
# No base image and no package manager: what runs is exactly what the release ships.
#
# Usage: scripts/rootfs.sh RELEASE.tar.gz ROOTFS_DIR
set -euo pipefail
REL="$1"; ROOT="$2"
[ -f "$REL" ] || { echo "rootfs: no release tarball at $REL (run make release)" >&2; exit 1; }
mkdir -p "$ROOT"/{opt,bin,tmp,etc/ssl/certs,run/layerkeep,var/lib/layerkeep}
chmod 1777 "$ROOT/tmp"
UNPACK="$(mktemp -d "$ROOT/opt/.unpack.XXXXXX")"
tar -xzf "$REL" -C "$UNPACK"
rm -rf "$ROOT/opt/layerkeep"
mv "$UNPACK"/layerkeep-*-linux-x64 "$ROOT/opt/layerkeep"
rmdir "$UNPACK"
cp -L /bin/cp "$ROOT/bin/cp"
# Every library ldd names, at the same path (the dynamic loader's path included).
for f in "$ROOT/opt/layerkeep/node/bin/node" /bin/cp $(find "$ROOT/opt/layerkeep" -name '*.node'); do
  ldd "$f" | awk '/=> \// { print $3 } /^\t\// { print $1 }' | while read -r lib; do
    [ -e "$ROOT$lib" ] || { mkdir -p "$ROOT$(dirname "$lib")"; cp -L "$lib" "$ROOT$lib"; }
  done
done
[ -f /etc/ssl/certs/ca-certificates.crt ] && cp -L /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/"
printf 'root:x:0:0:root:/root:/bin/false\n' > "$ROOT/etc/passwd"
printf 'root:x:0:\n' > "$ROOT/etc/group"
