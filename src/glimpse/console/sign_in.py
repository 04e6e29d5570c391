"""The console's one server-side form: Keystone credentials exchanged for a token.

The browser posts a user name, password and project; this node asks Keystone
(``keystone_url``) for a project-scoped token and hands it back. Nothing is
kept here: the page holds the token in ``sessionStorage`` until sign-out or
the tab closes.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from glimpse.api.extension_routes import json_object
from glimpse.console.security import check_csrf, secured
from glimpse.errors import IdentityUnavailable, InvalidRequest, Unauthenticated
from glimpse.settings import Settings

_FIELDS = ("username", "password", "project", "domain")
_MAX_FIELD = 255


class KeystoneSignIn:
    def __init__(self, settings: Settings) -> None:
        self._url = settings.keystone_url.rstrip("/") if settings.keystone_url else None
        self._keystone = settings.auth_strategy == "keystone"
        self._timeout = settings.keystone_timeout

    async def sign_in(self, request: Request) -> Response:
        """200 ``{"token", "expires_at", "project_id", "user", "roles"}``; 400 for missing fields, 401 for
        credentials Keystone refuses, 403 without the CSRF token, 503 when Keystone cannot be reached."""
        check_csrf(request)
        if not self._keystone or self._url is None:
            raise InvalidRequest("This node does not use Keystone (auth_strategy is not keystone); sign in with "
                                 "a token or identity headers instead.")
        body = await json_object(request, max_size=16 * 1024)
        fields = {name: body.get(name, "Default" if name == "domain" else "") for name in _FIELDS}
        for name, value in fields.items():
            if not isinstance(value, str) or not value.strip() or len(value) > _MAX_FIELD:
                raise InvalidRequest(f"Sign-in needs '{name}': a text of 1 to {_MAX_FIELD} characters.")
        token, data = await self._ask_keystone(fields)
        return secured(JSONResponse({
            "token": token, "expires_at": data.get("expires_at"),
            "project_id": (data.get("project") or {}).get("id"),
            "user": (data.get("user") or {}).get("name"),
            "roles": [role.get("name") for role in data.get("roles") or []],
        }, headers={"Cache-Control": "no-store"}))

    async def _ask_keystone(self, fields: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        domain = {"name": fields["domain"]}
        document = {"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": fields["username"], "password": fields["password"], "domain": domain}}},
            "scope": {"project": {"name": fields["project"], "domain": domain}}}}
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                answer = await client.post(f"{self._url}/auth/tokens", json=document)
        except httpx.HTTPError as exc:
            raise IdentityUnavailable(f"Keystone could not be reached ({type(exc).__name__}); try again later.") \
                from None
        if answer.status_code in (400, 401, 403, 404):
            raise Unauthenticated("Keystone refused these credentials: check the user name, password, project "
                                  "and domain.", challenge='Keystone uri="/console/sign-in"')
        token = answer.headers.get("x-subject-token")
        if answer.status_code != 201 or not token:
            raise IdentityUnavailable(f"Keystone answered {answer.status_code} without a token; try again later.")
        try:
            data = json.loads(answer.content)["token"]
        except (ValueError, KeyError, TypeError):
            raise IdentityUnavailable("Keystone's answer could not be read; try again later.") from None
        return token, data if isinstance(data, dict) else {}
