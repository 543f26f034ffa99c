"""GET /api/events: new captures pushed as Server-Sent Events."""
from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from models import Capture, events

WHEN = dt.datetime(2026, 6, 1, 12, tzinfo=dt.timezone.utc)


@pytest.fixture
def sse_app(redis_url, key_prefix, store):
    from search_web import create_app

    return create_app(test_config={"TESTING": True, "REDIS_URL": redis_url, "KEY_PREFIX": key_prefix,
                                   "EVENTS_HEARTBEAT": 0.2, "EVENTS_MAX_SECONDS": 3})


def subscribers() -> int:
    return dict(Capture.db().pubsub_numsub(events.channel()))[events.channel()]


def read_until(chunks, predicate, seconds: float = 5) -> str:
    text, deadline = "", time.monotonic() + seconds
    while time.monotonic() < deadline:
        text += next(chunks).decode()
        if predicate(text):
            return text
    raise AssertionError(f"stream did not deliver in {seconds}s: {text!r}")


# A browser asks for compression; the stream must still go out uncompressed, event by event.
@pytest.mark.parametrize("accept", ["", "gzip, deflate, br, zstd"])
def test_a_published_capture_arrives_as_an_event_with_the_published_message(sse_app, jpeg, accept):
    client = sse_app.test_client()
    reply = client.get("/api/events", buffered=False, headers={"Accept-Encoding": accept} if accept else {})
    assert reply.status_code == 200 and reply.mimetype == "text/event-stream"
    assert reply.headers["Cache-Control"] == "no-cache" and "Content-Encoding" not in reply.headers
    chunks = reply.iter_encoded()
    assert read_until(chunks, lambda t: "retry:" in t)
    assert subscribers() == 1

    capture = Capture.create(jpeg((64, 48)), device="pi-door", taken_at=WHEN, trigger="motion")
    events.publish(capture)
    text = read_until(chunks, lambda t: "event: capture" in t and t.endswith("\n\n"))
    block = text[text.index("event: capture"):]
    fields = dict(line.split(": ", 1) for line in block.strip().splitlines())
    assert fields["id"] == capture.pk
    assert json.loads(fields["data"]) == events.message(capture)
    # Its time is written as the API writes it, so the page can compare the two.
    assert fields["data"].count(client.get(f"/api/captures/{capture.pk}").json["taken_at"]) == 1
    reply.close()
    assert subscribers() == 0


def test_quiet_stream_sends_heartbeats_and_ends_after_its_maximum(sse_app):
    reply = sse_app.test_client().get("/api/events", buffered=False)
    started = time.monotonic()
    text = b"".join(reply.iter_encoded()).decode()  # ends by itself
    assert 2.5 < time.monotonic() - started < 5
    assert text.count(": keepalive") >= 5
    assert subscribers() == 0


@pytest.mark.parametrize("junk", ["not json", "5", "[1, 2]", '{"device": "pi"}', '{"id": "x\\nevent: evil"}', '{"id": 7}'])
def test_foreign_messages_are_skipped_and_the_stream_goes_on(sse_app, jpeg, junk):
    reply = sse_app.test_client().get("/api/events", buffered=False)
    chunks = reply.iter_encoded()
    read_until(chunks, lambda t: "retry:" in t)
    Capture.db().publish(events.channel(), junk)
    kept = Capture.create(jpeg((64, 48)), device="pi", taken_at=WHEN, trigger="gpio")
    events.publish(kept)
    text = read_until(chunks, lambda t: kept.pk in t and t.endswith("\n\n"))
    assert text.count("event: capture") == 1 and "evil" not in text
    reply.close()


def test_a_stream_never_loads_the_announced_capture(sse_app, jpeg):
    # Every open tab gets every event: the message goes out as published, no read per tab,
    # so a capture deleted since its announcement is still announced (the page asks the API).
    reply = sse_app.test_client().get("/api/events", buffered=False)
    chunks = reply.iter_encoded()
    read_until(chunks, lambda t: "retry:" in t)
    gone = Capture.create(jpeg((64, 48)), device="pi", taken_at=WHEN, trigger="gpio")
    Capture.remove(gone.pk)
    events.publish(gone)
    text = read_until(chunks, lambda t: gone.pk in t and t.endswith("\n\n"))
    assert json.loads(text.split("data: ", 1)[1]) == events.message(gone)
    reply.close()


def test_a_stream_closed_before_its_first_chunk_unsubscribes(sse_app):
    reply = sse_app.test_client().get("/api/events", buffered=False)
    assert subscribers() == 1
    reply.close()
    assert subscribers() == 0
