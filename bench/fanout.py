#!/usr/bin/env python3
"""Fan-out: N streaming nodes fetch the same new image at once, with ``p2p`` and without.

Builds a small cluster in Linux network namespaces on this machine (root
needed): a bridge, one namespace per machine, a veth per namespace shaped with
``tc tbf`` to ``--rate-mbit`` in both directions. The store is an
S3-compatible origin (a minimal GET/HEAD server over one directory, below) in
its own namespace, so its uplink is the bottleneck; N ``glimpse-api`` nodes
(extensions ``cache`` and ``p2p``, or ``cache`` alone) run one per namespace,
with the store as a read-only ``s3`` store and PostgreSQL reached over the
bridge (socat to the host's loopback PostgreSQL). The image is uploaded
through a registry node on the host that writes the origin's directory (a
filesystem store of the same id and keys).

Each run uploads a new image, waits for its piece table (``p2p``: computed by
the nodes' background job when the image became active, as in production),
then a client inside every node's namespace downloads the image from its own
node at the same instant (``GET /v2/images/{id}/file`` on 127.0.0.1, so the
client does not use the node's shaped link). Reported per run: the fan-out
time (start to the last node's last byte), each node's throughput against
its link, and the bytes the origin sent. Every download is checked by SHA-512.

Mode ``swarm`` is the machine's own limit for a BitTorrent fan-out, without
Glimpse: a libtorrent seed holding the image in the origin's namespace and one
leecher per node namespace (each a ``glimpse.p2p.session.Swarm``, libtorrent
with the nodes' session settings and piece size, picking the rarest piece first
as libtorrent does by default), all started at the same instant; no HTTP
client, no cache, no digest of the whole image. A node's time is its
leecher's, start to its last piece; each file is checked by SHA-512 after the
clock stops.

    python bench/fanout.py run --nodes 2,4,8 --size-mib 200 --rate-mbit 200 --modes p2p,store,swarm
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MiB = 1024 * 1024
#: this run's names and subnet: two runs on one machine never touch each other's namespaces
TAG = secrets.token_hex(2)
PREFIX = f"gfo{TAG}"
BRIDGE = f"{PREFIX}br"
SUBNET = f"10.77.{int(TAG, 16) % 250 + 1}"
HOST_IP = f"{SUBNET}.1"
ORIGIN_IP = f"{SUBNET}.10"
ORIGIN_PORT = 9000
DB_PORT = 15432
NODE_PORT = 9292
BUCKET = "images"
ADMIN_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


# -- the origin: a minimal S3-compatible reader (GET with Range, HEAD) over one directory


class _Origin(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    root = Path(".")
    sent = 0
    lock = threading.Lock()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def _object(self) -> Path | None:
        parts = self.path.split("?", 1)[0].strip("/").split("/", 1)
        if len(parts) != 2 or parts[0] != BUCKET or "/" in parts[1] or parts[1].startswith("."):
            return None
        path = self.root / parts[1]
        return path if path.is_file() else None

    def _missing(self, body: bool) -> None:
        payload = b"<?xml version='1.0'?><Error><Code>NoSuchKey</Code><Message>no such key</Message></Error>"
        self.send_response(404)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(payload) if body else 0))
        self.end_headers()
        if body:
            self.wfile.write(payload)

    def do_HEAD(self) -> None:  # noqa: N802
        if self.path.strip("/").split("?")[0] == "_stats":
            return self._stats(False)
        if self.path.strip("/").split("?")[0] == BUCKET:
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path = self._object()
        if path is None:
            return self._missing(False)
        self._headers(200, path.stat().st_size, path.stat().st_size)
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802
        if self.path.strip("/").split("?")[0] == "_stats":
            return self._stats(True)
        path = self._object()
        if path is None:
            return self._missing(True)
        size = path.stat().st_size
        start, end = 0, size - 1
        wanted = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if wanted:
            start = int(wanted.group(1))
            end = min(int(wanted.group(2)), size - 1) if wanted.group(2) else size - 1
            if start >= size:
                self.send_response(416)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        length = end - start + 1
        self._headers(206 if wanted else 200, length, size)
        if wanted:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        with path.open("rb") as file:
            offset = start
            while offset <= end:
                sent = self.connection.sendfile(file, offset, end + 1 - offset)
                if sent == 0:
                    break
                offset += sent
                with _Origin.lock:
                    _Origin.sent += sent

    def _headers(self, status: int, length: int, size: int) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", f'"{size:x}"')
        self.send_header("Last-Modified", self.date_time_string(0))

    def _stats(self, body: bool) -> None:
        payload = json.dumps({"sent": _Origin.sent}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if body:
            self.wfile.write(payload)


def serve_origin(directory: Path, address: str, port: int) -> None:
    _Origin.root = directory
    server = ThreadingHTTPServer((address, port), _Origin)
    server.daemon_threads = True
    server.serve_forever()


# -- one client: download from the node in this namespace, starting at a given instant


def fetch(url: str, start_at: float, expected: str) -> dict[str, Any]:
    """Download ``url`` at ``start_at`` with curl into a file in memory (tmpfs), checked by SHA-512 after the
    clock stops. The client is curl, as a hypervisor's fetch would be a C client on a machine of its own:
    here N clients share two cores with the nodes they measure, and a Python client's own receive loop
    (about 0.5 CPU-s per 200 MiB with httpx) came out of the nodes' share."""
    spool_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None
    with tempfile.TemporaryDirectory(dir=spool_dir) as spool:
        body, head = Path(spool) / "body", Path(spool) / "head"
        while time.time() < start_at:
            time.sleep(min(0.005, max(0.0, start_at - time.time())))
        began = time.time()
        done = subprocess.run(["curl", "-sS", "--max-time", "600", "-H", "X-Project-Id: fanout", "-o", str(body),
                               "-D", str(head), "-w", "%{http_code}", url], capture_output=True, text=True)
        ended = time.time()
        status = int(done.stdout.strip() or 0)
        headers = head.read_text(errors="replace") if head.exists() else ""
        cache = next((line.split(":", 1)[1].strip() for line in headers.splitlines()
                      if line.lower().startswith("x-glimpse-cache:")), "")
        digest, size = hashlib.sha512(), 0
        if body.exists():
            with body.open("rb") as spooled:
                while block := spooled.read(4 * MiB):
                    digest.update(block)
                    size += len(block)
    return {"status": status, "bytes": size, "ok": status == 200 and digest.hexdigest() == expected,
            "began": began, "ended": ended, "seconds": ended - began, "cache": cache}


# -- mode ``swarm``: one bare libtorrent peer (the seed in the origin's namespace, or a node's leecher)

SWARM_PORT = 6881


def swarm_peer(address: str, path: Path, torrent_file: Path, peers: list[str], start_at: float,
               seed: bool, expected: str) -> None:
    """Seed ``path``, or download it starting at ``start_at`` and report (one JSON line), then seed it; until killed."""
    from glimpse.p2p.session import Swarm
    from glimpse.p2p.torrent import ImageTorrent

    described = json.loads(torrent_file.read_text())
    torrent = ImageTorrent(described["image_id"], described["size"], described["piece_size"],
                           bytes.fromhex(described["hashes"]))
    swarm = Swarm(address, SWARM_PORT)
    swarm.admit([peer.split(":")[0] for peer in peers] + [address])
    endpoints = [(peer.split(":")[0], int(peer.split(":")[1])) for peer in peers]
    if seed:
        swarm.seed(torrent, path)
        while True:
            time.sleep(60)
    path.touch()
    while time.time() < start_at:
        time.sleep(min(0.005, max(0.0, start_at - time.time())))
    began = time.time()
    leech = swarm.leech(torrent, path, in_order=False)
    polls = 0
    while not leech.complete() and time.time() < began + 600:  # (a stalled swarm reports, not hangs)
        if polls % 10 == 0:
            leech.connect(endpoints)
        polls += 1
        time.sleep(0.05)
    ended = time.time()
    swarm.flush(leech.handle)
    digest = hashlib.sha512()
    with path.open("rb") as written:
        while block := written.read(4 * MiB):
            digest.update(block)
    ok = leech.complete() and digest.hexdigest() == expected
    print(json.dumps({"status": 200, "bytes": torrent.size, "ok": ok, "began": began, "ended": ended,
                      "seconds": ended - began, "cache": ""}), flush=True)
    while True:  # the others may still want pieces
        time.sleep(60)


# -- the network


def sh(*command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, check=check, capture_output=True, text=True)


def namespaces_available() -> str | None:
    """``None`` when this machine can build the cluster, else why not."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, tc)"
    for tool in ("ip", "tc", "socat", "curl"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    probe = f"{PREFIX}-probe-{secrets.token_hex(2)}"
    made = sh("ip", "netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"cannot create a network namespace: {made.stderr.strip()}"
    sh("ip", "netns", "del", probe, check=False)
    return None


class Network:
    """The bridge on the host and one shaped namespace per machine."""

    def __init__(self, rate_mbit: int) -> None:
        self.rate = rate_mbit
        self.names: list[str] = []
        self.made = 0  # veths ever made: a removed namespace's veth may outlive it for a moment, so never reuse a name

    def up(self) -> None:
        self.down()
        sh("ip", "link", "add", BRIDGE, "type", "bridge")
        sh("ip", "addr", "add", f"{HOST_IP}/24", "dev", BRIDGE)
        sh("ip", "link", "set", BRIDGE, "up")

    def add(self, name: str, address: str) -> str:
        namespace, outer = f"{PREFIX}-{name}", f"{PREFIX}v{self.made}"
        self.made += 1
        sh("ip", "netns", "add", namespace)
        sh("ip", "link", "add", outer, "type", "veth", "peer", "name", "eth0", "netns", namespace)
        sh("ip", "link", "set", outer, "master", BRIDGE)
        sh("ip", "link", "set", outer, "up")
        run_in = ("ip", "netns", "exec", namespace)
        sh(*run_in, "ip", "addr", "add", f"{address}/24", "dev", "eth0")
        sh(*run_in, "ip", "link", "set", "eth0", "up")
        sh(*run_in, "ip", "link", "set", "lo", "up")
        # the link's speed both ways: what the machine sends (eth0) and what it receives (the bridge port)
        shape = ("qdisc", "add", "root", "tbf", "rate", f"{self.rate}mbit", "burst", "256kb", "latency", "50ms")
        sh(*run_in, "tc", shape[0], shape[1], "dev", "eth0", *shape[2:])
        sh("tc", shape[0], shape[1], "dev", outer, *shape[2:])
        # no offloads so that tbf sees real packet sizes
        for device, prefix in (("eth0", run_in), (outer, ())):
            if shutil.which("ethtool"):
                sh(*prefix, "ethtool", "-K", device, "tso", "off", "gso", "off", "gro", "off",
                   check=False)
        self.names.append(namespace)
        return namespace

    def down(self) -> None:
        listed = sh("ip", "netns", "list", check=False).stdout.split()
        for namespace in [n for n in listed if n.startswith(f"{PREFIX}-")]:
            sh("ip", "netns", "pids", namespace, check=False)
            for pid in sh("ip", "netns", "pids", namespace, check=False).stdout.split():
                try:
                    os.kill(int(pid), 9)
                except ProcessLookupError:
                    pass
            sh("ip", "netns", "del", namespace, check=False)
        sh("ip", "link", "del", BRIDGE, check=False)
        self.names.clear()


# -- the cluster


class Cluster:
    def __init__(self, root: Path, rate_mbit: int, *, log_level: str = "warning") -> None:
        self.root = root
        self.net = Network(rate_mbit)
        self.processes: list[subprocess.Popen[bytes]] = []
        self.nodes: list[tuple[str, str]] = []  # (namespace, address)
        self.log_level = log_level
        self.store_dir = root / "origin" / "images"
        self.db_name = f"glimpse_fanout_{secrets.token_hex(4)}"
        self.registry_url = ""
        self.registry: Any = None

    # processes

    def _spawn(self, command: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log.parent.mkdir(parents=True, exist_ok=True)
        environment = {k: v for k, v in os.environ.items() if not k.startswith("GLIMPSE_")}
        environment.update(env or {})
        with log.open("ab") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=environment,
                                       start_new_session=True)
        self.processes.append(process)
        return process

    def start(self) -> None:
        import sqlalchemy as sa

        self.net.up()
        self.store_dir.mkdir(parents=True, exist_ok=True)
        origin = self.net.add("origin", ORIGIN_IP)
        self._spawn(["ip", "netns", "exec", origin, sys.executable, __file__, "origin", "--dir", str(self.store_dir),
                     "--address", ORIGIN_IP, "--port", str(ORIGIN_PORT)], self.root / "origin" / "log")
        self._spawn(["socat", f"TCP-LISTEN:{DB_PORT},bind={HOST_IP},reuseaddr,fork", "TCP:127.0.0.1:5432"],
                    self.root / "socat.log")
        admin = sa.create_engine(ADMIN_DB, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {self.db_name}"))
        admin.dispose()
        sys.path.insert(0, str(ROOT))
        from tests.conftest import start_server

        registry = start_server(self.root / "registry", database_url=self.database_url("127.0.0.1", 5432),
                                env={"GLIMPSE_EXTENSIONS": "[]", "GLIMPSE_STORES": json.dumps(
                                    {"file": {"driver": "filesystem", "path": str(self.store_dir)}})})
        self.registry = registry
        self.registry_url = registry.url

    def database_url(self, host: str, port: int) -> str:
        return f"postgresql+psycopg://postgres@{host}:{port}/{self.db_name}"

    def start_nodes(self, count: int, extensions: list[str]) -> None:
        env = {
            "GLIMPSE_EXTENSIONS": json.dumps(extensions),
            "GLIMPSE_STORES": json.dumps({"file": {
                "driver": "s3", "endpoint": f"http://{ORIGIN_IP}:{ORIGIN_PORT}", "bucket": BUCKET,
                "access_key": "fanout", "secret_key": "fanout", "addressing_style": "path"}}),
            "GLIMPSE_IMAGE_CACHE_MAX_SIZE": str(64 * 1024 * MiB),
            "GLIMPSE_IMAGE_CACHE_STALL_TIME": "60",
            "GLIMPSE_P2P_HEARTBEAT_SECONDS": "1",
            "GLIMPSE_SERVER_FAST_PATHS": "true",
        }
        for index in range(count):
            address = f"{SUBNET}.{11 + index}"
            namespace = self.net.add(f"n{index}", address)
            data = self.root / f"n{index}-{uuid.uuid4().hex[:6]}"
            data.mkdir(parents=True)
            command = ["ip", "netns", "exec", namespace, sys.executable, "-m", "glimpse.cli.serve",
                       "--host", address, "--port", str(NODE_PORT), "--data-dir", str(data),
                       "--log-level", self.log_level, "--workers", "1",
                       "--database-url", self.database_url(HOST_IP, DB_PORT)]
            self._spawn(command, data / "server.log",
                        {**env, "GLIMPSE_P2P_ADDRESS": address, "GLIMPSE_ALLOW_INSECURE_NOAUTH": "true"})
            self.nodes.append((namespace, address))
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        import httpx

        deadline = time.monotonic() + 120
        for _namespace, address in self.nodes:
            while True:
                try:
                    if httpx.get(f"http://{address}:{NODE_PORT}/healthcheck", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"node {address} did not become healthy (see {self.root})")
                time.sleep(0.2)

    def stop_nodes(self) -> None:
        for namespace, _address in self.nodes:
            for pid in sh("ip", "netns", "pids", namespace, check=False).stdout.split():
                try:
                    os.kill(int(pid), 15)
                except ProcessLookupError:
                    pass
        time.sleep(1.5)
        for namespace, _address in self.nodes:
            for pid in sh("ip", "netns", "pids", namespace, check=False).stdout.split():
                try:
                    os.kill(int(pid), 9)
                except ProcessLookupError:
                    pass
            sh("ip", "netns", "del", namespace, check=False)
        self.net.names = [n for n in self.net.names if n not in {ns for ns, _ in self.nodes}]
        self.nodes.clear()
        import sqlalchemy as sa

        engine = sa.create_engine(self.database_url("127.0.0.1", 5432))
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM p2p_nodes"))
        engine.dispose()

    def stop(self) -> None:
        if self.registry is not None:
            self.registry.stop()
        for process in reversed(self.processes):
            if process.poll() is None:
                try:
                    os.killpg(process.pid, 15)
                except ProcessLookupError:
                    pass
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(process.pid, 9)
                except ProcessLookupError:
                    pass
        self.net.down()
        import sqlalchemy as sa

        admin = sa.create_engine(ADMIN_DB, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                         {"n": self.db_name})
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {self.db_name}"))
        admin.dispose()

    # one fan-out

    def upload(self, size: int) -> dict[str, Any]:
        import httpx

        headers = {"X-Project-Id": "fanout", "X-Roles": "admin,member,reader"}
        with httpx.Client(base_url=self.registry_url, headers=headers, timeout=600) as http:
            image = http.post("/v2/images", json={"name": "fanout", "disk_format": "raw",
                                                  "container_format": "bare", "visibility": "public"}).json()

            def body() -> Iterator[bytes]:
                left = size
                while left:
                    chunk = os.urandom(min(4 * MiB, left))
                    left -= len(chunk)
                    yield chunk

            response = http.put(f"/v2/images/{image['id']}/file", content=body(),
                                headers={"Content-Type": "application/octet-stream"})
            assert response.status_code == 204, response.text
            shown: dict[str, Any] = http.get(f"/v2/images/{image['id']}").json()
            return shown

    def wait_for_pieces(self, image_id: str, timeout: float = 300) -> float:
        import sqlalchemy as sa

        engine = sa.create_engine(self.database_url("127.0.0.1", 5432))
        started = time.monotonic()
        try:
            while time.monotonic() - started < timeout:
                with engine.connect() as conn:
                    row = conn.execute(sa.text("SELECT 1 FROM p2p_pieces WHERE image_id = :i AND hashes IS NOT NULL"),
                                       {"i": image_id}).first()
                if row is not None:
                    return time.monotonic() - started
                time.sleep(0.2)
        finally:
            engine.dispose()
        raise RuntimeError(f"no piece table for image {image_id} after {timeout} s")

    def origin_sent(self) -> int:
        out = sh("ip", "netns", "exec", f"{PREFIX}-origin", sys.executable, "-c",
                 f"import urllib.request,json;print(json.load(urllib.request.urlopen('http://{ORIGIN_IP}:"
                 f"{ORIGIN_PORT}/_stats'))['sent'])")
        return int(out.stdout.strip())

    def node_cpu_seconds(self) -> float:
        """CPU seconds used so far by the node processes (servers) in the nodes' namespaces."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for namespace, _address in self.nodes:
            for pid in sh("ip", "netns", "pids", namespace, check=False).stdout.split():
                try:
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        return total

    def fan_out(self, image: dict[str, Any]) -> list[dict[str, Any]]:
        start_at = time.time() + 2.0
        clients = []
        for namespace, address in self.nodes:
            url = f"http://{address}:{NODE_PORT}/v2/images/{image['id']}/file"
            clients.append(subprocess.Popen(
                ["ip", "netns", "exec", namespace, sys.executable, __file__, "fetch", "--url", url,
                 "--start-at", repr(start_at), "--sha512", image["os_hash_value"]],
                stdout=subprocess.PIPE, text=True))
        results = []
        for client in clients:
            out, _ = client.communicate(timeout=900)
            result = json.loads(out.strip().splitlines()[-1])
            result["start_at"] = start_at
            results.append(result)
        return results


def swarm_fan_out(cluster: Cluster, count: int, size: int) -> tuple[list[dict[str, Any]], float]:
    """Mode ``swarm``: a bare libtorrent seed in the origin's namespace, ``count`` leechers; their results and
    the leechers' CPU seconds."""
    from glimpse.services.swarm import hash_pieces, piece_size_for

    work = cluster.root / f"swarm-{uuid.uuid4().hex[:6]}"
    work.mkdir(parents=True)
    image, digest = work / "image", hashlib.sha512()
    with image.open("wb") as out:
        for left in range(size, 0, -4 * MiB):
            block = os.urandom(min(4 * MiB, left))
            digest.update(block)
            out.write(block)
    piece = piece_size_for(size)
    with image.open("rb") as source:
        hashes, _total = hash_pieces(iter(lambda: source.read(4 * MiB), b""), piece)
    torrent_file = work / "torrent.json"
    torrent_file.write_text(json.dumps({"image_id": str(uuid.uuid4()), "size": size, "piece_size": piece,
                                        "hashes": hashes.hex()}))
    addresses = [ORIGIN_IP] + [f"{SUBNET}.{11 + index}" for index in range(count)]
    for index in range(count):
        cluster.nodes.append((cluster.net.add(f"n{index}", addresses[index + 1]), addresses[index + 1]))
    start_at = time.time() + 3.0
    expected = digest.hexdigest()

    def peer(namespace: str, address: str, path: Path, seed: bool) -> subprocess.Popen[str]:
        others = [f"{other}:{SWARM_PORT}" for other in addresses if other != address]
        return subprocess.Popen(["ip", "netns", "exec", namespace, sys.executable, __file__, "swarm-peer",
                                 "--address", address, "--file", str(path), "--torrent", str(torrent_file),
                                 "--peers", ",".join(others), "--start-at", repr(start_at), "--sha512", expected,
                                 *(["--seed"] if seed else [])], stdout=subprocess.PIPE, text=True,
                                start_new_session=True)

    seeder = peer(f"{PREFIX}-origin", ORIGIN_IP, image, True)
    cpu_before = cluster.node_cpu_seconds()
    leechers = [peer(namespace, address, work / f"n{index}", False)
                for index, (namespace, address) in enumerate(cluster.nodes)]
    results = []
    try:
        for leecher in leechers:
            assert leecher.stdout is not None
            result = json.loads(leecher.stdout.readline())
            result["start_at"] = start_at
            results.append(result)
        node_cpu = cluster.node_cpu_seconds() - cpu_before
    finally:
        for process in [seeder, *leechers]:
            try:
                os.killpg(process.pid, 9)
            except ProcessLookupError:
                pass
            process.wait()
        shutil.rmtree(work, ignore_errors=True)
    return results, node_cpu


def run(nodes: list[int], size_mib: int, rate_mbit: int, modes: list[str], repeats: int,
        root: Path, log_level: str = "warning") -> list[dict[str, Any]]:
    """Every (mode, N) fan-out ``repeats`` times; one record per run."""
    cluster = Cluster(root, rate_mbit, log_level=log_level)
    records: list[dict[str, Any]] = []
    size = size_mib * MiB
    link = rate_mbit * 1e6 / 8
    try:
        cluster.start()
        for mode in modes:
            for count in nodes:
                if mode != "swarm":
                    cluster.start_nodes(count, ["cache", "p2p"] if mode == "p2p" else ["cache"])
                try:
                    if mode != "swarm":
                        time.sleep(3.0)  # every node registered and in every filter (heartbeat 1 s)
                    for repeat in range(repeats):
                        hashing, from_origin = 0.0, 0
                        if mode == "swarm":
                            results, node_cpu = swarm_fan_out(cluster, count, size)
                        else:
                            image = cluster.upload(size)
                            hashing = cluster.wait_for_pieces(image["id"]) if mode == "p2p" else 0.0
                            before = cluster.origin_sent()
                            cpu_before = cluster.node_cpu_seconds()
                            results = cluster.fan_out(image)
                            node_cpu = cluster.node_cpu_seconds() - cpu_before
                            time.sleep(0.5)
                            from_origin = cluster.origin_sent() - before
                        start_at = results[0]["start_at"]
                        fan_out = max(r["ended"] for r in results) - start_at
                        rates = [r["bytes"] / r["seconds"] for r in results]
                        record = {
                            "mode": mode, "nodes": count, "repeat": repeat, "size_mib": size_mib,
                            "rate_mbit": rate_mbit, "all_ok": all(r["ok"] for r in results),
                            "fan_out_s": round(fan_out, 2),
                            "node_s": [round(r["seconds"], 2) for r in results],
                            "min_link_pct": round(100 * min(rates) / link, 1),
                            "mean_link_pct": round(100 * statistics.mean(rates) / link, 1),
                            # (mode swarm: not counted)
                            "origin_copies": round(from_origin / size, 2),
                            "hashing_s": round(hashing, 1),
                            # the servers' CPU during the fan-out (the clients' SHA-512 not included)
                            "node_cpu_s": round(node_cpu, 1),
                            "load_1min": os.getloadavg()[0],
                            "floor_s": round(size / link, 2),
                        }
                        print(json.dumps(record), flush=True)
                        records.append(record)
                        if mode == "swarm":  # its namespaces are made per run
                            cluster.stop_nodes()
                finally:
                    cluster.stop_nodes()
    finally:
        cluster.stop()
    return records


def table(records: list[dict[str, Any]]) -> str:
    lines = ["| mode | N | fan-out s (median) | runs | slowest node, % of link | origin copies | all SHA-512 ok |",
             "|---|---|---|---|---|---|---|"]
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault((record["mode"], record["nodes"]), []).append(record)
    for (mode, count), runs in groups.items():
        lines.append(f"| {mode} | {count} | {statistics.median(r['fan_out_s'] for r in runs):.1f} | "
                     f"{', '.join(str(r['fan_out_s']) for r in runs)} | "
                     f"{statistics.median(r['min_link_pct'] for r in runs):.0f}% | "
                     f"{statistics.median(r['origin_copies'] for r in runs):.2f} | "
                     f"{all(r['all_ok'] for r in runs)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    bench = commands.add_parser("run", help="build the cluster and run the fan-outs")
    bench.add_argument("--nodes", default="2,4,8")
    bench.add_argument("--size-mib", type=int, default=200)
    bench.add_argument("--rate-mbit", type=int, default=200)
    bench.add_argument("--modes", default="p2p,store", help="p2p, store, swarm (bare libtorrent, no Glimpse)")
    bench.add_argument("--repeats", type=int, default=1)
    bench.add_argument("--json", type=Path, help="also write the records here")
    bench.add_argument("--log-level", default="warning")
    bench.add_argument("--root", type=Path, help="keep the nodes' directories and logs here (default: a temporary one)")
    origin = commands.add_parser("origin", help="(internal) the S3-compatible origin")
    origin.add_argument("--dir", type=Path, required=True)
    origin.add_argument("--address", required=True)
    origin.add_argument("--port", type=int, required=True)
    client = commands.add_parser("fetch", help="(internal) one node's client")
    client.add_argument("--url", required=True)
    client.add_argument("--start-at", type=float, required=True)
    client.add_argument("--sha512", required=True)
    peer = commands.add_parser("swarm-peer", help="(internal) one bare libtorrent peer of mode swarm")
    peer.add_argument("--address", required=True)
    peer.add_argument("--file", type=Path, required=True)
    peer.add_argument("--torrent", type=Path, required=True)
    peer.add_argument("--peers", required=True)
    peer.add_argument("--start-at", type=float, required=True)
    peer.add_argument("--sha512", required=True)
    peer.add_argument("--seed", action="store_true")
    args = parser.parse_args()
    if args.command == "swarm-peer":
        swarm_peer(args.address, args.file, args.torrent, args.peers.split(","), args.start_at, args.seed,
                   args.sha512)
    elif args.command == "origin":
        serve_origin(args.dir, args.address, args.port)
    elif args.command == "fetch":
        print(json.dumps(fetch(args.url, args.start_at, args.sha512)))
    else:
        reason = namespaces_available()
        if reason:
            sys.exit(f"fanout: {reason}")
        with tempfile.TemporaryDirectory(prefix="glimpse-fanout-") as tmp:
            root = args.root or Path(tmp)
            root.mkdir(parents=True, exist_ok=True)
            records = run([int(n) for n in args.nodes.split(",")], args.size_mib, args.rate_mbit,
                          args.modes.split(","), args.repeats, root, args.log_level)
        if args.json:
            args.json.write_text(json.dumps(records, indent=2))
        print(table(records))


if __name__ == "__main__":
    main()
