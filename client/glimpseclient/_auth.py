"""Who the client says it is: a token, a Keystone v3 login, or plain identity headers.

``KeystoneAuth`` logs in with ``POST <auth_url>/v3/auth/tokens`` (password or
application credential), keeps the ``X-Subject-Token`` and reads the image
endpoint from the service catalog; it logs in again when the image service
answers 401 (an expired token). ``IdentityHeaders`` is for services running
without authentication (Glimpse today, Glance's unauthenticated mode): it
sends ``X-Project-Id``/``X-User-Id``/``X-Roles``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from glimpseclient._exceptions import ConfigurationError, error_for_status

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from glimpseclient._protocols import Transport


class TokenAuth:
    """A ready-made token, sent as ``X-Auth-Token``."""

    def __init__(self, token: str) -> None:
        self.token = token

    def headers(self, transport: Transport, timeout: float | None) -> dict[str, str]:
        return {"X-Auth-Token": self.token}

    def refresh(self) -> bool:
        return False


class IdentityHeaders:
    """No authentication; the identity a service without Keystone reads from headers."""

    def __init__(self, project_id: str | None = None, user_id: str | None = None, roles: str | None = None) -> None:
        self.project_id = project_id
        self.user_id = user_id
        self.roles = roles

    def headers(self, transport: Transport, timeout: float | None) -> dict[str, str]:
        headers = {}
        if self.project_id:
            headers["X-Project-Id"] = self.project_id
        if self.user_id:
            headers["X-User-Id"] = self.user_id
        if self.roles:
            headers["X-Roles"] = self.roles
        return headers

    def refresh(self) -> bool:
        return False


class KeystoneAuth:
    """A Keystone v3 login with a password or an application credential.

    Give ``username`` (+ ``user_domain_name``/``user_domain_id``) or
    ``user_id`` with ``password``, scoped by ``project_name`` (+ project domain)
    or ``project_id``; or ``application_credential_id`` (or ``_name`` with the
    user) with ``application_credential_secret`` (the credential is scoped already).
    ``interface`` and ``region_name`` pick the image endpoint from the catalog.
    """

    def __init__(self, auth_url: str, *, username: str | None = None, user_id: str | None = None,
                 password: str | None = None, user_domain_name: str | None = None,
                 user_domain_id: str | None = None, project_name: str | None = None, project_id: str | None = None,
                 project_domain_name: str | None = None, project_domain_id: str | None = None,
                 application_credential_id: str | None = None, application_credential_name: str | None = None,
                 application_credential_secret: str | None = None, interface: str = "public",
                 region_name: str | None = None) -> None:
        self.auth_url = auth_url
        self.username = username
        self.user_id = user_id
        self.password = password
        self.user_domain_name = user_domain_name
        self.user_domain_id = user_domain_id
        self.project_name = project_name
        self.project_id = project_id
        self.project_domain_name = project_domain_name
        self.project_domain_id = project_domain_id
        self.application_credential_id = application_credential_id
        self.application_credential_name = application_credential_name
        self.application_credential_secret = application_credential_secret
        self.interface = interface
        self.region_name = region_name
        self.token: str | None = None
        self.catalog: list[dict[str, Any]] = []

    def headers(self, transport: Transport, timeout: float | None) -> dict[str, str]:
        if self.token is None:
            self.login(transport, timeout)
        assert self.token is not None
        return {"X-Auth-Token": self.token}

    def refresh(self) -> bool:
        self.token = None
        return True

    def tokens_url(self) -> str:
        url = self.auth_url.rstrip("/")
        if url.endswith("/v2.0"):
            raise ConfigurationError("Keystone v2.0 is not supported; give a v3 OS_AUTH_URL")
        if not url.endswith("/v3"):
            url += "/v3"
        return url + "/auth/tokens"

    def request_body(self) -> dict[str, Any]:
        """The ``POST /v3/auth/tokens`` document for the configured credentials."""
        if self.application_credential_secret:
            credential: dict[str, Any] = {"secret": self.application_credential_secret}
            if self.application_credential_id:
                credential["id"] = self.application_credential_id
            elif self.application_credential_name:
                credential["name"] = self.application_credential_name
                credential["user"] = self._user()
            else:
                raise ConfigurationError("an application credential needs its id, or its name and the user")
            return {"auth": {"identity": {"methods": ["application_credential"],
                                          "application_credential": credential}}}
        if not self.password or not (self.username or self.user_id):
            raise ConfigurationError(
                "a Keystone login needs OS_USERNAME (or OS_USER_ID) and OS_PASSWORD, "
                "or an application credential (OS_APPLICATION_CREDENTIAL_ID and _SECRET)")
        user = self._user()
        user["password"] = self.password
        auth: dict[str, Any] = {"identity": {"methods": ["password"], "password": {"user": user}}}
        if self.project_id:
            auth["scope"] = {"project": {"id": self.project_id}}
        elif self.project_name:
            auth["scope"] = {"project": {"name": self.project_name,
                                         "domain": _domain(self.project_domain_id, self.project_domain_name)}}
        return {"auth": auth}

    def _user(self) -> dict[str, Any]:
        if self.user_id:
            return {"id": self.user_id}
        return {"name": self.username, "domain": _domain(self.user_domain_id, self.user_domain_name)}

    def login(self, transport: Transport, timeout: float | None) -> None:
        """Get a token and the catalog; raises ``Unauthorized`` (or another ``APIError``) on refusal."""
        url = self.tokens_url()
        body = json.dumps(self.request_body()).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   "User-Agent": "glimpseclient"}
        response = transport.send("POST", url, headers, body, timeout=timeout)
        try:
            content = response.read()
        finally:
            response.close()
        if response.status >= 400:
            raise error_for_status(response.status, response.headers, content, reason=response.reason,
                                   method="POST", url=url)
        token = response.headers.get("x-subject-token")
        if not token:
            raise ConfigurationError(f"Keystone at {url} answered {response.status} without an X-Subject-Token")
        document = json.loads(content or b"{}")
        self.token = token
        self.catalog = list(document.get("token", {}).get("catalog") or [])

    def image_endpoint(self) -> str | None:
        """The image service URL from the catalog for this interface (and region), if listed."""
        return endpoint_from_catalog(self.catalog, "image", self.interface, self.region_name)


def _domain(domain_id: str | None, domain_name: str | None) -> dict[str, str]:
    if domain_id:
        return {"id": domain_id}
    return {"name": domain_name or "Default"}


def endpoint_from_catalog(catalog: list[dict[str, Any]], service_type: str, interface: str,
                          region: str | None) -> str | None:
    interface = interface.removesuffix("URL")  # accept the old publicURL/internalURL spellings
    for service in catalog:
        if service.get("type") != service_type:
            continue
        for endpoint in service.get("endpoints", []):
            if not isinstance(endpoint, Mapping) or endpoint.get("interface") != interface:
                continue
            if region and region not in (endpoint.get("region"), endpoint.get("region_id")):
                continue
            url = endpoint.get("url")
            if isinstance(url, str):
                return url
    return None
