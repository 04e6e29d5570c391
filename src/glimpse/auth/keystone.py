"""``keystone``: validate ``X-Auth-Token`` with an OpenStack Identity (Keystone v3) service.

A service user's token (obtained with its password and refreshed before it
expires) authorises ``GET /v3/auth/tokens`` calls that validate callers'
tokens. Validated tokens are trusted for ``token_cache_seconds`` (and never
past their own expiry), so a revoked token can stay usable that long, as with
keystonemiddleware's token cache.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from starlette.datastructures import Headers

from glimpse.auth import context_for
from glimpse.context import RequestContext
from glimpse.errors import IdentityUnavailable, Unauthenticated
from glimpse.policy import Policy

if TYPE_CHECKING:
    from glimpse.services import Services
from glimpse.settings import Settings

_CACHE_ENTRIES = 10_000
#: Renew the service token this long before Keystone says it expires.
_RENEW_MARGIN = 60.0


@dataclass(frozen=True)
class _Caller:
    project_id: str | None
    user_id: str | None
    roles: frozenset[str]
    trusted_until: float
    catalog: tuple[dict[str, Any], ...] = ()


class KeystoneAuthenticator:
    def __init__(self, settings: Settings, policy: Policy) -> None:
        assert settings.keystone_url and settings.keystone_username and settings.keystone_password
        self._url = settings.keystone_url.rstrip("/")
        self._service = {
            "auth": {
                "identity": {"methods": ["password"], "password": {"user": {
                    "name": settings.keystone_username, "password": settings.keystone_password,
                    "domain": {"name": settings.keystone_user_domain}}}},
                "scope": {"project": {"name": settings.keystone_project_name,
                                      "domain": {"name": settings.keystone_project_domain}}},
            }
        }
        self._cache_seconds = settings.token_cache_seconds
        self._policy = policy
        self._client = httpx.AsyncClient(timeout=settings.keystone_timeout)
        self._service_token: tuple[str, float] | None = None
        self._service_lock = asyncio.Lock()
        self._cache: OrderedDict[str, _Caller] = OrderedDict()
        base = self._url.removesuffix("/v3")
        self.challenge = f'Keystone uri="{base}"'

    async def authenticate(self, headers: Headers, request_id: str) -> RequestContext:
        token = (headers.get("x-auth-token") or "").strip()
        if not token:
            raise Unauthenticated("Authentication required: send a Keystone token in the X-Auth-Token header.",
                                  self.challenge)
        caller = self._cached(token) or await self._validate(token)
        return context_for(self._policy, project_id=caller.project_id, user_id=caller.user_id,
                           roles=caller.roles, request_id=request_id, auth_token=token, service_catalog=caller.catalog)

    def _cached(self, token: str) -> _Caller | None:
        caller = self._cache.get(token)
        if caller is None:
            return None
        if caller.trusted_until <= time.monotonic():
            del self._cache[token]
            return None
        self._cache.move_to_end(token)
        return caller

    async def _validate(self, token: str) -> _Caller:
        response = await self._ask_keystone(token)
        if response.status_code == 401:  # our own token may have just been revoked or expired
            self._service_token = None
            response = await self._ask_keystone(token)
        if response.status_code in (401, 404):
            raise Unauthenticated("The token is not valid: it is unknown, expired or revoked.", self.challenge)
        if response.status_code != 200:
            raise IdentityUnavailable(f"The identity service answered {response.status_code} while validating "
                                      "a token; try again later.")
        caller = _caller_from(response.json()["token"], self._cache_seconds)
        if self._cache_seconds > 0:
            self._cache[token] = caller
            while len(self._cache) > _CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return caller

    async def _ask_keystone(self, token: str) -> httpx.Response:
        service = await self._service_token_value()
        try:
            return await self._client.get(f"{self._url}/auth/tokens",
                                          headers={"X-Auth-Token": service, "X-Subject-Token": token})
        except httpx.HTTPError as exc:
            raise IdentityUnavailable(f"The identity service at {self._url} cannot be reached: {exc}.") from exc

    async def _service_token_value(self) -> str:
        async with self._service_lock:
            if self._service_token and self._service_token[1] - _RENEW_MARGIN > time.monotonic():
                return self._service_token[0]
            try:
                response = await self._client.post(f"{self._url}/auth/tokens", json=self._service)
            except httpx.HTTPError as exc:
                raise IdentityUnavailable(f"The identity service at {self._url} cannot be reached: {exc}.") from exc
            if response.status_code != 201:
                raise IdentityUnavailable(
                    f"Glimpse's service user cannot log in to the identity service (HTTP {response.status_code}); "
                    "check the keystone_* settings."
                )
            expires = _seconds_until(response.json()["token"]["expires_at"])
            self._service_token = (response.headers["X-Subject-Token"], time.monotonic() + expires)
            return self._service_token[0]

    async def close(self) -> None:
        await self._client.aclose()


def _seconds_until(iso: str) -> float:
    moment = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return (moment - dt.datetime.now(dt.UTC)).total_seconds()


def _caller_from(body: dict[str, Any], cache_seconds: float) -> _Caller:
    project = body.get("project") or {}
    lifetime = min(cache_seconds, max(0.0, _seconds_until(body["expires_at"])))
    return _Caller(
        project_id=project.get("id"),
        user_id=(body.get("user") or {}).get("id"),
        roles=frozenset(role["name"].lower() for role in body.get("roles", [])),
        trusted_until=time.monotonic() + lifetime,
        catalog=tuple(entry for entry in body.get("catalog") or () if isinstance(entry, dict)),
    )


def build(settings: Settings, services: Services) -> KeystoneAuthenticator:
    """The ``keystone`` strategy (entry point ``glimpse.auth: keystone``)."""
    return KeystoneAuthenticator(settings, services.policy)
