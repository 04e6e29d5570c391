"""``GET /metrics`` for authenticated callers: the Prometheus exposition, to administrators only.

Scrapers on the node's own host are answered before authentication by
:class:`~glimpse.observability.access.ObservedApp` (``metrics_access =
"loopback"``, the default); everyone else comes here.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from glimpse.api.requests import context
from glimpse.errors import Forbidden
from glimpse.observability.metrics import CONTENT_TYPE
from glimpse.observability.metrics import metrics as node_metrics


async def metrics(request: Request) -> Response:
    if not context(request).is_admin:
        raise Forbidden("Only administrators may read /metrics (or scrape it from the node's own host "
                        "with metrics_access = \"loopback\").")
    node_metrics().flush()  # this worker's latest requests are in the answer
    body = await run_in_threadpool(request.app.state.scrape)
    return Response(body, media_type=CONTENT_TYPE)
