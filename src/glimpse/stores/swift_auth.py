"""Signing in to Swift: TempAuth-style v1 and Keystone v3, giving a storage URL and a token.

The token and the key never appear in an error message or a log line; the
messages name the condition and the HTTP status only.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from glimpse.stores.base import StoreConfigError, StoreUnavailableError

#: A token is fetched again once it is this old, before a request that could not be replayed after a 401
#: (a streamed upload). Keystone's default lifetime is an hour; radosgw's v1 tokens last 15 minutes.
TOKEN_REFRESH = 300.0
_INTERFACES = {"publicurl": "public", "internalurl": "internal", "adminurl": "admin",
               "public": "public", "internal": "internal", "admin": "admin"}


@dataclass(frozen=True)
class SwiftSession:
    """Where the account lives and the token that opens it."""

    storage_url: str
    token: str
    obtained: float


@dataclass(frozen=True)
class KeystoneScope:
    """The Keystone v3 details that v1 does not need."""

    project_name: str
    user_domain_id: str | None = "default"
    user_domain_name: str | None = None
    project_domain_id: str | None = "default"
    project_domain_name: str | None = None
    region: str | None = None
    interface: str = "public"
    service_type: str = "object-store"


def keystone_scope(user: str, *, project_name: str | None, user_domain_id: str | None,
                   user_domain_name: str | None, project_domain_id: str | None, project_domain_name: str | None,
                   region: str | None, endpoint_type: str, service_type: str) -> tuple[str, KeystoneScope]:
    """The user name and scope for v3; ``user`` may be ``project:user``, as glance_store reads it."""
    if not project_name:
        if ":" not in user:
            raise StoreConfigError("project_name", "is required with auth_version 3 (or write user as project:user)")
        project_name, user = user.split(":", 1)
    interface = _INTERFACES.get(endpoint_type.strip().lower())
    if interface is None:
        raise StoreConfigError("endpoint_type", "must be publicURL, internalURL or adminURL")
    return user, KeystoneScope(project_name=project_name,
                               user_domain_id=None if user_domain_name else user_domain_id,
                               user_domain_name=user_domain_name,
                               project_domain_id=None if project_domain_name else project_domain_id,
                               project_domain_name=project_domain_name,
                               region=region, interface=interface, service_type=service_type)


class SwiftAuth:
    """Fetches and caches a session; thread-safe."""

    def __init__(self, client: httpx.Client, auth_address: str, version: int, user: str, key: str,
                 scope: KeystoneScope | None = None, endpoint: str | None = None) -> None:
        self._client = client
        self._address = auth_address.rstrip("/")
        self._version = version
        self._user = user
        self._key = key
        self._scope = scope
        self._endpoint = endpoint.rstrip("/") if endpoint else None
        self._session: SwiftSession | None = None
        self._lock = threading.Lock()

    def session(self, *, max_age: float | None = None, stale: SwiftSession | None = None) -> SwiftSession:
        """The cached session; a new one when there is none, it is older than ``max_age`` s, or it is ``stale``."""
        with self._lock:
            current = self._session
            fresh = (current is not None and current is not stale
                     and (max_age is None or time.monotonic() - current.obtained < max_age))
            if not fresh:
                self._session = current = self._sign_in()
            assert current is not None
            return current

    def _sign_in(self) -> SwiftSession:
        try:
            if self._version == 1:
                return self._sign_in_v1()
            return self._sign_in_v3()
        except httpx.HTTPError as exc:
            raise StoreUnavailableError(f"swift store: the auth service cannot be reached ({type(exc).__name__})") \
                from None

    def _sign_in_v1(self) -> SwiftSession:
        answer = self._client.get(self._address, headers={"X-Auth-User": self._user, "X-Auth-Key": self._key})
        _refused(answer.status_code)
        url, token = answer.headers.get("X-Storage-Url"), answer.headers.get("X-Auth-Token")
        if not url or not token:
            raise StoreUnavailableError("swift store: the v1 auth answer has no storage URL or token")
        return SwiftSession(_usable(self._endpoint or url), token, time.monotonic())

    def _sign_in_v3(self) -> SwiftSession:
        scope = self._scope
        assert scope is not None
        base = self._address if self._address.endswith("/v3") else f"{self._address}/v3"
        user: dict[str, object] = {"name": self._user, "password": self._key,
                                   "domain": _domain(scope.user_domain_id, scope.user_domain_name)}
        body = {"auth": {
            "identity": {"methods": ["password"], "password": {"user": user}},
            "scope": {"project": {"name": scope.project_name,
                                  "domain": _domain(scope.project_domain_id, scope.project_domain_name)}},
        }}
        answer = self._client.post(f"{base}/auth/tokens", json=body)
        _refused(answer.status_code)
        token = answer.headers.get("X-Subject-Token")
        if not token:
            raise StoreUnavailableError("swift store: the Keystone answer has no X-Subject-Token")
        url = self._endpoint or _catalog_url(answer.json(), scope)
        return SwiftSession(_usable(url), token, time.monotonic())


def _domain(domain_id: str | None, domain_name: str | None) -> dict[str, str]:
    return {"name": domain_name} if domain_name else {"id": domain_id or "default"}


def _refused(status: int) -> None:
    if status in (401, 403):
        raise StoreUnavailableError(f"swift store: the auth service refused our credentials ({status})")
    if status >= 300:
        raise StoreUnavailableError(f"swift store: the auth service answered {status}")


def _catalog_url(body: object, scope: KeystoneScope) -> str:
    """The object-store endpoint of the token's catalog for the configured interface and region."""
    catalog = body.get("token", {}).get("catalog", []) if isinstance(body, dict) else []
    for service in catalog:
        if service.get("type") != scope.service_type:
            continue
        for endpoint in service.get("endpoints", []):
            region = endpoint.get("region_id") or endpoint.get("region")
            if endpoint.get("interface") == scope.interface and (scope.region is None or region == scope.region):
                return str(endpoint["url"])
    where = f" in region {scope.region!r}" if scope.region else ""
    raise StoreUnavailableError(f"swift store: the catalog has no {scope.interface} {scope.service_type} "
                                f"endpoint{where}")


def _usable(url: str) -> str:
    """``url`` without a trailing slash, if it is an http(s) URL with a host and a valid port; never echoed."""
    try:
        parts = urlsplit(url)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port or 1) > 0
    except ValueError:  # a port that is not a number, or out of range
        usable = False
    if not usable:
        raise StoreUnavailableError("swift store: the auth service gave a storage URL that is not an http(s) URL")
    return url.rstrip("/")
