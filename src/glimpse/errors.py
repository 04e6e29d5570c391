"""Domain errors: one tree, named after conditions, free of transport details.

::

    GlimpseError
    ├── Unauthenticated             no, or no valid, credentials
    ├── IdentityUnavailable         the identity service cannot answer
    ├── InvalidRequest              input that can never succeed as sent
    │   ├── SchemaViolation         a value does not fit the image/member/metadef schema
    │   │   └── PropertyValueInvalid    a value does not fit its catalog definition
    │   ├── InvalidPatch            a JSON Patch document is malformed
    │   ├── InvalidQuery            bad filter, sort key, limit or marker
    │   ├── SizeMismatch            uploaded byte count differs from the declared size
    │   ├── UnknownStore            a request names a store this site does not have
    │   ├── ImageUnsafe             image data a hypervisor must not be given (backing file, ...)
    │   ├── StoreObjectMissing      a location names an object its store does not hold
    │   ├── ImageFormatsMissing     disk/container format unset before data is saved
    │   ├── TemplateInvalid         a template's parameters or user_data cannot be stored (each problem)
    │   └── ParametersInvalid       values given to render a template (each bad or missing one)
    ├── Forbidden                   the caller may see the resource but not do this
    │   ├── ReadOnlyAttribute
    │   ├── ReservedAttribute
    │   ├── ImageProtected
    │   ├── InvalidStateForAction   e.g. deactivating an image that is not active
    │   ├── StoreReadOnly           writing to a store configured read-only
    │   ├── NamespaceProtected      deleting a protected metadef namespace or its contents
    │   └── TemplateProtected       deleting a protected template
    ├── NotFound
    │   ├── ImageNotFound           unknown, deleted, or invisible to the caller
    │   ├── MemberNotFound
    │   ├── TagNotFound
    │   ├── PropertyNotFound        no such property on the image, or hidden from the caller
    │   ├── MetadefNotFound         namespace, object, property, tag or association
    │   └── TemplateNotFound        unknown, or invisible to the caller
    ├── Conflict
    │   ├── DuplicateImage
    │   ├── DuplicateMember
    │   ├── ImageStatusConflict     the image is not in a status that allows this
    │   │   └── InvalidStatusTransition  the status table does not allow current -> target
    │   ├── PropertyConflict        replace/remove of a missing custom property, ...
    │   ├── DuplicateMetadef        a namespace, object, property, tag or association exists
    │   ├── DuplicateTemplate       this owner already published this name and version
    │   ├── TemplateImmutable       a published version's content cannot change in place
    │   └── TemplateImageUnavailable    the template's image is not active, or not visible to its audience
    ├── ImageGone                   the image was deleted while data was being written
    ├── LimitExceeded
    │   ├── ImageTooLarge           image size cap
    │   ├── QuotaExceeded           properties, tags, members, storage, ...
    │   └── StoreFull
    ├── ImageFormatMismatch         data does not look like the declared disk_format
    ├── PreconditionFailed          If-Match names a version that is no longer current
    ├── RangeNotSatisfiable
    ├── StoreUnavailable            the backing store cannot be reached
    │   └── ImageDataCorrupt        data read back does not match its recorded checksum
    ├── ClientTooSlow               a request body stalled or trickled below the minimum rate
    ├── TooManyRequests             a caller has too much in progress at once (retry later)
    └── Unavailable                 this node cannot serve now (retry later)
        ├── ServerBusy              every upload slot of this node is taken
        ├── DatabaseUnavailable     the database cannot be reached
        └── QueryTimeout            the database cancelled a query that ran past its bound
"""

from __future__ import annotations


class GlimpseError(Exception):
    """Base of every error the service layer raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unauthenticated(GlimpseError):
    """The request carries no valid credentials; ``challenge`` says how to authenticate."""

    def __init__(self, message: str, challenge: str) -> None:
        super().__init__(message)
        self.challenge = challenge


class IdentityUnavailable(GlimpseError):
    pass


class InvalidRequest(GlimpseError):
    pass


class SchemaViolation(InvalidRequest):
    pass


class InvalidPatch(InvalidRequest):
    pass


class InvalidQuery(InvalidRequest):
    pass


class PropertyValueInvalid(SchemaViolation):
    """A property value breaks one rule of its definition; ``rule`` names it (``type``, ``enum``, ...)."""

    def __init__(self, name: str, rule: str, value: object, explanation: str) -> None:
        shown = value if isinstance(value, str) else repr(value)
        if len(shown) > 200:
            shown = shown[:200] + "…"
        if value is None:
            super().__init__(f"Property '{name}' is missing: {explanation} (rule '{rule}').")
        else:
            super().__init__(f"Invalid value {shown!r} for property '{name}': {explanation} (rule '{rule}').")
        self.name = name
        self.rule = rule
        self.value = value


class TemplateInvalid(InvalidRequest):
    """A template that cannot be stored; ``problems`` lists ``(where, line, reason)``, line 1-based or None."""

    def __init__(self, problems: list[tuple[str, int | None, str]]) -> None:
        listed = "; ".join(f"{where}{f' line {line}' if line else ''}: {reason.rstrip('.')}"
                           for where, line, reason in problems)
        super().__init__(f"The template is invalid: {listed}.")
        self.problems = problems


class ParametersInvalid(InvalidRequest):
    """Values given for a template's parameters; ``problems`` lists ``(parameter, reason)`` (never a value)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        listed = "; ".join(f"{name}: {reason.rstrip('.')}" for name, reason in problems)
        super().__init__(f"Invalid template parameters: {listed}.")
        self.problems = problems


class SizeMismatch(InvalidRequest):
    pass


class UnknownStore(InvalidRequest):
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


class NamespaceProtected(Forbidden):
    pass


class TemplateProtected(Forbidden):
    pass


class NotFound(GlimpseError):
    pass


class TemplateNotFound(NotFound):
    def __init__(self, template_id: str) -> None:
        super().__init__(f"No template found with ID {template_id}")
        self.template_id = template_id


class ImageNotFound(NotFound):
    def __init__(self, image_id: str) -> None:
        super().__init__(f"No image found with ID {image_id}")
        self.image_id = image_id


class MemberNotFound(NotFound):
    pass


class TagNotFound(NotFound):
    pass


class PropertyNotFound(NotFound):
    pass


class MetadefNotFound(NotFound):
    pass


class Conflict(GlimpseError):
    pass


class DuplicateImage(Conflict):
    pass


class DuplicateMember(Conflict):
    pass


class ImageStatusConflict(Conflict):
    pass


class InvalidStatusTransition(ImageStatusConflict):
    """A change would move an image between two statuses the domain's table does not connect."""


class PropertyConflict(Conflict):
    pass


class DuplicateMetadef(Conflict):
    pass


class DuplicateTemplate(Conflict):
    pass


class TemplateImmutable(Conflict):
    pass


class TemplateImageUnavailable(Conflict):
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


class ImageUnsafe(InvalidRequest):
    """The data is (or claims to be) a disk image that a hypervisor must not be given.

    The message names the format and the problem: a backing or data file, an
    extent in another file, a malformed or unknown structure, a virtual size
    beyond the cap, or a second view (``qemu-img``) that disagrees.
    """


class PreconditionFailed(GlimpseError):
    pass


class RangeNotSatisfiable(GlimpseError):
    def __init__(self, size: int) -> None:
        super().__init__(f"Requested range not satisfiable: the image has {size} bytes.")
        self.size = size


class StoreUnavailable(GlimpseError):
    pass


class StoreNotAnswering(StoreUnavailable):
    """The backend of store ``store_id`` stopped answering (a timeout, a refused connection): another
    operation on it now would wait as long again."""

    def __init__(self, message: str, *, store_id: str) -> None:
        super().__init__(message)
        self.store_id = store_id


class ImageDataCorrupt(StoreUnavailable):
    pass


class StoreReadOnly(Forbidden):
    pass


class StoreObjectMissing(InvalidRequest):
    pass


class ClientTooSlow(GlimpseError):
    """The request body stopped arriving, or arrived too slowly; the connection is closed after the answer."""


class TooManyRequests(GlimpseError):
    """The caller has as much in progress as it may; ``retry_after`` is a hint in seconds."""

    def __init__(self, message: str, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(GlimpseError):
    """This node cannot serve the request now; ``retry_after`` is a hint in seconds."""

    def __init__(self, message: str, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServerBusy(Unavailable):
    pass


class DatabaseUnavailable(Unavailable):
    pass


class QueryTimeout(Unavailable):
    pass
