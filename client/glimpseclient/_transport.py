"""The transport seam: send one HTTP request, get one streaming response.

``Transport`` (in ``_protocols``) is the small protocol the rest of the
client talks to; ``HTTPTransport`` implements it with ``http.client``, keeping idle
connections per host for reuse (keep-alive) and building one TLS context.
A transport knows nothing of retries, redirects, auth or the Images API: it
sends bytes and maps socket failures to ``ConnectError``, ``Timeout`` and
``ConnectionLost``.
"""

from __future__ import annotations

import http.client
import select
import socket
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from glimpseclient._exceptions import ConfigurationError, ConnectError, ConnectionLost, Timeout
from glimpseclient._tls import explain_closed, explain_handshake, explain_setup, is_tls_error

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing and ssl at run time costs start-up time
    import ssl

    from glimpseclient._protocols import Body, Response

_Key = tuple[str, str, int]
#: Unread response bytes worth reading on close to keep the connection alive.
_DRAIN_LIMIT = 64 * 1024
_RETRYABLE_ON_REUSE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                       ConnectionAbortedError)


class HTTPTransport:
    """``http.client`` transport with keep-alive connection reuse and TLS options.

    ``verify``: ``True`` (system CAs), ``False`` (no verification), or the path
    of a CA bundle. ``cert``/``key``: a client certificate (PEM) and its key.
    """

    def __init__(self, *, verify: bool | str = True, cert: str | None = None, key: str | None = None,
                 max_idle_per_host: int = 4) -> None:
        self._verify = verify
        self._cert = cert
        self._key = key
        self._max_idle = max_idle_per_host
        self._idle: dict[_Key, list[http.client.HTTPConnection]] = {}
        self._tls: ssl.SSLContext | None = None

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            import ssl  # only HTTPS users pay for it

            try:
                if self._verify is False:
                    context = ssl.create_default_context()
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                elif isinstance(self._verify, str):
                    context = ssl.create_default_context(cafile=self._verify)
                else:
                    context = ssl.create_default_context()
                if self._cert:
                    context.load_cert_chain(self._cert, self._key)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigurationError(explain_setup(exc, cafile=self._verify, cert=self._cert,
                                                       key=self._key)) from exc
            self._tls = context
        return self._tls

    def _connect(self, key: _Key, timeout: float | None) -> http.client.HTTPConnection:
        scheme, host, port = key
        conn: http.client.HTTPConnection
        if scheme == "https":
            conn = _TLSConnection(host, port, timeout=timeout, context=self._tls_context())
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            conn.connect()
        except TimeoutError as exc:
            raise Timeout(f"timed out connecting to {host}:{port}") from exc
        except OSError as exc:  # refused, unreachable, DNS, TLS handshake (ssl.SSLError is an OSError)
            if is_tls_error(exc):
                raise ConnectError(explain_handshake(exc, host=host, port=port, cafile=self._verify,
                                                     cert=self._cert)) from exc
            raise ConnectError(f"cannot connect to {scheme}://{host}:{port}: {exc}") from exc
        return conn

    def send(self, method: str, url: str, headers: Mapping[str, str], body: Body = None, *,
             timeout: float | None = None) -> Response:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(f"not an http(s) URL: {url!r}")
        key = (parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        replayable = body is None or isinstance(body, bytes)
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            if conn.sock is None or _dropped(conn.sock):
                conn.close()
                continue
            conn.sock.settimeout(timeout)
            try:
                return self._exchange(conn, key, method, target, headers, body, timeout)
            except _StaleConnection as stale:
                # The server closed an idle connection; a body we can send again goes on a new one.
                if not replayable:
                    raise ConnectionLost(f"{method} {url}: connection closed by the server: {stale.cause}") from None
        conn = self._connect(key, timeout)
        try:
            return self._exchange(conn, key, method, target, headers, body, timeout)
        except _StaleConnection as stale:
            if key[0] == "https":  # a new TLS connection closed unanswered: TLS 1.3's client-certificate refusal
                # (ConnectionLost as before: the request may have reached the server, so no blind retry)
                raise ConnectionLost(explain_closed(stale.cause, host=key[1], port=key[2], cert=self._cert)) from None
            raise ConnectionLost(f"{method} {url}: connection closed by the server: {stale.cause}") from None

    def _exchange(self, conn: http.client.HTTPConnection, key: _Key, method: str, target: str,
                  headers: Mapping[str, str], body: Body, timeout: float | None) -> Response:
        """Send on ``conn``; ``_StaleConnection`` when it broke before any response byte."""
        send_error: OSError | None = None
        try:
            conn.putrequest(method, target, skip_accept_encoding=True)
            for name, value in headers.items():
                conn.putheader(name, value)
            chunked = body is not None and not isinstance(body, bytes) and not _has(headers, "content-length")
            if chunked:
                conn.putheader("Transfer-Encoding", "chunked")
            elif isinstance(body, bytes) and not _has(headers, "content-length"):
                conn.putheader("Content-Length", str(len(body)))
            elif body is None and method in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", "0")
            conn.endheaders()
            if isinstance(body, bytes):
                conn.send(body)
            elif body is not None:
                _send_chunks(conn, body, chunked)
        except TimeoutError as exc:
            conn.close()
            raise Timeout(f"timed out sending {method} {target}") from exc
        except _RETRYABLE_ON_REUSE as exc:
            send_error = exc  # the server may still have answered (early 307/413): look below
        except OSError as exc:
            conn.close()
            raise ConnectionLost(f"{method} {target}: sending failed: {exc}") from exc
        try:
            raw = conn.getresponse()
        except TimeoutError as exc:
            conn.close()
            raise Timeout(f"timed out waiting for the response to {method} {target}") from exc
        except (http.client.HTTPException, OSError) as exc:
            conn.close()
            raise _StaleConnection(send_error or exc) from exc
        return _HTTPResponse(self, key, conn, raw)

    def _release(self, key: _Key, conn: http.client.HTTPConnection) -> None:
        idle = self._idle.setdefault(key, [])
        if len(idle) < self._max_idle:
            idle.append(conn)
        else:
            conn.close()

    def close(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()


class _TLSConnection(http.client.HTTPConnection):
    """HTTPS over ``http.client``'s plain connection.

    Used instead of ``http.client.HTTPSConnection`` so that the transport works
    even when ``http.client`` was imported without ``ssl`` (the CLI does that:
    ``ssl`` costs start-up time and memory that plain-HTTP users never need).
    """

    default_port = 443

    def __init__(self, host: str, port: int, *, timeout: float | None, context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout)
        self._context = context

    def connect(self) -> None:
        super().connect()
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.host)


class _StaleConnection(Exception):
    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _dropped(sock: socket.socket) -> bool:
    """Whether the server closed this idle connection: it is readable (EOF) with no request pending."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _has(headers: Mapping[str, str], name: str) -> bool:
    return any(key.lower() == name for key in headers)


def _send_chunks(conn: http.client.HTTPConnection, chunks: Iterable[bytes], chunked: bool) -> None:
    for chunk in chunks:
        if not chunk:
            continue
        if chunked:
            conn.send(b"%X\r\n" % len(chunk))
            conn.send(chunk)
            conn.send(b"\r\n")
        else:
            conn.send(chunk)
    if chunked:
        conn.send(b"0\r\n\r\n")


class _HTTPResponse:
    """A ``Response`` over ``http.client``; hands its connection back when fully read."""

    def __init__(self, transport: HTTPTransport, key: _Key, conn: http.client.HTTPConnection,
                 raw: http.client.HTTPResponse) -> None:
        self.status = raw.status
        self.reason = raw.reason
        self.headers = {name.lower(): value for name, value in raw.getheaders()}
        self._transport = transport
        self._key = key
        self._conn: http.client.HTTPConnection | None = conn
        self._raw = raw
        self._received = 0
        if raw.isclosed() or raw.length == 0:  # HEAD, 204, 304 or an empty body: nothing to read
            raw.close()
            self._finish()

    def readinto(self, buffer: bytearray | memoryview) -> int:
        if self._conn is None:
            return 0
        try:
            count = self._raw.readinto(buffer)
        except TimeoutError as exc:
            self._discard()
            raise Timeout(f"timed out reading the response after {self._received} bytes") from exc
        except (http.client.HTTPException, OSError) as exc:
            self._discard()
            raise ConnectionLost(f"connection lost after {self._received} bytes: {exc!r}", self._received) from exc
        if count == 0 and len(buffer) and self._raw.length:
            # http.client reports a connection closed before Content-Length bytes as a plain end of body.
            self._discard()
            raise ConnectionLost(f"connection closed after {self._received} bytes, "
                                 f"{self._raw.length} short of the announced length", self._received)
        self._received += count
        if count == 0 or self._raw.isclosed():
            self._finish()
        return count

    def read(self) -> bytes:
        parts = []
        buffer = bytearray(65536)
        while count := self.readinto(buffer):
            parts.append(bytes(buffer[:count]))
        return b"".join(parts)

    def _finish(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._raw.will_close or conn.sock is None:
            conn.close()
        else:
            self._transport._release(self._key, conn)

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        self._raw.close()
        if conn is not None:
            conn.close()

    def close(self) -> None:
        if self._conn is None:
            return
        remaining = self._raw.length
        if remaining is not None and remaining <= _DRAIN_LIMIT:
            # A short unread rest: reading it keeps the connection usable.
            try:
                self._raw.read()
            except (http.client.HTTPException, OSError):
                self._discard()
                return
            self._raw.close()
            self._finish()
        else:
            # A large unread body (an image): reconnecting is cheaper than draining it.
            self._discard()

