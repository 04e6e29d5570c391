"""Reading a large object's body over plain HTTP with the standard library's ``http.client``.

httpx reads a response through h11, 64 KiB at a time: a 512 MiB GET from radosgw's Swift API cost
0.9–1.2 CPU-seconds that way on this project's benchmark VM, against 0.22 with ``http.client``
reading 1 MiB at a time (280 → 370 MB/s for one reader). A download through Glimpse pays that CPU
on the node, next to sending the same bytes to the client. The Swift driver sends its other
requests with httpx and reads objects here when the storage URL is ``http://`` (over TLS it keeps
httpx and its trust store).

``http.client`` ends a body that stops short of its ``Content-Length`` quietly (an empty read);
:class:`HttpBody` raises ``IncompleteRead`` instead, so a truncated object never looks whole.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from urllib.parse import urlsplit

#: What a read of this module raises when the backend cannot be reached or stops in the middle.
READ_ERRORS = (OSError, http.client.HTTPException)


class HttpBody:
    """An answer to a GET: its status, and its body iterated in chunks of ``chunk`` bytes; close it."""

    def __init__(self, connection: http.client.HTTPConnection, response: http.client.HTTPResponse,
                 chunk: int) -> None:
        self._connection = connection
        self._response = response
        self._chunk = chunk
        self.status_code = response.status

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        try:
            data = self._response.read(self._chunk)
        except BaseException:
            self.close()
            raise
        if data:
            return data
        missing = self._response.length  # bytes of the Content-Length never received (None: not known)
        self.close()
        if missing:
            raise http.client.IncompleteRead(b"", missing)
        raise StopIteration

    def close(self) -> None:
        self._response.close()
        self._connection.close()


def get(url: str, headers: dict[str, str], *, connect_timeout: float, read_timeout: float,
        chunk: int) -> HttpBody:
    """GET ``url`` (``http://`` only) on a connection of its own; raises one of :data:`READ_ERRORS`."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError("http_reads.get takes http:// URLs only")
    connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=connect_timeout)
    try:
        connection.connect()
        assert connection.sock is not None
        connection.sock.settimeout(read_timeout)
        connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers)
        response = connection.getresponse()
    except BaseException:
        connection.close()
        raise
    return HttpBody(connection, response, chunk)
