#!/usr/bin/env bash
# dockerd-stop.sh — stops the private dockerd started by dockerd-start.sh and removes its DIR.
#
# Usage: bash dockerd-stop.sh [DIR]      (DIR defaults to ${TMPDIR:-/tmp}/layerkeep-dockerd)
#   LK_DOCKERD_KEEP=1 keeps DIR (logs, data root) for a post-mortem.
set -uo pipefail

DIR="${1:-${TMPDIR:-/tmp}/layerkeep-dockerd}"
case "$DIR" in /*) ;; *) DIR="$(pwd)/$DIR" ;; esac
log() { echo "[dockerd-stop] $*" >&2; }

[ -f "$DIR/daemon.json" ] || { log "no private dockerd in $DIR"; exit 0; }

DOCKER=/usr/bin/docker; [ -x "$DOCKER" ] || DOCKER=docker
export DOCKER_HOST="unix://$DIR/docker.sock"
# Remove containers first so their mounts and shims go away cleanly.
ids=$("$DOCKER" ps -aq 2>/dev/null || true)
[ -n "$ids" ] && "$DOCKER" rm -f $ids >/dev/null 2>&1

pid=""
[ -f "$DIR/dockerd.pid" ] && pid="$(cat "$DIR/dockerd.pid")"
if [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "$DIR/daemon.json"; then
  kill -TERM "$pid"
  for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then log "dockerd $pid did not stop; killing it"; kill -KILL "$pid"; sleep 1; fi
fi
# Anything still mounted under DIR (overlays, netns, plugin rootfs) is ours: unmount, deepest first.
awk -v d="$DIR/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
  umount -l "$m" 2>/dev/null || true
done
if [ "${LK_DOCKERD_KEEP:-0}" = 1 ]; then log "kept $DIR"; exit 0; fi
rm -rf "$DIR" && log "removed $DIR"
