#!/usr/bin/env bash
# install.sh — installs the built layerkeep (run `make build` first) for the runtime-wrapper mode:
#   $PREFIX/lib/layerkeep/{dist,proto,hooks,node_modules (production),src/native/build/Release}
#   $PREFIX/bin/layerkeep -> the CLI;  /etc/systemd/system/layerkeep.service (when systemd is there)
# Usage: hooks/install.sh            PREFIX=/usr/local by default
set -euo pipefail

PREFIX="${PREFIX:-/usr/local}"
REPO="$(cd "$(dirname "$0")/.." && pwd)"
LIB="$PREFIX/lib/layerkeep"
log() { echo "[install] $*" >&2; }

[ -f "$REPO/dist/src/cli/main.js" ] || { log "ERROR: $REPO/dist is missing: run make build first"; exit 1; }
[ -f "$REPO/src/native/build/Release/layerkeep_native.node" ] || { log "ERROR: the native addon is not built: run make build first"; exit 1; }

STAGE="$(mktemp -d "${TMPDIR:-/tmp}/layerkeep-install.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT
cp -a "$REPO/dist" "$REPO/proto" "$REPO/hooks" "$REPO/package.json" "$REPO/package-lock.json" "$STAGE/"
rm -rf "$STAGE/dist/test" "$STAGE/dist/bench"
mkdir -p "$STAGE/src/native/build/Release"
cp "$REPO/src/native/build/Release/layerkeep_native.node" "$STAGE/src/native/build/Release/"
cp -a "$REPO/node_modules" "$STAGE/node_modules"
(cd "$STAGE" && npm prune --omit=dev --no-audit --no-fund >/dev/null 2>&1) || log "warning: npm prune failed; installing all node_modules"

mkdir -p "$PREFIX/lib" "$PREFIX/bin"
rm -rf "$LIB.new" && cp -a "$STAGE" "$LIB.new" && chmod 755 "$LIB.new"
rm -rf "$LIB.old"; [ -e "$LIB" ] && mv "$LIB" "$LIB.old"
mv "$LIB.new" "$LIB" && rm -rf "$LIB.old"
chmod +x "$LIB/dist/src/cli/main.js" "$LIB/dist/src/runtime/hook-shim.js" "$LIB/hooks/layerkeep-runc" "$LIB/hooks/layerkeep-hook"
ln -sfn "$LIB/dist/src/cli/main.js" "$PREFIX/bin/layerkeep"
mkdir -p /var/lib/layerkeep /etc/layerkeep
[ -f /etc/layerkeep/layerkeep.json ] || echo '{}' > /etc/layerkeep/layerkeep.json
if [ -d /etc/systemd/system ]; then
  sed "s#/usr/local/bin/layerkeep#$PREFIX/bin/layerkeep#" "$REPO/hooks/layerkeep.service" > /etc/systemd/system/layerkeep.service
  log "installed /etc/systemd/system/layerkeep.service (systemctl daemon-reload && systemctl enable --now layerkeep)"
fi
log "installed $LIB and $PREFIX/bin/layerkeep"
cat >&2 <<EOT
[install] register the runtime wrapper in /etc/docker/daemon.json, then restart dockerd:
  "runtimes": { "layerkeep": { "path": "$LIB/hooks/layerkeep-runc",
                               "runtimeArgs": ["--layerkeep-docker-root=/var/lib/docker"] } },
  "default-runtime": "layerkeep"
EOT
