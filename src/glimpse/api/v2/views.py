"""How domain objects look in Images API v2 bodies."""

from __future__ import annotations

import datetime as dt
from typing import Any

from glimpse.domain.images import Image
from glimpse.domain.members import Member
from glimpse.domain.schemas import ImageSchema


def isotime(moment: dt.datetime) -> str:
    """UTC, whole seconds, ``Z`` suffix: ``2026-01-31T12:00:00Z``."""
    return moment.replace(microsecond=0).isoformat() + "Z"


def image_view(image: Image, schema: ImageSchema, *, multi_store: bool = False) -> dict[str, Any]:
    """The image as the API shows it; it always validates against the served schema.

    With several stores (``multi_store``), ``stores`` names those holding the data.
    """
    body: dict[str, Any] = {
        "id": image.id,
        "name": image.name,
        "status": image.status.value,
        "visibility": image.visibility.value,
        "protected": image.protected,
        "os_hidden": image.os_hidden,
        "checksum": image.checksum,
        "os_hash_algo": image.os_hash_algo,
        "os_hash_value": image.os_hash_value,
        "owner": image.owner,
        "size": image.size,
        "virtual_size": image.virtual_size,
        "min_ram": image.min_ram,
        "min_disk": image.min_disk,
        "container_format": image.container_format,
        "disk_format": image.disk_format,
        "created_at": isotime(image.created_at),
        "updated_at": isotime(image.updated_at),
        "tags": list(image.tags),
    }
    nullable = schema.nullable_custom_names
    for name, value in image.properties.items():
        body[name] = value if value is not None or name in nullable else ""
    if multi_store and image.locations:
        body["stores"] = ",".join(dict.fromkeys(location.store for location in image.locations))
    body["self"] = f"/v2/images/{image.id}"
    body["file"] = f"/v2/images/{image.id}/file"
    body["schema"] = "/v2/schemas/image"
    return body


def member_view(member: Member) -> dict[str, Any]:
    return {
        "image_id": member.image_id,
        "member_id": member.member_id,
        "status": member.status.value,
        "created_at": isotime(member.created_at),
        "updated_at": isotime(member.updated_at),
        "schema": "/v2/schemas/member",
    }
