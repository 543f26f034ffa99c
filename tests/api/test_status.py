"""/api/stats and /healthz."""
from __future__ import annotations

import datetime as dt

WHEN = dt.datetime(2026, 6, 1, 12, tzinfo=dt.timezone.utc)


def test_stats_on_an_empty_store(client, store):
    stats = client.get("/api/stats").json
    assert stats["total"] == 0 and stats["devices"] == [] and stats["oldest"] is None
    assert stats["index"]["num_docs"] == 0


def test_stats_count_devices_span_and_bytes(client, store, jpeg):
    made = []
    for i, device in enumerate(["pi-a", "pi-b", "pi-a"]):
        made.append(store.create(jpeg((160 * (i + 1), 120)), device=device, taken_at=WHEN + dt.timedelta(hours=i),
                                 trigger="interval"))
    stats = client.get("/api/stats").json
    assert stats["total"] == 3
    assert stats["devices"] == [{"device": "pi-a", "count": 2}, {"device": "pi-b", "count": 1}]
    assert stats["oldest"] == "2026-06-01T12:00:00Z" and stats["newest"] == "2026-06-01T14:00:00Z"
    assert stats["image_bytes"] == sum(c.image_size for c in made)
    assert stats["thumbnail_bytes"] == sum(c.thumbnail_size for c in made)
    assert stats["index"]["indexing"] is False


def test_healthz_ok(client, store):
    reply = client.get("/healthz")
    assert reply.status_code == 200 and reply.json["status"] == "ok" and reply.json["redis"] is True


def test_healthz_does_not_tell_strangers_where_redis_is(tmp_path, caplog):
    """Issue #12 item 12: the reply says Redis is unreachable; the host, port and error go to the log only."""
    from pigallery.config import Settings
    from search_web import create_app

    hidden = "127.0.0.1:1"  # nothing listens on port 1
    settings = Settings(redis_url=f"redis://{hidden}/0", data_dir=tmp_path, secret_key="test")
    client = create_app(settings, test_config={"TESTING": True}).test_client()
    with caplog.at_level("WARNING"):
        reply = client.get("/healthz")
    assert reply.status_code == 503 and reply.is_json
    assert reply.json == {"status": "unavailable", "redis": False, "index": None, "message": "Redis is not reachable"}
    assert hidden not in reply.get_data(as_text=True) and "127.0.0.1" not in reply.get_data(as_text=True)
    assert any(hidden in record.getMessage() for record in caplog.records), caplog.text
