#!/usr/bin/env bash
# containerd-start.sh — a private containerd for the end-to-end tests, isolated from any system one.
#
# Usage (inside the private mount namespace with-containerd.sh sets up; refused outside it):
#          exports=$(bash containerd-start.sh [DIR]) || exit 1; eval "$exports"
#          DIR defaults to ${TMPDIR:-/tmp}/layerkeep-containerd
# Stop:    bash containerd-stop.sh [DIR]
#
# Why a mount namespace: containerd 1.6 puts shim sockets, ctr's FIFOs and runc's state under
# /run/containerd whatever its config says; with-containerd.sh runs containerd, its shims, the
# layerkeep daemon and every ctr call in one namespace with its own tmpfs on /run.
#
# What it does (Debian 12, root):
#   1. apt-get installs containerd (1.6, with its CRI plugin and ctr) and busybox-static if missing;
#   2. writes DIR/config.toml: root DIR/root, state DIR/state, gRPC socket DIR/containerd.sock, no
#      TCP; the CRI plugin with runtime handlers "runc" (default) and "layerkeep" (runc.v2 shim
#      running hooks/layerkeep-runc, pod_annotations io.layerkeep.*), sandbox image
#      layerkeep.test/pause:test; the io.containerd.runtime.v1.linux plugin stays enabled (ctr run);
#   3. starts containerd with LAYERKEEP_SOCKET/LAYERKEEP_RUN_DIR/LAYERKEEP_NODE in its environment:
#      containerd passes no runtime arguments, so the wrapper (run by the shim, which inherits
#      containerd's environment) takes its options from there;
#   4. imports the busybox OCI layout (busybox-oci-layout.sh) into namespaces default and k8s.io;
#   5. prints `export ...` lines on stdout (everything else goes to stderr):
#        LAYERKEEP_TEST_CONTAINERD_DIR     DIR
#        LAYERKEEP_TEST_CONTAINERD_SOCKET  DIR/containerd.sock
#        LAYERKEEP_TEST_CONTAINERD_ROOT    DIR/root
#        LAYERKEEP_TEST_CTRD_LK_SOCKET     the layerkeep socket the wrapper uses (DIR/lk/layerkeep.sock)
#        LAYERKEEP_TEST_CTRD_LK_RUN_DIR    the layerkeep run dir the wrapper uses (DIR/lk/run)
#        LAYERKEEP_TEST_CTRD_IMAGE         layerkeep.test/busybox:test
# Tunables: LK_CONTAINERD_READY_TIMEOUT=60 (seconds to wait for the API).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
DIR="${1:-${TMPDIR:-/tmp}/layerkeep-containerd}"
TIMEOUT="${LK_CONTAINERD_READY_TIMEOUT:-60}"
IMAGE=layerkeep.test/busybox:test
PAUSE=layerkeep.test/pause:test

log() { echo "[containerd-start] $*" >&2; }
fail() {
  log "ERROR: $*"
  [ -s "$DIR/containerd.log" ] && { echo "----- tail $DIR/containerd.log" >&2; tail -n 30 "$DIR/containerd.log" >&2; }
  exit 1
}

case "$DIR" in /*) ;; *) DIR="$(pwd)/$DIR" ;; esac
[ ${#DIR} -le 70 ] || fail "DIR $DIR is too long for a unix socket path; use a shorter one"
# Never next to a system containerd: only in a mount namespace of our own with a tmpfs on /run.
[ "$(readlink /proc/self/ns/mnt)" != "$(readlink /proc/1/ns/mnt)" ] \
  || fail "refusing to start outside a private mount namespace (run it through with-containerd.sh)"
[ "$(findmnt -n -o FSTYPE --target /run 2>/dev/null)" = tmpfs ] && [ "$(findmnt -n -o TARGET --target /run)" = /run ] \
  || fail "/run is not a private tmpfs (run it through with-containerd.sh)"

need=()
command -v containerd >/dev/null 2>&1 && command -v ctr >/dev/null 2>&1 || need+=(containerd)
{ [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; } || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -qq >&2 || fail "apt-get update failed"
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${need[@]}" >&2 || fail "apt-get install ${need[*]} failed"
fi

SOCK="$DIR/containerd.sock"
ctr_() { ctr --address "$SOCK" "$@"; }
print_exports() {
  cat <<EOT
export LAYERKEEP_TEST_CONTAINERD_DIR=$DIR
export LAYERKEEP_TEST_CONTAINERD_SOCKET=$SOCK
export LAYERKEEP_TEST_CONTAINERD_ROOT=$DIR/root
export LAYERKEEP_TEST_CTRD_LK_SOCKET=$DIR/lk/layerkeep.sock
export LAYERKEEP_TEST_CTRD_LK_RUN_DIR=$DIR/lk/run
export LAYERKEEP_TEST_CTRD_IMAGE=$IMAGE
EOT
}
if [ -f "$DIR/containerd.pid" ] && kill -0 "$(cat "$DIR/containerd.pid")" 2>/dev/null && ctr_ version >/dev/null 2>&1; then
  log "containerd in $DIR is already running"
  print_exports
  exit 0
fi

WRAPPER="$REPO/hooks/layerkeep-runc"
[ -x "$WRAPPER" ] || fail "$WRAPPER is missing or not executable"
NODE="$(command -v node)" || fail "node is not on PATH"
mkdir -p "$DIR/root" "$DIR/state" "$DIR/lk" "$DIR/opt" "$DIR/cni/bin" "$DIR/cni/conf"
CRI='plugins."io.containerd.grpc.v1.cri"'
cat > "$DIR/config.toml" <<EOT
version = 2
root = "$DIR/root"
state = "$DIR/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "$SOCK"
[ttrpc]
  address = ""
[debug]
  address = ""
  level = "info"
[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$DIR/opt"

[$CRI]
  sandbox_image = "$PAUSE"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  # the sandbox asks for oom_score_adj -998; where containerd may not lower its own score (a
  # container or a restricted VM) runc's init fails with "Permission denied"
  restrict_oom_score_adj = true
  [$CRI.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [$CRI.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
    [$CRI.containerd.runtimes.layerkeep]
      runtime_type = "io.containerd.runc.v2"
      pod_annotations = ["io.layerkeep.*"]
      [$CRI.containerd.runtimes.layerkeep.options]
        BinaryName = "$WRAPPER"
  [$CRI.cni]
    bin_dir = "$DIR/cni/bin"
    conf_dir = "$DIR/cni/conf"
EOT

log "starting containerd in $DIR"
LAYERKEEP_SOCKET="$DIR/lk/layerkeep.sock" LAYERKEEP_RUN_DIR="$DIR/lk/run" LAYERKEEP_NODE="$NODE" \
  setsid containerd --config "$DIR/config.toml" </dev/null >>"$DIR/containerd.log" 2>&1 &
echo $! > "$DIR/containerd.pid"
for _ in $(seq "$((TIMEOUT * 4))"); do
  ctr_ version >/dev/null 2>&1 && break
  kill -0 "$(cat "$DIR/containerd.pid")" 2>/dev/null || fail "containerd exited"
  sleep 0.25
done
ctr_ version >/dev/null 2>&1 || fail "containerd did not answer within ${TIMEOUT}s"

LAYOUT="$DIR/busybox-oci.tar"
[ -s "$LAYOUT" ] || bash "$HERE/busybox-oci-layout.sh" "$LAYOUT" || fail "building the busybox OCI layout failed"
for ns in default k8s.io; do
  ctr_ -n "$ns" images import "$LAYOUT" >&2 || fail "ctr images import into namespace $ns failed"
done
log "ready: $SOCK"
print_exports
