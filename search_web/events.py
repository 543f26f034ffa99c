"""GET /api/events: new captures as Server-Sent Events, so open galleries update live."""
from __future__ import annotations

import json
import time

import redis
from flask import Blueprint, Response, current_app, stream_with_context

from index.query import PK
from models import events

bp = Blueprint("events", __name__, url_prefix="/api")


def _sse(event: str, data: dict, event_id: str) -> str:
    return f"event: {event}\nid: {event_id}\ndata: {json.dumps(data)}\n\n"


@bp.get("/events")
def stream():
    """Stream each new capture as an `event: capture` whose data is the announcement as published."""
    heartbeat = float(current_app.config["EVENTS_HEARTBEAT"])
    deadline = time.monotonic() + float(current_app.config["EVENTS_MAX_SECONDS"])
    pubsub = events.subscribe()  # before the reply starts, so a Redis outage is a 503

    def generate():
        try:
            # retry: how long the browser waits before reconnecting when the stream ends.
            yield "retry: 3000\n: connected\n\n"
            quiet_since = time.monotonic()
            for message in events.listen(pubsub, timeout=min(heartbeat, 1.0)):
                now = time.monotonic()
                if now > deadline:
                    return
                if message is None:
                    if now - quiet_since >= heartbeat:
                        # A comment line; writing it is also how a gone client is noticed.
                        quiet_since = now
                        yield ": keepalive\n\n"
                    continue
                quiet_since = now
                # Passed on as published (models.events.message): the page asks the API what
                # matches its filters anyway, so loading each capture here would be wasted.
                if not isinstance(message, dict) or not PK.match(str(message.get("id"))):
                    continue  # not ours: someone else published on the channel
                yield _sse("capture", message, message["id"])
        except redis.RedisError:
            return  # the browser reconnects; by then Redis may be back
        finally:
            pubsub.close()

    response = Response(stream_with_context(generate()), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    # Also when the client leaves before the first chunk, which never runs the generator's finally.
    response.call_on_close(pubsub.close)
    return response
