#!/usr/bin/env bash
# busybox-image.sh — imports a tiny test image (no registry): Debian's static busybox with its
# applet links, plus a few known files the tests delete or replace.
#
# Usage: DOCKER_HOST=... bash busybox-image.sh [IMAGE]    (default layerkeep-busybox:test)
#   DOCKER=/path/to/docker selects the client.
# The image contains (busybox-rootfs.sh):
#   /bin/busybox and a link per applet in /bin   /etc/passwd, /etc/group
#   /etc/image-file.txt ("from-image")           /srv/image-dir/{a,b}.txt  (an image directory)
set -euo pipefail

IMAGE="${1:-layerkeep-busybox:test}"
DOCKER="${DOCKER:-docker}"

if "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "[busybox-image] $IMAGE already present" >&2
  exit 0
fi
ROOT="$(mktemp -d "${TMPDIR:-/tmp}/layerkeep-busybox.XXXXXX")"
trap 'rm -rf "$ROOT"' EXIT
bash "$(dirname "$0")/busybox-rootfs.sh" "$ROOT"

tar --numeric-owner --owner=0 --group=0 -C "$ROOT" -cf - . \
  | "$DOCKER" import --change 'CMD ["/bin/sh"]' --change 'ENV PATH=/bin' - "$IMAGE" >/dev/null
echo "[busybox-image] imported $IMAGE" >&2
