#!/usr/bin/env bash
# Install the Debian packages a throw-away test cluster needs (no-op when present).
#
#   install.sh
#
# Needs root when something is missing. Waits for a busy dpkg lock, retries once
# after `apt-get update` (stale package lists). Exit 1 with one line on stderr.
set -euo pipefail

PKGS=(ceph-mon ceph-mgr ceph-osd radosgw ceph-common python3-rados python3-rbd)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
command -v apt-get >/dev/null || { echo "install.sh: packages missing (${missing[*]}) and no apt-get" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "install.sh: packages missing (${missing[*]}) and not root to install them" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
LOG="$(mktemp /tmp/ceph-install.XXXXXX.log)"
# --no-install-recommends keeps out ceph-mds, ceph-fuse, ... (~90 packages instead of 111)
APT=(apt-get -y -q -o DPkg::Lock::Timeout=300)
"${APT[@]}" install --no-install-recommends "${PKGS[@]}" >"$LOG" 2>&1 \
  || { "${APT[@]}" update >>"$LOG" 2>&1 && "${APT[@]}" install --no-install-recommends "${PKGS[@]}" >>"$LOG" 2>&1; } \
  || { echo "install.sh: apt-get install failed (see $LOG)" >&2; exit 1; }
rm -f "$LOG"
