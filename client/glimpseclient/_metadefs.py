"""``client.metadefs``: the metadata-definitions catalog (``/v2/metadefs``, API 2.2).

Namespaces come back as ``Namespace`` objects; the definitions inside them
(objects, properties, tags, resource-type associations) are JSON-schema-like
documents and come back as dictionaries, as the service sent them.
"""

from __future__ import annotations

from collections.abc import Iterator

from glimpseclient._models import Namespace
from glimpseclient._session import Session, path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class MetadefsAPI:
    def __init__(self, session: Session) -> None:
        self._session = session

    def _ns(self, namespace: str, *rest: str) -> str:
        return path("v2", "metadefs", "namespaces", namespace, *rest)

    # -- namespaces --------------------------------------------------------------------------

    def list_namespaces(self, *, limit: int | None = None, **filters: str) -> Iterator[Namespace]:
        for item in self._session.items("/v2/metadefs/namespaces", "namespaces", list(filters.items()), limit=limit):
            yield Namespace.from_dict(item)

    def get_namespace(self, namespace: str, *, resource_type: str | None = None) -> Namespace:
        params = {"resource_type": resource_type} if resource_type else None
        return Namespace.from_dict(self._session.json("GET", self._ns(namespace), params=params))

    def create_namespace(self, namespace: str, **fields: Any) -> Namespace:
        body = self._session.json("POST", "/v2/metadefs/namespaces", json={"namespace": namespace, **fields})
        return Namespace.from_dict(body)

    def update_namespace(self, namespace: str, **fields: Any) -> Namespace:
        """Replace the namespace's attributes (``PUT``; omitted ones return to their defaults)."""
        fields.setdefault("namespace", namespace)
        return Namespace.from_dict(self._session.json("PUT", self._ns(namespace), json=fields))

    def delete_namespace(self, namespace: str) -> None:
        self._session.send("DELETE", self._ns(namespace)).close()

    # -- definitions inside a namespace --------------------------------------------------------

    def list_objects(self, namespace: str) -> list[dict[str, Any]]:
        return list(self._session.json("GET", self._ns(namespace, "objects")).get("objects", []))

    def get_object(self, namespace: str, name: str) -> dict[str, Any]:
        document: dict[str, Any] = self._session.json("GET", self._ns(namespace, "objects", name))
        return document

    def create_object(self, namespace: str, name: str, **fields: Any) -> dict[str, Any]:
        document: dict[str, Any] = self._session.json("POST", self._ns(namespace, "objects"),
                                                      json={"name": name, **fields})
        return document

    def delete_object(self, namespace: str, name: str) -> None:
        self._session.send("DELETE", self._ns(namespace, "objects", name)).close()

    def list_properties(self, namespace: str) -> dict[str, dict[str, Any]]:
        return dict(self._session.json("GET", self._ns(namespace, "properties")).get("properties", {}))

    def get_property(self, namespace: str, name: str) -> dict[str, Any]:
        document: dict[str, Any] = self._session.json("GET", self._ns(namespace, "properties", name))
        return document

    def create_property(self, namespace: str, name: str, *, title: str, type: str,  # noqa: A002
                        **fields: Any) -> dict[str, Any]:
        document: dict[str, Any] = self._session.json(
            "POST", self._ns(namespace, "properties"), json={"name": name, "title": title, "type": type, **fields})
        return document

    def delete_property(self, namespace: str, name: str) -> None:
        self._session.send("DELETE", self._ns(namespace, "properties", name)).close()

    def list_tags(self, namespace: str) -> list[dict[str, Any]]:
        return list(self._session.json("GET", self._ns(namespace, "tags")).get("tags", []))

    def create_tag(self, namespace: str, name: str) -> dict[str, Any]:
        document: dict[str, Any] = self._session.json("POST", self._ns(namespace, "tags", name))
        return document

    def delete_tag(self, namespace: str, name: str) -> None:
        self._session.send("DELETE", self._ns(namespace, "tags", name)).close()

    # -- resource types -------------------------------------------------------------------------

    def list_resource_types(self) -> list[dict[str, Any]]:
        return list(self._session.json("GET", "/v2/metadefs/resource_types").get("resource_types", []))

    def list_associations(self, namespace: str) -> list[dict[str, Any]]:
        body = self._session.json("GET", self._ns(namespace, "resource_types"))
        return list(body.get("resource_type_associations", []))

    def associate(self, namespace: str, resource_type: str, *, prefix: str | None = None,
                  properties_target: str | None = None) -> dict[str, Any]:
        fields = {"name": resource_type, "prefix": prefix, "properties_target": properties_target}
        document: dict[str, Any] = self._session.json(
            "POST", self._ns(namespace, "resource_types"), json={k: v for k, v in fields.items() if v is not None})
        return document

    def dissociate(self, namespace: str, resource_type: str) -> None:
        self._session.send("DELETE", self._ns(namespace, "resource_types", resource_type)).close()
