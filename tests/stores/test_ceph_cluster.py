"""The throw-away cluster of ``scripts/ceph/up.sh`` as its clients see it."""

from __future__ import annotations

import os

from tests.support.ceph import CephCluster


def test_each_client_in_a_process_has_an_admin_socket_of_its_own(ceph: CephCluster, rados_bindings: None) -> None:
    import rados

    env = ceph.env
    run = ceph.directory / "run"
    mine = f"client.{env['CEPH_USER']}.{os.getpid()}."
    clients = []
    try:
        for _ in range(2):
            cluster = rados.Rados(conffile=env["CEPH_CONF"], rados_id=env["CEPH_USER"],
                                  conf={"keyring": env["CEPH_KEYRING"]})
            clients.append(cluster)
            cluster.connect()
        sockets = [name for name in os.listdir(run) if name.startswith(mine) and name.endswith(".asok")]
        # two sockets (the daemon-style path left every client but the first without one, logging "File exists")
        assert len(sockets) >= 2, sorted(os.listdir(run))
    finally:
        for cluster in clients:
            cluster.shutdown()
    assert not [name for name in os.listdir(run) if name.startswith(mine)], "a client left its socket behind"
    # the daemons keep the paths `ceph daemon` finds them by
    assert {"mon.a.asok", "osd.0.asok", "client.rgw.gw.asok"} <= set(os.listdir(run))
