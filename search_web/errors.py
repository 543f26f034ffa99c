"""One way to build JSON errors."""
from __future__ import annotations

import redis
from flask import jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from index.query import IndexMissing, SearchRefused


def error_response(status: int, message: str | None = None, **details):
    """Return a JSON error body {"error": ..., "message": ..., ...} with `status`."""
    body = {"error": HTTP_STATUS_CODES.get(status, "Unknown error")}
    if message:
        body["message"] = message
    body.update(details)
    response = jsonify(body)
    response.status_code = status
    return response


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


def init_app(app) -> None:
    """Register the app-wide error replies: JSON under /api, 503 while Redis is away."""
    @app.errorhandler(redis.ConnectionError)
    @app.errorhandler(redis.TimeoutError)
    def redis_unavailable(exc):
        # redis-py reconnects on the next command, so the API recovers by itself.
        response = error_response(503, "Redis is unreachable; retry shortly")
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(IndexMissing)
    def index_missing(exc):
        return error_response(503, str(exc))

    @app.errorhandler(SearchRefused)
    def search_refused(exc):
        # A RediSearch limit or timeout: JSON saying which, never a traceback.
        return error_response(503, f"{exc}; narrow the filters or retry")

    @app.errorhandler(HTTPException)
    def http_error(exc):
        if not _wants_json():
            return exc
        response = error_response(exc.code, exc.description)
        allow = dict(exc.get_headers()).get("Allow")
        if allow:  # a 405 says which methods would work
            response.headers["Allow"] = allow
        return response
