#!/usr/bin/env bash
# build-plugin.sh — builds layerkeep as a Docker managed plugin (authorization plugin mode) and
# registers it with `docker plugin create`. Run `make build` first.
#
# Usage: hooks/build-plugin.sh [NAME]          (default layerkeep:latest)
#   DOCKER=/path/to/docker   client to use (DOCKER_HOST selects the daemon as usual)
#   LK_PLUGIN_KEEP=DIR       also keep the plugin directory (config.json + rootfs) in DIR
# The rootfs holds the node binary and the shared libraries it and the native addons need (as
# ldd lists them), cp (for stop-time captures), CA certificates, and the built app with its
# production node_modules. Enable it with:
#   docker plugin enable NAME   and add  "authorization-plugins": ["NAME"]  to daemon.json.
set -euo pipefail

NAME="${1:-layerkeep:latest}"
DOCKER="${DOCKER:-docker}"
REPO="$(cd "$(dirname "$0")/.." && pwd)"
NODE="$(readlink -f "$(command -v node)")"

log() { echo "[build-plugin] $*" >&2; }
[ -f "$REPO/dist/src/cli/main.js" ] || { log "ERROR: $REPO/dist is missing: run make build first"; exit 1; }
[ -f "$REPO/src/native/build/Release/layerkeep_native.node" ] || { log "ERROR: the native addon is not built: run make build first"; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/layerkeep-plugin.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
ROOT="$WORK/rootfs"
APP="$ROOT/opt/layerkeep"
mkdir -p "$ROOT"/{usr/bin,bin,tmp,etc/ssl/certs,run/docker/plugins,run/layerkeep,var/lib/layerkeep,var/lib/docker,var/run} "$APP"
chmod 1777 "$ROOT/tmp"

# Binaries and every library ldd names for them (and for the native addons), at the same paths.
copy_with_libs() {
  local f
  for f in "$@"; do
    ldd "$f" 2>/dev/null | awk '/=> \// { print $3 } /^\t\// { print $1 }' | while read -r lib; do
      [ -e "$ROOT$lib" ] || { mkdir -p "$ROOT$(dirname "$lib")"; cp -L "$lib" "$ROOT$lib"; }
    done
  done
}
cp -L "$NODE" "$ROOT/usr/bin/node"
cp -L /bin/cp "$ROOT/bin/cp"
copy_with_libs "$NODE" /bin/cp
[ -f /etc/ssl/certs/ca-certificates.crt ] && cp -L /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/"
printf 'root:x:0:0:root:/root:/bin/false\n' > "$ROOT/etc/passwd"
printf 'root:x:0:\n' > "$ROOT/etc/group"

# The app: built JS, the proto, package metadata, the native addon and production dependencies.
cp -a "$REPO/dist" "$REPO/proto" "$REPO/package.json" "$REPO/package-lock.json" "$APP/"
mkdir -p "$APP/src/native/build/Release"
cp "$REPO/src/native/build/Release/layerkeep_native.node" "$APP/src/native/build/Release/"
cp -a "$REPO/node_modules" "$APP/node_modules"
(cd "$APP" && npm prune --omit=dev --no-audit --no-fund >/dev/null 2>&1) || log "warning: npm prune failed; shipping all node_modules"
rm -rf "$APP/dist/test" "$APP/dist/bench"
copy_with_libs $(find "$APP" -name '*.node')

cp "$REPO/plugin.json" "$WORK/config.json"
log "rootfs: $(du -sh "$ROOT" | cut -f1)"
if [ -n "${LK_PLUGIN_KEEP:-}" ]; then rm -rf "$LK_PLUGIN_KEEP"; cp -a "$WORK" "$LK_PLUGIN_KEEP"; fi
"$DOCKER" plugin create "$NAME" "$WORK" >&2
log "created plugin $NAME; enable it with: docker plugin enable $NAME"
