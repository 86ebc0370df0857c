#!/usr/bin/env bash
# Runs a command with a throwaway Ceph RGW on loopback: starts it, exports its endpoint and
# test credentials (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...), runs "$@", stops it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
data="${LAYERKEEP_RGW_DIR:-${TMPDIR:-/tmp}/layerkeep-rgw}"
exports=$(bash "$here/rgw-start.sh" "$data") || { echo "with-rgw: could not start the test S3 server" >&2; exit 1; }
eval "$exports"
trap 'bash "$here/rgw-stop.sh" "$data" || true' EXIT
"$@"
