"""``tokens``: API tokens stored (hashed) in Glimpse's database, made with ``glimpse-manage token``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers

from glimpse.auth import context_for
from glimpse.context import RequestContext
from glimpse.errors import Unauthenticated
from glimpse.policy import Policy
from glimpse.services.tokens import TokenService

if TYPE_CHECKING:
    from glimpse.services import Services
    from glimpse.settings import Settings

CHALLENGE = 'Token realm="glimpse"'


class TokenAuthenticator:
    def __init__(self, tokens: TokenService, policy: Policy) -> None:
        self._tokens = tokens
        self._policy = policy

    async def authenticate(self, headers: Headers, request_id: str) -> RequestContext:
        presented = headers.get("x-auth-token")
        if not presented:
            raise Unauthenticated("Authentication required: send an API token in the X-Auth-Token header.",
                                  CHALLENGE)
        token = await run_in_threadpool(self._tokens.verify, presented.strip())
        if token is None:
            raise Unauthenticated("The token is not valid: it is unknown, expired or revoked.", CHALLENGE)
        return context_for(self._policy, project_id=token.project_id, user_id=token.user_id,
                           roles=set(token.roles), request_id=request_id)

    async def close(self) -> None:
        return None


def build(settings: Settings, services: Services) -> TokenAuthenticator:
    """The ``tokens`` strategy (entry point ``glimpse.auth: tokens``)."""
    return TokenAuthenticator(services.tokens, services.policy)
