"""Data paths under network trouble: resumed downloads, corrupted bytes, retries, connection reuse."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

import glimpseclient
from glimpseclient import Client
from tests.client.conftest import MiB
from tests.client.proxy import Proxy
from tests.conftest import Server, free_port


def _uploaded(client: Client, size: int = 5 * MiB + 777) -> tuple[str, bytes]:
    data = os.urandom(size)
    image = client.images.create(name="data", disk_format="raw", container_format="bare")
    client.images.upload(image.id, data)
    return image.id, data


def test_a_download_cut_mid_way_resumes_with_range_and_verifies_the_whole_image(
        proxied: Client, proxy: Proxy, tmp_path: Path) -> None:
    image_id, data = _uploaded(proxied)
    proxy.clear()
    proxy.cut_download_after = 2 * MiB + 5
    target = tmp_path / "resumed.raw"
    with proxied.images.download(image_id) as download:
        download.save(target)
        assert download.resumed == 1
    assert hashlib.sha512(target.read_bytes()).hexdigest() == hashlib.sha512(data).hexdigest()
    ranges = [h.get("range") for m, p, h in proxy.requests if p.endswith("/file")]
    assert ranges == [None, f"bytes={2 * MiB + 5}-"]


def test_a_download_gives_up_after_too_many_breaks(proxied: Client, proxy: Proxy, tmp_path: Path) -> None:
    image_id, _ = _uploaded(proxied, 2 * MiB)
    proxy.cut_download_after = MiB
    with pytest.raises(glimpseclient.ConnectionLost):
        proxied.images.download_to(image_id, tmp_path / "never.raw", resumes=0)
    assert not (tmp_path / "never.raw").exists() and not (tmp_path / "never.raw.part").exists()


def test_a_flipped_byte_in_transit_fails_the_download_loudly(proxied: Client, proxy: Proxy, tmp_path: Path) -> None:
    image_id, _ = _uploaded(proxied)
    proxy.flip_download_byte = 3 * MiB + 1
    target = tmp_path / "corrupt.raw"
    with pytest.raises(glimpseclient.ChecksumMismatch) as failure:
        proxied.images.download_to(image_id, target)
    assert failure.value.algorithm == "sha512"
    assert failure.value.expected != failure.value.actual
    assert not target.exists() and not (tmp_path / "corrupt.raw.part").exists()


def test_data_altered_in_the_store_after_upload_is_detected(client: Client, glimpse: Server) -> None:
    image_id, data = _uploaded(client, MiB)
    stored = glimpse.data_dir / "images" / image_id
    assert stored.read_bytes() == data
    with stored.open("r+b") as f:
        f.seek(1000)
        f.write(bytes([data[1000] ^ 0x01]))
    with client.images.download(image_id) as download, pytest.raises(glimpseclient.ChecksumMismatch, match="sha512"):
        for _ in download:
            pass


def test_an_image_cut_short_in_the_store_never_downloads_as_complete(client: Client, glimpse: Server,
                                                                     tmp_path: Path) -> None:
    image_id, _ = _uploaded(client, MiB)
    os.truncate(glimpse.data_dir / "images" / image_id, MiB - 10)
    # The server announces MiB bytes and sends fewer: every resume comes up short too.
    with pytest.raises(glimpseclient.ConnectionLost, match="short of the announced length"):
        client.images.download_to(image_id, tmp_path / "short.raw", resumes=2)
    assert list(tmp_path.iterdir()) == []


def test_idempotent_calls_retry_on_503_and_non_idempotent_ones_do_not(proxied: Client, proxy: Proxy) -> None:
    image = proxied.images.create(name="retry", disk_format="raw", container_format="bare")
    proxy.unavailable = 2
    assert proxied.images.get(image.id).id == image.id
    assert proxy.paths("GET")[-3:] == [f"/v2/images/{image.id}"] * 3
    proxy.unavailable = 1
    with pytest.raises(glimpseclient.ServiceUnavailable) as failure:
        proxied.images.create(name="not retried")
    assert failure.value.status == 503 and failure.value.message == "try again later"


def test_retries_give_up_with_the_last_error(glimpse: Server, proxy: Proxy, project: str) -> None:
    with Client(proxy.url, project_id=project, retries=2, backoff=0.01) as client:
        client.versions()
        proxy.unavailable = 5
        with pytest.raises(glimpseclient.ServiceUnavailable):
            client.images.get("anything")
    assert proxy.paths("GET").count("/v2/images/anything") == 3


def test_connections_are_kept_alive_and_reused(proxied: Client, proxy: Proxy) -> None:
    image_id, _ = _uploaded(proxied, 100_000)
    for _ in range(5):
        proxied.images.get(image_id)
    with proxied.images.download(image_id) as download:
        assert sum(len(c) for c in download) == 100_000
    proxied.images.get(image_id)
    assert len(proxy.requests) >= 9
    assert proxy.connections == 1


def test_a_connection_the_server_closed_while_idle_is_not_used_for_an_upload(proxied: Client, proxy: Proxy) -> None:
    image = proxied.images.create(name="after idle", disk_format="raw", container_format="bare")
    proxy.drop_connections()  # as a server does when its keep-alive timeout passes
    proxied.images.upload(image.id, iter([b"streamed, so it cannot be sent twice"]))
    assert proxied.images.get(image.id).status == "active"
    assert proxy.connections == 2


def test_an_unreachable_service_is_a_connect_error_after_retries(project: str) -> None:
    with Client(f"http://127.0.0.1:{free_port()}", project_id=project, retries=2, backoff=0.01) as client:
        with pytest.raises(glimpseclient.ConnectError, match="cannot connect"):
            client.images.get("x")


def test_a_server_that_never_answers_times_out(project: str) -> None:
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        with Client(f"http://127.0.0.1:{port}", project_id=project, timeout=0.3, retries=0) as client:
            with pytest.raises(glimpseclient.Timeout):
                client.images.get("x")


def _record(client: Client, image_id: str, **changes: object) -> glimpseclient.Image:
    """The image's record with some fields changed, as an older or inconsistent service might send it."""
    return glimpseclient.Image({**client.images.get(image_id).raw, **changes})


def test_the_md5_checksum_is_checked_on_request_and_when_no_os_hash_value_is_recorded(client: Client) -> None:
    image_id, data = _uploaded(client, 200_000)
    wrong_md5 = _record(client, image_id, checksum="0" * 32)
    with glimpseclient.ImageDownload(client.session, wrong_md5) as download:
        assert b"".join(download) == data  # os_hash_value matches; MD5 not asked for
    with glimpseclient.ImageDownload(client.session, wrong_md5, verify_checksum=True) as download:
        with pytest.raises(glimpseclient.ChecksumMismatch) as failure:
            b"".join(download)
    assert failure.value.algorithm == "md5"
    legacy = _record(client, image_id, os_hash_algo=None, os_hash_value=None, checksum="0" * 32)
    with glimpseclient.ImageDownload(client.session, legacy) as download:
        with pytest.raises(glimpseclient.ChecksumMismatch, match="md5"):
            b"".join(download)
    correct_legacy = _record(client, image_id, os_hash_algo=None, os_hash_value=None)
    with glimpseclient.ImageDownload(client.session, correct_legacy) as download:
        assert b"".join(download) == data


def test_a_wrong_os_hash_value_fails_even_when_the_checksum_matches(client: Client) -> None:
    image_id, _ = _uploaded(client, 100_000)
    with glimpseclient.ImageDownload(client.session, _record(client, image_id, os_hash_value="ab" * 64)) as download:
        with pytest.raises(glimpseclient.ChecksumMismatch, match="sha512"):
            b"".join(download)
