#!/usr/bin/env bash
# containerd-stop.sh — stops the private containerd started by containerd-start.sh (its tasks and
# shims first) and removes its DIR.
#
# Usage: bash containerd-stop.sh [DIR]      (DIR defaults to ${TMPDIR:-/tmp}/layerkeep-containerd)
#   LK_CONTAINERD_KEEP=1 keeps DIR (logs, root) for a post-mortem.
set -uo pipefail

DIR="${1:-${TMPDIR:-/tmp}/layerkeep-containerd}"
case "$DIR" in /*) ;; *) DIR="$(pwd)/$DIR" ;; esac
log() { echo "[containerd-stop] $*" >&2; }
[ -f "$DIR/config.toml" ] || { log "no private containerd in $DIR"; exit 0; }

SOCK="$DIR/containerd.sock"
pid=""; [ -f "$DIR/containerd.pid" ] && pid="$(cat "$DIR/containerd.pid")"
if [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "$DIR/config.toml"; then
  # Tasks first, so that their shims exit and their mounts go away.
  for ns in $(ctr --address "$SOCK" namespaces list -q 2>/dev/null); do
    for t in $(ctr --address "$SOCK" -n "$ns" tasks list -q 2>/dev/null); do
      ctr --address "$SOCK" -n "$ns" tasks kill -s SIGKILL "$t" >/dev/null 2>&1
      ctr --address "$SOCK" -n "$ns" tasks delete -f "$t" >/dev/null 2>&1
    done
  done
  kill -TERM "$pid"
  for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then log "containerd $pid did not stop; killing it"; kill -KILL "$pid"; sleep 1; fi
fi
# Shims of this containerd name its socket on their command line.
for p in $(pgrep -f -- "-address $SOCK" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
awk -v d="$DIR/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
  umount -l "$m" 2>/dev/null || true
done
if [ "${LK_CONTAINERD_KEEP:-0}" = 1 ]; then log "kept $DIR"; exit 0; fi
rm -rf "$DIR" && log "removed $DIR"
