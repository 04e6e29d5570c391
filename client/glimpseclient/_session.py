"""One request, done right: endpoint choice, auth, retries with backoff, redirects, errors.

``Session.send`` turns a path like ``/v2/images/{id}/file`` into a URL on the
registry or streaming endpoint (found through the version document), adds the
auth headers, and then:

- retries connection failures, and for idempotent calls also lost connections,
  timeouts and 429/502/503/504 answers, sleeping ``backoff * 2**n`` seconds
  (or what ``Retry-After`` asks, up to ``max_backoff``), ``retries`` times;
- follows redirects: any for GET/HEAD, 307/308 for other methods when the
  body can be sent again (a seekable file goes back to its start), otherwise
  ``RedirectError`` says what to do instead;
- logs in again once on 401 when the credentials allow it;
- raises the ``APIError`` subclass for any other error status.
"""

from __future__ import annotations

import json as jsonlib
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit

from glimpseclient._auth import KeystoneAuth
from glimpseclient._discovery import Endpoints, Version, endpoints_from, parse_versions, service_root
from glimpseclient._exceptions import (
    APIError,
    ConfigurationError,
    ConnectError,
    ConnectionLost,
    GlimpseClientError,
    RedirectError,
    Timeout,
    TransportError,
    error_for_status,
)
from glimpseclient._uploads import UploadSource

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from glimpseclient._protocols import Auth, Body, Response, Transport

VERSION = "0.1.0"
USER_AGENT = f"glimpseclient/{VERSION} python/{sys.version_info[0]}.{sys.version_info[1]}"
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUSES = frozenset({429, 502, 503, 504})
_FOLLOW_ANY_METHOD = (307, 308)
_REDIRECTS = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 5
_ERROR_BODY_LIMIT = 1 << 16

if TYPE_CHECKING:
    Params = Mapping[str, Any] | Sequence[tuple[str, Any]]


class RetryPolicy:
    """How often and how patiently to try again (seconds)."""

    def __init__(self, retries: int = 3, backoff: float = 0.5, max_backoff: float = 8.0) -> None:
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        if retry_after and retry_after.strip().isdigit():
            return min(float(retry_after), self.max_backoff)
        import random  # only when retrying

        base = min(self.backoff * 2.0 ** attempt, self.max_backoff)
        return base * (0.75 + random.random() / 2)  # jitter, so many clients do not retry in step


def path(*segments: str) -> str:
    """``path("v2", "images", image_id)`` -> ``/v2/images/<quoted id>``."""
    return "/" + "/".join(quote(segment, safe="") for segment in segments)


class Session:
    """Sends requests to the image service; see the module docstring for the rules."""

    def __init__(self, endpoint: str | None, *, auth: Auth, transport: Transport, timeout: float | None = 60.0,
                 retry: RetryPolicy | None = None, registry: str | None = None, streaming: str | None = None,
                 discover: bool = True, request_id: str | None = None) -> None:
        self.auth = auth
        self.transport = transport
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.request_id = request_id
        self._endpoint = endpoint
        self._explicit = (registry, streaming)
        self._discover = discover
        self._endpoints: Endpoints | None = None
        self._versions: list[Version] | None = None

    # -- endpoints -------------------------------------------------------------------------

    @property
    def root(self) -> str:
        """The configured image endpoint without its version suffix."""
        if self._endpoint is None:
            if isinstance(self.auth, KeystoneAuth):
                self.auth.headers(self.transport, self.timeout)  # logs in, fills the catalog
                self._endpoint = self.auth.image_endpoint()
            if self._endpoint is None:
                raise ConfigurationError(
                    "no image endpoint: set OS_IMAGE_URL (--os-image-url), or log in with OS_AUTH_URL to a "
                    "Keystone whose catalog lists an image service")
        return service_root(self._endpoint)

    @property
    def endpoints(self) -> Endpoints:
        """Registry and streaming roots (discovered once, unless both were given)."""
        if self._endpoints is None:
            registry, streaming = self._explicit
            if registry and streaming or not self._discover:
                root = registry or self.root
                self._endpoints = Endpoints(service_root(root), service_root(streaming or root))
            else:
                self._endpoints = endpoints_from(self.versions(), registry or self.root, registry=registry,
                                                 streaming=streaming)
        return self._endpoints

    def versions(self) -> list[Version]:
        """The version document's entries (empty when the service has none to offer)."""
        if self._versions is None:
            url = (self._explicit[0] and service_root(self._explicit[0]) or self.root) + "/versions"
            try:
                response = self._send_with_retries("GET", url, {"Accept": "application/json"}, None,
                                                   idempotent=True, authenticate=False)
                document = jsonlib.loads(_read_all(response) or b"{}")
            except (APIError, ValueError):
                document = {}
            self._versions = parse_versions(document)
        return self._versions

    # -- requests --------------------------------------------------------------------------

    def url(self, path: str, params: Params | None = None) -> str:
        url = self.endpoints.for_path(path) + path
        if params:
            items = params.items() if isinstance(params, Mapping) else params
            pairs = [(k, _query_value(v)) for k, v in items if v is not None]
            if pairs:
                url += "?" + urlencode(pairs)
        return url

    def send(self, method: str, path: str, *, params: Params | None = None, json: Any = None,
             body: bytes | UploadSource | None = None, headers: Mapping[str, str] | None = None,
             accept: str = "application/json", idempotent: bool | None = None) -> Response:
        """Send a request and return the (2xx) response, which the caller reads and closes."""
        all_headers = {"Accept": accept}
        if json is not None:
            body = jsonlib.dumps(json).encode()
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        if idempotent is None:
            idempotent = method in IDEMPOTENT
        return self._send_with_retries(method, self.url(path, params), all_headers, body, idempotent=idempotent)

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send and parse the JSON body (``None`` for an empty body)."""
        content = _read_all(self.send(method, path, **kwargs))
        if not content.strip():
            return None
        try:
            return jsonlib.loads(content)
        except ValueError:
            raise GlimpseClientError(f"{method} {path}: the service answered with something that is not JSON "
                                     f"({content[:60]!r}); is {self.endpoints.registry} an image service?") from None

    def items(self, path: str, key: str, params: Params | None = None, *, limit: int | None = None
              ) -> Iterator[dict[str, Any]]:
        """The ``key`` entries of a paginated collection, following ``next`` links; at most ``limit``."""
        returned = 0
        while True:
            body = self.json("GET", path, params=params)
            entries = body.get(key) or []
            for item in entries:
                yield item
                returned += 1
                if limit is not None and returned >= limit:
                    return
            next_link = body.get("next")
            if not next_link or not entries:
                return
            parts = urlsplit(next_link)
            # Glimpse and Glance send "/v2/images?..."; tolerate a link without the version prefix.
            path = parts.path if parts.path.startswith("/v2/") else "/v2" + parts.path
            params = parse_qsl(parts.query, keep_blank_values=True)

    def _send_with_retries(self, method: str, url: str, headers: dict[str, str], body: bytes | UploadSource | None,
                           *, idempotent: bool, authenticate: bool = True) -> Response:
        attempt = redirects = 0
        reauthenticated = False
        while True:
            request_headers = {"User-Agent": USER_AGENT, **headers}
            if authenticate:
                request_headers.update(self.auth.headers(self.transport, self.timeout))
            if self.request_id:
                request_headers["X-OpenStack-Request-ID"] = self.request_id
            payload: Body
            if isinstance(body, UploadSource):
                payload = body.chunks()
                if body.content_length is not None:
                    request_headers["Content-Length"] = str(body.content_length)
            else:
                payload = body
            try:
                response = self.transport.send(method, url, request_headers, payload, timeout=self.timeout)
            except TransportError as exc:
                retryable = isinstance(exc, ConnectError) or (
                    idempotent and isinstance(exc, (ConnectionLost, Timeout)))
                if retryable and attempt < self.retry.retries and _rewind(body):
                    time.sleep(self.retry.delay(attempt))
                    attempt += 1
                    continue
                raise
            status = response.status
            location = response.headers.get("location")
            if status in _REDIRECTS and location:
                response.close()
                redirects += 1
                target = urljoin(url, location)
                if redirects > MAX_REDIRECTS:
                    raise RedirectError(f"{method} {url}: more than {MAX_REDIRECTS} redirects")
                if method not in ("GET", "HEAD") and status not in _FOLLOW_ANY_METHOD:
                    raise RedirectError(f"{method} {url} was redirected ({status}) to {target}; not following "
                                        "a redirect that would change the method")
                if not _rewind(body):
                    raise RedirectError(
                        f"{method} {url} was redirected ({status}) to {target}, but the data came from a stream "
                        "that cannot be sent twice; upload from a file, or send the data to that endpoint directly "
                        "(--streaming-url / OS_IMAGE_STREAMING_URL)")
                url = target
                continue
            if status == 401 and authenticate and not reauthenticated and self.auth.refresh() and _rewind(body):
                response.close()
                reauthenticated = True
                continue
            if status in RETRY_STATUSES and idempotent and attempt < self.retry.retries and _rewind(body):
                delay = self.retry.delay(attempt, response.headers.get("retry-after"))
                response.close()
                time.sleep(delay)
                attempt += 1
                continue
            if status >= 400:
                content = _read_limited(response)
                raise error_for_status(status, response.headers, content, reason=response.reason, method=method,
                                       url=url)
            return response

    def close(self) -> None:
        self.transport.close()


def _rewind(body: bytes | UploadSource | None) -> bool:
    return body.rewind() if isinstance(body, UploadSource) else True


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _read_all(response: Response) -> bytes:
    try:
        return response.read()
    finally:
        response.close()


def _read_limited(response: Response) -> bytes:
    try:
        buffer = bytearray(_ERROR_BODY_LIMIT)
        view = memoryview(buffer)
        total = 0
        while total < len(buffer) and (count := response.readinto(view[total:])):
            total += count
        return bytes(buffer[:total])
    except TransportError:
        return b""
    finally:
        response.close()
