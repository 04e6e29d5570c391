"""A throw-away Ceph cluster (RBD, S3 and Swift through radosgw) for one test session.

``scripts/ceph/up.sh`` makes it in a temporary directory on free ports (about
2 s once the Debian packages are installed) and ``down.sh`` removes it. The
cluster is skipped, with the reason, where it cannot be had (not root, no apt,
packages that fail to install); with ``GLIMPSE_TEST_REQUIRE_CEPH=1`` (CI) it
fails instead.
"""

from __future__ import annotations

import importlib
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts" / "ceph"
REQUIRED = os.environ.get("GLIMPSE_TEST_REQUIRE_CEPH") == "1"
CLUSTER_PREFIX = "glimpse-ceph-"


def unavailable(reason: str) -> None:
    """Skip with ``reason``, or fail where Ceph is required (CI)."""
    if REQUIRED:
        pytest.fail(f"{reason} (GLIMPSE_TEST_REQUIRE_CEPH=1)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class CephCluster:
    """A running cluster: its directory, the values of ``DIR/env`` and ways to stop and start radosgw."""

    directory: Path
    env: dict[str, str]

    @property
    def rgw_port(self) -> int:
        return int(self.env["S3_ENDPOINT"].rsplit(":", 1)[1])

    def _rgw_pid(self) -> int | None:
        try:
            return int((self.directory / "run" / "client.rgw.gw.pid").read_text())
        except (OSError, ValueError):
            return None

    def stop_rgw(self, *, crash: bool = True) -> None:
        """Stop radosgw and wait until it is gone: SIGKILL, as a crash would, or SIGTERM.

        After a crash its watches on the control objects linger until they time
        out, so the next metadata change (a new user, a new bucket) waits ~30 s.
        """
        pid = self._rgw_pid()
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL if crash else signal.SIGTERM)
            except ProcessLookupError:
                pass
            while Path(f"/proc/{pid}").exists() and "Z" not in _state(pid):
                time.sleep(0.02)
        (self.directory / "run" / "client.rgw.gw.pid").unlink(missing_ok=True)

    def start_rgw(self, *options: str) -> None:
        """Start radosgw again (with extra ``--option=value`` arguments) and wait until it answers."""
        conf = self.directory / "ceph.conf"
        subprocess.run(["radosgw", "--conf", str(conf), "-n", "client.rgw.gw", *options], check=True,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.env["S3_ENDPOINT"] + "/", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("radosgw did not answer within 30 s of its restart")


    def stop_osd(self) -> None:
        """Kill the OSD (SIGKILL, as a crash or a pulled disk would) and wait until it is gone.

        The monitor is not told: clients' operations on the pool wait (up to
        their ``rados_osd_op_timeout``) as they would for a real dead OSD.
        """
        pid_file = self.directory / "run" / "osd.0.pid"
        try:
            pid = int(pid_file.read_text())
        except (OSError, ValueError):
            return
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        while Path(f"/proc/{pid}").exists() and "Z" not in _state(pid):
            time.sleep(0.02)
        pid_file.unlink(missing_ok=True)

    def start_osd(self) -> None:
        """Start the OSD again and wait until the pool takes writes."""
        conf = self.directory / "ceph.conf"
        subprocess.run(["ceph-osd", "--conf", str(conf), "-i", "0"], check=True, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=60)
        import rados

        deadline = time.monotonic() + 60
        while True:
            try:
                with rados.Rados(conffile=self.env["CEPH_CONF"], rados_id=self.env["CEPH_USER"],
                                 conf={"keyring": self.env["CEPH_KEYRING"], "rados_osd_op_timeout": "2",
                                       "client_mount_timeout": "5"}) as cluster, \
                        cluster.open_ioctx(self.env["CEPH_POOL"]) as ioctx:
                    ioctx.write_full("osd-restart-probe", b"up")
                    ioctx.remove_object("osd-restart-probe")
                    return
            except rados.Error:
                if time.monotonic() > deadline:
                    raise RuntimeError("the OSD took writes again not within 60 s of its restart") from None
                time.sleep(0.2)


def _state(pid: int) -> str:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("State:"):
                return line.split()[1]
    except OSError:
        return "gone"
    return ""


def start_cluster(directory: Path) -> CephCluster:
    """Run ``up.sh`` in ``directory``; skip or fail (see the module) when Ceph cannot be had."""
    if not shutil.which("ceph-mon") and (os.geteuid() != 0 or not shutil.which("apt-get")):
        unavailable("Ceph tests need Debian's ceph packages: run as root with apt-get, or "
                    "`sudo scripts/ceph/install.sh` once")
    command = [str(SCRIPTS / "up.sh"), str(directory), "--rgw-port", str(free_port()),
               "--mon-port", str(free_port())]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if result.returncode:
        reason = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "up.sh failed"
        if "apt-get" in reason or "packages missing" in reason:
            unavailable(f"Ceph could not be installed: {reason}")
        pytest.fail(f"the test Ceph cluster did not start: {reason}")
    (directory / "owner.pid").write_text(str(os.getpid()))
    env = {}
    for line in (directory / "env").read_text().splitlines():
        if line.startswith("export "):
            name, _, value = line[len("export "):].partition("=")
            env[name] = shlex.split(value)[0] if value else ""
    return CephCluster(directory, env)


def stop_cluster(cluster: CephCluster) -> None:
    subprocess.run([str(SCRIPTS / "down.sh"), str(cluster.directory)], capture_output=True, timeout=120)


def reap_orphaned_clusters() -> None:
    """Stop clusters of earlier sessions that were killed before their teardown (their owner is gone)."""
    for owner in Path(tempfile.gettempdir()).glob(f"{CLUSTER_PREFIX}*/owner.pid"):
        try:
            alive = Path(f"/proc/{int(owner.read_text())}").exists()
        except (OSError, ValueError):
            continue
        if not alive:
            subprocess.run([str(SCRIPTS / "down.sh"), str(owner.parent)], capture_output=True, timeout=120)


def import_rados_bindings() -> None:
    """Make ``import rados, rbd`` work in this interpreter, linking Debian's modules into the venv if needed.

    Debian builds python3-rados/rbd for its python 3.11 only; a venv of another
    3.11 (pyenv) needs them symlinked (``scripts/ceph/venv-bindings.sh``, which
    CI runs too). Skips (fails when required) where that cannot work.
    """
    try:
        importlib.import_module("rados")
        importlib.import_module("rbd")
        return
    except ImportError:
        pass
    if sys.prefix == sys.base_prefix:
        unavailable("RBD tests need the rados/rbd modules; run them from a venv "
                    "(scripts/ceph/venv-bindings.sh links them in)")
    result = subprocess.run([str(SCRIPTS / "venv-bindings.sh"), sys.prefix], capture_output=True, text=True)
    if result.returncode:
        unavailable(f"the rados/rbd Python bindings are not usable here: {result.stderr.strip()}")
    importlib.invalidate_caches()
    importlib.import_module("rados")
    importlib.import_module("rbd")
