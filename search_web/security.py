"""Security headers on every reply: the page, the API, errors, images, static files, events."""
from __future__ import annotations

import hmac
from typing import Optional

from flask import Flask, Response, current_app, request

from .errors import error_response

# What the gallery needs and nothing more. Its scripts and styles are files from this origin
# (nothing inline: an injected <script> or onerror= does not run even if some text ever became
# HTML); images are ours, plus the data: favicon; fetch and EventSource go to /api only.
# Same-origin scripts are trusted, which is why images are only ever served with a type
# decided from their bytes (api.sniff) and nosniff: a stored upload can never pass as one.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
))
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    # Browsers must take Content-Type as sent: no bytes sniffed into HTML or script.
    "X-Content-Type-Options": "nosniff",
    # frame-ancestors for browsers that predate CSP 2: no page may frame the gallery (clickjacking).
    "X-Frame-Options": "DENY",
    # Filter URLs (device names, dates) stay on this site.
    "Referrer-Policy": "same-origin",
}


def add_headers(response: Response) -> Response:
    """Add the security headers a view has not set itself."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def init_app(app: Flask) -> None:
    """Register the headers app-wide: after_request runs for error handlers' replies too."""
    app.after_request(add_headers)


def token_refusal(feature: str) -> Optional[Response]:
    """The reply refusing this request's API token for `feature`, or None when it may go on.

    403 when the server has no token (the feature is off), 401 for a missing or wrong one.
    """
    token = current_app.config.get("API_TOKEN")
    if not token:
        return error_response(403, f"{feature} disabled: set PIGALLERY_API_TOKEN on the server to enable it")
    auth = request.authorization
    given = auth.token if auth is not None and auth.type == "bearer" else None
    if not given or not hmac.compare_digest(given.encode(), token.encode()):
        response = error_response(401, "send the API token as `Authorization: Bearer <token>`")
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    return None
