"""A hostile or broken Swift auth service: the driver never follows it elsewhere with our key or token."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from glimpse.stores.base import StoreError, StoreUnavailableError
from glimpse.stores.loader import driver_class

KEY = "the-swift-key-never-sent-elsewhere"


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers as the test sets it, and records every request's headers."""

    seen: list[dict[str, str]] = []
    answer: tuple[int, dict[str, str]] = (204, {})

    def _reply(self) -> None:
        type(self).seen.append({k.lower(): v for k, v in self.headers.items()})
        status, headers = type(self).answer
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = _reply  # noqa: N815 - the stdlib's names

    def log_message(self, *args: object) -> None:
        pass


def _serve(handler: type[_Recorder]) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def elsewhere() -> Iterator[tuple[str, type[_Recorder]]]:
    handler = type("Elsewhere", (_Recorder,), {"seen": [], "answer": (204, {})})
    for url in _serve(handler):
        yield url, handler


@pytest.fixture
def auth() -> Iterator[tuple[str, type[_Recorder]]]:
    handler = type("Auth", (_Recorder,), {"seen": [], "answer": (204, {})})
    for url in _serve(handler):
        yield url, handler


def _store(auth_url: str) -> object:
    return driver_class("swift")(auth_address=f"{auth_url}/auth/1.0", auth_version=1, user="a:b", key=KEY,
                                 container="c")


def test_a_redirecting_auth_service_is_not_followed(auth: tuple[str, type[_Recorder]],
                                                    elsewhere: tuple[str, type[_Recorder]]) -> None:
    auth_url, auth_handler = auth
    other_url, other = elsewhere
    auth_handler.answer = (307, {"Location": f"{other_url}/auth/1.0"})
    with pytest.raises(StoreUnavailableError) as caught:
        _store(auth_url).check()  # type: ignore[attr-defined]
    assert other.seen == [] and KEY not in str(caught.value) and other_url not in str(caught.value)


def test_a_redirecting_object_service_gets_no_second_request(auth: tuple[str, type[_Recorder]],
                                                             elsewhere: tuple[str, type[_Recorder]]) -> None:
    auth_url, auth_handler = auth
    other_url, other = elsewhere
    auth_handler.answer = (204, {"X-Storage-Url": f"{auth_url}/v1/AUTH_a", "X-Auth-Token": "tok-123"})
    store = _store(auth_url)
    # the object service (same recorder) now redirects every request to another host
    auth_handler.answer = (301, {"Location": f"{other_url}/v1/AUTH_a/c/k", "X-Storage-Url": f"{auth_url}/v1/AUTH_a",
                                 "X-Auth-Token": "tok-123"})
    with pytest.raises(StoreError):
        store.stat("k")  # type: ignore[attr-defined]
    assert other.seen == []


def test_the_key_and_token_are_sent_only_to_the_auth_service_and_storage_url(
        auth: tuple[str, type[_Recorder]]) -> None:
    auth_url, auth_handler = auth
    auth_handler.answer = (204, {"X-Storage-Url": f"{auth_url}/v1/AUTH_a", "X-Auth-Token": "tok-123"})
    store = _store(auth_url)
    store.check()  # type: ignore[attr-defined]
    sign_in, account = auth_handler.seen
    assert sign_in["x-auth-key"] == KEY and "x-auth-token" not in sign_in
    assert account["x-auth-token"] == "tok-123" and "x-auth-key" not in account


@pytest.mark.parametrize("storage_url", ["http://127.0.0.1:99999/v1/AUTH_a", "http://127.0.0.1:port/v1/AUTH_a",
                                         "ftp://127.0.0.1/v1/AUTH_a", "http:///v1/AUTH_a"])
def test_an_unusable_storage_url_is_a_store_outage_not_a_crash(auth: tuple[str, type[_Recorder]],
                                                               storage_url: str) -> None:
    auth_url, auth_handler = auth
    auth_handler.answer = (204, {"X-Storage-Url": storage_url, "X-Auth-Token": "tok-123"})
    store = _store(auth_url)
    for read in (lambda: store.open("k"), lambda: store.stat("k")):  # type: ignore[attr-defined]
        with pytest.raises(StoreUnavailableError) as caught:
            read()
        assert storage_url not in str(caught.value) and "tok-123" not in str(caught.value)
