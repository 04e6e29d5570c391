"""``client.schemas``, ``client.info`` and ``client.tasks``: what the service describes about itself."""

from __future__ import annotations

from collections.abc import Iterator

from glimpseclient._models import Store, Task
from glimpseclient._session import Session, path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class SchemasAPI:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, name: str) -> dict[str, Any]:
        """A JSON-schema document: ``image``, ``images``, ``member``, ``members``, ``task``, ``metadefs/namespace``..."""
        segments = [segment for segment in name.split("/") if segment]
        document: dict[str, Any] = self._session.json("GET", path("v2", "schemas", *segments))
        return document


class InfoAPI:
    def __init__(self, session: Session) -> None:
        self._session = session

    def import_methods(self) -> list[str]:
        body = self._session.json("GET", "/v2/info/import")
        return [str(m) for m in body.get("import-methods", {}).get("value", [])]

    def stores(self, *, detail: bool = False) -> list[Store]:
        body = self._session.json("GET", "/v2/info/stores/detail" if detail else "/v2/info/stores")
        return [Store.from_dict(s) for s in body.get("stores", [])]

    def usage(self) -> dict[str, Any]:
        body = self._session.json("GET", "/v2/info/usage")
        usage: dict[str, Any] = body.get("usage", {})
        return usage


class TasksAPI:
    """``/v2/tasks`` (API 2.2; admin only by default)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def list(self, *, limit: int | None = None, **filters: str) -> Iterator[Task]:
        params: list[tuple[str, Any]] = list(filters.items())
        if limit:
            params.append(("limit", min(limit, 1000)))
        for item in self._session.items("/v2/tasks", "tasks", params, limit=limit):
            yield Task.from_dict(item)

    def get(self, task_id: str) -> Task:
        return Task.from_dict(self._session.json("GET", path("v2", "tasks", task_id)))

    def create(self, type: str, input: dict[str, Any]) -> Task:  # noqa: A002 - the API's names
        return Task.from_dict(self._session.json("POST", "/v2/tasks", json={"type": type, "input": input}))
