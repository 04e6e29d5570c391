"""``client.templates``: server templates (an image, typed parameters and the user data that configures it)."""

from __future__ import annotations

from glimpseclient._models import Member, Template
from glimpseclient._session import Session, path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from typing import Any

#: A JSON Patch document (``list`` is a method name in the class below).
Operations = list[dict[str, "Any"]]
PATCH_MEDIA_TYPE = "application/openstack-images-v2.1-json-patch"


class TemplatesAPI:
    def __init__(self, session: Session) -> None:
        self._session = session

    def list(self, *, limit: int | None = None, all_versions: bool = False, **filters: Any) -> Iterator[Template]:
        """Templates the caller can see (the latest version of each unless ``all_versions``), following pages.

        ``filters``: ``name``, ``version``, ``owner``, ``image_id``, ``visibility``, ``member_status``,
        ``deprecated``, ``protected``, ``tag`` (a list for several), ``sort_key``, ``sort_dir``.
        """
        params: list[tuple[str, Any]] = [(k, v) for k, v in filters.items() if v is not None and k != "tag"]
        tags = filters.get("tag") or []
        params += [("tag", t) for t in ([tags] if isinstance(tags, str) else tags)]
        if all_versions:
            params.append(("all_versions", "true"))
        for body in self._session.items("/v2/templates", "templates", params, limit=limit):
            yield Template(body)

    def get(self, template_id: str) -> Template:
        return Template(self._session.json("GET", path("v2", "templates", template_id)))

    def create(self, **fields: Any) -> Template:
        """Publish a template version: ``name``, ``version``, ``image_id``, ``user_data``, ``parameters``, ..."""
        return Template(self._session.json("POST", "/v2/templates", json=fields))

    def update(self, template_id: str, operations: Operations) -> Template:
        """Apply JSON Patch ``operations``. Listing attributes change in place; content changes need a
        ``replace`` of ``/version`` with a higher version and return the new version."""
        import json

        body = self._session.json("PATCH", path("v2", "templates", template_id), body=json.dumps(operations).encode(),
                                  headers={"Content-Type": PATCH_MEDIA_TYPE})
        return Template(body)

    def delete(self, template_id: str) -> None:
        self._session.send("DELETE", path("v2", "templates", template_id)).close()

    def parameters_schema(self, template_id: str) -> dict[str, Any]:
        """A JSON Schema of the template's parameters."""
        schema: dict[str, Any] = self._session.json("GET", path("v2", "templates", template_id, "parameters-schema"))
        return schema

    def render(self, template_id: str, parameters: Mapping[str, Any] | None = None, *,
               heat: bool = False) -> dict[str, Any]:
        """Render for a launch: ``{"server": {...}, "cloud_config": ..., "hints": ...}`` (Nova's
        ``POST /servers`` body), or a Heat template with ``heat``. ``BadRequest`` names each bad parameter."""
        body: dict[str, Any] = self._session.json(
            "POST", path("v2", "templates", template_id, "render"), params={"format": "heat"} if heat else None,
            json={"parameters": dict(parameters or {})}, idempotent=True)
        return body

    # -- sharing
    def members(self, template_id: str) -> tuple[Member, ...]:
        body = self._session.json("GET", path("v2", "templates", template_id, "members"))
        return tuple(Member.from_dict(m) for m in body.get("members", []))

    def add_member(self, template_id: str, member_id: str) -> Member:
        return Member.from_dict(self._session.json("POST", path("v2", "templates", template_id, "members"),
                                                   json={"member": member_id}))

    def update_member(self, template_id: str, member_id: str, status: str) -> Member:
        return Member.from_dict(self._session.json("PUT", path("v2", "templates", template_id, "members", member_id),
                                                   json={"status": status}))

    def delete_member(self, template_id: str, member_id: str) -> None:
        self._session.send("DELETE", path("v2", "templates", template_id, "members", member_id)).close()
