"""``/v2/tasks``: Glance's deprecated, admin-only tasks API."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from glimpse.api.requests import context, json_object
from glimpse.api.requests import services as services_of
from glimpse.api.routing import bodiless
from glimpse.api.urls import base_url
from glimpse.api.v2.views import isotime
from glimpse.domain.tasks import Task


def task_view(task: Task, *, stub: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": task.id, "type": task.type, "status": task.status.value, "owner": task.owner,
        "created_at": isotime(task.created_at), "updated_at": isotime(task.updated_at),
        "self": f"/v2/tasks/{task.id}", "schema": "/v2/schemas/task",
    }
    if not stub:
        body.update(input=task.input, result=task.result, message=task.message)
        for name in ("image_id", "request_id", "user_id"):
            if getattr(task, name):
                body[name] = getattr(task, name)
    if task.expires_at is not None:
        body["expires_at"] = isotime(task.expires_at)
    return body


@bodiless
async def index(request: Request) -> Response:
    services = services_of(request)
    params = dict(request.query_params)
    page = await run_in_threadpool(services.tasks.list, context(request), params)
    unmarked = {k: v for k, v in params.items() if k != "marker"}
    body: dict[str, Any] = {
        "tasks": [task_view(task, stub=True) for task in page.tasks],
        "first": "/v2/tasks" + (f"?{urlencode(unmarked)}" if unmarked else ""),
        "schema": "/v2/schemas/tasks",
    }
    if page.next_marker:
        body["next"] = "/v2/tasks?" + urlencode({**unmarked, "marker": page.next_marker})
    return JSONResponse(body)


@bodiless
async def show(request: Request) -> Response:
    task = await run_in_threadpool(services_of(request).tasks.get, context(request), request.path_params["task_id"])
    return JSONResponse(task_view(task))


async def create(request: Request) -> Response:
    services = services_of(request)
    body = await json_object(request, max_size=services.settings.max_json_body_size)
    task = await run_in_threadpool(services.tasks.create, context(request), body)
    return JSONResponse(task_view(task), status_code=201,
                        headers={"Location": f"{base_url(request)}/v2/tasks/{task.id}"})


async def delete(request: Request) -> Response:
    raise HTTPException(405, "Tasks cannot be deleted: they expire on their own (see expires_at).",
                        headers={"Allow": "GET"})
