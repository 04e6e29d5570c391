"""Absolute URLs clients are told about."""

from __future__ import annotations

from starlette.requests import HTTPConnection


def base_url(connection: HTTPConnection, public_endpoint: str | None = None) -> str:
    """The public root of this node: ``public_endpoint`` if configured, else what the client used."""
    if public_endpoint is None and "app" in connection.scope:
        public_endpoint = connection.app.state.services.settings.public_endpoint
    if public_endpoint:
        return public_endpoint.rstrip("/")
    return str(connection.base_url).rstrip("/")
