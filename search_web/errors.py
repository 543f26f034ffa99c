"""One way to build JSON errors."""
from __future__ import annotations

from flask import jsonify
from werkzeug.http import HTTP_STATUS_CODES


def error_response(status: int, message: str | None = None, **details):
    """Return a JSON error body {"error": ..., "message": ..., ...} with `status`."""
    body = {"error": HTTP_STATUS_CODES.get(status, "Unknown error")}
    if message:
        body["message"] = message
    body.update(details)
    response = jsonify(body)
    response.status_code = status
    return response
