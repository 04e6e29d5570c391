"""Serving processes: several workers on one port, a dead worker replaced, graceful stop, TLS."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import ssl
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import SERVER_PATHS, Api, Server, start_server

MiB = 1024 * 1024


@pytest.fixture(scope="module", params=SERVER_PATHS)
def two_workers(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("two-workers"), workers=2,
                          env={"GLIMPSE_SERVER_FAST_PATHS": str(request.param == "fast-paths").lower()})
    # The health check answers once one worker is up; the other may still be starting.
    wait_for(lambda: len(server.worker_pids()) == 2)
    yield server
    server.stop()


def wait_for(condition: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_requested_number_of_workers_serve_one_port(two_workers: Server) -> None:
    assert len(two_workers.worker_pids()) == 2
    api = Api(two_workers.url, uuid.uuid4().hex)
    try:
        image = api.create(name="w")
        # Every request, on fresh connections spread over both workers, sees the same data.
        for _ in range(20):
            assert httpx.get(f"{two_workers.url}/v2/images/{image['id']}",
                             headers={"X-Project-Id": api.project or ""}).status_code == 200
    finally:
        api.close()


def test_a_killed_worker_is_replaced_and_requests_keep_working(two_workers: Server) -> None:
    before = two_workers.worker_pids()
    victim = before[0]
    os.kill(victim, signal.SIGKILL)
    api = Api(two_workers.url, uuid.uuid4().hex)
    try:
        # Requests keep being answered while the worker is gone and after it is replaced.
        for n in range(10):
            api.create(name=f"during-{n}")
        wait_for(lambda: len(two_workers.worker_pids()) == 2 and victim not in two_workers.worker_pids())
        after = two_workers.worker_pids()
        assert victim not in after and before[1] in after
        wait_for(lambda: all(_serves(two_workers.url) for _ in range(10)))
        images = api.http.get("/v2/images", params={"limit": 100}).json()["images"]
        assert len(images) == 10
    finally:
        api.close()


def _serves(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthcheck", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.parametrize("paths", SERVER_PATHS)
def test_sigterm_lets_a_download_in_flight_finish_then_exits(tmp_path: Path, paths: str) -> None:
    server = start_server(tmp_path / "graceful", workers=1,
                          env={"GLIMPSE_SERVER_FAST_PATHS": str(paths == "fast-paths").lower()})
    try:
        api = Api(server.url, uuid.uuid4().hex)
        data = os.urandom(32 * MiB)
        image = api.create()
        assert api.upload(image["id"], data).status_code == 204
        api.close()
        host, port = server.url.removeprefix("http://").split(":")
        sock = socket.create_connection((host, int(port)))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.sendall(f"GET /v2/images/{image['id']}/file HTTP/1.1\r\nHost: x\r\n"
                     f"X-Project-Id: {api.project}\r\n\r\n".encode())
        received = bytearray(sock.recv(65536))  # the response has started, most of it is still to come
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert server.process.poll() is None  # still finishing the download
        while True:
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            received += chunk
        sock.close()
        head, _, body = bytes(received).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        assert body == data
        assert server.process.wait(timeout=30) == 0
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{server.url}/healthcheck", timeout=2)
    finally:
        server.stop()


# -- TLS


def _certificate(directory: Path, name: str, issuer: tuple[object, object] | None = None,
                 ca: bool = False) -> tuple[Path, Path, object, object]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_cert, issuer_key = issuer if issuer else (None, key)
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject if issuer_cert is not None else subject)  # type: ignore[attr-defined]
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(__import__("ipaddress")
                                                                                   .ip_address("127.0.0.1"))]),
            critical=False)
    cert = builder.sign(issuer_key, hashes.SHA256())  # type: ignore[arg-type]
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path, cert, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("cryptography")
    directory = tmp_path_factory.mktemp("pki")
    ca_cert, ca_key, ca, ca_private = _certificate(directory, "test-ca", ca=True)
    server_cert, server_key, _, _ = _certificate(directory, "server", issuer=(ca, ca_private))
    client_cert, client_key, _, _ = _certificate(directory, "client", issuer=(ca, ca_private))
    return {"ca": ca_cert, "server_cert": server_cert, "server_key": server_key,
            "client_cert": client_cert, "client_key": client_key}


def trusting(pki: dict[str, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(pki["ca"]))


@pytest.fixture(scope="module")
def tls_server(pki: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("tls"), workers=2, scheme="https", verify=trusting(pki),
                          args=["--cert", str(pki["server_cert"]), "--key", str(pki["server_key"])])
    yield server
    server.stop()


def test_https_round_trip_with_httpx(tls_server: Server, pki: dict[str, Path]) -> None:
    data = os.urandom(5 * MiB + 3)
    headers = {"X-Project-Id": uuid.uuid4().hex}
    with httpx.Client(base_url=tls_server.url, verify=trusting(pki), headers=headers, timeout=60) as client:
        image = client.post("/v2/images", json={"disk_format": "raw", "container_format": "bare"}).json()
        put = client.put(f"/v2/images/{image['id']}/file", content=data,
                         headers={"Content-Type": "application/octet-stream"})
        assert put.status_code == 204
        assert client.get(f"/v2/images/{image['id']}/file").content == data
        ranged = client.get(f"/v2/images/{image['id']}/file", headers={"Range": "bytes=100-199"})
        assert ranged.status_code == 206 and ranged.content == data[100:200]
    with pytest.raises(httpx.ConnectError):  # the certificate is checked: an unknown CA is refused
        httpx.get(f"{tls_server.url}/healthcheck", timeout=5)
    with pytest.raises(httpx.RemoteProtocolError):  # plain HTTP is not served on the TLS port
        httpx.get(tls_server.url.replace("https://", "http://") + "/healthcheck", timeout=5)


def test_https_with_glanceclient(tls_server: Server, pki: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    glanceclient = pytest.importorskip("glanceclient")
    import io

    # requests lets these variables override the session's CA bundle (psf/requests#3829)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    client = glanceclient.Client("2", endpoint=tls_server.url, token="x", cacert=str(pki["ca"]))
    image = client.images.create(name="tls", disk_format="raw", container_format="bare")
    client.images.upload(image["id"], io.BytesIO(b"over tls" * 1000))
    assert b"".join(client.images.data(image["id"])) == b"over tls" * 1000
    assert client.images.get(image["id"])["status"] == "active"


def test_client_certificates_are_required_with_a_client_ca(pki: dict[str, Path], tmp_path: Path) -> None:
    with_cert = ssl.create_default_context(cafile=str(pki["ca"]))
    with_cert.load_cert_chain(str(pki["client_cert"]), str(pki["client_key"]))
    server = start_server(tmp_path / "mtls", workers=1, scheme="https", verify=with_cert,
                          args=["--cert", str(pki["server_cert"]), "--key", str(pki["server_key"]),
                                "--client-ca", str(pki["ca"])])
    try:
        assert httpx.get(f"{server.url}/healthcheck", verify=with_cert, timeout=5).status_code == 200
        without = ssl.create_default_context(cafile=str(pki["ca"]))
        with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
            httpx.get(f"{server.url}/healthcheck", verify=without, timeout=5)
    finally:
        server.stop()


def test_tls_settings_must_name_files(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="tls_cert_file"):
        start_server(tmp_path / "bad", args=["--cert", str(tmp_path / "missing.pem")])
