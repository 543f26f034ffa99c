"""One capture shape: what the API serves, what the spec says and what the model marks agree."""
from __future__ import annotations

import datetime as dt

import pytest

from models import events, wire
from models.capture import ITEM, Capture

from api_helpers import START

LINKS = {"thumbnail_url", "image_url"}
# What an imported NIKON photo carries (issue #13), and a camera's own capture with nothing of it.
KNOWN = dict(device="NIKON COOLPIX P6000", trigger="import", orientation=6, camera_make="NIKON",
             camera_model="COOLPIX P6000", latitude=43.4672, longitude=11.8851, time_source="exif",
             source_name="DSCN0010.jpg")
BARE = dict(device="pi-door", trigger="interval")


@pytest.fixture(scope="module")
def data(make_dataset):
    # Three captures share one instant, so a page of one reads that tie group by id (FT.AGGREGATE),
    # the others come from FT.SEARCH: both must return every listed field.
    tie = START + dt.timedelta(hours=1)
    rows = [dict(KNOWN, taken_at=tie), dict(KNOWN, taken_at=tie, time_source="file"), dict(BARE, taken_at=tie),
            dict(KNOWN, taken_at=START), dict(BARE, taken_at=START + dt.timedelta(hours=2), time_source="camera")]
    return make_dataset(rows)


def declared() -> set[str]:
    """The fields the model marks public, read from the model itself."""
    return {name for name, info in Capture.model_fields.items()
            if (info.json_schema_extra or {}).get("wire") == ITEM["wire"]}


def test_served_items_keys_equal_the_specs_item_and_the_models_public_fields(data):
    client = data.client()
    spec = client.get("/api/openapi.json").json["components"]["schemas"]
    items = client.get("/api/captures", query_string={"limit": 1}).json["items"]
    one = client.get(f"/api/captures/{items[0]['id']}").json
    assert set(items[0]) == set(one) == set(spec["Item"]["properties"]) == {"id"} | declared() | LINKS
    # Every key is always sent (null when unknown), so every one is required, and no other is allowed.
    assert set(spec["Item"]["required"]) == set(spec["Item"]["properties"])
    assert spec["Item"]["additionalProperties"] is False
    # The announcement is an Item without its links, also as /api/events documents it.
    assert set(spec["Announcement"]["properties"]) == {"id"} | declared()
    capture = Capture.load(items[0]["id"])
    assert events.message(capture) == {k: v for k, v in one.items() if k not in LINKS}
    stream = client.get("/api/openapi.json").json["paths"]["/api/events"]["get"]["responses"]["200"]
    assert stream["content"]["text/event-stream"]["schema"]["properties"]["data"]["contentSchema"]["$ref"].endswith(
        "/Announcement")
    # The index returns exactly the listed fields: the public ones and what shapes an item.
    assert set(wire.LISTED_FIELDS) == declared() | {"image_expires_at"}


@pytest.mark.parametrize("limit", [1, 2, 200])
def test_items_carry_what_the_capture_knows(data, limit):
    client = data.client()
    reply = client.get("/api/captures", query_string={"sort": "oldest", "limit": limit})
    items, cursor = list(reply.json["items"]), reply.json["next_cursor"]
    while cursor:  # small pages cut the tie group: its members come from the by-id read
        reply = client.get("/api/captures", query_string={"sort": "oldest", "limit": limit, "cursor": cursor})
        items, cursor = items + reply.json["items"], reply.json["next_cursor"]
    by_row = {row["pk"]: row for row in data.rows}
    assert len(items) == len(data.rows)
    for item in items:
        row = by_row[item["id"]]
        for name in ("camera_make", "camera_model", "latitude", "longitude", "time_source", "source_name"):
            assert item[name] == row.get(name), (name, item)
        assert item["orientation"] == row.get("orientation", 1)
        assert client.get(f"/api/captures/{item['id']}").json == item


def test_the_spec_says_how_orientation_turns_the_size(data):
    item = data.client().get("/api/openapi.json").json["components"]["schemas"]["Item"]
    assert "5-8" in item["description"] and "height x width" in item["description"]
    assert item["properties"]["time_source"]["enum"] == ["exif", "camera", "file", None]
