"""``PUT /v2/images/{id}/stage``: data kept for a ``glance-direct`` import."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from glimpse.api.extension_routes import RequestChunks, context, data_request, redirected, upload_slots
from glimpse.api.extension_routes import services as services_of


async def stage(request: Request) -> Response:
    services = services_of(request)
    size = data_request(request)
    with upload_slots(request).admit(context(request).project_id):
        async with RequestChunks(request) as chunks:
            await run_in_threadpool(services.imports.stage, context(request), request.path_params["image_id"],
                                    redirected(request, chunks), size=size)
    return Response(status_code=204)
