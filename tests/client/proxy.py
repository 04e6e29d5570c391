"""A small HTTP proxy for client tests: counts requests and injects network faults.

It forwards each request to an upstream server (streaming both ways, keeping
client connections alive) and records ``(method, path, headers)``. Faults, set
by a test: cut the connection after N bytes of the next image download, flip
one byte of image downloads, refuse given tokens with 401, answer data requests (``/file``, ``/stage``) with
307 to another node as a registry node does, or answer 503 a number of times.
"""

from __future__ import annotations

import http.client
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}
_DATA_PATH = re.compile(r"^/v2/images/[^/]+/(file|stage)(\?|$)")
_DOWNLOAD = re.compile(r"^/v2/images/[^/]+/file(\?|$)")


class Proxy:
    def __init__(self, upstream: str | None = None) -> None:
        self.upstream = upstream
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        #: Cut the next download response after this many body bytes (one shot).
        self.cut_download_after: int | None = None
        #: Flip the byte at this image offset in every download that covers it.
        self.flip_download_byte: int | None = None
        #: Answer data requests with 307 to this base URL.
        self.redirect_data_to: str | None = None
        #: Answer the next N requests with 503.
        self.unavailable: int = 0
        #: Replace the Accept header sent upstream (to see other error-body formats).
        self.accept: str | None = None
        #: Answer 401 to requests carrying one of these X-Auth-Token values (as an expired token).
        self.reject_tokens: set[str] = set()
        self.connections = 0
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.proxy = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def paths(self, method: str | None = None) -> list[str]:
        return [path for m, path, _ in self.requests if method is None or m == method]

    def data_requests(self) -> list[str]:
        return [f"{m} {p}" for m, p, _ in self.requests if _DATA_PATH.match(p)]

    def drop_connections(self) -> None:
        """Close every client connection, as a server closes idle keep-alive connections."""
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def clear(self) -> None:
        self.requests.clear()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - silence the access log
        pass

    def setup(self) -> None:
        super().setup()
        proxy: Proxy = self.server.proxy  # type: ignore[attr-defined]
        with proxy._lock:
            proxy.connections += 1
            proxy._sockets.append(self.connection)

    def do_GET(self) -> None:
        self._forward()

    do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = do_GET

    def _request_body(self) -> Iterator[bytes] | bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._chunks()
        length = int(self.headers.get("Content-Length") or 0)
        if not length:
            return None
        return self._exactly(length)

    def _exactly(self, length: int) -> Iterator[bytes]:
        while length:
            block = self.rfile.read(min(length, 1 << 20))
            if not block:
                return
            length -= len(block)
            yield block

    def _chunks(self) -> Iterator[bytes]:
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return
            yield self.rfile.read(size)
            self.rfile.readline()

    def _forward(self) -> None:
        proxy: Proxy = self.server.proxy  # type: ignore[attr-defined]
        proxy.requests.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
        body = self._request_body()
        if self.headers.get("X-Auth-Token") in proxy.reject_tokens:
            self._drain(body)
            self._reply(401, b'{"message": "The token has expired.", "code": "401 Unauthorized"}')
            return
        if proxy.unavailable > 0:
            proxy.unavailable -= 1
            self._drain(body)
            self._reply(503, b'{"message": "try again later", "code": "503 Service Unavailable"}')
            return
        if proxy.redirect_data_to and _DATA_PATH.match(self.path):
            self._drain(body)
            self._reply(307, b"", {"Location": proxy.redirect_data_to + self.path})
            return
        assert proxy.upstream, "proxy has no upstream"
        parts = urlsplit(proxy.upstream)
        upstream = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=120)
        try:
            upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() in _HOP_BY_HOP or (proxy.accept is not None and name.lower() == "accept"):
                    continue
                upstream.putheader(name, value)
            if proxy.accept is not None:
                upstream.putheader("Accept", proxy.accept)
            chunked = self.headers.get("Transfer-Encoding", "").lower() == "chunked"
            if chunked:
                upstream.putheader("Transfer-Encoding", "chunked")
            upstream.endheaders()
            if body is not None and not isinstance(body, bytes):
                for block in body:
                    upstream.send(b"%X\r\n%s\r\n" % (len(block), block) if chunked else block)
                if chunked:
                    upstream.send(b"0\r\n\r\n")
            response = upstream.getresponse()
            self._relay(proxy, response)
        finally:
            upstream.close()

    def _relay(self, proxy: Proxy, response: http.client.HTTPResponse) -> None:
        self.send_response(response.status, response.reason)
        headers = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
        length = response.getheader("Content-Length")
        data = None
        if length is None and self.command != "HEAD" and response.status not in (204, 304):
            data = response.read()
            headers.append(("Content-Length", str(len(data))))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if data is not None:
            self.wfile.write(data)
            return
        if self.command == "HEAD" or response.status in (204, 304):
            return
        download = bool(_DOWNLOAD.match(self.path)) and self.command == "GET" and response.status in (200, 206)
        offset = 0
        match = re.match(r"bytes (\d+)-", response.getheader("Content-Range") or "")
        if match:
            offset = int(match.group(1))
        cut = proxy.cut_download_after if download else None
        if cut is not None:
            proxy.cut_download_after = None
        sent = 0
        while block := response.read(65536):
            if download and proxy.flip_download_byte is not None:
                position = proxy.flip_download_byte - offset - sent
                if 0 <= position < len(block):
                    changed = bytearray(block)
                    changed[position] ^= 0xFF
                    block = bytes(changed)
            if cut is not None and sent + len(block) >= cut:
                self.wfile.write(block[:cut - sent])
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            self.wfile.write(block)
            sent += len(block)

    def _drain(self, body: Iterator[bytes] | bytes | None) -> None:
        if body is not None and not isinstance(body, bytes):
            for _ in body:
                pass

    def _reply(self, status: int, content: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)
