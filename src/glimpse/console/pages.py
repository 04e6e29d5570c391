"""The console's page and static files: fixed files from ``static/``, never a path from the request."""

from __future__ import annotations

import html
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from glimpse.console.security import new_csrf_token, secured, set_csrf_cookie
from glimpse.settings import Settings

STATIC = Path(__file__).parent / "static"
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".png": "image/png", ".svg": "image/svg+xml"}


class ConsolePages:
    """Serves ``/console/`` (the page, with this node's sign-in mode and a fresh CSRF token) and its files."""

    def __init__(self, settings: Settings) -> None:
        self._auth = settings.auth_strategy
        self._page = (STATIC / "index.html").read_text(encoding="utf-8")
        # The only files served: those shipped, looked up by exact name.
        self._files = {p.name: p for p in STATIC.iterdir() if p.suffix in _TYPES}

    async def redirect(self, request: Request) -> Response:
        return secured(RedirectResponse("/console/", status_code=308))

    async def index(self, request: Request) -> Response:
        token = new_csrf_token()
        page = (self._page.replace("{{auth_strategy}}", html.escape(self._auth, quote=True))
                .replace("{{csrf_token}}", html.escape(token, quote=True)))
        response = HTMLResponse(page, headers={"Cache-Control": "no-store"})
        set_csrf_cookie(response, request, token)
        return secured(response)

    async def static(self, request: Request) -> Response:
        path = self._files.get(request.path_params["name"])
        if path is None:
            raise HTTPException(404, "No such console file.")
        return secured(FileResponse(path, media_type=_TYPES[path.suffix], headers={"Cache-Control": "no-cache"}))
