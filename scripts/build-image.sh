#!/usr/bin/env bash
# build-image.sh — the layerkeep OCI image (for the Kubernetes DaemonSet) from the release
# tarball, without a registry or a base image: scripts/rootfs.sh's root filesystem as one layer.
# The archive is both an OCI image layout (index.json, `ctr images import`) and a docker-save
# archive (manifest.json, `docker load`).
#
# Usage: scripts/build-image.sh RELEASE.tar.gz OUT.tar [IMAGE_NAME]
#   IMAGE_NAME defaults to layerkeep:<version>; push it with `docker push` / `ctr images push`.
set -euo pipefail
REL="$1"; OUT="$2"
REPO="$(cd "$(dirname "$0")/.." && pwd)"
VERSION="$(node -p "require('$REPO/package.json').version")"
NAME="${3:-layerkeep:$VERSION}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/layerkeep-image.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
"$REPO/scripts/rootfs.sh" "$REL" "$WORK/rootfs"
EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$REPO" log -1 --format=%ct 2>/dev/null || date +%s)}"
tar --sort=name --numeric-owner --owner=0 --group=0 --mtime="@$EPOCH" -C "$WORK/rootfs" -cf "$WORK/layer.tar" .
gzip -n -6 -c "$WORK/layer.tar" > "$WORK/layer.tar.gz"
node "$REPO/scripts/image-archive.mjs" "$WORK/layer.tar" "$WORK/layer.tar.gz" "$OUT" "$NAME" "$VERSION" "$EPOCH"
echo "[build-image] $OUT: $NAME, $(du -h "$OUT" | cut -f1)" >&2
