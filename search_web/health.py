"""GET /healthz: whether Redis answers and the index is ready, for load balancers and compose."""
from __future__ import annotations

import redis
from flask import Blueprint, current_app

from index import schema

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Return 200 when Redis answers and the index is built, else 503 saying what is wrong."""
    try:
        state = schema.info()
    except redis.RedisError as exc:
        # Anyone may ask /healthz: the error's host, port and user are for the operator's log only.
        current_app.logger.warning("/healthz: Redis did not answer: %s: %s", type(exc).__name__, exc)
        unreachable = isinstance(exc, (redis.ConnectionError, redis.TimeoutError))
        message = "Redis is not reachable" if unreachable else "Redis refused the health check"
        return {"status": "unavailable", "redis": False, "index": None, "message": message}, 503
    if not state:
        return {"status": "unavailable", "redis": True, "index": None,
                "message": "no search index: run `pigallery index create`"}, 503
    ready = not state["indexing"]
    body = {"status": "ok" if ready else "indexing", "redis": True, "index": state}
    return body, 200 if ready else 503
