#!/usr/bin/env bash
# Runs a command with a private dockerd (dockerd-start.sh): exports DOCKER_HOST and the
# LAYERKEEP_TEST_* variables the Docker tests read, runs "$@", stops the dockerd.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir="${LAYERKEEP_DOCKERD_DIR:-${TMPDIR:-/tmp}/layerkeep-dockerd}"
exports=$(bash "$here/dockerd-start.sh" "$dir") || { echo "with-dockerd: could not start the private dockerd" >&2; exit 1; }
eval "$exports"
trap 'bash "$here/dockerd-stop.sh" "$dir" || true' EXIT
"$@"
