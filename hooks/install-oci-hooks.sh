#!/usr/bin/env bash
# install-oci-hooks.sh — puts layerkeep's OCI hook definition (oci-hooks.d/layerkeep.json, hooks
# schema 1.0.0) where Podman and CRI-O read it, pointing at the installed hook:
#   install-oci-hooks.sh [--hooks-dir=DIR] [--hook=PATH] [-- HOOK OPTIONS...]
#   --hooks-dir  default /etc/containers/oci/hooks.d (Podman's and CRI-O's admin hooks dir;
#                packages use /usr/share/containers/oci/hooks.d)
#   --hook       default $PREFIX/lib/layerkeep/hooks/layerkeep-hook (PREFIX=/usr/local; `make install`)
#   HOOK OPTIONS are appended to the hook's arguments, e.g. --socket=/run/layerkeep/layerkeep.sock
#                --run-dir=/run/layerkeep --on-restore-error=start --capture-timeout=25 --node=/usr/bin/node
# The file is written atomically; Podman re-reads hooks dirs on each command, CRI-O watches them.
set -euo pipefail

PREFIX="${PREFIX:-/usr/local}"
HOOKS_DIR=/etc/containers/oci/hooks.d
HOOK="$PREFIX/lib/layerkeep/hooks/layerkeep-hook"
HERE="$(cd "$(dirname "$0")" && pwd)"
while [ $# -gt 0 ]; do
  case "$1" in
    --hooks-dir=*) HOOKS_DIR="${1#*=}" ;;
    --hook=*) HOOK="${1#*=}" ;;
    --) shift; break ;;
    *) echo "install-oci-hooks: unknown argument $1 (hook options go after --)" >&2; exit 2 ;;
  esac
  shift
done
case "$HOOK" in /*) ;; *) echo "install-oci-hooks: --hook must be an absolute path, got $HOOK" >&2; exit 2 ;; esac
[ -x "$HOOK" ] || echo "install-oci-hooks: warning: $HOOK is not an executable yet (run make install)" >&2
NODE="$(command -v node || true)"
[ -n "$NODE" ] || { echo "install-oci-hooks: node is required" >&2; exit 1; }

mkdir -p "$HOOKS_DIR"
"$NODE" -e '
  const fs = require("node:fs");
  const [template, out, hook, ...extra] = process.argv.slice(1);
  const def = JSON.parse(fs.readFileSync(template, "utf8"));
  def.hook.path = hook;
  def.hook.args = [...def.hook.args, ...extra];
  fs.writeFileSync(out + ".tmp", JSON.stringify(def, null, 2) + "\n", { mode: 0o644 });
  fs.renameSync(out + ".tmp", out);
' "$HERE/oci-hooks.d/layerkeep.json" "$HOOKS_DIR/layerkeep.json" "$HOOK" "$@"
echo "[install-oci-hooks] installed $HOOKS_DIR/layerkeep.json (hook $HOOK)" >&2
