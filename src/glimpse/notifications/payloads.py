"""Domain events as OpenStack notifications, in the form Glance emits and oslo.messaging carries.

The message (``oslo.message`` inside the 2.0 envelope) has ``message_id``,
``publisher_id``, ``event_type``, ``priority``, ``payload`` and ``timestamp``,
plus oslo's ``_unique_id``. Payloads follow Glance's ``glance/notifier.py``:
the image payload never includes locations.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from glimpse.domain.events import DomainEvent, OutboxMessage, TemplateEvent
from glimpse.domain.images import Image, Visibility
from glimpse.domain.members import Member

ENVELOPE_VERSION = "2.0"


def isotime(moment: dt.datetime | None) -> str | None:
    """Glance's ``timeutils.isotime``: whole seconds, UTC, ``Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else None


def image_payload(image: Image) -> dict[str, Any]:
    return {
        "id": image.id,
        "name": image.name,
        "status": image.status.value,
        "created_at": isotime(image.created_at),
        "updated_at": isotime(image.updated_at),
        "min_disk": image.min_disk,
        "min_ram": image.min_ram,
        "protected": image.protected,
        "checksum": image.checksum,
        "owner": image.owner,
        "disk_format": image.disk_format,
        "container_format": image.container_format,
        "size": image.size,
        "virtual_size": image.virtual_size,
        "is_public": image.visibility is Visibility.PUBLIC,
        "visibility": image.visibility.value,
        # Private properties are for the owner only; a notification goes to every listener.
        "properties": {k: v for k, v in image.properties.items() if k not in image.private_names()},
        "tags": list(image.tags),
        "deleted": False,
        "deleted_at": None,
    }


def member_payload(member: Member) -> dict[str, Any]:
    return {
        "image_id": member.image_id,
        "member_id": member.member_id,
        "status": member.status.value,
        "created_at": isotime(member.created_at),
        "updated_at": isotime(member.updated_at),
        "deleted": False,
        "deleted_at": None,
    }


def payload_for(event: DomainEvent) -> tuple[str, Any]:
    """``(priority, payload)`` of the notification for ``event``."""
    name, image = event.name, event.image
    if name == "image.send":
        return ("INFO" if event.error is None else "ERROR"), {
            "bytes_sent": event.details.get("bytes_sent", 0),
            "image_id": image.id,
            "owner_id": image.owner,
            "receiver_tenant_id": event.actor.project_id,
            "receiver_user_id": event.actor.user_id,
        }
    if event.error is not None:  # a failed upload: Glance sends the message alone, at ERROR
        return "ERROR", event.error
    if name.startswith("image.member."):
        assert event.member is not None
        payload = member_payload(event.member)
        if name == "image.member.delete":
            payload.update(deleted=True, deleted_at=isotime(_now()))
        return "INFO", payload
    payload = image_payload(image)
    if name == "image.delete":
        payload.update(deleted=True, deleted_at=isotime(event.details.get("deleted_at") or _now()))
    elif name in ("image.prepare", "image.upload"):
        payload.update(os_glance_importing_to_stores=[], os_glance_failed_import=[])
        if name == "image.prepare" and event.details.get("store"):
            payload["backend"] = event.details["store"]
    return "INFO", payload


def is_disabled(event_type: str, disabled: list[str]) -> bool:
    """Glance's ``disabled_notifications``: an event type, or its group (``image``, ``image.member``)."""
    return event_type in disabled or event_type.rsplit(".", 1)[0] in disabled


def notification(event: DomainEvent, publisher_id: str) -> OutboxMessage:
    """The outbox message carrying ``event`` as an oslo notification."""
    priority, payload = payload_for(event)
    message_id = str(uuid.uuid4())
    body = {
        "message_id": message_id,
        "publisher_id": publisher_id,
        "event_type": event.name,
        "priority": priority,
        "payload": payload,
        "timestamp": str(_now()),
        "_unique_id": uuid.uuid4().hex,
    }
    return OutboxMessage(event_type=event.name, priority=priority, key=event.key, body=body, message_id=message_id)


def template_payload(event: TemplateEvent) -> dict[str, Any]:
    """What listeners learn about a template change: its identity and listing attributes, and its
    parameters' names and types (definitions hold no secret values; ``user_data`` is left out)."""
    template = event.template
    return {
        "id": template.id, "name": template.name, "version": template.version, "owner": template.owner,
        "visibility": template.visibility.value, "protected": template.protected,
        "deprecated": template.deprecated, "image_id": template.image_id, "tags": list(template.tags),
        "parameters": {name: definition.get("type") for name, definition in template.parameters.items()},
        "created_at": isotime(template.created_at), "updated_at": isotime(template.updated_at),
        "deleted": event.name == "template.delete",
    }


def template_notification(event: TemplateEvent, publisher_id: str) -> OutboxMessage:
    """The outbox message carrying a template event as an oslo notification."""
    message_id = str(uuid.uuid4())
    body = {"message_id": message_id, "publisher_id": publisher_id, "event_type": event.name, "priority": "INFO",
            "payload": template_payload(event), "timestamp": str(_now()), "_unique_id": uuid.uuid4().hex}
    return OutboxMessage(event_type=event.name, priority="INFO", key=event.key, body=body, message_id=message_id)


def envelope(body: dict[str, Any]) -> dict[str, str]:
    """The oslo.messaging 2.0 envelope around a message."""
    return {"oslo.version": ENVELOPE_VERSION, "oslo.message": json.dumps(body)}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
