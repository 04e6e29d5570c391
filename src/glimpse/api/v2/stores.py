"""``DELETE /v2/stores/{store_id}/{image_id}``: drop one store's copy of an image (multi-store sites)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from glimpse.api.requests import context
from glimpse.api.requests import services as services_of
from glimpse.api.routing import bodiless


@bodiless
async def delete_from_store(request: Request) -> Response:
    services = services_of(request)
    params = request.path_params
    await run_in_threadpool(services.image_data.delete_from_store, context(request), params["store_id"],
                            params["image_id"])
    return Response(status_code=204)
