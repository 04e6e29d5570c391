"""What every console response carries: a strict Content-Security-Policy, no framing, and the
CSRF token (double submit: an ``HttpOnly``, ``SameSite=Strict`` cookie and the same value in the
page) that the one form the server handles, the sign-in exchange, must echo in a header.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

from glimpse.errors import Forbidden

CSRF_COOKIE = "glimpse_console_csrf"
CSRF_HEADER = "x-csrf-token"

#: No inline script or style, nothing from elsewhere, never framed.
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def secured(response: Response) -> Response:
    """``response`` with the console's security headers."""
    response.headers.update(HEADERS)
    return response


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def set_csrf_cookie(response: Response, request: Request, token: str) -> None:
    """The cookie half of the double submit: script cannot read it, other sites cannot send it."""
    response.set_cookie(CSRF_COOKIE, token, path="/console/", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")


def check_csrf(request: Request) -> None:
    """Raise :class:`Forbidden` unless the request comes from our page: same origin (when the browser
    says) and the header echoing the cookie."""
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise Forbidden(f"Cross-origin request from {origin} refused; sign in from the console page itself.")
    cookie = request.cookies.get(CSRF_COOKIE, "")
    header = request.headers.get(CSRF_HEADER, "")
    if not cookie or not header or not hmac.compare_digest(cookie, header):
        raise Forbidden("The console's CSRF token is missing or does not match; reload the console page "
                        "and sign in again.")
