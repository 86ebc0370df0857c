#!/usr/bin/env bash
# busybox-image.sh — imports a tiny test image (no registry): Debian's static busybox with its
# applet links, plus a few known files the tests delete or replace.
#
# Usage: DOCKER_HOST=... bash busybox-image.sh [IMAGE]    (default layerkeep-busybox:test)
#   DOCKER=/path/to/docker selects the client.
# The image contains:
#   /bin/busybox and a link per applet in /bin   /etc/passwd, /etc/group
#   /etc/image-file.txt ("from-image")           /srv/image-dir/{a,b}.txt  (an image directory)
set -euo pipefail

IMAGE="${1:-layerkeep-busybox:test}"
DOCKER="${DOCKER:-docker}"
BUSYBOX=/bin/busybox

if "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "[busybox-image] $IMAGE already present" >&2
  exit 0
fi
[ -x "$BUSYBOX" ] || { echo "[busybox-image] ERROR: $BUSYBOX is missing (apt-get install busybox-static)" >&2; exit 1; }
if ! file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' && ldd "$BUSYBOX" >/dev/null 2>&1; then
  echo "[busybox-image] ERROR: $BUSYBOX is dynamically linked; install busybox-static" >&2
  exit 1
fi

ROOT="$(mktemp -d "${TMPDIR:-/tmp}/layerkeep-busybox.XXXXXX")"
trap 'rm -rf "$ROOT"' EXIT
mkdir -p "$ROOT"/{bin,etc,tmp,root,proc,sys,dev,srv/image-dir,data}
chmod 1777 "$ROOT/tmp"
cp "$BUSYBOX" "$ROOT/bin/busybox"
for applet in $("$BUSYBOX" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$ROOT/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$ROOT/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$ROOT/etc/group"
echo from-image > "$ROOT/etc/image-file.txt"
echo a > "$ROOT/srv/image-dir/a.txt"
echo b > "$ROOT/srv/image-dir/b.txt"

tar --numeric-owner --owner=0 --group=0 -C "$ROOT" -cf - . \
  | "$DOCKER" import --change 'CMD ["/bin/sh"]' --change 'ENV PATH=/bin' - "$IMAGE" >/dev/null
echo "[busybox-image] imported $IMAGE" >&2
