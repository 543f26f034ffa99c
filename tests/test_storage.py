"""Redis-side guarantees: search without image bytes, restarts keep data, memory overhead."""
from __future__ import annotations

import datetime as dt

import pytest

import models
from capture import synthetic
from index import schema
from models import Capture
from models.db import raw

UTC = dt.timezone.utc
DAY = dt.datetime(2026, 3, 10, tzinfo=UTC)


def test_search_by_date_range_and_device_returns_no_image_bytes(store, jpeg):
    image = jpeg((320, 240))
    made = []
    for hours in range(0, 72, 6):
        for device in ("pi-door", "pi-garden"):
            made.append(store.create(image, device=device, taken_at=DAY + dt.timedelta(hours=hours), trigger="interval"))
    lo, hi = DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=2)
    expected = {c.key() for c in made if c.device == "pi-door" and lo <= c.taken_at < hi}
    assert len(expected) == 4
    query = rf"@device:{{pi\-door}} @taken_at:[{lo.timestamp()} ({hi.timestamp()}]"
    reply = raw().execute_command(
        "FT.SEARCH", schema.name(), query, "RETURN", "2", "device", "taken_at", "LIMIT", "0", "100"
    )
    results = reply[b"results"] if isinstance(reply, dict) else None
    assert {r[b"id"].decode() for r in results} == expected
    body = repr(reply).encode()
    assert b"\\xff\\xd8" not in body and b"image" not in body


def test_index_rebuild_keeps_captures(store, jpeg):
    for i in range(5):
        store.create(jpeg((160, 120)), device="pi-a", taken_at=DAY + dt.timedelta(minutes=i), trigger="manual")
    assert schema.info()["num_docs"] == 5
    state = schema.rebuild()
    assert state["num_docs"] == 5 and not state["indexing"]
    assert store.find(store.device == "pi-a").count() == 5


def test_schema_change_rebuilds_index_without_touching_data(store, jpeg, monkeypatch):
    image = jpeg((160, 120))
    capture = store.create(image, device="pi-a", taken_at=DAY, trigger="manual")
    assert schema.migrate() == "unchanged"
    original = Capture.redisearch_schema()
    # A new indexed field in the model is what a schema change looks like to the Migrator.
    monkeypatch.setattr(Capture, "redisearch_schema", classmethod(lambda cls: original + " schema_probe NUMERIC"))
    assert not schema.info()["up_to_date"]
    assert schema.migrate() == "rebuilt"
    state = schema.wait_indexed()
    assert state["num_docs"] == 1 and state["up_to_date"]
    assert Capture.read_binary(capture.pk) == image
    fields = [a[1] for a in Capture.db().ft(schema.name()).info()["attributes"]]
    assert "schema_probe" in fields


def test_an_index_from_before_exact_camera_tags_serves_until_migrated(store, jpeg, app, monkeypatch):
    """An existing data dir after this upgrade: the old index still answers, `index create` makes it exact."""
    image = jpeg((160, 120))
    for make in ("NIKON", "nikon"):
        store.create(image, device="pi-a", taken_at=DAY, trigger="import", camera_make=make)
    current = Capture.redisearch_schema()
    before = current.replace(" camera_make TAG SEPARATOR \x1f CASESENSITIVE", " camera_make TAG SEPARATOR \x1f")
    assert before != current
    monkeypatch.setattr(Capture, "redisearch_schema", classmethod(lambda cls: before))
    schema.rebuild()
    monkeypatch.undo()
    assert not schema.info()["up_to_date"]
    client = app.test_client()
    stale = client.get("/api/captures", query_string={"camera_make": "NIKON"})
    assert stale.status_code == 200 and stale.json["total"] == 2  # the old tag folded case
    assert schema.migrate() == "rebuilt" and schema.wait_indexed()["up_to_date"]
    exact = client.get("/api/captures", query_string={"camera_make": "NIKON"}).json
    assert [item["camera_make"] for item in exact["items"]] == ["NIKON"]


def test_drop_keeps_captures_unless_asked(store, jpeg):
    capture = store.create(jpeg((160, 120)), device="pi-a", taken_at=DAY, trigger="manual")
    assert schema.drop()
    assert not schema.exists() and not schema.drop()
    assert Capture.load(capture.pk).device == "pi-a"
    schema.migrate()
    assert schema.wait_indexed()["num_docs"] == 1


def test_restart_keeps_captures(own_server, key_prefix, jpeg):
    from pigallery import redis_server

    models.bind(own_server.url, key_prefix)
    schema.migrate()
    image = jpeg()
    capture = Capture.create(image, device="pi-a", taken_at=DAY, trigger="manual")
    redis_server.stop(own_server)
    assert redis_server.running_pid(own_server) is None
    redis_server.start(own_server)
    assert Capture.read_binary(capture.pk) == image
    assert Capture.load(capture.pk) == capture
    assert schema.wait_indexed()["num_docs"] == 1


def test_memory_overhead_for_100_captures_of_200kb(own_server, key_prefix):
    """Redis memory grows by at most 1.15x the image+thumbnail bytes (README: how measured)."""
    models.bind(own_server.url, key_prefix)
    schema.migrate()
    conn = Capture.db()
    before = conn.info("memory")["used_memory"]
    stored = 0
    for i in range(100):
        image, meta = synthetic.render(DAY + dt.timedelta(minutes=7 * i), (960, 720), seed=i)
        c = Capture.create(image, device=f"pi-{i % 3}", taken_at=DAY + dt.timedelta(minutes=7 * i), trigger="interval", **meta)
        stored += c.image_size + c.thumbnail_size
    after = conn.info("memory")["used_memory"]
    ratio = (after - before) / stored
    print(f"\n100 captures: {stored / 100 / 1024:.0f} KiB image+thumbnail each, "
          f"used_memory grew {(after - before) / 1e6:.2f} MB for {stored / 1e6:.2f} MB of JPEG: {ratio:.3f}x")
    assert 180_000 < stored / 100 < 320_000
    assert ratio <= 1.15
