"""The tasks API (``/v2/tasks``): Glance's deprecated, admin-only view of asynchronous work.

Tasks themselves are made by image import (``services/imports.py``). A task of
type ``import`` created here is Glance's legacy import: it creates an image
from ``image_properties`` and imports ``import_from`` into it with the
``web-download`` method.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from glimpse.context import RequestContext
from glimpse.db.tasks import TaskRepository
from glimpse.domain.tasks import Task, TaskStatus
from glimpse.errors import InvalidQuery, InvalidRequest, NotFound
from glimpse.policy import Policy
from glimpse.services.images import ImageService
from glimpse.services.imports import WEB_DOWNLOAD, ImportRequest, ImportService

SORT_KEYS = ("created_at", "updated_at", "id", "status", "type")
LEGACY_TYPE = "import"


@dataclass(frozen=True)
class TaskPage:
    tasks: list[Task]
    next_marker: str | None


class TaskService:
    def __init__(self, tasks: TaskRepository, images: ImageService, imports: ImportService, policy: Policy, *,
                 default_limit: int, max_limit: int) -> None:
        self._tasks = tasks
        self._images = images
        self._imports = imports
        self._policy = policy
        self._default_limit = default_limit
        self._max_limit = max_limit

    def _enforce(self, ctx: RequestContext) -> None:
        self._policy.enforce("tasks_api_access", ctx, {"project_id": ctx.project_id},
                             "The tasks API is for administrators; use the image import API instead.")

    def list(self, ctx: RequestContext, params: Mapping[str, str]) -> TaskPage:
        """A page of tasks; query ``limit``, ``marker``, ``sort_key``, ``sort_dir``, ``status``, ``type``."""
        self._enforce(ctx)
        limit = self._default_limit
        if "limit" in params:
            try:
                limit = int(params["limit"])
            except ValueError:
                raise InvalidQuery("limit must be an integer.") from None
            if limit < 0:
                raise InvalidQuery("limit must not be negative.")
        limit = min(limit, self._max_limit)
        sort_key = params.get("sort_key", "created_at")
        if sort_key not in SORT_KEYS:
            raise InvalidQuery(f"Unknown sort key '{sort_key}'; use one of {', '.join(SORT_KEYS)}.")
        sort_dir = params.get("sort_dir", "desc")
        if sort_dir not in ("asc", "desc"):
            raise InvalidQuery(f"Invalid sort direction: {sort_dir}")
        status = params.get("status")
        if status is not None and status not in set(TaskStatus):
            raise InvalidQuery(f"Invalid status value: {status}")
        type_ = params.get("type")
        if type_ is not None and type_ not in (LEGACY_TYPE, "api_image_import"):
            raise InvalidQuery(f"Invalid type value: {type_}")
        marker = None
        if "marker" in params:
            try:
                uuid.UUID(params["marker"])
            except ValueError:
                raise InvalidQuery("Invalid marker format") from None
            marker = self._tasks.get(params["marker"])
            if marker is None:
                raise InvalidQuery(f"The marker {params['marker']} is not a task.")
        page = self._tasks.list_page(limit=limit, marker=marker, sort_key=sort_key, sort_dir=sort_dir,
                                     status=status, type_=type_)
        full = limit > 0 and len(page) == limit
        return TaskPage(page, page[-1].id if full else None)

    def get(self, ctx: RequestContext, task_id: str) -> Task:
        self._enforce(ctx)
        task = self._tasks.get(task_id)
        if task is None:
            raise NotFound(f"Task with the given id {task_id} was not found.")
        return task

    def create(self, ctx: RequestContext, body: Mapping[str, Any]) -> Task:
        """Glance's legacy ``import`` task: a new image, filled from ``input.import_from``."""
        self._enforce(ctx)
        for key in ("type", "input"):
            if key not in body:
                raise InvalidRequest(f"Task '{key}' is required")
        if body["type"] != LEGACY_TYPE:
            raise InvalidRequest(f"Invalid type value: {body['type']!r}; tasks of type 'import' can be created.")
        task_input = body["input"]
        if not isinstance(task_input, dict) or not isinstance(task_input.get("import_from"), str):
            raise InvalidRequest("An import task needs input.import_from, the URL of the image data.")
        properties = task_input.get("image_properties") or {}
        if not isinstance(properties, dict):
            raise InvalidRequest("input.image_properties must be an object of image attributes.")
        if WEB_DOWNLOAD not in self._imports.methods:
            raise InvalidRequest("Import tasks fetch a URL, and the web-download import method is not enabled "
                                 "on this site (enable the image-import extension).")
        fields = dict(properties)
        if "import_from_format" in task_input and "disk_format" not in fields:
            fields["disk_format"] = task_input["import_from_format"]
        image = self._images.create(ctx, fields)
        request = ImportRequest(method=WEB_DOWNLOAD, uri=task_input["import_from"])
        try:
            return self._imports.start(ctx, image.id, request, task_type=LEGACY_TYPE, task_input=dict(task_input))
        except BaseException:
            self._images.delete(ctx, image.id)
            raise
