"""GET /api/events: new captures as Server-Sent Events, so open galleries update live.

One Redis subscription per process, shared by all its open streams: a Feed reads the channel in
its own thread and hands each announcement, formatted once, to every stream's queue. A
subscription per stream, as before, took one connection from redis-py's pool (100 per client) for
each open gallery: at about 100 open galleries per worker the pool ran out and the API itself
answered 503 (scripts/bench_viewers.py). A stream still holds a worker thread (gthread), but one
that sleeps on its queue until an announcement or its next heartbeat.
"""
from __future__ import annotations

import json
import queue
import threading
import time
from typing import Optional

import redis
from flask import Blueprint, Response, current_app, stream_with_context

from models import events
from models.capture import PK

bp = Blueprint("events", __name__, url_prefix="/api")

# How often the reader looks up from the channel: a leaving last stream waits at most this long
# for the subscription to be closed (by the reader, which alone uses its connection).
POLL = 0.1
# Announcements held for one stream whose client does not read; past it that stream misses some.
BACKLOG = 1000
GONE = object()  # put on every queue when the subscription fails: the streams end, browsers reconnect


def _sse(event: str, data: dict, event_id: str) -> str:
    return f"event: {event}\nid: {event_id}\ndata: {json.dumps(data)}\n\n"


class Feed:
    """This process's subscription to one channel, and the queues of the streams that share it."""

    def __init__(self, channel: str):
        self.channel = channel
        self.pubsub = events.subscribe()  # raises RedisError when Redis is away: the view's 503
        self.queues: set[queue.Queue] = set()
        self.closing = False
        self.failed = False
        self.reader = threading.Thread(target=self._read, name=f"events {channel}", daemon=True)
        self.reader.start()

    def _read(self) -> None:
        try:
            for message in events.listen(self.pubsub, timeout=POLL):
                if self.closing:
                    return
                # Passed on as published (models.events.message): the page asks the API what
                # matches its filters anyway, so loading each capture here would be wasted.
                if message is None or not isinstance(message, dict) or not PK.match(str(message.get("id"))):
                    continue  # quiet, or not ours: someone else published on the channel
                chunk = _sse("capture", message, message["id"])
                with _lock:
                    targets = list(self.queues)
                for q in targets:
                    try:
                        q.put_nowait(chunk)
                    except queue.Full:
                        pass  # a client that stopped reading; its stream ends at its deadline
        except (redis.RedisError, OSError, ValueError, RuntimeError):
            pass  # Redis went away (or the connection was closed): end every stream, see below
        finally:
            self.pubsub.close()
            with _lock:
                self.failed = not self.closing
                if _feeds.get(self.channel) is self:
                    del _feeds[self.channel]
                targets = list(self.queues)
            for q in targets:
                try:
                    q.put_nowait(GONE)
                except queue.Full:
                    pass  # that stream sees `failed` at its next heartbeat


_lock = threading.Lock()
_feeds: dict[str, Feed] = {}


def join() -> tuple[Feed, queue.Queue]:
    """Register a new stream on its channel's feed, subscribing first if this process has none."""
    channel = events.channel()
    with _lock:
        feed = _feeds.get(channel)
        if feed is None:
            feed = _feeds[channel] = Feed(channel)
        q: queue.Queue = queue.Queue(maxsize=BACKLOG)
        feed.queues.add(q)
    return feed, q


def leave(feed: Feed, q: queue.Queue) -> None:
    """Unregister a stream (again is harmless); the last one out closes the subscription."""
    with _lock:
        if q not in feed.queues:
            return
        feed.queues.discard(q)
        if feed.queues:
            return
        feed.closing = True
        if _feeds.get(feed.channel) is feed:
            del _feeds[feed.channel]
    if feed.reader is not threading.current_thread():
        feed.reader.join(timeout=5 * POLL + 1)  # so the unsubscribe has happened when this returns


@bp.get("/events")
def stream():
    """Stream each new capture as an `event: capture` whose data is the announcement as published."""
    heartbeat = float(current_app.config["EVENTS_HEARTBEAT"])
    deadline = time.monotonic() + float(current_app.config["EVENTS_MAX_SECONDS"])
    events.reachable()  # one PING per new stream: an outage is a 503 before the reply starts
    feed, q = join()

    def generate():
        try:
            # retry: how long the browser waits before reconnecting when the stream ends.
            yield "retry: 3000\n: connected\n\n"
            while True:
                now = time.monotonic()
                if now >= deadline or feed.failed:
                    return  # the browser reconnects; by then Redis may be back
                try:
                    chunk: Optional[object] = q.get(timeout=min(heartbeat, deadline - now))
                except queue.Empty:
                    if time.monotonic() < deadline and not feed.failed:
                        # A comment line; writing it is also how a gone client is noticed.
                        yield ": keepalive\n\n"
                    continue
                if chunk is GONE:
                    return
                yield chunk
        finally:
            leave(feed, q)

    response = Response(stream_with_context(generate()), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    # Also when the client leaves before the first chunk, which never runs the generator's finally.
    response.call_on_close(lambda: leave(feed, q))
    return response
