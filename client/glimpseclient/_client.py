"""``Client``: the entry point, wiring transport, auth, session and the API groups."""

from __future__ import annotations

import os
from collections.abc import Mapping

from glimpseclient._auth import IdentityHeaders, KeystoneAuth, TokenAuth
from glimpseclient._discovery import Endpoints, Version
from glimpseclient._exceptions import ConfigurationError
from glimpseclient._images import ImagesAPI
from glimpseclient._info import InfoAPI, SchemasAPI, TasksAPI
from glimpseclient._members import MembersAPI
from glimpseclient._metadefs import MetadefsAPI
from glimpseclient._templates import TemplatesAPI
from glimpseclient._cache import CacheAPI
from glimpseclient._session import RetryPolicy, Session
from glimpseclient._transport import HTTPTransport
from glimpseclient._uploads import CHUNK_SIZE

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from glimpseclient._protocols import Auth, Transport


class Client:
    """A client for one image service (Glimpse or Glance, Images API v2).

    ``endpoint`` is the service URL (``http://host:9292``, with or without
    ``/v2``); it may be left out when ``auth`` is a ``KeystoneAuth`` whose
    catalog lists the image service. Identity: ``auth``, else ``token``
    (``X-Auth-Token``), else ``project_id``/``user_id``/``roles`` headers for
    services without authentication. ``registry_endpoint``/``streaming_endpoint``
    override what the version document says about where metadata and data go.
    ``timeout`` is in seconds per socket operation; ``retries`` and ``backoff``
    (seconds, doubled each time) govern retries. ``verify`` is ``True``, ``False``
    or a CA bundle path; ``cert``/``key`` a client certificate.
    Use it as a context manager, or call ``close()``.
    """

    def __init__(self, endpoint: str | None = None, *, token: str | None = None, auth: Auth | None = None,
                 project_id: str | None = None, user_id: str | None = None, roles: str | None = None,
                 registry_endpoint: str | None = None, streaming_endpoint: str | None = None,
                 discover: bool = True, timeout: float | None = 60.0, retries: int = 3, backoff: float = 0.5,
                 verify: bool | str = True, cert: str | None = None, key: str | None = None,
                 transport: Transport | None = None, request_id: str | None = None,
                 chunk_size: int = CHUNK_SIZE) -> None:
        if auth is None:
            auth = TokenAuth(token) if token else IdentityHeaders(project_id, user_id, roles)
        if chunk_size <= 0:
            raise ConfigurationError("chunk_size must be a positive number of bytes")
        self.transport = transport or HTTPTransport(verify=verify, cert=cert, key=key)
        self.session = Session(endpoint, auth=auth, transport=self.transport, timeout=timeout,
                               retry=RetryPolicy(retries=retries, backoff=backoff), registry=registry_endpoint,
                               streaming=streaming_endpoint, discover=discover, request_id=request_id)
        self.images = ImagesAPI(self.session, chunk_size)
        self.members = MembersAPI(self.session)
        self.schemas = SchemasAPI(self.session)
        self.info = InfoAPI(self.session)
        self.tasks = TasksAPI(self.session)
        self.metadefs = MetadefsAPI(self.session)
        self.templates = TemplatesAPI(self.session)
        self.cache = CacheAPI(self.session)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Client:
        """A client configured from ``OS_*`` variables (see ``docs/client.md``); keyword arguments win."""
        env = os.environ if environ is None else environ
        settings = client_settings(env)
        settings.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**settings)

    def versions(self) -> list[Version]:
        """The entries of the service's version document."""
        return self.session.versions()

    @property
    def endpoints(self) -> Endpoints:
        """Where metadata (``registry``) and data (``streaming``) calls go."""
        return self.session.endpoints

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _first(env: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = env.get(name)
        if value:
            return value
    return None


def client_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """``Client`` keyword arguments from OpenStack-style environment variables."""
    settings: dict[str, Any] = {
        "endpoint": _first(env, "OS_IMAGE_URL"),
        "registry_endpoint": _first(env, "OS_IMAGE_REGISTRY_URL"),
        "streaming_endpoint": _first(env, "OS_IMAGE_STREAMING_URL"),
        "cert": _first(env, "OS_CERT"),
        "key": _first(env, "OS_KEY"),
    }
    cacert = _first(env, "OS_CACERT")
    if _first(env, "OS_INSECURE") in ("1", "true", "True", "yes"):
        settings["verify"] = False
    elif cacert:
        settings["verify"] = cacert
    auth_type = (_first(env, "OS_AUTH_TYPE") or "").lower().replace("_", "")
    token = _first(env, "OS_AUTH_TOKEN", "OS_TOKEN")
    auth_url = _first(env, "OS_AUTH_URL")
    if token and auth_type in ("", "token", "v3token", "admintoken"):
        settings["token"] = token
    elif auth_url and auth_type not in ("none", "noauth"):
        settings["auth"] = keystone_auth(env, auth_url)
    else:
        settings["project_id"] = _first(env, "OS_PROJECT_ID", "OS_TENANT_ID")
        settings["user_id"] = _first(env, "OS_USER_ID")
        settings["roles"] = _first(env, "OS_ROLES")
    return {k: v for k, v in settings.items() if v is not None}


def keystone_auth(env: Mapping[str, str], auth_url: str) -> KeystoneAuth:
    return KeystoneAuth(
        auth_url=auth_url,
        username=_first(env, "OS_USERNAME"),
        user_id=_first(env, "OS_USER_ID"),
        password=_first(env, "OS_PASSWORD"),
        user_domain_name=_first(env, "OS_USER_DOMAIN_NAME"),
        user_domain_id=_first(env, "OS_USER_DOMAIN_ID"),
        project_name=_first(env, "OS_PROJECT_NAME", "OS_TENANT_NAME"),
        project_id=_first(env, "OS_PROJECT_ID", "OS_TENANT_ID"),
        project_domain_name=_first(env, "OS_PROJECT_DOMAIN_NAME"),
        project_domain_id=_first(env, "OS_PROJECT_DOMAIN_ID"),
        application_credential_id=_first(env, "OS_APPLICATION_CREDENTIAL_ID"),
        application_credential_name=_first(env, "OS_APPLICATION_CREDENTIAL_NAME"),
        application_credential_secret=_first(env, "OS_APPLICATION_CREDENTIAL_SECRET"),
        interface=_first(env, "OS_INTERFACE", "OS_ENDPOINT_TYPE") or "public",
        region_name=_first(env, "OS_REGION_NAME"),
    )
