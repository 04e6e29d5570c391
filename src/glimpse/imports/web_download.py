"""Fetching image data from a URL for the ``web-download`` import method.

Which URLs may be fetched is the operator's choice (schemes, ports, hosts), as
in Glance, because a server that fetches what a user names can be pointed at
internal services.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from glimpse.errors import InvalidRequest, StoreUnavailable

#: Bytes per chunk read from the remote server.
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class UrlRules:
    schemes: Sequence[str] = ("http", "https")
    ports: Sequence[int] = (80, 443)
    allowed_hosts: Sequence[str] = ()
    disallowed_hosts: Sequence[str] = ()

    def check(self, uri: str) -> None:
        """Raise :class:`InvalidRequest` unless ``uri`` may be fetched."""
        try:
            parts = urlsplit(uri)
            port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
        except ValueError as exc:
            raise InvalidRequest(f"The import URI {uri!r} is not a valid URL: {exc}.") from None
        if parts.scheme not in self.schemes or not parts.hostname:
            raise InvalidRequest(f"The import URI must be an absolute {' or '.join(self.schemes)} URL.")
        if self.ports and port not in self.ports:
            raise InvalidRequest(f"The import URI uses port {port}; allowed ports are "
                                 f"{', '.join(str(p) for p in self.ports)}.")
        host = parts.hostname.lower()
        if host in {h.lower() for h in self.disallowed_hosts} or (
                self.allowed_hosts and host not in {h.lower() for h in self.allowed_hosts}):
            raise InvalidRequest(f"Importing from host {host!r} is not allowed on this site.")


@contextlib.contextmanager
def fetch(uri: str, *, timeout: float = 60.0) -> Iterator[tuple[Iterator[bytes], int | None]]:
    """Open ``uri`` for streaming: yields the body's chunks and its length when the server gives one.

    Raises :class:`StoreUnavailable` when the remote server cannot be reached or
    does not answer 200.
    """
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client, client.stream("GET", uri) as response:
            if response.status_code != 200:
                raise StoreUnavailable(_refusal(uri, response))
            length = response.headers.get("content-length")
            yield response.iter_bytes(CHUNK), int(length) if length and length.isdigit() else None
    except httpx.TimeoutException as exc:
        raise StoreUnavailable(f"Fetching {uri} timed out after {timeout:.0f} s ({exc.__class__.__name__}); "
                               "check that the server answers, or import from a faster one.") from exc
    except httpx.ConnectError as exc:
        raise StoreUnavailable(f"Could not connect to {urlsplit(uri).netloc} to fetch {uri}: {exc}. Check the "
                               "host name and port, and that this site's nodes can reach it.") from exc
    except httpx.HTTPError as exc:
        raise StoreUnavailable(f"Fetching {uri} failed: {exc}.") from exc


def _refusal(uri: str, response: httpx.Response) -> str:
    """What the task says when the remote server did not answer 200."""
    status = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
    if response.is_redirect:
        target = response.headers.get("location", "elsewhere")
        return (f"Fetching {uri} answered {status}, a redirect to {target}. web-download does not follow "
                "redirects (the target could be a host this site does not allow): import from the final URL.")
    if response.status_code in (401, 403):
        return (f"Fetching {uri} answered {status}: the server wants credentials. web-download sends none; "
                "use a URL anyone may read (for example a pre-signed one).")
    if response.status_code == 404:
        return f"Fetching {uri} answered {status}: there is nothing at that URL. Check it and import again."
    return f"Fetching {uri} answered {status}; web-download needs an answer of 200 with the image data."
