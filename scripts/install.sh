#!/bin/sh
# install.sh — installs an unpacked layerkeep release on this host (no node, npm or compiler
# needed), or removes exactly what an earlier run installed.
#
#   ./install.sh [--prefix=/usr/local] [--destdir=DIR] [--no-systemd] [--no-oci-hooks]
#   ./install.sh --uninstall [--prefix=...] [--destdir=...]
#
# Installs (every path below under DESTDIR, which defaults to the DESTDIR variable or /):
#   PREFIX/lib/layerkeep/                     the release tree (bundled Node, app, hooks)
#   PREFIX/bin/layerkeep                      symlink to PREFIX/lib/layerkeep/bin/layerkeep
#   PREFIX/share/man/man1/layerkeep.1         the man page
#   /etc/systemd/system/layerkeep.service     the daemon's unit (unless --no-systemd)
#   /etc/layerkeep/layerkeep.json             config, only if absent (kept by --uninstall if edited)
#   /etc/layerkeep/env                        credentials for the unit, mode 0600, only if absent
#   /etc/containers/oci/hooks.d/layerkeep.json  Podman / CRI-O hook (unless --no-oci-hooks)
# What it installed is listed in PREFIX/lib/layerkeep/.installed (path and sha256 per file, and
# the directories it created); --uninstall removes those files (config files only while they
# are unchanged), then those directories if they are empty, then the tree.
set -eu

PREFIX=/usr/local
DEST="${DESTDIR:-}"
SYSTEMD=1
OCI_HOOKS=1
UNINSTALL=0
for a in "$@"; do
  case "$a" in
    --prefix=*) PREFIX="${a#*=}" ;;
    --destdir=*) DEST="${a#*=}" ;;
    --no-systemd) SYSTEMD=0 ;;
    --no-oci-hooks) OCI_HOOKS=0 ;;
    --uninstall) UNINSTALL=1 ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument $a (see --help)" >&2; exit 2 ;;
  esac
done
case "$PREFIX" in /*) ;; *) echo "install.sh: --prefix must be absolute, got $PREFIX" >&2; exit 2 ;; esac
case "$PREFIX$DEST" in *[[:space:]]*) echo "install.sh: paths with white space are not supported" >&2; exit 2 ;; esac
case "$DEST" in ''|/*) ;; *) echo "install.sh: --destdir must be absolute, got $DEST" >&2; exit 2 ;; esac
DEST="${DEST%/}"

LIB="$PREFIX/lib/layerkeep"
MANIFEST="$DEST$LIB/.installed"
log() { echo "[install] $*" >&2; }

sha() { sha256sum "$1" | cut -d' ' -f1; }

if [ "$UNINSTALL" = 1 ]; then
  [ -f "$MANIFEST" ] || { echo "install.sh: nothing installed under $DEST$LIB (no $MANIFEST)" >&2; exit 1; }
  # Files first, then the tree, then the directories the install created, deepest first.
  tac "$MANIFEST" | while IFS=' ' read -r kind sum path; do
    case "$kind" in
      file)
        [ -e "$DEST$path" ] || [ -L "$DEST$path" ] || continue
        if [ "$sum" != "-" ] && [ ! -L "$DEST$path" ] && [ "$(sha "$DEST$path")" != "$sum" ]; then
          log "kept $DEST$path (changed since it was installed)"
        else
          rm -f "$DEST$path"
        fi ;;
    esac
  done
  dirs="$(grep '^dir ' "$MANIFEST" | cut -d' ' -f3 | tac)"
  rm -rf "$DEST$LIB"
  for d in $dirs; do rmdir "$DEST$d" 2>/dev/null || true; done
  log "removed layerkeep from $DEST$PREFIX"
  exit 0
fi

HERE="$(cd "$(dirname "$0")" && pwd)"
[ -x "$HERE/node/bin/node" ] && [ -f "$HERE/dist/src/cli/main.js" ] \
  || { echo "install.sh: run me from an unpacked layerkeep release (no node/bin/node next to me)" >&2; exit 1; }
"$HERE/node/bin/node" -e 'process.exit(0)' \
  || { echo "install.sh: the bundled node does not run on this host" >&2; exit 1; }

LIST="$(mktemp)"
DIRS="$(mktemp)"
OLD="$(mktemp)"
trap 'rm -f "$LIST" "$DIRS" "$OLD"' EXIT
# An upgrade keeps the earlier record of kept config files and created directories.
if [ -f "$MANIFEST" ]; then cp "$MANIFEST" "$OLD"; grep '^dir ' "$OLD" | cut -d' ' -f3 >> "$DIRS" || true; fi

# mkdirs PATH: creates PATH (under DEST) and records each directory it had to create.
mkdirs() {
  p="$1" missing=""
  while [ ! -d "$DEST$p" ]; do missing="$p $missing"; p="$(dirname "$p")"; done
  for d in $missing; do mkdir -m 755 "$DEST$d"; echo "$d" >> "$DIRS"; done
}
# put SRC PATH MODE [keep]: installs a file; with "keep", an existing one is left alone.
put() {
  if [ "${4:-}" = keep ] && [ -e "$DEST$2" ]; then
    grep "^file [^ ]* $2\$" "$OLD" >> "$LIST" || log "kept existing $DEST$2"
    return
  fi
  mkdirs "$(dirname "$2")"
  cp "$1" "$DEST$2.new" && chmod "$3" "$DEST$2.new" && mv -f "$DEST$2.new" "$DEST$2"
  echo "file $(sha "$DEST$2") $2" >> "$LIST"
}

if [ -e "$DEST$LIB" ]; then log "replacing $DEST$LIB"; fi
mkdirs "$PREFIX/lib"
rm -rf "$DEST$LIB.new"
cp -a "$HERE" "$DEST$LIB.new"
rm -rf "$DEST$LIB.old"
[ -e "$DEST$LIB" ] && mv "$DEST$LIB" "$DEST$LIB.old"
mv "$DEST$LIB.new" "$DEST$LIB"
rm -rf "$DEST$LIB.old"
chmod 755 "$DEST$LIB"

mkdirs "$PREFIX/bin"
ln -sfn "$LIB/bin/layerkeep" "$DEST$PREFIX/bin/layerkeep"
echo "file - $PREFIX/bin/layerkeep" >> "$LIST"
put "$HERE/share/man/man1/layerkeep.1" "$PREFIX/share/man/man1/layerkeep.1" 644
put "$HERE/etc/layerkeep.json" /etc/layerkeep/layerkeep.json 644 keep
put "$HERE/etc/env" /etc/layerkeep/env 600 keep

if [ "$SYSTEMD" = 1 ]; then
  UNIT="$(mktemp)"
  sed "s#@BINDIR@#$PREFIX/bin#" "$HERE/etc/layerkeep.service" > "$UNIT"
  put "$UNIT" /etc/systemd/system/layerkeep.service 644
  rm -f "$UNIT"
fi
if [ "$OCI_HOOKS" = 1 ]; then
  HOOKDEF="$(mktemp)"
  "$HERE/node/bin/node" -e '
    const fs = require("node:fs");
    const [template, out, lib] = process.argv.slice(1);
    const def = JSON.parse(fs.readFileSync(template, "utf8"));
    def.hook.path = lib + "/hooks/layerkeep-hook";
    def.hook.args = [...def.hook.args, "--node=" + lib + "/node/bin/node"];
    fs.writeFileSync(out, JSON.stringify(def, null, 2) + "\n");
  ' "$HERE/hooks/oci-hooks.d/layerkeep.json" "$HOOKDEF" "$LIB"
  put "$HOOKDEF" /etc/containers/oci/hooks.d/layerkeep.json 644
  rm -f "$HOOKDEF"
fi

# The record --uninstall reads: created directories first, so they are removed last.
{ sed 's#^#dir - #' "$DIRS"; cat "$LIST"; } > "$MANIFEST"
chmod 600 "$MANIFEST"

log "installed layerkeep $("$DEST$LIB/bin/layerkeep" --version 2>/dev/null || echo) under $DEST$PREFIX"
cat >&2 <<EOT
[install] next steps:
  systemctl daemon-reload && systemctl enable --now layerkeep
  Docker (/etc/docker/daemon.json, then restart dockerd):
    "runtimes": { "layerkeep": { "path": "$LIB/hooks/layerkeep-runc",
        "runtimeArgs": ["--layerkeep-docker-root=/var/lib/docker", "--layerkeep-node=$LIB/node/bin/node"] } },
    "default-runtime": "layerkeep"
  containerd (/etc/containerd/config.toml, CRI plugin), then restart containerd:
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.layerkeep]
      runtime_type = "io.containerd.runc.v2"
      pod_annotations = ["io.layerkeep.*"]
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.layerkeep.options]
        BinaryName = "$LIB/hooks/layerkeep-runc"
  Podman / CRI-O: the hook is in /etc/containers/oci/hooks.d/layerkeep.json (annotation io.layerkeep.key)
EOT
