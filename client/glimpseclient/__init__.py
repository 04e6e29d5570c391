"""glimpseclient: a standard-library-only client for the Images API v2 (Glimpse and Glance).

    import glimpseclient

    with glimpseclient.Client("http://127.0.0.1:9292") as client:
        image = client.images.create(name="cirros", disk_format="raw", container_format="bare")
        client.images.upload(image.id, "cirros.img")
        client.images.download_to(image.id, "copy.img")
"""

from glimpseclient._auth import Auth, IdentityHeaders, KeystoneAuth, TokenAuth
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
from glimpseclient._models import Image, Member, Namespace, Store, Task
from glimpseclient._session import VERSION as __version__
from glimpseclient._transport import HTTPTransport, Response, Transport
from glimpseclient._uploads import Progress

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
