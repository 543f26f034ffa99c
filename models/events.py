"""The "new capture" announcement: one Redis pub/sub channel, a small JSON message."""
from __future__ import annotations

import json
from typing import Iterator, Optional

from . import db, om
from .capture import Capture
from .wire import public


def channel() -> str:
    """Return the channel name, under the models' key prefix."""
    return f"{om.key_prefix(Capture)}:captures:new"


def message(capture: Capture) -> dict:
    """Describe a stored capture as announced: its public form (models.wire), an API item without links."""
    return public(capture)


def publish(capture: Capture) -> int:
    """Announce a capture that is already stored; return how many subscribers got it."""
    return db.raw().publish(channel(), json.dumps(message(capture)))


def reachable() -> None:
    """Ask Redis itself (PING) whether it answers; raise redis-py's error if not.

    A stream shares its process's subscription, which may not have noticed yet that Redis went
    away: the view asks first, so that an outage is a 503 before the reply starts."""
    db.decoding().ping()


def subscribe():
    """Return a PubSub already subscribed to the channel (close it when done)."""
    pubsub = db.decoding().pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel())
    return pubsub


def listen(pubsub, timeout: float = 1.0) -> Iterator[Optional[dict]]:
    """Yield each announced capture as a dict, or None after `timeout` seconds of quiet.

    The None lets an SSE view send a keep-alive and notice a closed browser.
    """
    while True:
        msg = pubsub.get_message(timeout=timeout)
        if msg is None:
            yield None
        elif msg.get("type") == "message":
            try:
                yield json.loads(msg["data"])
            except ValueError:
                continue  # not ours: someone else published junk on the channel
