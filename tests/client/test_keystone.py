"""Keystone v3 login (password and application credential), catalog lookup, token refresh and TLS.

There is no Keystone on this machine, and Keystone is not ours: these tests
run against a small stdlib fake of its token endpoint (``POST /v3/auth/tokens``)
that checks the request document and answers as Keystone does, with
``X-Subject-Token`` and a service catalog pointing at a live Glimpse (behind a
proxy that records the ``X-Auth-Token`` it receives).
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import glimpseclient
from glimpseclient import Client, KeystoneAuth
from tests.client.proxy import Proxy

GLIMPSE = str(Path(sys.executable).parent / "glimpse")
USERS = {("demo", "Default"): "secret"}
APPLICATION_CREDENTIALS = {"ac-1": "s3cr3t"}


class FakeKeystone:
    def __init__(self, image_url: str, internal_url: str, tls: ssl.SSLContext | None = None) -> None:
        self.image_url = image_url
        self.internal_url = internal_url
        self.bodies: list[dict[str, Any]] = []
        self.issued: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _KeystoneHandler)
        self._server.keystone = self  # type: ignore[attr-defined]
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def token_for(self, body: dict[str, Any]) -> str | None:
        identity = body["auth"]["identity"]
        if identity["methods"] == ["password"]:
            user = identity["password"]["user"]
            key = (user.get("name"), user.get("domain", {}).get("name"))
            if USERS.get(key) != user.get("password"):
                return None
        elif identity["methods"] == ["application_credential"]:
            credential = identity["application_credential"]
            if APPLICATION_CREDENTIALS.get(credential.get("id")) != credential.get("secret"):
                return None
        else:
            return None
        token = f"token-{len(self.issued) + 1}"
        self.issued.append(token)
        return token

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _KeystoneHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_POST(self) -> None:
        keystone: FakeKeystone = self.server.keystone  # type: ignore[attr-defined]
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        keystone.bodies.append(body)
        token = keystone.token_for(body) if self.path == "/identity/v3/auth/tokens" else None
        if token is None:
            content = json.dumps({"error": {"code": 401, "title": "Unauthorized",
                                            "message": "The request you have made requires authentication."}})
            self.send_response(401)
        else:
            catalog = [
                {"type": "identity", "endpoints": [{"interface": "public", "url": keystone.url}]},
                {"type": "image", "name": "glimpse", "endpoints": [
                    {"interface": "public", "region": "RegionOne", "url": keystone.image_url},
                    {"interface": "internal", "region": "RegionOne", "url": keystone.internal_url},
                ]},
            ]
            content = json.dumps({"token": {"methods": ["password"], "catalog": catalog}})
            self.send_response(201)
            self.send_header("X-Subject-Token", token)
        encoded = content.encode()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(encoded)))
        self.end_headers()
        self.wfile.write(encoded)


@pytest.fixture
def keystone(proxy: Proxy) -> Iterator[FakeKeystone]:
    fake = FakeKeystone(proxy.url + "/", "http://127.0.0.1:9/unused")
    yield fake
    fake.stop()


def _password_env(keystone: FakeKeystone, **extra: str) -> dict[str, str]:
    return {"OS_AUTH_URL": keystone.url + "/identity", "OS_USERNAME": "demo", "OS_PASSWORD": "secret",
            "OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_NAME": "demo", "OS_PROJECT_DOMAIN_NAME": "Default",
            **extra}


def test_a_password_login_finds_the_image_endpoint_in_the_catalog(keystone: FakeKeystone, proxy: Proxy) -> None:
    with Client.from_environment(_password_env(keystone)) as client:
        list(client.images.list())
    assert keystone.bodies == [{"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "demo", "domain": {"name": "Default"}, "password": "secret"}}},
        "scope": {"project": {"name": "demo", "domain": {"name": "Default"}}}}}]
    tokens = {headers.get("x-auth-token") for _, path, headers in proxy.requests if path.startswith("/v2/")}
    assert tokens == {"token-1"}


def test_an_application_credential_login_through_the_cli(keystone: FakeKeystone, proxy: Proxy) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(OS_AUTH_URL=keystone.url + "/identity/v3", OS_AUTH_TYPE="v3applicationcredential",
               OS_APPLICATION_CREDENTIAL_ID="ac-1", OS_APPLICATION_CREDENTIAL_SECRET="s3cr3t")
    result = subprocess.run([GLIMPSE, "image", "list", "-f", "json"], capture_output=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert isinstance(json.loads(result.stdout), list)
    assert keystone.bodies == [{"auth": {"identity": {
        "methods": ["application_credential"], "application_credential": {"id": "ac-1", "secret": "s3cr3t"}}}}]
    assert proxy.requests[-1][2].get("x-auth-token") == "token-1"


def test_a_refused_login_is_unauthorized_with_keystones_message(keystone: FakeKeystone) -> None:
    with Client.from_environment(_password_env(keystone, OS_PASSWORD="wrong")) as client:
        with pytest.raises(glimpseclient.Unauthorized, match="requires authentication"):
            client.images.get("x")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(_password_env(keystone, OS_PASSWORD="wrong"))
    result = subprocess.run([GLIMPSE, "image", "list"], capture_output=True, env=env, timeout=60)
    assert result.returncode == 1
    assert result.stderr.decode().startswith("glimpse: error: 401: The request you have made requires authentication.")


def test_an_expired_token_is_replaced_by_logging_in_again(keystone: FakeKeystone, proxy: Proxy) -> None:
    with Client.from_environment(_password_env(keystone)) as client:
        list(client.images.list())
        proxy.reject_tokens.add("token-1")
        list(client.images.list())
    assert keystone.issued == ["token-1", "token-2"]
    assert [h.get("x-auth-token") for _, _, h in proxy.requests[-2:]] == ["token-1", "token-2"]


def test_the_interface_selects_the_catalog_endpoint(keystone: FakeKeystone) -> None:
    auth = KeystoneAuth(keystone.url + "/identity", username="demo", password="secret", interface="internal")
    with Client(auth=auth) as client:
        assert client.session.root == "http://127.0.0.1:9/unused"


def test_a_token_from_the_environment_is_sent_as_is(proxy: Proxy) -> None:
    with Client.from_environment({"OS_IMAGE_URL": proxy.url, "OS_AUTH_TOKEN": "given"}) as client:
        list(client.images.list())
    assert proxy.requests[-1][2].get("x-auth-token") == "given"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make test certificates")
    directory = tmp_path_factory.mktemp("pki")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True, timeout=60)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
            "-keyout", "ca.key", "-out", "ca.pem")
    for name, cn in (("server", "127.0.0.1"), ("client", "glimpse-user")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}", "-keyout", f"{name}.key",
                "-out", f"{name}.csr")
        (directory / f"{name}.ext").write_text("subjectAltName=IP:127.0.0.1\n")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem")
    return directory


def test_tls_with_a_ca_bundle_and_a_client_certificate(certificates: Path, proxy: Proxy) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates / "server.pem", certificates / "server.key")
    context.load_verify_locations(certificates / "ca.pem")
    context.verify_mode = ssl.CERT_REQUIRED  # mutual TLS: the client must show a certificate
    keystone = FakeKeystone(proxy.url, proxy.url, tls=context)
    try:
        env = _password_env(keystone, OS_CACERT=str(certificates / "ca.pem"),
                            OS_CERT=str(certificates / "client.pem"), OS_KEY=str(certificates / "client.key"))
        with Client.from_environment(env) as client:
            list(client.images.list())
        assert keystone.issued == ["token-1"]
        assert proxy.requests[-1][2].get("x-auth-token") == "token-1"

        with Client.from_environment({**env, "OS_CERT": "", "OS_KEY": ""}, retries=0) as client:
            with pytest.raises(glimpseclient.TransportError):
                client.images.get("x")
        without_ca = {k: v for k, v in env.items() if k != "OS_CACERT"}
        with Client.from_environment(without_ca, retries=0) as client:
            with pytest.raises(glimpseclient.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                client.images.get("x")
    finally:
        keystone.stop()
