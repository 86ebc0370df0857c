#!/usr/bin/env bash
# busybox-rootfs.sh — fills DIR with the test image's root filesystem: Debian's static busybox
# with its applet links, passwd/group, and the files the tests delete or replace
# (/etc/image-file.txt, /srv/image-dir/{a,b}.txt). Used by busybox-image.sh (Docker) and
# busybox-oci-layout.sh (containerd).
# Usage: bash busybox-rootfs.sh DIR
set -euo pipefail
ROOT="${1:?usage: busybox-rootfs.sh DIR}"
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || { echo "[busybox-rootfs] ERROR: $BUSYBOX is missing (apt-get install busybox-static)" >&2; exit 1; }
if ldd "$BUSYBOX" >/dev/null 2>&1; then
  echo "[busybox-rootfs] ERROR: $BUSYBOX is dynamically linked; install busybox-static" >&2
  exit 1
fi
mkdir -p "$ROOT"/{bin,etc,tmp,root,proc,sys,dev,run,srv/image-dir,data}
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
