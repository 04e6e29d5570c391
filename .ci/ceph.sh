#!/usr/bin/env bash
# CI: the Debian Ceph packages for the store tests' throw-away cluster (tests/support/ceph.py), and
# Debian's rados/rbd Python bindings linked into .venv (they are built for python 3.11 only).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ceph/install.sh
[ -x .venv/bin/python ] || python3 -m venv .venv  # .ci/run makes it first
scripts/ceph/venv-bindings.sh .venv
