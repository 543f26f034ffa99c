"""One way to build JSON errors."""
from __future__ import annotations

import redis
from flask import jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from index.query import IndexMissing, SearchRefused

from .params import BadParameter

# The longest URL (path and query string, as sent) the app answers; a longer one is a JSON 414.
# gunicorn.conf.py lets request lines of up to 8,190 bytes through to the app, so that this
# reply, not gunicorn's own (at 4,094 bytes by default), is what a client gets.
MAX_URL_LENGTH = 8000


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


def url_length(environ: dict) -> int:
    """Return the length of the request target as the client sent it."""
    # gunicorn sets RAW_URI, werkzeug both: the path still percent-encoded, as it was counted on the wire.
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw is not None:
        return len(raw)
    query = environ.get("QUERY_STRING", "")
    return len(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")) + (len(query) + 1 if query else 0)


def init_app(app) -> None:
    """Register the app-wide error replies: JSON under /api, 503 while Redis is away."""
    @app.before_request
    def refuse_long_urls():
        # Before routing or parameters: JSON on every path, as gunicorn's own 414 is (gunicorn.conf.py).
        length = url_length(request.environ)
        if length > MAX_URL_LENGTH:
            return error_response(414, f"the URL is {length} bytes long; this server takes at most "
                                       f"{MAX_URL_LENGTH} (path and query string)", limit=MAX_URL_LENGTH)
        return None

    @app.errorhandler(BadParameter)
    def bad_parameter(exc: BadParameter):
        # A query parameter (or a field of a time-lapse's body) is wrong: a 400 naming it.
        return error_response(400, str(exc), parameter=exc.parameter)

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
