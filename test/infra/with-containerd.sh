#!/usr/bin/env bash
# Runs a command next to a private containerd (containerd-start.sh), all inside one private mount
# namespace with its own tmpfs on /run: containerd 1.6 writes under /run/containerd whatever its
# config says, and the layerkeep daemon must see the containers' root mounts. Exports the
# LAYERKEEP_TEST_* variables the containerd tests read, runs "$@", stops containerd.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ "${1:-}" != --inside ]; then
  exec unshare --mount --propagation private -- "$0" --inside "$@"
fi
shift
mount -t tmpfs -o mode=0755 tmpfs /run
dir="${LAYERKEEP_CONTAINERD_DIR:-${TMPDIR:-/tmp}/layerkeep-containerd}"
export LAYERKEEP_TEST_CONTAINERD_INFRA="$here"
trap 'bash "$here/containerd-stop.sh" "$dir" || true' EXIT
exports=$(bash "$here/containerd-start.sh" "$dir") || { echo "with-containerd: could not start the private containerd" >&2; exit 1; }
eval "$exports"
"$@"
