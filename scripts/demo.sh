#!/usr/bin/env bash
# The quick-start job: a container-like overlay mount gets a writable layer, layerkeep
# snapshots its upper dir into the embedded local store (file:///var/lib/layerkeep/store),
# then a "second host" (an empty state dir) restores it under a new overlay over the same
# lower dir, and the two merged views are compared entry by entry.
set -euo pipefail
cd "$(dirname "$0")/.."
LK=(node dist/src/cli/main.js)
work=$(mktemp -d "${TMPDIR:-/tmp}/layerkeep-demo.XXXXXX")
cleanup() { umount "$work/a/merged" 2>/dev/null || true; umount "$work/b/merged" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

mkdir -p "$work/lower/etc" "$work/lower/var/cache" "$work"/{a,b}/{upper,work,merged}
echo "image config" > "$work/lower/etc/app.conf"
echo "stale cache" > "$work/lower/var/cache/old"
echo "remove me" > "$work/lower/etc/obsolete"
mount -t overlay overlay -o "lowerdir=$work/lower,upperdir=$work/a/upper,workdir=$work/a/work" "$work/a/merged"

echo "== the container writes to its layer"
m="$work/a/merged"
echo "state $(date +%s)" > "$m/etc/state"; echo "tuned" >> "$m/etc/app.conf"; rm "$m/etc/obsolete"
rm -rf "$m/var/cache"; mkdir "$m/var/cache"; echo fresh > "$m/var/cache/new"
setfattr -n user.owner -v demo "$m/etc/state"; chown 1000:1000 "$m/etc/state"; chmod 0640 "$m/etc/state"
ln "$m/etc/state" "$m/etc/state.link"; mkfifo "$m/var/pipe"
umount "$m"

echo "== create the store (once; a no-op when it exists)"
"${LK[@]}" init
echo "== snapshot the upper dir (embedded local store)"
"${LK[@]}" snapshot --key demo "$work/a/upper"
echo "== restore on a second host (empty state dir) into a fresh upper dir"
"${LK[@]}" restore --key demo --state-dir "$work/host2-state" "$work/b/upper"
mount -t overlay overlay -o "lowerdir=$work/lower,upperdir=$work/b/upper,workdir=$work/b/work" "$work/b/merged"
mount -t overlay overlay -o "lowerdir=$work/lower,upperdir=$work/a/upper,workdir=$work/a/work" "$work/a/merged"

echo "== compare the merged views (type, mode, owner, size, mtime, xattrs, content)"
view() { (cd "$1" && find . \( -type d -printf '%p %y %m %U:%G - %T@\n' \) -o -printf '%p %y %m %U:%G %s %T@ %l\n' | sort && getfattr -R -d -m '^user\.' . 2>/dev/null; find . -type f -exec sha256sum {} + | sort); }
if diff <(view "$work/a/merged") <(view "$work/b/merged"); then
  echo "identical: $(cd "$work/b/merged" && find . | wc -l) entries"
else
  echo "MISMATCH between the original and the restored view" >&2; exit 1
fi
"${LK[@]}" ls --key demo
