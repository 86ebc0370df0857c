#!/usr/bin/env bash
# rgw-stop.sh — stop the daemons that rgw-start.sh started in DATA_DIR and delete DATA_DIR.
# Usage: bash rgw-stop.sh [DATA_DIR]     (default ${TMPDIR:-/tmp}/layerkeep-rgw)
# Only PIDs recorded in DATA_DIR/run/*.pid are signalled, and only if that process's command
# line still names DATA_DIR/ceph.conf (so a recycled PID is never hit). Never kills by name.
set -euo pipefail

DIR="${1:-${TMPDIR:-/tmp}/layerkeep-rgw}"
CONF="$DIR/ceph.conf"
log() { echo "[rgw-stop] $*" >&2; }

if [ ! -e "$DIR" ]; then log "$DIR does not exist; nothing to do"; exit 0; fi
if [ ! -f "$DIR/.layerkeep-rgw" ]; then
  log "ERROR: $DIR was not created by rgw-start.sh; refusing to touch it"; exit 1
fi

ours() {  # ours PID: live process whose command line contains our ceph.conf
  [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' < "/proc/$1/cmdline" | grep -qF -- "$CONF"
}
# still_running PID STARTTIME: not finished yet. After the main thread exits the command line
# is empty but other threads may still be tearing down; a zombie with one thread left is done
# (it only waits to be reaped by its parent). STARTTIME pins identity against PID reuse.
still_running() {
  [ -r "/proc/$1/stat" ] && [ "$(cut -d' ' -f22 "/proc/$1/stat" 2>/dev/null)" = "$2" ] || return 1
  ! { grep -q '^State:[[:space:]]*Z' "/proc/$1/status" && grep -q '^Threads:[[:space:]]*1$' "/proc/$1/status"; } 2>/dev/null
}

rc=0
for name in rgw osd.0 mon.a; do          # reverse start order: radosgw hangs if the mon goes first
  pf="$DIR/run/$name.pid"
  [ -f "$pf" ] || continue
  pid="$(cat "$pf")"
  if [ -z "$pid" ] || ! ours "$pid"; then log "$name: not running"; continue; fi
  start="$(cut -d' ' -f22 "/proc/$pid/stat")"
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do still_running "$pid" "$start" || break; sleep 0.1; done   # up to 10 s
  if still_running "$pid" "$start"; then
    log "$name did not exit 10 s after SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do still_running "$pid" "$start" || break; sleep 0.1; done
    if still_running "$pid" "$start"; then log "ERROR: $name (pid $pid) still alive"; rc=1; fi
  fi
done

if [ "$rc" -eq 0 ]; then
  rm -rf "$DIR"
  log "removed $DIR"
fi
exit "$rc"
