"""GET /api/captures and /api/facets against a brute-force filter over the same captures."""
from __future__ import annotations

import collections
import datetime as dt
import json
import random

import pytest

from index import query, recent
from index.rows import RETURN_FIELDS
from models import BINARY_FIELDS, Capture

from api_helpers import ODD_DEVICES, START, UTC, varied_rows, walk

COMBINATIONS = 300


# Camera names with case twins and query syntax, so the camera filters must match exactly.
MAKES = ["NIKON", "Nikon", "Canon", "a|b", "pi-1)"]
MODELS = ["COOLPIX P6000", "coolpix p6000", "EOS 5D", "x@y.z"]


def with_cameras(rows: list[dict], seed: int) -> list[dict]:
    """`rows` with camera make/model and a GPS position on some, drawn apart from the rest (its own RNG)."""
    rng = random.Random(seed)
    for row in rows:
        if rng.random() < 0.7:
            row["camera_make"] = rng.choice(MAKES)
        if rng.random() < 0.7:
            row["camera_model"] = rng.choice(MODELS)
        if rng.random() < 0.4:
            row["latitude"], row["longitude"] = round(rng.uniform(-90, 90), 5), round(rng.uniform(-180, 180), 5)
    return rows


@pytest.fixture(scope="module")
def data(make_dataset):
    rows = varied_rows(1500, seed=5, devices=("pi-garden", "pi-door", "pi-attic", "a|b", "pi-1)"))
    return make_dataset(with_cameras(rows, seed=6))


def iso(when: dt.datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def random_params(rng: random.Random) -> dict:
    """A random mix of every filter, with bounds drawn around the data."""
    params: dict = {}
    if rng.random() < 0.4:
        params["device"] = rng.sample(["pi-garden", "pi-door", "pi-attic", "a|b", "pi-1)", "nobody"], rng.randint(1, 3))
    if rng.random() < 0.3:
        params["trigger"] = rng.sample(["interval", "gpio", "motion", "manual", "import"], rng.randint(1, 2))
    if rng.random() < 0.5:
        lo = START + dt.timedelta(hours=rng.uniform(-5, 300))
        hi = lo + dt.timedelta(hours=rng.uniform(0, 200))
        style = rng.choice(["datetime", "date", "offset", "from-only", "to-only"])
        if style == "date":
            params["from"], params["to"] = lo.date().isoformat(), hi.date().isoformat()
        elif style == "offset":
            zone = dt.timezone(dt.timedelta(hours=rng.choice([-7, 2, 5.5])))
            params["from"], params["to"] = lo.astimezone(zone).isoformat(), hi.astimezone(zone).isoformat()
        elif style == "from-only":
            params["from"] = iso(lo)
        elif style == "to-only":
            params["to"] = iso(hi)
        else:
            params["from"], params["to"] = iso(lo), iso(hi)
    if rng.random() < 0.3:
        params["lux_min"] = round(rng.uniform(0, 20000), 1)
    if rng.random() < 0.3:
        params["lux_max"] = round(params.get("lux_min", 0) + rng.uniform(0, 20000), 1)
    if rng.random() < 0.3:
        params["exposure_min"] = rng.randrange(0, 150_000)
    if rng.random() < 0.3:
        params["exposure_max"] = params.get("exposure_min", 0) + rng.randrange(0, 150_000)
    if rng.random() < 0.25:
        params["camera_make"] = rng.sample(MAKES + ["nobody"], rng.randint(1, 2))
    if rng.random() < 0.25:
        params["camera_model"] = rng.sample(MODELS + ["nobody"], rng.randint(1, 2))
    if rng.random() < 0.25:
        params["has_gps"] = rng.choice(["true", "false"])
    return params


def bound(value: str, end: bool) -> dt.datetime:
    """The instant a from/to parameter stands for, as the API documents it."""
    if len(value) == 10:
        day = dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), UTC)
        return day + dt.timedelta(days=1) if end else day
    when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return when.astimezone(UTC)


def brute_force(rows: list[dict], params: dict) -> list[dict]:
    """Filter and order in plain Python: the answer the API must give."""
    def keep(r):
        if "device" in params and r["device"] not in params["device"]:
            return False
        if "trigger" in params and r["trigger"] not in params["trigger"]:
            return False
        for name in ("camera_make", "camera_model"):
            if name in params and r.get(name) not in params[name]:
                return False
        if "has_gps" in params and ("latitude" in r) != (params["has_gps"] == "true"):
            return False
        if "from" in params and r["taken_at"] < bound(params["from"], False):
            return False
        if "to" in params:
            limit = bound(params["to"], True)
            if (r["taken_at"] >= limit) if len(params["to"]) == 10 else (r["taken_at"] > limit):
                return False
        for field, low, high in (("lux", "lux_min", "lux_max"), ("exposure_us", "exposure_min", "exposure_max")):
            if low in params or high in params:
                if r[field] is None or r[field] < params.get(low, -1e18) or r[field] > params.get(high, 1e18):
                    return False
        return True

    newest = params.get("sort", "newest") == "newest"
    return sorted(filter(keep, rows), key=lambda r: (r["taken_at"], r["pk"]), reverse=newest)


def from_start(ordered: list[dict], params: dict) -> list[dict]:
    """The part of `ordered` (brute_force's answer) a listing with `start` gives: at or past that instant."""
    if "start" not in params:
        return ordered
    value = params["start"]
    if params.get("sort", "newest") == "newest":  # at or before it; a date up to its end
        return ([r for r in ordered if r["taken_at"] < bound(value, True)] if len(value) == 10
                else [r for r in ordered if r["taken_at"] <= bound(value, True)])
    return [r for r in ordered if r["taken_at"] >= bound(value, False)]


def test_random_filter_combinations_match_brute_force(data):
    client = data.client()
    rng = random.Random(20260601)
    nonempty = 0
    for _ in range(COMBINATIONS):
        params = random_params(rng)
        params["sort"] = rng.choice(["newest", "oldest"])
        if rng.random() < 0.3:  # begin at an instant (the timeline scrubber): often one some captures share
            when = rng.choice(data.rows)["taken_at"] + dt.timedelta(seconds=rng.choice([0, 0, -1, 1, 3600]))
            params["start"] = rng.choice([iso(when), when.date().isoformat()])
        matching = brute_force(data.rows, params)
        expected = from_start(matching, params)
        # Small pages only where they stay few: every page edge is a chance to skip or repeat.
        limit = rng.choice([size for size in (1, 7, 48, 200) if len(expected) <= size * 12] or [200])
        items, replies = walk(client, limit, **params)
        assert [i["id"] for i in items] == [r["pk"] for r in expected], params
        # The total counts every match of the filters, also those before `start`.
        assert {r["total"] for r in replies} == {len(matching)}, params
        nonempty += bool(expected)
    # The generator must actually exercise matches, not only empty results.
    assert nonempty > COMBINATIONS // 2


def test_facets_match_brute_force(data):
    client = data.client()
    rng = random.Random(7)
    for _ in range(60):
        params = random_params(rng)
        bucket = rng.choice([None, "hour", "day", "week"])
        reply = client.get("/api/facets", query_string={**params, **({"bucket": bucket} if bucket else {})})
        assert reply.status_code == 200, reply.json
        facets = reply.json
        expected = brute_force(data.rows, params)
        assert facets["total"] == len(expected)
        assert {d["device"]: d["count"] for d in facets["devices"]} == collections.Counter(r["device"] for r in expected)
        assert {t["trigger"]: t["count"] for t in facets["triggers"]} == collections.Counter(r["trigger"] for r in expected)
        size = {"hour": 3600, "day": 86400, "week": 7 * 86400}[facets["bucket"]]
        origin = 4 * 86400 if facets["bucket"] == "week" else 0
        bars = collections.Counter(
            (int(r["taken_at"].timestamp()) - origin) // size * size + origin for r in expected)
        got = {int(dt.datetime.fromisoformat(b["start"].replace("Z", "+00:00")).timestamp()): b["count"]
               for b in facets["histogram"]}
        assert got == dict(bars), params
        if bucket:
            assert facets["bucket"] == bucket


@pytest.mark.parametrize("span, bucket", [
    ({"from": "2026-03-01T00:00:00Z", "to": "2026-03-01T20:00:00Z"}, "hour"),
    ({"from": "2026-03-01", "to": "2026-03-20"}, "day"),
    ({"from": "2026-01-01", "to": "2026-12-31"}, "week"),
])
def test_histogram_bucket_follows_the_range(data, span, bucket):
    reply = data.client().get("/api/facets", query_string=span)
    assert reply.json["bucket"] == bucket
    if bucket == "week":
        for bar in reply.json["histogram"]:
            assert dt.datetime.fromisoformat(bar["start"].replace("Z", "+00:00")).weekday() == 0


def test_items_carry_metadata_and_links_but_no_bytes(data):
    reply = data.client().get("/api/captures", query_string={"limit": 5, "sort": "oldest"})
    first = data.rows and brute_force(data.rows, {"sort": "oldest"})[0]
    item = reply.json["items"][0]
    assert set(item) == {"id", "taken_at", "device", "lux", "exposure_us", "analogue_gain", "colour_temp_k",
                         "width", "height", "image_size", "trigger", "thumbnail_url", "image_url",
                         # What the capture knows besides (issue #13): null or the default when unknown.
                         "orientation", "camera_make", "camera_model", "latitude", "longitude", "time_source",
                         "source_name"}
    assert item["id"] == first["pk"] and item["device"] == first["device"]
    assert dt.datetime.fromisoformat(item["taken_at"].replace("Z", "+00:00")) == first["taken_at"]
    assert item["taken_at"].endswith("Z")
    assert (item["lux"], item["exposure_us"], item["analogue_gain"]) == (first["lux"], first["exposure_us"], first["analogue_gain"])
    assert item["thumbnail_url"] == f"/api/captures/{item['id']}/thumbnail"
    assert item["image_url"] == f"/api/captures/{item['id']}/image"
    # No bytes in any form: every item is smaller than its own image (945 bytes; 1,260 in base64),
    # and the listing asks the index for metadata fields only.
    for listed in reply.json["items"]:
        assert len(json.dumps(listed)) < listed["image_size"], listed
    assert set(RETURN_FIELDS) <= set(Capture.model_fields) and not set(RETURN_FIELDS) & set(BINARY_FIELDS)
    assert data.client().get(f"/api/captures/{item['id']}").json == item


def test_default_and_maximum_page_size(data):
    client = data.client(PAGE_SIZE=48, MAX_PAGE_SIZE=200)
    assert len(client.get("/api/captures").json["items"]) == 48
    assert len(client.get("/api/captures?limit=200").json["items"]) == 200
    assert client.get("/api/captures?limit=201").status_code == 400


@pytest.fixture(scope="module")
def odd(make_dataset):
    rows = [dict(device=name, taken_at=START + dt.timedelta(minutes=i)) for i, name in enumerate(ODD_DEVICES)]
    return make_dataset(rows)


@pytest.mark.parametrize("device", ODD_DEVICES)
def test_device_names_with_query_syntax_match_exactly_themselves(odd, device):
    client = odd.client()
    reply = client.get("/api/captures", query_string={"device": device})
    assert reply.status_code == 200, reply.json
    assert [i["device"] for i in reply.json["items"]] == [device]
    facets = client.get("/api/facets", query_string={"device": device}).json
    assert facets["devices"] == [{"device": device, "count": 1}]


def test_several_odd_devices_at_once(odd):
    names = ["a|b", "*", "pi-1)", "Ünï Cødé"]
    reply = odd.client().get("/api/captures", query_string={"device": names, "sort": "oldest"})
    assert sorted(i["device"] for i in reply.json["items"]) == sorted(names)


@pytest.mark.parametrize("sort", ["newest", "oldest"])
def test_start_is_one_keyset_query_however_deep(data, sort, monkeypatch):
    """The scrubber's jump: the page at `start` costs the round trips of a first page, not a walk to it."""
    ordered = brute_force(data.rows, {"sort": sort})
    target = ordered[len(ordered) // 2]
    calls = []
    real = query._execute
    monkeypatch.setattr(query, "_execute", lambda *args: calls.append(args) or real(*args))
    reply = data.client().get("/api/captures", query_string={"sort": sort, "start": iso(target["taken_at"]),
                                                             "limit": 5})
    assert reply.status_code == 200, reply.json
    expected = from_start(ordered, {"sort": sort, "start": iso(target["taken_at"])})
    assert [i["id"] for i in reply.json["items"]] == [r["pk"] for r in expected[:5]]
    assert reply.json["total"] == len(ordered) and reply.json["next_cursor"]
    # One sorted FT.SEARCH, and a tie group's read if the page edge cuts one; before them, newest first, counts
    # of windows back from `start` (index.recent), a first page's probes: none of it a walk to the start.
    probes = [c for c in calls if len(c) == 1 and c[0][1][1:3] == ("LIMIT", 0)]
    assert len(calls) - len(probes) <= 2, calls
    assert len(probes) <= (recent.PROBES if sort == "newest" else 0), probes


@pytest.mark.parametrize("params, parameter", [
    ({"start": "2026-03-02", "cursor": "x"}, "start"),
    ({"start": "yesterday"}, "start"),
    ({"start": "10000-01-01"}, "start"),
    ({"has_gps": "yes"}, "has_gps"),
    ({"camera_make": " "}, "camera_make"),
    ({"exposure_max": "+0.0"}, "exposure_max"),
    ({"exposure_max": " 5"}, "exposure_max"),
    ({"exposure_max": "5_0"}, "exposure_max"),
    ({"limit": "1e1"}, "limit"),
])
def test_bad_new_parameters_are_a_400_naming_them(data, params, parameter):
    reply = data.client().get("/api/captures", query_string=params)
    assert reply.status_code == 400 and reply.json["parameter"] == parameter, reply.json


def test_integral_numbers_spelt_with_a_zero_fraction_are_whole(data):
    # JSON Schema counts 60.0 as an integer, and generated requests send it so.
    assert data.client().get("/api/captures", query_string={"limit": "5.0", "exposure_max": "60.0"}).status_code == 200


def test_a_cursor_is_tied_to_the_new_filters_too(data):
    client = data.client()
    first = client.get("/api/captures", query_string={"camera_make": "NIKON", "has_gps": "true", "limit": 2}).json
    assert first["next_cursor"]
    for other in ({"camera_make": "Nikon", "has_gps": "true"}, {"camera_make": "NIKON", "has_gps": "false"},
                  {"camera_make": "NIKON", "has_gps": "true", "camera_model": "EOS 5D"}):
        reply = client.get("/api/captures", query_string={**other, "limit": 2, "cursor": first["next_cursor"]})
        assert reply.status_code == 400 and reply.json["parameter"] == "cursor", other
    same = client.get("/api/captures", query_string={"has_gps": "true", "camera_make": "NIKON", "limit": 2,
                                                     "cursor": first["next_cursor"]})
    assert same.status_code == 200
