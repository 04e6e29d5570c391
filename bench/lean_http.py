"""A lean HTTP/1.1 client for benchmarks: raw sockets, keep-alive, large ``recv_into`` buffers.

General-purpose clients spend more CPU per byte and per request than the
servers being measured (curl tops out near 1.7 GB/s on a 2-core machine), so a
benchmark built on them measures the client. This one sends uploads with
``socket.sendfile`` and receives downloads straight into a reused buffer.
Only what the Images API needs: ``Content-Length`` or chunked bodies,
``Connection: close`` honoured (uWSGI-served Glance closes every connection).
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

RECV_BUFFER = 4 << 20


@dataclass
class Endpoint:
    host: str
    port: int
    base_path: str
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, url: str, headers: dict[str, str] | None = None) -> Endpoint:
        parts = urlsplit(url)
        if parts.scheme != "http":
            raise SystemExit(f"only http:// endpoints can be benchmarked, not {url}")
        return cls(parts.hostname or "127.0.0.1", parts.port or 80, parts.path.rstrip("/"), dict(headers or {}))

    def head_block(self, method: str, path: str, headers: dict[str, str] | None = None,
                   body_length: int | None = None) -> bytes:
        lines = [f"{method} {self.base_path}{path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        for name, value in {**self.headers, **(headers or {})}.items():
            lines.append(f"{name}: {value}")
        if body_length is not None:
            lines.append(f"Content-Length: {body_length}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def closes(self) -> bool:
        return "close" in self.headers.get("connection", "").lower()


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return status, headers


# -- blocking transfers (one socket per stream)


class BlockingConnection:
    """One keep-alive connection for large transfers."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.sock = socket.create_connection((endpoint.host, endpoint.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._pending = b""

    def close(self) -> None:
        self.sock.close()

    def _read_head(self) -> tuple[int, dict[str, str]]:
        data = self._pending
        while b"\r\n\r\n" not in data:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed before the response head")
            data += chunk
        head, _, self._pending = data.partition(b"\r\n\r\n")
        return _parse_head(head)

    def _read_small_body(self, headers: dict[str, str]) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = b""
            while True:
                while b"\r\n" not in self._pending:
                    self._pending += self.sock.recv(65536)
                size_line, _, self._pending = self._pending.partition(b"\r\n")
                size = int(size_line.split(b";")[0], 16)
                while len(self._pending) < size + 2:
                    self._pending += self.sock.recv(65536)
                body += self._pending[:size]
                self._pending = self._pending[size + 2:]
                if size == 0:
                    return body
        length = int(headers.get("content-length", "0"))
        while len(self._pending) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed inside a response body")
            self._pending += chunk
        body, self._pending = self._pending[:length], self._pending[length:]
        return body

    def upload_file(self, path: str, fd: int, size: int, headers: dict[str, str]) -> Response:
        """PUT ``size`` bytes of ``fd`` with ``sendfile``; returns the response."""
        self.sock.sendall(self.endpoint.head_block("PUT", path, headers, body_length=size))
        with os.fdopen(os.dup(fd), "rb") as f:
            self.sock.sendfile(f, 0, size)
        status, response_headers = self._read_head()
        return Response(status, response_headers, self._read_small_body(response_headers))

    def download(self, path: str, headers: dict[str, str] | None = None,
                 sink: Callable[[memoryview, int], None] | None = None) -> tuple[int, int]:
        """GET ``path``, handing each received block and its offset to ``sink``; ``(status, bytes)``."""
        self.sock.sendall(self.endpoint.head_block("GET", path, headers))
        status, response_headers = self._read_head()
        if status not in (200, 206):
            self._read_small_body(response_headers)
            return status, 0
        length = int(response_headers["content-length"])
        buffer = bytearray(RECV_BUFFER)
        view = memoryview(buffer)
        got = len(self._pending)
        if got and sink:
            sink(memoryview(self._pending), 0)
        self._pending = b""
        recv_into = self.sock.recv_into
        while got < length:
            n = recv_into(view, min(RECV_BUFFER, length - got))
            if not n:
                raise ConnectionError(f"connection closed after {got} of {length} bytes")
            if sink:
                sink(view[:n], got)
            got += n
        if response_headers.get("connection", "").lower() == "close":
            self.close()
        return status, got


# -- asyncio requests for metadata operations


class AsyncConnection:
    """A keep-alive connection for small requests; reconnects when the server closes."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.endpoint.host, self.endpoint.port)
        sock = self._writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def request(self, method: str, path: str, headers: dict[str, str] | None = None,
                      body: bytes | None = None) -> Response:
        if self._writer is None:
            await self._connect()
        assert self._reader is not None and self._writer is not None
        head = self.endpoint.head_block(method, path, headers, body_length=len(body) if body is not None else None)
        self._writer.write(head + (body or b""))
        try:
            raw_head = await self._reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            # A kept-alive connection the server had closed: retry once on a new one.
            await self.close()
            await self._connect()
            assert self._reader is not None and self._writer is not None
            self._writer.write(head + (body or b""))
            raw_head = await self._reader.readuntil(b"\r\n\r\n")
        status, response_headers = _parse_head(raw_head[:-4])
        if "chunked" in response_headers.get("transfer-encoding", "").lower():
            data = b""
            while True:
                size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
                data += (await self._reader.readexactly(size + 2))[:size]
                if size == 0:
                    break
        elif method == "HEAD" or status in (204, 304):
            data = b""
        else:
            data = await self._reader.readexactly(int(response_headers.get("content-length", "0")))
        response = Response(status, response_headers, data)
        if response.closes:
            await self.close()
        return response

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except OSError:
                pass
        self._reader = self._writer = None
