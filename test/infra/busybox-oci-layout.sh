#!/usr/bin/env bash
# busybox-oci-layout.sh — writes an OCI image layout tar (no registry, no Docker) holding two
# images over one layer, Debian's static busybox with its applet links plus the files the tests
# delete or replace (as busybox-image.sh):
#   layerkeep.test/busybox:test   CMD ["/bin/sh"]
#   layerkeep.test/pause:test     CMD ["/bin/sleep", "2147483647"]  (a pod sandbox image)
# Each index.json entry names its image in io.containerd.image.name, which is what
# `ctr images import` reads from an OCI layout.
#
# Usage: bash busybox-oci-layout.sh OUT.tar
set -euo pipefail

OUT="${1:?usage: busybox-oci-layout.sh OUT.tar}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/layerkeep-oci-layout.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
ROOT="$WORK/rootfs"
LAYOUT="$WORK/layout"
mkdir -p "$LAYOUT/blobs/sha256"
bash "$(dirname "$0")/busybox-rootfs.sh" "$ROOT"

# put FILE: stores it as a blob, prints "<hex> <size>"
put() {
  local hex size
  hex="$(sha256sum "$1" | cut -d' ' -f1)"
  size="$(stat -c %s "$1")"
  mv "$1" "$LAYOUT/blobs/sha256/$hex"
  echo "$hex $size"
}

tar --numeric-owner --owner=0 --group=0 --sort=name --mtime=@0 -C "$ROOT" -cf "$WORK/layer.tar" .
read -r LAYER LAYER_SIZE < <(put "$WORK/layer.tar")

manifest() { # NAME CMD-JSON -> index entry on stdout
  local cfg man
  printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Cmd":%s},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$2" "$LAYER" > "$WORK/config.json"
  read -r cfg cfg_size < <(put "$WORK/config.json")
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
    "$cfg" "$cfg_size" "$LAYER" "$LAYER_SIZE" > "$WORK/manifest.json"
  read -r man man_size < <(put "$WORK/manifest.json")
  printf '{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"test"}}' \
    "$man" "$man_size" "$1"
}
busybox="$(manifest layerkeep.test/busybox:test '["/bin/sh"]')"
pause="$(manifest layerkeep.test/pause:test '["/bin/sleep","2147483647"]')"
printf '{"schemaVersion":2,"manifests":[%s,%s]}' "$busybox" "$pause" > "$LAYOUT/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' > "$LAYOUT/oci-layout"
tar -C "$LAYOUT" -cf "$OUT" .
echo "[busybox-oci] wrote $OUT" >&2
