"""The ``glimpse`` command's TLS failures name the certificate, the check that failed and the option to change."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.test_serving import _certificate, pki  # noqa: F401  # the certificates of the TLS tests
from tests.client.test_cli import run
from tests.conftest import Server, start_server


@pytest.fixture(scope="module")
def mtls(pki: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:  # noqa: F811
    with_cert = ssl.create_default_context(cafile=str(pki["ca"]))
    with_cert.load_cert_chain(str(pki["client_cert"]), str(pki["client_key"]))
    server = start_server(tmp_path_factory.mktemp("cli-mtls"), scheme="https", verify=with_cert,
                          args=["--cert", str(pki["server_cert"]), "--key", str(pki["server_key"]),
                                "--client-ca", str(pki["ca"])])
    yield server
    server.stop()


def error_of(server: Server, **env: str) -> str:
    result = run(server.url, "p-tls", "image", "list", env=env)
    assert result.returncode != 0
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines  # one line
    return lines[0]


def test_with_everything_right_the_command_works(mtls: Server, pki: dict[str, Path]) -> None:  # noqa: F811
    result = run(mtls.url, "p-tls", "image", "list", env={
        "OS_CACERT": str(pki["ca"]), "OS_CERT": str(pki["client_cert"]), "OS_KEY": str(pki["client_key"])})
    assert result.returncode == 0, result.stderr.decode()


def test_an_untrusted_server_certificate_is_explained(mtls: Server, pki: dict[str, Path]) -> None:  # noqa: F811
    message = error_of(mtls, OS_CERT=str(pki["client_cert"]), OS_KEY=str(pki["client_key"]))
    assert "server certificate of 127.0.0.1" in message and "not trusted" in message
    assert "--os-cacert" in message and "CERTIFICATE_VERIFY_FAILED" in message


def test_a_missing_client_certificate_is_explained(mtls: Server, pki: dict[str, Path]) -> None:  # noqa: F811
    message = error_of(mtls, OS_CACERT=str(pki["ca"]))
    assert "requires a client certificate" in message and "--os-cert" in message


def test_a_client_certificate_from_another_ca_is_explained(mtls: Server, pki: dict[str, Path],  # noqa: F811
                                                          tmp_path: Path) -> None:
    _, _, other_ca, other_key = _certificate(tmp_path, "other-ca", ca=True)
    cert, key, _, _ = _certificate(tmp_path, "stranger", issuer=(other_ca, other_key))
    message = error_of(mtls, OS_CACERT=str(pki["ca"]), OS_CERT=str(cert), OS_KEY=str(key))
    assert f"refused the client certificate {cert}" in message and "signed by a CA the server trusts" in message


def test_a_key_that_does_not_match_the_certificate_is_explained(mtls: Server, pki: dict[str, Path],  # noqa: F811
                                                               tmp_path: Path) -> None:
    _, other_key, _, _ = _certificate(tmp_path, "unrelated", issuer=None)
    message = error_of(mtls, OS_CACERT=str(pki["ca"]), OS_CERT=str(pki["client_cert"]), OS_KEY=str(other_key))
    assert f"private key {other_key} does not belong to the client certificate {pki['client_cert']}" in message


def test_an_unreadable_client_certificate_is_explained(mtls: Server, pki: dict[str, Path],  # noqa: F811
                                                      tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.pem"
    message = error_of(mtls, OS_CACERT=str(pki["ca"]), OS_CERT=str(missing))
    assert f"client certificate {missing}" in message and "cannot be loaded" in message
