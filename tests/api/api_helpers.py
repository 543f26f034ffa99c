"""Helpers for the API tests: datasets under their own key prefix, walking cursors."""
from __future__ import annotations

import datetime as dt
import random
import uuid

import models
from index import schema
from models import bulk
from tests.helpers import drop_prefix

UTC = dt.timezone.utc
START = dt.datetime(2026, 3, 1, tzinfo=UTC)
# Names that are RediSearch query syntax, plus case and unicode twins of each other.
ODD_DEVICES = ["a|b", "a", "b", "*", "pi-1)", "pi-1", "two words", 'say "cheese"', "{brace}", "it's",
               "back\\slash", "Ünï Cødé", "ünï cødé", "日本 カメラ", "📷", "Pi-Door", "pi-door", "%", "a,b", "x@y.z"]


class Dataset:
    """Captures stored under one prefix, with the metadata kept for brute-force checks."""

    def __init__(self, redis_url: str, rows: list[dict], image: bytes):
        self.redis_url = redis_url
        self.prefix = f"api{uuid.uuid4().hex[:10]}"
        models.bind(redis_url, self.prefix)
        schema.migrate()
        self.rows = [{"trigger": "interval", **row} for row in rows]
        for row, pk in zip(self.rows, bulk.store_many(self.rows, image)):
            row["pk"] = pk
        schema.wait_indexed()

    def client(self, **config):
        """A test client of an app on this data (binding the models to it)."""
        from search_web import create_app

        app = create_app(test_config={"TESTING": True, "REDIS_URL": self.redis_url, "KEY_PREFIX": self.prefix,
                                      "API_TOKEN": "test-token", **config})
        return app.test_client()

    def drop(self) -> None:
        drop_prefix(self.redis_url, self.prefix)


def varied_rows(count: int, seed: int, devices=("pi-garden", "pi-door", "pi-attic")) -> list[dict]:
    """Metadata with ties on taken_at, missing lux/exposure, every trigger, several days."""
    rng = random.Random(seed)
    rows = []
    when = START
    for _ in range(count):
        # One in three captures shares its predecessor's instant: ties cross page edges.
        if rng.random() > 0.33:
            when = when + dt.timedelta(seconds=rng.choice([1, 7, 60, 600, 3600]), microseconds=rng.randrange(10**6))
        rows.append(dict(
            device=rng.choice(devices),
            taken_at=when,
            trigger=rng.choice(models.TRIGGERS),
            lux=None if rng.random() < 0.1 else round(rng.uniform(0, 30000), 1),
            exposure_us=None if rng.random() < 0.1 else rng.randrange(50, 200_000),
            analogue_gain=round(rng.uniform(1, 16), 2),
            colour_temp_k=rng.randrange(2500, 9000),
        ))
    return rows


def walk(client, limit: int, **params) -> tuple[list[dict], list[dict]]:
    """Follow next_cursor from the first page to the last; return all items and every reply."""
    items, replies, cursor = [], [], None
    while True:
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        if cursor:
            query.pop("start", None)  # start begins a listing; the cursor continues it
        reply = client.get("/api/captures", query_string=query)
        assert reply.status_code == 200, reply.json
        replies.append(reply.json)
        items += reply.json["items"]
        cursor = reply.json["next_cursor"]
        if cursor is None:
            return items, replies
        assert len(reply.json["items"]) == limit
