"""A process running the ``p2p`` extension's libtorrent can use the ``rbd`` store too.

The libtorrent wheel exports the Boost and OpenSSL it links statically; a
librados loaded after it crashes the process on its first call. The session
module loads Ceph's libraries first. Each check runs in a child process, so a
crash is a failed test here, not a dead test run.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap

import pytest

from tests.stores.conftest import ceph, rados_bindings  # noqa: F401 - the session's Ceph cluster
from tests.support.ceph import CephCluster

# Looked up, not imported: this process must not load libtorrent before Ceph's libraries either.
if importlib.util.find_spec("libtorrent") is None:
    pytest.skip("libtorrent is not installed (pip install 'glimpse[p2p]')", allow_module_level=True)

WRITE_AN_RBD_IMAGE = textwrap.dedent("""
    import os, sys
    import glimpse.p2p.session  # what a p2p node imports, before any store is used
    import libtorrent
    libtorrent.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False})
    import rados, rbd
    with rados.Rados(conffile=os.environ["CEPH_CONF"], rados_id=os.environ["CEPH_USER"],
                     conf={"keyring": os.environ["CEPH_KEYRING"]}) as cluster:
        with cluster.open_ioctx(os.environ["CEPH_POOL"]) as ioctx:
            name = "p2p-beside-rbd-" + str(os.getpid())
            rbd.RBD().create(ioctx, name, 1 << 20)
            with rbd.Image(ioctx, name) as image:
                image.write(b"x" * 4096, 0)
                assert image.read(0, 4096) == b"x" * 4096
            rbd.RBD().remove(ioctx, name)
    print("rbd ok")
""")


def test_rbd_works_in_a_process_that_loaded_libtorrent(ceph: CephCluster, rados_bindings: None) -> None:  # noqa: F811
    result = subprocess.run([sys.executable, "-c", WRITE_AN_RBD_IMAGE], env={**ceph.env, "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr[-2000:]}"
    assert result.stdout.strip() == "rbd ok"
