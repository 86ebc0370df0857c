#!/usr/bin/env bash
# dockerd-start.sh — a private Docker daemon for the end-to-end tests, isolated from the host's.
#
# Usage:   exports=$(bash dockerd-start.sh [DIR]) || exit 1; eval "$exports"
#          (not eval "$(...)" directly: that would hide a failed start)
#          DIR defaults to ${TMPDIR:-/tmp}/layerkeep-dockerd
# Stop:    bash dockerd-stop.sh [DIR]
#
# What it does (Debian 12, root):
#   1. apt-get installs docker.io (dockerd 20.10 + runc) and busybox-static if missing;
#   2. starts dockerd with everything inside DIR: --data-root DIR/data, --exec-root DIR/exec,
#      --pidfile, its own unix socket DIR/docker.sock, overlay2, no bridge, no iptables; it never
#      touches /var/run/docker.sock or /var/lib/docker. Its containerd is its own child too;
#   3. registers hooks/layerkeep-runc as the runtime "layerkeep" (and, unless
#      LK_DOCKERD_DEFAULT_RUNTIME=runc, as the default runtime) through a private daemon.json,
#      with runtimeArgs naming this daemon's data root and the layerkeep socket DIR/lk/layerkeep.sock;
#   4. imports the busybox test image (busybox-image.sh);
#   5. prints `export ...` lines on stdout (everything else goes to stderr):
#        DOCKER_HOST                  unix://DIR/docker.sock
#        LAYERKEEP_TEST_DOCKERD_DIR   DIR
#        LAYERKEEP_TEST_DOCKER_ROOT   DIR/data (the daemon's data root)
#        LAYERKEEP_TEST_SOCKET        the layerkeep socket the wrapper was registered with
#        LAYERKEEP_TEST_IMAGE         the busybox image reference
# Idempotent: if the dockerd recorded in DIR is alive and answers, it only prints the exports.
#
# Tunables (environment):
#   LK_DOCKERD_EXTRA_ARGS='...'        extra dockerd flags (e.g. --authorization-plugin=NAME)
#   LK_DOCKERD_DEFAULT_RUNTIME=runc    keep runc as the default runtime
#   LK_DOCKERD_NO_WRAPPER=1            do not register the layerkeep runtime at all
#   LK_DOCKERD_READY_TIMEOUT=60        seconds to wait for the API
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
DIR="${1:-${TMPDIR:-/tmp}/layerkeep-dockerd}"
TIMEOUT="${LK_DOCKERD_READY_TIMEOUT:-60}"
IMAGE="layerkeep-busybox:test"

log() { echo "[dockerd-start] $*" >&2; }
fail() {
  log "ERROR: $*"
  [ -s "$DIR/dockerd.log" ] && { echo "----- tail $DIR/dockerd.log" >&2; tail -n 30 "$DIR/dockerd.log" >&2; }
  exit 1
}

install_missing() {
  local need=()
  command -v dockerd >/dev/null 2>&1 && [ -x /usr/sbin/runc ] || need+=(docker.io)
  # the image needs a statically linked busybox (Debian's busybox package is dynamic)
  { [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; } || need+=(busybox-static)
  [ ${#need[@]} -eq 0 ] && return 0
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || fail "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "${need[@]}" >&2 || fail "apt-get install ${need[*]} failed"
}

# Debian's docker.io ships a 20.10 client in /usr/bin; prefer it over any newer client on PATH.
docker_cli() { if [ -x /usr/bin/docker ]; then echo /usr/bin/docker; else command -v docker; fi; }

alive() {
  local pid
  [ -f "$DIR/dockerd.pid" ] || return 1
  pid="$(cat "$DIR/dockerd.pid")"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "$DIR/daemon.json" || return 1
  DOCKER_HOST="unix://$DIR/docker.sock" "$(docker_cli)" version >/dev/null 2>&1
}

print_exports() {
  cat <<EOF
export DOCKER_HOST=unix://$DIR/docker.sock
export LAYERKEEP_TEST_DOCKERD_DIR=$DIR
export LAYERKEEP_TEST_DOCKER_ROOT=$DIR/data
export LAYERKEEP_TEST_SOCKET=$DIR/lk/layerkeep.sock
export LAYERKEEP_TEST_IMAGE=$IMAGE
EOF
}

install_missing
case "$DIR" in /*) ;; *) DIR="$(pwd)/$DIR" ;; esac
# unix socket paths are limited to 107 bytes
[ ${#DIR} -le 70 ] || fail "DIR $DIR is too long for a unix socket path; use a shorter one"

if alive; then
  log "dockerd in $DIR is already running"
  print_exports
  exit 0
fi

mkdir -p "$DIR/data" "$DIR/exec" "$DIR/lk"
NODE="$(command -v node)" || fail "node is not on PATH"
RUNTIMES=""
if [ "${LK_DOCKERD_NO_WRAPPER:-0}" != 1 ]; then
  WRAPPER="$REPO/hooks/layerkeep-runc"
  [ -x "$WRAPPER" ] || fail "$WRAPPER is missing or not executable"
  DEFAULT_RT="layerkeep"
  [ "${LK_DOCKERD_DEFAULT_RUNTIME:-layerkeep}" = runc ] && DEFAULT_RT="runc"
  RUNTIMES=$(cat <<EOF
  "default-runtime": "$DEFAULT_RT",
  "runtimes": {
    "layerkeep": {
      "path": "$WRAPPER",
      "runtimeArgs": [
        "--layerkeep-docker-root=$DIR/data",
        "--layerkeep-socket=$DIR/lk/layerkeep.sock",
        "--layerkeep-run-dir=$DIR/lk/run",
        "--layerkeep-node=$NODE"
      ]
    }
  },
EOF
)
fi
cat > "$DIR/daemon.json" <<EOF
{
$RUNTIMES
  "data-root": "$DIR/data",
  "exec-root": "$DIR/exec",
  "pidfile": "$DIR/dockerd.pid",
  "hosts": ["unix://$DIR/docker.sock"],
  "storage-driver": "overlay2",
  "bridge": "none",
  "iptables": false,
  "ip-masq": false,
  "userland-proxy": false
}
EOF

log "starting dockerd in $DIR"
# --config-file keeps the host's /etc/docker/daemon.json out; setsid detaches it from our shell.
# shellcheck disable=SC2086
setsid dockerd --config-file "$DIR/daemon.json" ${LK_DOCKERD_EXTRA_ARGS:-} \
  </dev/null >>"$DIR/dockerd.log" 2>&1 &
for _ in $(seq "$TIMEOUT"); do
  if DOCKER_HOST="unix://$DIR/docker.sock" "$(docker_cli)" version >/dev/null 2>&1; then break; fi
  kill -0 $! 2>/dev/null || fail "dockerd exited"
  sleep 1
done
DOCKER_HOST="unix://$DIR/docker.sock" "$(docker_cli)" version >/dev/null 2>&1 || fail "dockerd did not answer within ${TIMEOUT}s"

DOCKER_HOST="unix://$DIR/docker.sock" DOCKER="$(docker_cli)" bash "$HERE/busybox-image.sh" "$IMAGE" >&2 \
  || fail "importing the busybox image failed"
log "ready: DOCKER_HOST=unix://$DIR/docker.sock"
print_exports
