"""Domain errors: one tree, named after conditions, free of transport details.

::

    GlimpseError
    ├── InvalidRequest              input that can never succeed as sent
    │   ├── SchemaViolation         a value does not fit the image/member schema
    │   ├── InvalidPatch            a JSON Patch document is malformed
    │   ├── InvalidQuery            bad filter, sort key, limit or marker
    │   ├── SizeMismatch            uploaded byte count differs from the declared size
    │   └── ImageFormatsMissing     disk/container format unset before data is saved
    ├── Forbidden                   the caller may see the resource but not do this
    │   ├── ReadOnlyAttribute
    │   ├── ReservedAttribute
    │   ├── ImageProtected
    │   └── InvalidStateForAction   e.g. deactivating an image that is not active
    ├── NotFound
    │   ├── ImageNotFound           unknown, deleted, or invisible to the caller
    │   ├── MemberNotFound
    │   └── TagNotFound
    ├── Conflict
    │   ├── DuplicateImage
    │   ├── DuplicateMember
    │   ├── ImageStatusConflict     the image is not in a status that allows this
    │   └── PropertyConflict        replace/remove of a missing custom property, ...
    ├── ImageGone                   the image was deleted while data was being written
    ├── LimitExceeded
    │   ├── ImageTooLarge           image size cap
    │   ├── QuotaExceeded           properties, tags, members, storage, ...
    │   └── StoreFull
    ├── ImageFormatMismatch         data does not look like the declared disk_format
    ├── PreconditionFailed          the image changed since the caller read it (If-Match)
    ├── RangeNotSatisfiable
    └── StoreUnavailable            the backing store cannot be reached
"""

from __future__ import annotations


class GlimpseError(Exception):
    """Base of every error the service layer raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(GlimpseError):
    pass


class SchemaViolation(InvalidRequest):
    pass


class InvalidPatch(InvalidRequest):
    pass


class InvalidQuery(InvalidRequest):
    pass


class SizeMismatch(InvalidRequest):
    pass


class ImageFormatsMissing(InvalidRequest):
    pass


class Forbidden(GlimpseError):
    pass


class ReadOnlyAttribute(Forbidden):
    def __init__(self, name: str) -> None:
        super().__init__(f"Attribute '{name}' is read-only.")
        self.name = name


class ReservedAttribute(Forbidden):
    def __init__(self, name: str) -> None:
        super().__init__(f"Attribute '{name}' is reserved.")
        self.name = name


class ImageProtected(Forbidden):
    pass


class InvalidStateForAction(Forbidden):
    pass


class NotFound(GlimpseError):
    pass


class ImageNotFound(NotFound):
    def __init__(self, image_id: str) -> None:
        super().__init__(f"No image found with ID {image_id}")
        self.image_id = image_id


class MemberNotFound(NotFound):
    pass


class TagNotFound(NotFound):
    pass


class Conflict(GlimpseError):
    pass


class DuplicateImage(Conflict):
    pass


class DuplicateMember(Conflict):
    pass


class ImageStatusConflict(Conflict):
    pass


class PropertyConflict(Conflict):
    pass


class ImageGone(GlimpseError):
    pass


class LimitExceeded(GlimpseError):
    pass


class ImageTooLarge(LimitExceeded):
    pass


class QuotaExceeded(LimitExceeded):
    pass


class StoreFull(LimitExceeded):
    pass


class ImageFormatMismatch(GlimpseError):
    pass


class PreconditionFailed(GlimpseError):
    pass


class RangeNotSatisfiable(GlimpseError):
    def __init__(self, size: int) -> None:
        super().__init__(f"Requested range not satisfiable: the image has {size} bytes.")
        self.size = size


class StoreUnavailable(GlimpseError):
    pass
