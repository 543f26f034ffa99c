"""Lux and exposure ranges tested on each capture the other filters match (index.ranges.scan), against
the ranges' own iterators and a brute force, with values on the bounds, missing and infinite."""
from __future__ import annotations

import datetime as dt
import math
import random
from collections import Counter

import pytest

from index import ranges
from index.filters import Filters
from models import Capture, rollups

from api_helpers import START, varied_rows, walk
from test_search import brute_force, iso
from tests.helpers import write_hash

# Few distinct values, so bounds often equal a capture's value (inclusive ranges at their edge).
LUX = [0.0, 0.5, 10.0, 250.5, 1000.0, 20000.0]
EXPOSURES = [100, 2500, 10000, 33333]
COMBINATIONS = 120


@pytest.fixture(scope="module")
def data(make_dataset, tiny_jpeg):
    rng = random.Random(3)
    rows = varied_rows(400, seed=5)
    for row in rows:
        row["lux"] = None if row["lux"] is None else rng.choice(LUX)
        row["exposure_us"] = None if row["exposure_us"] is None else rng.choice(EXPOSURES)
    made = make_dataset(rows)
    # A hand-written hash with an infinite lux and no pk field: the model lists it (its id is in its
    # key), a range with no upper bound holds it.
    conn, when = Capture.db(), START + dt.timedelta(hours=5)
    write_hash(conn, made.prefix, "01JB0000000000000000000000", tiny_jpeg,
               {"device": "pi-garden", "lux": "inf", "exposure_us": "2500"}, when)
    conn.hdel(f"{made.prefix}:capture:01JB0000000000000000000000", "pk")
    rollups.recount_all()  # counts it too, so the rollups stay in step with the index
    made.rows.append(dict(pk="01JB0000000000000000000000", device="pi-garden", trigger="interval",
                          taken_at=when, lux=float("inf"), exposure_us=2500))
    return made


def range_params(rng: random.Random, rows: list[dict]) -> dict:
    params = {}
    if rng.random() < 0.8:
        lo, hi = sorted(rng.sample(LUX, 2))
        params.update({"lux_min": lo, "lux_max": hi} if rng.random() < 0.6 else
                      {rng.choice(["lux_min", "lux_max"]): lo})
    if rng.random() < 0.5 or not params:
        lo, hi = sorted(rng.sample(EXPOSURES, 2))
        params.update({"exposure_min": lo, "exposure_max": hi} if rng.random() < 0.6 else
                      {rng.choice(["exposure_min", "exposure_max"]): hi})
    if rng.random() < 0.5:
        params["device"] = rng.sample(["pi-garden", "pi-door", "pi-attic"], rng.randint(1, 2))
    if rng.random() < 0.3:
        params["trigger"] = [rng.choice(["interval", "motion", "manual"])]
    if rng.random() < 0.6:
        a, b = sorted(rng.sample([r["taken_at"] for r in rows], 2))
        params["from"], params["to"] = iso(a), iso(b)
    return params


def expected_rows(rows: list[dict], params: dict) -> list[dict]:
    """test_search's brute force for all but the ranges, which are read here with an infinite value in."""
    bounds = {k: params[k] for k in ("lux_min", "lux_max", "exposure_min", "exposure_max") if k in params}
    rest = {k: v for k, v in params.items() if k not in bounds}

    def inside(row, field, low, high):
        if low not in bounds and high not in bounds:
            return True
        value = row[field]
        return value is not None and bounds.get(low, -math.inf) <= value <= bounds.get(high, math.inf)

    return [r for r in brute_force(rows, rest)
            if inside(r, "lux", "lux_min", "lux_max") and inside(r, "exposure_us", "exposure_min", "exposure_max")]


@pytest.mark.parametrize("scan_max", [ranges.SCAN_MAX, -1], ids=["tested", "iterated"])
def test_ranges_match_brute_force_both_ways(data, monkeypatch, scan_max):
    """Pages and totals are the brute force's, whether the ranges are tested on each capture or iterated."""
    monkeypatch.setattr(ranges, "SCAN_MAX", scan_max)
    scans = []
    real_scan = ranges.scan
    monkeypatch.setattr(ranges, "scan", lambda filters: scans.append(real_scan(filters)) or scans[-1])
    client, rng = data.client(), random.Random(11)
    extremes = [{"lux_min": -5.0, "lux_max": 3.4125088269555268e16}, {"lux_min": 1e-7}, {"exposure_max": 10**18},
                {"lux_max": -0.0}, {"lux_min": 250.5, "lux_max": 250.5, "exposure_min": 0}]
    for n in range(COMBINATIONS):
        params = {**(extremes[n] if n < len(extremes) else range_params(rng, data.rows)),
                  "sort": rng.choice(["newest", "oldest"])}
        expected = expected_rows(data.rows, params)
        items, replies = walk(client, rng.choice([5, 48]), **params)
        assert [i["id"] for i in items] == [r["pk"] for r in expected], params
        assert {r["total"] for r in replies} == {len(expected)}, params
    tested = [s for s in scans if s is not None]
    # The path under test was taken (or, with SCAN_MAX -1, never), on most pages.
    assert (len(tested) > len(scans) // 2) if scan_max >= 0 else not tested


def test_scan_applies_only_where_the_rollups_count_the_rest(data):
    data.client()  # binds the models to the data
    lux = dict(lux_min=10.0, lux_max=1000.0)
    assert ranges.scan(Filters(**lux, devices=("pi-door",))).expression == "exists(@lux) && @lux >= 10.0 && @lux <= 1000.0"
    assert ranges.scan(Filters(exposure_max=2500)).expression == "exists(@exposure_us) && @exposure_us <= 2500.0"
    # Written as the expression parser reads them exactly: no exponent, no unary minus.
    assert ranges.scan(Filters(lux_min=-5.0, lux_max=3.4125088269555268e16)).expression == (
        "exists(@lux) && @lux >= (0 - 5.0) && @lux <= 34125088269555268")
    assert ranges.scan(Filters(lux_min=1e-7)).expression == "exists(@lux) && @lux >= 0.0000001"
    assert ranges.scan(Filters(devices=("pi-door",))) is None  # no range: the rollups count it all
    assert ranges.scan(Filters(**lux, camera_makes=("Canon",))) is None  # the rest is no rollup count
    assert ranges.scan(Filters(**lux, time_from=60, time_to=120)) is None


def facet_counts(reply) -> tuple:
    assert reply.status_code == 200, reply.json
    f = reply.json
    return (f["total"], {d["device"]: d["count"] for d in f["devices"]},
            {t["trigger"]: t["count"] for t in f["triggers"]}, sum(b["count"] for b in f["histogram"]))


@pytest.mark.parametrize("scan_max", [ranges.SCAN_MAX, -1], ids=["tested", "iterated"])
def test_facets_over_all_time_leave_out_hashes_without_a_readable_time(make_dataset, tiny_jpeg, monkeypatch, scan_max):
    """Facets with no time bounds leave out the times beyond the model's instead of ranging over its own
    (index.facets.matching): a hash without taken_at or at an infinite one is still no bar or count."""
    monkeypatch.setattr(ranges, "SCAN_MAX", scan_max)
    made = make_dataset(varied_rows(150, seed=9))
    conn = Capture.db()
    for pk, fields in (("01JC0000000000000000000001", {"taken_at": "inf"}),
                       ("01JC0000000000000000000002", {"taken_at": "-1e300"})):
        write_hash(conn, made.prefix, pk, tiny_jpeg, {"lux": "5", "exposure_us": "500", **fields}, START)
    no_time = f"{made.prefix}:capture:01JC0000000000000000000003"
    write_hash(conn, made.prefix, "01JC0000000000000000000003", tiny_jpeg, {"lux": "5", "exposure_us": "500"}, START)
    conn.hdel(no_time, "taken_at")
    rollups.recount_all()
    client = made.client()
    for params in ({}, {"lux_min": 0}, {"lux_max": 20000, "exposure_min": 100}, {"exposure_max": 150_000},
                   {"lux_min": 0, "device": "pi-door"}):
        expected = expected_rows(made.rows, params)
        assert facet_counts(client.get("/api/facets", query_string=params)) == (
            len(expected), dict(Counter(r["device"] for r in expected)),
            dict(Counter(r["trigger"] for r in expected)), len(expected)), params


def test_facets_bucket_follows_the_matches_not_the_collection(make_dataset):
    """A lux range whose captures lie within a day of a 200-day collection gets hour bars, as its own span
    says (index.facets._one_pass guesses the bucket from the collection's span and must find it wrong)."""
    near = varied_rows(60, seed=4)
    for row in near:
        row["lux"] = 5.0
    far = [{**row, "taken_at": row["taken_at"] + dt.timedelta(days=200), "lux": 50000.0} for row in varied_rows(60, seed=6)]
    made = make_dataset(near + far)
    client = made.client()
    assert max(r["taken_at"] for r in near) - min(r["taken_at"] for r in near) < dt.timedelta(days=3)
    for params in ({"lux_max": 10}, {"lux_max": 10, "from": iso(START - dt.timedelta(days=1))}):
        reply = client.get("/api/facets", query_string=params)
        assert reply.status_code == 200, reply.json
        assert reply.json["bucket"] == "hour", params
        hours = Counter(int(r["taken_at"].timestamp()) // 3600 * 3600 for r in near)
        got = {int(dt.datetime.fromisoformat(b["start"].replace("Z", "+00:00")).timestamp()): b["count"]
               for b in reply.json["histogram"]}
        assert got == dict(hours), params
    # Matches over the whole collection: the guess holds, week bars.
    assert client.get("/api/facets", query_string={"lux_min": 0}).json["bucket"] == "week"
