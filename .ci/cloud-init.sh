#!/usr/bin/env bash
# cloud-init, only for its schema validator (`cloud-init schema -c FILE`), used by tests/templates to check
# that rendered templates are valid cloud-config. Installed without recommends, with service starts denied
# (policy-rc.d exit 101), so nothing runs at install time and no boot-time unit is activated on this machine.
set -euo pipefail
if command -v cloud-init >/dev/null; then exit 0; fi
command -v apt-get >/dev/null || { echo "no apt-get: the cloud-init schema tests will be skipped"; exit 0; }
policy=/usr/sbin/policy-rc.d
created=0
if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; created=1; fi
trap '[ "$created" = 1 ] && rm -f "$policy"' EXIT
(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends cloud-init) \
    >/dev/null 2>&1 || echo "cloud-init could not be installed: the cloud-init schema tests will be skipped"
# A machine without cloud-init's datasource must never run it at boot: disable it explicitly.
[ -d /etc/cloud ] && touch /etc/cloud/cloud-init.disabled || true
