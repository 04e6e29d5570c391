"""``POST /v2/images/{id}/import`` and ``GET /v2/images/{id}/tasks``: image import as tasks.

The import methods themselves come from extensions (``/v2/info/import`` lists
them); without any, every import request is refused as not enabled.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from glimpse.api.requests import context, json_object
from glimpse.api.requests import services as services_of
from glimpse.api.routing import bodiless
from glimpse.domain.tasks import Task
from glimpse.services.imports import parse_import_request


async def start_import(request: Request) -> Response:
    services = services_of(request)
    body = await json_object(request, max_size=services.settings.max_json_body_size)
    import_request = parse_import_request(body)
    await run_in_threadpool(services.imports.start, context(request), request.path_params["image_id"],
                            import_request)
    return Response(status_code=202)


@bodiless
async def image_tasks(request: Request) -> Response:
    tasks = await run_in_threadpool(services_of(request).imports.tasks_for_image, context(request),
                                    request.path_params["image_id"])
    return JSONResponse({"tasks": [task_view(task) for task in tasks]})


def task_view(task: Task) -> dict[str, Any]:
    """A task as ``GET /v2/images/{id}/tasks`` shows it (raw database times, as Glance does)."""

    def raw(moment: Any) -> str | None:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") if moment is not None else None

    return {
        "id": task.id, "type": task.type, "status": task.status.value, "owner": task.owner,
        "expires_at": raw(task.expires_at), "created_at": raw(task.created_at), "updated_at": raw(task.updated_at),
        "deleted_at": None, "deleted": False, "image_id": task.image_id, "request_id": task.request_id,
        "user_id": task.user_id, "input": task.input, "result": task.result, "message": task.message,
    }
