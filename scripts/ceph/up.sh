#!/usr/bin/env bash
# Start a throw-away single-node Ceph cluster (1 mon, 1 mgr, 1 bluestore OSD on
# a sparse file, 1 radosgw with S3 + Swift) under DIR, for integration tests.
#
#   up.sh DIR [--rgw-port PORT] [--mon-port PORT]
#
# Installs the Debian packages if missing, refuses a DIR that holds a running
# cluster (or foreign files), waits for HEALTH_OK and for radosgw to answer,
# creates pool `images` (application rbd) and an S3/Swift user, then writes
# DIR/env (export lines; see docs/stores.md).  Prints the seconds it took.
# On failure: one line "up.sh: FAILED: reason" on stderr, exit 1, daemons
# stopped, DIR/log kept (down.sh DIR removes it).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TIMEOUT=${CEPH_UP_TIMEOUT:-90}       # seconds to wait for HEALTH_OK and radosgw
# Ceph tools read CEPH_CONF, CEPH_KEYRING, CEPH_ARGS from the environment, and
# CEPH_KEYRING beats the conf file: a sourced env of an earlier cluster would
# make the new daemons authenticate with the old keys.
for v in $(compgen -e | grep '^CEPH_' || true); do unset "$v"; done
PY=/usr/bin/python3                  # Debian's python: the one python3-rados is built for
MARK=.throwaway-ceph                 # marker: this DIR was made by up.sh
RGW_PORT=7480
MON_PORT=3300
OSD_BYTES=$((8 << 30))               # sparse: costs only what is written

usage() { echo "usage: up.sh DIR [--rgw-port PORT] [--mon-port PORT]" >&2; exit 2; }
DIR=""
while [ $# -gt 0 ]; do
  case "$1" in
    --rgw-port) RGW_PORT="${2:?}"; shift 2 ;;
    --mon-port) MON_PORT="${2:?}"; shift 2 ;;
    -h|--help) usage ;;
    -*) usage ;;
    *) [ -z "$DIR" ] || usage; DIR="$1"; shift ;;
  esac
done
[ -n "$DIR" ] || usage
case "$DIR" in *[[:space:]]*) echo "up.sh: FAILED: DIR must not contain whitespace" >&2; exit 2 ;; esac
for p in "$RGW_PORT" "$MON_PORT"; do
  case "$p" in ''|*[!0-9]*) echo "up.sh: FAILED: port '$p' is not a number" >&2; exit 2 ;; esac
done

T0=${EPOCHREALTIME/[.,]/}
secs() { local d=$(( ${EPOCHREALTIME/[.,]/} - T0 )); printf '%d.%01d' $((d / 1000000)) $((d % 1000000 / 100000)); }
STARTED=0   # set once we own DIR: from then on, failure stops what we started
MADE_DIR=0  # DIR did not exist: a refusal removes it again
MKFS_PID=""
fail() {
  echo "up.sh: FAILED: $*${LOG:+ (logs: $DIR/log)}" >&2
  exit 1
}
cleanup() {
  set +e; trap - ERR   # best effort from here on
  if [ "$STARTED" != 1 ]; then
    [ "$MADE_DIR" = 1 ] && rmdir "$DIR" 2>/dev/null
    return 0
  fi
  [ -z "$MKFS_PID" ] || { kill "$MKFS_PID" 2>/dev/null; wait "$MKFS_PID" 2>/dev/null; }
  "$HERE/down.sh" --keep-logs "$DIR" >/dev/null 2>&1 || true
}
trap 'fail "line $LINENO: ${BASH_COMMAND%%$'"'"'\n'"'"'*}"' ERR
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# ceph-mon and ceph-osd return once their forked daemon is initialised (pid file
# written); ceph-mgr and radosgw return at once: wait for their pid file, so a
# failure later on can still stop them.
pidfile_wait() {
  for _ in $(seq 100); do
    [ -s "$DIR/run/$1.pid" ] && kill -0 "$(cat "$DIR/run/$1.pid")" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# ---------------------------------------------------------------- checks
[ -e "$DIR" ] || MADE_DIR=1
mkdir -p "$DIR" || fail "cannot create $DIR"
DIR="$(cd "$DIR" && pwd)"
if [ -n "$(ls -A "$DIR")" ]; then
  [ -e "$DIR/$MARK" ] || fail "$DIR is not empty and was not made by up.sh; not touching it"
  for pf in "$DIR"/run/*.pid; do
    [ -s "$pf" ] || continue
    pid="$(cat "$pf")"
    if tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "--conf $DIR/ceph.conf "; then
      fail "$DIR already holds a running cluster (pid $pid); run down.sh $DIR first"
    fi
  done
fi
# unix socket paths are limited to 107 bytes; longer ones are skipped by ceph
if [ ${#DIR} -gt 80 ]; then
  echo "up.sh: warning: DIR is longer than 80 characters: no admin sockets (ceph daemon ... won't work)" >&2
fi
port_busy "$MON_PORT" && fail "mon port $MON_PORT is in use (--mon-port to choose another)"
port_busy "$RGW_PORT" && fail "rgw port $RGW_PORT is in use (--rgw-port to choose another)"

# ---------------------------------------------------------------- packages
out="$("$HERE/install.sh" 2>&1)" || fail "${out#install.sh: }"
T_APT=$(secs)

# ---------------------------------------------------------------- fresh DIR
STARTED=1
find "$DIR" -mindepth 1 -delete
touch "$DIR/$MARK"
mkdir -p "$DIR"/{run,log,crash,mon,mgr,osd,rgw}
LOG="$DIR/log/up.log"
note() { echo "[$(secs)s] $*" >>"$LOG"; }
# up_helper.py prints its one-line reason on stdout; tracebacks go to the log
helper() { "$PY" "$HERE/up_helper.py" "$1" 2>>"$LOG" || { echo "up_helper.py $1 failed (log/up.log)"; return 1; }; }
note "packages ok (apt took ${T_APT}s)"

CONF="$DIR/ceph.conf"
KEYRING="$DIR/keyring"
FSID="$(cat /proc/sys/kernel/random/uuid)"
OSD_UUID="$(cat /proc/sys/kernel/random/uuid)"
hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
S3_ACCESS_KEY="$(hex 10 | tr a-f A-F)"
S3_SECRET_KEY="$(hex 20)"
SWIFT_KEY="$(hex 20)"

# Everything lives under DIR (no /etc/ceph, /var/lib/ceph, /var/run/ceph).
# Tunings: tiny paxos interval and 1 replica make the cluster settle in seconds.
# bluestore creates its sparse file at the default path osd/block; setting
# "bluestore block path" to that same path makes mkfs create a self-symlink (ELOOP).
cat >"$CONF" <<EOF
# written by up.sh for a throw-away test cluster
[global]
fsid = $FSID
mon host = v2:127.0.0.1:$MON_PORT
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
keyring = $KEYRING
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
pid file = $DIR/run/\$name.pid
log file = $DIR/log/\$name.log
crash dir = $DIR/crash
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0

[mon]
mon data = $DIR/mon
mon cluster log file = $DIR/log/cluster.log
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon data avail warn = 2
mon data avail crit = 1
paxos propose interval = 0.05
mgr initial modules =

[mgr]
mgr data = $DIR/mgr
public addr = 127.0.0.1
mgr stats period = 1
mgr tick period = 1
mgr disabled modules = alerts diskprediction_local influx insights iostat localpool mirroring nfs osd_perf_query osd_support prometheus restful selftest snap_schedule stats telegraf test_orchestrator zabbix

[osd]
osd data = $DIR/osd
public addr = 127.0.0.1
cluster addr = 127.0.0.1
osd objectstore = bluestore
bluestore block size = $OSD_BYTES
bluestore fsck on mkfs = false
osd memory target = 1073741824
osd op num shards = 2
bdev aio poll ms = 10
osd mon shutdown timeout = 1

[client]
# one socket per client: a process (a test session, a server) opens many, and
# a second one on the daemon-style path fails to bind ("File exists")
admin socket = $DIR/run/\$name.\$pid.\$cctid.asok

[client.rgw.gw]
admin socket = $DIR/run/\$name.asok
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw data = $DIR/rgw
rgw thread pool size = 64
# radosgw starts before the OSD is up; its objecter re-asks for the osdmap only
# every tick (default 5 s), so without this the gateway answers ~5 s late.
objecter tick interval = 0.5
# deleted S3/Swift data is freed after 10-20 s instead of 2 h (small OSD)
rgw gc obj min wait = 10
rgw gc processor period = 10
EOF

# One keyring for all entities; the mon imports every key in it at mkfs, so
# no `ceph auth` round trips are needed later.
{
  ceph-authtool --create-keyring "$KEYRING" --gen-key -n mon. --cap mon 'allow *' &&
  ceph-authtool "$KEYRING" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' --cap mds 'allow *' &&
  ceph-authtool "$KEYRING" --gen-key -n mgr.x \
    --cap mon 'allow profile mgr' --cap osd 'allow *' --cap mds 'allow *' &&
  ceph-authtool "$KEYRING" --gen-key -n osd.0 \
    --cap mon 'allow profile osd' --cap mgr 'allow profile osd' --cap osd 'allow *' &&
  ceph-authtool "$KEYRING" --gen-key -n client.rgw.gw \
    --cap mon 'allow rw' --cap osd 'allow rwx' --cap mgr 'allow rw' &&
  monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT]" "$DIR/monmap"
} >>"$LOG" 2>&1 || fail "key/monmap generation failed (log/up.log)"

# OSD mkfs (~1.5 s) needs no mon: run it while the mon comes up.
ceph-osd --conf "$CONF" -i 0 --mkfs --no-mon-config --osd-uuid "$OSD_UUID" \
  </dev/null >"$DIR/log/osd-mkfs.out" 2>&1 &
MKFS_PID=$!

ceph-mon --conf "$CONF" -i a --mkfs --monmap "$DIR/monmap" --keyring "$KEYRING" \
  >"$DIR/log/mon-mkfs.out" 2>&1 || fail "ceph-mon --mkfs failed (log/mon-mkfs.out)"
ceph-mon --conf "$CONF" -i a </dev/null >"$DIR/log/mon.out" 2>&1 || fail "ceph-mon did not start (log/mon.out)"
pidfile_wait mon.a || fail "ceph-mon exited during start (log/mon.a.log)"
note "mon up"
ceph-mgr --conf "$CONF" -i x </dev/null >"$DIR/log/mgr.out" 2>&1 || fail "ceph-mgr did not start (log/mgr.out)"
pidfile_wait mgr.x || fail "ceph-mgr exited during start (log/mgr.x.log)"
note "mgr started"

# Register the OSD and create every pool up front (one client, no CLI start-ups).
export CONF KEYRING OSD_UUID RGW_PORT TIMEOUT RUN_DIR="$DIR/run" T0_US="$T0"
out="$(helper prepare)" || fail "$(echo "$out" | head -1)"
note "$out"

# radosgw's init blocks until the OSD serves its pools: start it first and let
# the two start-ups overlap.
radosgw --conf "$CONF" -n client.rgw.gw </dev/null >"$DIR/log/rgw.out" 2>&1 || fail "radosgw did not start (log/rgw.out)"
pidfile_wait client.rgw.gw || fail "radosgw exited during start (log/client.rgw.gw.log)"
wait "$MKFS_PID" || fail "ceph-osd --mkfs failed (log/osd-mkfs.out)"
MKFS_PID=""
ceph-osd --conf "$CONF" -i 0 </dev/null >"$DIR/log/osd.out" 2>&1 || fail "ceph-osd did not start (log/osd.out)"
pidfile_wait osd.0 || fail "ceph-osd exited during start (log/osd.0.log)"
note "osd and rgw started"

# ---------------------------------------------------------------- wait
out="$(helper wait)" || fail "$(echo "$out" | head -1)"
read -r T_OK T_RGW <<<"$out"
note "HEALTH_OK (all PGs active+clean) at ${T_OK}s, radosgw answers at ${T_RGW}s"

# ---------------------------------------------------------------- S3/Swift user
{
  radosgw-admin --conf "$CONF" user create --uid=test --display-name="Test user" \
    --access-key="$S3_ACCESS_KEY" --secret-key="$S3_SECRET_KEY" &&
  radosgw-admin --conf "$CONF" subuser create --uid=test --subuser=test:swift \
    --access=full --key-type=swift --secret-key="$SWIFT_KEY"
} >>"$LOG" 2>&1 || fail "radosgw-admin user create failed (log/up.log)"
note "rgw user created"

# ---------------------------------------------------------------- env
{
  echo "# source me: throw-away Ceph cluster made by up.sh"
  for kv in \
    "CEPH_DIR=$DIR" "CEPH_CONF=$CONF" "CEPH_KEYRING=$KEYRING" "CEPH_USER=admin" \
    "CEPH_POOL=images" "CEPH_FSID=$FSID" \
    "S3_ENDPOINT=http://127.0.0.1:$RGW_PORT" "S3_ACCESS_KEY=$S3_ACCESS_KEY" \
    "S3_SECRET_KEY=$S3_SECRET_KEY" "S3_REGION=us-east-1" \
    "SWIFT_AUTH_URL=http://127.0.0.1:$RGW_PORT/auth/1.0" "SWIFT_USER=test:swift" \
    "SWIFT_KEY=$SWIFT_KEY"; do
    printf 'export %s=%q\n' "${kv%%=*}" "${kv#*=}"
  done
} >"$DIR/env"

STARTED=0   # success: keep everything running
note "done"
echo "ceph up in $(secs)s (HEALTH_OK at ${T_OK}s, radosgw at ${T_RGW}s): source $DIR/env"
