"""HTTP/1.1 driven by hand over a socket, for what an HTTP library will not send (tests only)."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from urllib.parse import urlparse


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


class RawConnection:
    """One connection to a server: send any bytes, read responses (Content-Length bodies) one by one."""

    def __init__(self, url: str, timeout: float = 30) -> None:
        parsed = urlparse(url)
        self.sock = socket.create_connection((parsed.hostname, parsed.port), timeout=timeout)
        self.pending = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def response(self) -> RawResponse:
        """The next response; raises ``ConnectionError`` if the server closes first."""
        while b"\r\n\r\n" not in self.pending:
            self._more()
        head, _, self.pending = self.pending.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {name.strip().lower(): value.strip()
                   for name, _, value in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(self.pending) < length:
            self._more()
        body, self.pending = self.pending[:length], self.pending[length:]
        return RawResponse(int(lines[0].split()[1]), headers, body)

    def closed_by_server(self, within: float = 10) -> bool:
        """Whether the server closes the connection (or resets it) within ``within`` seconds."""
        self.sock.settimeout(within)
        try:
            return self.sock.recv(1 << 16) == b""
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False

    def _more(self) -> None:
        data = self.sock.recv(1 << 16)
        if not data:
            raise ConnectionError("the server closed the connection")
        self.pending += data

    def close(self) -> None:
        self.sock.close()


def request_head(method: str, path: str, *headers: str) -> bytes:
    """A request head with ``Host`` and the given ``Name: value`` lines."""
    return ("\r\n".join([f"{method} {path} HTTP/1.1", "Host: glimpse", *headers]) + "\r\n\r\n").encode()


def timed(call: object) -> float:
    """Seconds ``call()`` takes."""
    start = time.perf_counter()
    call()  # type: ignore[operator]
    return time.perf_counter() - start
