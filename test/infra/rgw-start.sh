#!/usr/bin/env bash
# rgw-start.sh — throwaway single-node Ceph RADOS Gateway (real S3 API) on loopback.
#
# Usage:   exports=$(bash rgw-start.sh [DATA_DIR]) || exit 1; eval "$exports"
#          (not eval "$(...)" directly: that would hide a failed start)
#          DATA_DIR defaults to ${TMPDIR:-/tmp}/layerkeep-rgw
# Stop:    bash rgw-stop.sh [DATA_DIR]
#
# What it does (Debian 12, root for the install step):
#   1. apt-get installs ceph-mon, ceph-osd, radosgw, ceph-common if any binary is missing;
#   2. bootstraps a one-mon / one-OSD cluster (no mgr, no cephx, memstore = data lives in RAM,
#      every pool size 1) entirely inside DATA_DIR, all daemons bound to 127.0.0.1 only;
#   3. starts radosgw (beast frontend) on 127.0.0.1:${RGW_PORT:-7480} and waits until it answers;
#   4. creates an S3 user with fixed test keys;
#   5. prints `export AWS_...` lines on stdout (everything else goes to stderr), so `eval` works.
# Idempotent: if the daemons recorded in DATA_DIR are alive and RGW answers, it only prints the
# exports. A half-dead previous instance in DATA_DIR is stopped (by its recorded PIDs) and wiped.
#
# Tunables (environment):
#   RGW_PORT=7480           S3 HTTP port           RGW_MON_PORT=3300   monitor port (msgr v2)
#   RGW_MEMSTORE_GB=6       OSD capacity. Data lives in RAM, ~2 bytes of RSS per byte stored
#                           (deleted data is freed by RGW garbage collection ~1-2 min later).
#                           Once the OSD is marked full (95%), S3 requests HANG (no error),
#                           so keep what tests store well below this.
#   RGW_READY_TIMEOUT=120   seconds to wait for each readiness step
#   RGW_ACCESS_KEY / RGW_SECRET_KEY   override the fixed test keys
#   RGW_EXTRA_CONF='opt = val'        extra lines for radosgw's config section, e.g.
#                           'rgw_lc_debug_interval = 10' (a lifecycle "day" lasts 10 s)
set -euo pipefail

DIR="${1:-${TMPDIR:-/tmp}/layerkeep-rgw}"
RGW_PORT="${RGW_PORT:-7480}"
MON_PORT="${RGW_MON_PORT:-3300}"
MEM_GB="${RGW_MEMSTORE_GB:-6}"
TIMEOUT="${RGW_READY_TIMEOUT:-120}"
ACCESS_KEY="${RGW_ACCESS_KEY:-LAYERKEEPTESTACCESS0}"
SECRET_KEY="${RGW_SECRET_KEY:-layerkeep-test-secret-key-not-a-real-secret}"
S3_USER="layerkeep-test"
MARKER="$DIR/.layerkeep-rgw"   # proves DIR was made by this script before anything wipes it
CONF="$DIR/ceph.conf"
ENDPOINT="http://127.0.0.1:$RGW_PORT"

log() { echo "[rgw-start] $*" >&2; }
fail() {  # print the message and the tail of every log we have, then exit non-zero
  log "ERROR: $*"
  for f in "$DIR"/log/*.log "$DIR"/log/*.out; do
    [ -s "$f" ] || continue
    echo "----- tail $f" >&2; tail -n 15 "$f" >&2
  done
  exit 1
}

# pid_alive NAME: true if DIR/run/NAME.pid names a live process started with our ceph.conf
# (guards against a recycled PID belonging to someone else).
pid_alive() {
  local pf="$DIR/run/$1.pid" pid
  [ -f "$pf" ] || return 1
  pid="$(cat "$pf")"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "$CONF"
}

# still_running PID STARTTIME: the process is not finished. Once its main thread exits its
# command line is empty, but other threads may run on for a moment; a zombie with one thread
# left is done (it only waits to be reaped). STARTTIME pins the identity against PID reuse.
still_running() {
  [ -r "/proc/$1/stat" ] && [ "$(cut -d' ' -f22 "/proc/$1/stat" 2>/dev/null)" = "$2" ] || return 1
  ! { grep -q '^State:[[:space:]]*Z' "/proc/$1/status" && grep -q '^Threads:[[:space:]]*1$' "/proc/$1/status"; } 2>/dev/null
}

# stop_recorded: SIGTERM each recorded daemon (rgw, osd, mon), SIGKILL it after 10 s.
stop_recorded() {
  local name pid start
  for name in rgw osd.0 mon.a; do
    pid_alive "$name" || continue
    pid="$(cat "$DIR/run/$name.pid")"
    start="$(cut -d' ' -f22 "/proc/$pid/stat")"
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do still_running "$pid" "$start" || break; sleep 0.1; done
    if still_running "$pid" "$start"; then kill -KILL "$pid" 2>/dev/null || true; sleep 0.5; fi
  done
}

# wait_for DESC DAEMON CMD...: poll CMD every 0.5 s for up to $TIMEOUT s; fail early if DAEMON dies.
wait_for() {
  local desc="$1" daemon="$2"; shift 2
  local deadline=$((SECONDS + TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    pid_alive "$daemon" || fail "$daemon exited while waiting for: $desc"
    [ "$SECONDS" -lt "$deadline" ] || fail "timed out after ${TIMEOUT}s waiting for: $desc"
    sleep 0.5
  done
  log "ready: $desc (${SECONDS}s since start)"
}

# start_daemon NAME CMD...: run CMD in the foreground mode of the daemon, detached from our
# stdio, ignoring SIGHUP, and record its PID (nohup execs, so $! is the daemon itself).
start_daemon() {
  local name="$1"; shift
  nohup "$@" </dev/null >"$DIR/log/$name.out" 2>&1 &
  echo $! > "$DIR/run/$name.pid"
  log "started $name (pid $!)"
}

ceph_cli() { timeout 30 ceph -c "$CONF" --connect-timeout 5 "$@"; }
rgw_up()   { curl -fsS -o /dev/null --max-time 2 "$ENDPOINT/"; }
# a SigV4-signed ListBuckets with the test keys (RGW wants the payload-hash header curl omits)
signed_ok() {
  curl -fsS -o /dev/null --max-time 5 --aws-sigv4 "aws:amz:us-east-1:s3" \
    --user "$ACCESS_KEY:$SECRET_KEY" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$ENDPOINT/"
}
osd_up()   { ceph_cli osd dump -f json | grep -q '"up":1'; }
port_busy() { ss -Hltn "sport = :$1" | grep -q .; }

print_exports() {
  cat <<OUT
export AWS_ENDPOINT_URL=$ENDPOINT
export AWS_ACCESS_KEY_ID=$ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$SECRET_KEY
export AWS_REGION=us-east-1
OUT
}

# ---------------------------------------------------------------- 1. packages
need=()
for bin in ceph-mon ceph-osd radosgw radosgw-admin ceph monmaptool ceph-authtool; do
  command -v "$bin" >/dev/null 2>&1 || need+=("$bin")
done
pkgs=(ceph-mon ceph-osd ceph-common radosgw)
command -v curl >/dev/null 2>&1 || { need+=(curl); pkgs+=(curl); }
command -v ss   >/dev/null 2>&1 || { need+=(ss);   pkgs+=(iproute2); }
if [ "${#need[@]}" -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || fail "missing ${need[*]} and not root: cannot apt-get install"
  log "installing Ceph packages (missing: ${need[*]}) ..."
  export DEBIAN_FRONTEND=noninteractive
  # wait up to 5 min for another apt/dpkg run to release its lock instead of failing
  APT=(apt-get -o DPkg::Lock::Timeout=300)
  "${APT[@]}" update -qq >&2 || fail "apt-get update failed"
  "${APT[@]}" install -y -qq --no-install-recommends "${pkgs[@]}" >&2 || fail "apt-get install failed"
fi

# ---------------------------------------------------------------- 2. already running?
if [ -f "$MARKER" ] && pid_alive mon.a && pid_alive osd.0 && pid_alive rgw && rgw_up; then
  log "already running in $DIR"
  print_exports
  exit 0
fi
if [ -e "$DIR" ]; then
  [ -f "$MARKER" ] || fail "$DIR exists but was not created by this script; refusing to wipe it"
  log "stale instance in $DIR: stopping what it recorded and wiping it"
  stop_recorded
  rm -rf "$DIR"
fi
for p in "$RGW_PORT" "$MON_PORT"; do
  port_busy "$p" && fail "TCP port $p is already in use on this machine (set RGW_PORT / RGW_MON_PORT)"
done

mkdir -p "$DIR"/{mon.a,osd.0,rgw,run,log,crash}
touch "$MARKER"
# If anything below fails, stop the daemons started so far (logs stay in $DIR for debugging).
trap 'rc=$?; if [ $rc -ne 0 ]; then stop_recorded; fi' EXIT

# ---------------------------------------------------------------- 3. config
FSID="$(cat /proc/sys/kernel/random/uuid)"
cat > "$CONF" <<CONF
[global]
fsid = $FSID
mon_initial_members = a
mon_host = [v2:127.0.0.1:$MON_PORT]
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
ms_bind_msgr1 = false
# throwaway test cluster: no authentication at all
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
# radosgw defaults to ms_mon_client_mode=secure, which auth "none" cannot provide (the mon
# connection then fails with EACCES/-13 forever): allow crc
ms_mon_client_mode = crc secure
keyring = $DIR/keyring
run_dir = $DIR/run
crash_dir = $DIR/crash
log_file = $DIR/log/\$name.log
# one OSD: replicate nothing, few PGs, no "too many PGs" refusal when RGW creates its ~7 pools
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
mon_max_pg_per_osd = 1000
osd_crush_chooseleaf_type = 0
mon_allow_pool_delete = true
# one mon: commit map changes every 0.1 s instead of 1 s (RGW's first start makes ~15 of them)
paxos_propose_interval = 0.1
mon_warn_on_pool_no_redundancy = false
# the mon stops itself when its disk is nearly full; only do that at 1% free
mon_data_avail_warn = 2
mon_data_avail_crit = 1

# pid_file: the daemons' own pid files (ours, DIR/run/NAME.pid, are written by this script)
[mon]
mon_data = $DIR/mon.\$id
mon_cluster_log_file = $DIR/log/cluster.log
admin_socket = $DIR/run/\$name.asok
pid_file = $DIR/run/\$name.ceph.pid

[osd]
osd_data = $DIR/osd.\$id
# data is kept in RAM (fast start, nothing to format); capacity limit:
osd_objectstore = memstore
memstore_device_bytes = $((MEM_GB * 1024 * 1024 * 1024))
admin_socket = $DIR/run/\$name.asok
pid_file = $DIR/run/\$name.ceph.pid

[client.rgw.lk]
rgw_frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw_data = $DIR/rgw
admin_socket = $DIR/run/\$name.asok
pid_file = $DIR/run/\$name.ceph.pid
# SSE-C over plain http (tests only), and SSE-KMS with a static test key (id "testkey-1")
rgw_crypt_require_ssl = false
rgw_crypt_s3_kms_backend = testing
rgw_crypt_s3_kms_encryption_keys = testkey-1=YmluCmJvb3N0CmJvb3N0LWJ1aWxkCmNlcGguY29uZgo=
# free deleted/aborted data after ~1 min instead of 2 h (it occupies RAM until then)
rgw_gc_obj_min_wait = 60
rgw_gc_processor_period = 60
debug_rgw = 1
${RGW_EXTRA_CONF:-}
CONF

# ---------------------------------------------------------------- 4. monitor
BOOT_LOG="$DIR/log/bootstrap.out"   # chatter of the one-shot setup tools
ceph-authtool --create-keyring --gen-key -n mon. --cap mon 'allow *' "$DIR/keyring" >>"$BOOT_LOG" 2>&1 \
  || fail "ceph-authtool failed"
monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT]" "$DIR/monmap" >>"$BOOT_LOG" 2>&1 \
  || fail "monmaptool failed"
ceph-mon -c "$CONF" -i a --mkfs --monmap "$DIR/monmap" --keyring "$DIR/keyring" >>"$BOOT_LOG" 2>&1 \
  || fail "ceph-mon --mkfs failed"
start_daemon mon.a ceph-mon -c "$CONF" -i a -f
wait_for "monitor quorum" mon.a ceph_cli mon stat

# ---------------------------------------------------------------- 5. OSD (memstore)
OSD_UUID="$(cat /proc/sys/kernel/random/uuid)"
OSD_ID="$(ceph_cli osd new "$OSD_UUID")" || fail "ceph osd new failed"
[ "$OSD_ID" = 0 ] || fail "expected OSD id 0, got '$OSD_ID'"
ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$OSD_UUID" >>"$BOOT_LOG" 2>&1 || fail "ceph-osd --mkfs failed"
start_daemon osd.0 ceph-osd -c "$CONF" -i 0 -f
wait_for "osd.0 up" osd.0 osd_up

# ---------------------------------------------------------------- 6. radosgw
# (RGW creates its pools and the default zone itself on first start)
start_daemon rgw radosgw -c "$CONF" -n client.rgw.lk -f
wait_for "radosgw answering on $ENDPOINT" rgw rgw_up

# ---------------------------------------------------------------- 7. S3 user with fixed keys
if ! timeout 60 radosgw-admin -c "$CONF" user info --uid="$S3_USER" >/dev/null 2>&1; then
  timeout 60 radosgw-admin -c "$CONF" user create --uid="$S3_USER" --display-name="layerkeep tests" \
    --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >/dev/null \
    || fail "radosgw-admin user create failed"
fi
wait_for "signed S3 request with the test keys" rgw signed_ok
log "S3 endpoint ready at $ENDPOINT (${SECONDS}s)"
print_exports
