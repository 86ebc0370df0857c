#!/usr/bin/env bash
# build-plugin.sh — builds layerkeep as a Docker managed plugin (authorization plugin mode) from
# the release tarball and registers it with `docker plugin create`.
#
# Usage: hooks/build-plugin.sh NAME RELEASE.tar.gz        (make plugin passes both)
#   DOCKER=/path/to/docker   client to use (DOCKER_HOST selects the daemon as usual)
#   LK_PLUGIN_KEEP=DIR       also keep the plugin directory (config.json + rootfs) in DIR
# The rootfs is scripts/rootfs.sh's: the release at /opt/layerkeep plus the libraries it needs.
# Enable it with `docker plugin enable NAME` and "authorization-plugins": ["NAME"] in
# daemon.json; for a fleet, `docker plugin push NAME` to a registry and `docker plugin install`.
set -euo pipefail

NAME="${1:?usage: build-plugin.sh NAME RELEASE.tar.gz}"
REL="${2:?usage: build-plugin.sh NAME RELEASE.tar.gz}"
DOCKER="${DOCKER:-docker}"
REPO="$(cd "$(dirname "$0")/.." && pwd)"
log() { echo "[build-plugin] $*" >&2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/layerkeep-plugin.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
"$REPO/scripts/rootfs.sh" "$REL" "$WORK/rootfs"
mkdir -p "$WORK/rootfs"/{run/docker/plugins,var/lib/docker,var/run}
cp "$REPO/plugin.json" "$WORK/config.json"
log "rootfs: $(du -sh "$WORK/rootfs" | cut -f1)"
if [ -n "${LK_PLUGIN_KEEP:-}" ]; then rm -rf "$LK_PLUGIN_KEEP"; cp -a "$WORK" "$LK_PLUGIN_KEEP"; fi
"$DOCKER" plugin create "$NAME" "$WORK" >&2
log "created plugin $NAME; enable it with: docker plugin enable $NAME"
