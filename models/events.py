"""The "new capture" announcement: one Redis pub/sub channel, a small JSON message."""
from __future__ import annotations

import datetime as dt
import json
from typing import Iterator, Optional, Union

from . import db
from .capture import Capture


def channel() -> str:
    """Return the channel name, under the models' key prefix."""
    return f"{Capture._meta.global_key_prefix}:captures:new"


def iso(when: Union[dt.datetime, float, None]) -> Optional[str]:
    """Format an aware datetime or epoch seconds as ISO 8601 UTC with a Z, as the API and events show times."""
    if when is None:
        return None
    if not isinstance(when, dt.datetime):
        when = dt.datetime.fromtimestamp(when, dt.timezone.utc)
    return when.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def message(capture: Capture) -> dict:
    """Describe a stored capture in a few fields; the web app loads the rest if it wants."""
    return {
        "id": capture.pk,
        "device": capture.device,
        "taken_at": iso(capture.taken_at),
        "trigger": capture.trigger,
        "width": capture.width,
        "height": capture.height,
        "image_size": capture.image_size,
    }


def publish(capture: Capture) -> int:
    """Announce a capture that is already stored; return how many subscribers got it."""
    return db.raw().publish(channel(), json.dumps(message(capture)))


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
