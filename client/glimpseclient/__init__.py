"""glimpseclient: a standard-library-only client for the Images API v2 (Glimpse and Glance).

    import glimpseclient

    with glimpseclient.Client("http://127.0.0.1:9292") as client:
        image = client.images.create(name="cirros", disk_format="raw", container_format="bare")
        client.images.upload(image.id, "cirros.img")
        client.images.download_to(image.id, "copy.img")

Names are loaded from the private modules on first use, so that importing
the package (as the ``glimpse`` command does) costs only what is used.
"""

import importlib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from glimpseclient._auth import IdentityHeaders, KeystoneAuth, TokenAuth
    from glimpseclient._client import Client
    from glimpseclient._discovery import Endpoints, Version
    from glimpseclient._downloads import ImageDownload
    from glimpseclient._exceptions import (
        APIError,
        BadRequest,
        ChecksumMismatch,
        ConfigurationError,
        Conflict,
        ConnectError,
        ConnectionLost,
        DataError,
        Forbidden,
        GlimpseClientError,
        Gone,
        MethodNotAllowed,
        NoImageData,
        NotFound,
        PayloadTooLarge,
        RangeNotSatisfiable,
        RedirectError,
        ServerError,
        ServiceUnavailable,
        SizeMismatch,
        Timeout,
        TooManyRequests,
        TransportError,
        Unauthorized,
        UnsupportedMediaType,
    )
    from glimpseclient._models import Image, Member, Namespace, Store, Task, Template
    from glimpseclient._protocols import Auth, Response, Transport
    from glimpseclient._session import VERSION as __version__
    from glimpseclient._transport import HTTPTransport
    from glimpseclient._uploads import Progress

_ERRORS = ("APIError", "BadRequest", "ChecksumMismatch", "ConfigurationError", "Conflict", "ConnectError",
           "ConnectionLost", "DataError", "Forbidden", "GlimpseClientError", "Gone", "MethodNotAllowed",
           "NoImageData", "NotFound", "PayloadTooLarge", "RangeNotSatisfiable", "RedirectError", "ServerError",
           "ServiceUnavailable", "SizeMismatch", "Timeout", "TooManyRequests", "TransportError", "Unauthorized",
           "UnsupportedMediaType")

#: Public name -> (module, name there).
_EXPORTS: dict[str, tuple[str, str]] = {
    **{name: ("glimpseclient._exceptions", name) for name in _ERRORS},
    "Auth": ("glimpseclient._protocols", "Auth"),
    "Client": ("glimpseclient._client", "Client"),
    "Endpoints": ("glimpseclient._discovery", "Endpoints"),
    "HTTPTransport": ("glimpseclient._transport", "HTTPTransport"),
    "IdentityHeaders": ("glimpseclient._auth", "IdentityHeaders"),
    "Image": ("glimpseclient._models", "Image"),
    "ImageDownload": ("glimpseclient._downloads", "ImageDownload"),
    "KeystoneAuth": ("glimpseclient._auth", "KeystoneAuth"),
    "Member": ("glimpseclient._models", "Member"),
    "Namespace": ("glimpseclient._models", "Namespace"),
    "Progress": ("glimpseclient._uploads", "Progress"),
    "Response": ("glimpseclient._protocols", "Response"),
    "Store": ("glimpseclient._models", "Store"),
    "Task": ("glimpseclient._models", "Task"),
    "Template": ("glimpseclient._models", "Template"),
    "TokenAuth": ("glimpseclient._auth", "TokenAuth"),
    "Transport": ("glimpseclient._protocols", "Transport"),
    "Version": ("glimpseclient._discovery", "Version"),
    "__version__": ("glimpseclient._session", "VERSION"),
}

__all__ = [
    "APIError",
    "Auth",
    "BadRequest",
    "ChecksumMismatch",
    "Client",
    "ConfigurationError",
    "Conflict",
    "ConnectError",
    "ConnectionLost",
    "DataError",
    "Endpoints",
    "Forbidden",
    "GlimpseClientError",
    "Gone",
    "HTTPTransport",
    "IdentityHeaders",
    "Image",
    "ImageDownload",
    "KeystoneAuth",
    "Member",
    "MethodNotAllowed",
    "Namespace",
    "NoImageData",
    "NotFound",
    "PayloadTooLarge",
    "Progress",
    "RangeNotSatisfiable",
    "RedirectError",
    "Response",
    "ServerError",
    "ServiceUnavailable",
    "SizeMismatch",
    "Store",
    "Task",
    "Template",
    "Timeout",
    "TokenAuth",
    "TooManyRequests",
    "Transport",
    "TransportError",
    "Unauthorized",
    "UnsupportedMediaType",
    "Version",
    "__version__",
]


def __getattr__(name: str) -> object:
    try:
        module, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'glimpseclient' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
