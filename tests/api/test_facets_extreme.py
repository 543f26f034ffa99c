"""Issue #12 items 4 and 5: /api/facets at the calendar's ends, with far-dated captures, by month and year.

Every histogram is compared with a brute force by Python's zoneinfo. zoneinfo cannot hold a local
time outside the years 1 to 9999, and a capture at 0001-01-01T00:00Z is still in year 0 in Los
Angeles (and one at 9999-12-31T23:59Z already in 10000 on Kiritimati, UTC+14), so the reference
moves such instants 400 years inwards, where the calendar (weekdays too) is the same and so is the
zone's offset: before its first change (the earliest any zone has is in 1834) or under the yearly
rule it follows after its last listed one. The year is moved back in the written start.
"""
from __future__ import annotations

import collections
import datetime as dt
import random
import re
import time
from typing import Optional
from zoneinfo import ZoneInfo

import pytest

from api_helpers import UTC
from index.zones import offset_spans

BUCKETS = ("hour", "day", "week", "month", "year")
# The shortest each bucket can be: how many bars a span of captures may need.
SHORTEST = {"hour": 3600, "day": 86400, "week": 7 * 86400, "month": 28 * 86400, "year": 365 * 86400}
CYCLE = dt.timedelta(days=146097)  # 400 Gregorian years
INNER = (dt.datetime(2, 1, 1, tzinfo=UTC), dt.datetime(9998, 12, 31, tzinfo=UTC))

# Edges of local days in the zones below: Los Angeles kept its mean solar time (UTC-7:52:58)
# until 1883, Kiritimati its own (UTC-10:29:20) until 1901, and is UTC+14 today.
EXTREMES = [
    dt.datetime(1, 1, 1, tzinfo=UTC),
    dt.datetime(1, 1, 1, 7, 52, 57, tzinfo=UTC), dt.datetime(1, 1, 1, 7, 52, 58, tzinfo=UTC),
    dt.datetime(1, 1, 1, 12, tzinfo=UTC), dt.datetime(1, 1, 1, 23, 59, 59, 500000, tzinfo=UTC),
    dt.datetime(1, 1, 2, 10, 29, 20, tzinfo=UTC), dt.datetime(1, 1, 8, 3, tzinfo=UTC),
    dt.datetime(1, 2, 1, tzinfo=UTC), dt.datetime(1, 3, 1, 7, 52, 58, tzinfo=UTC),
    dt.datetime(1800, 1, 1, tzinfo=UTC),
    dt.datetime(2026, 3, 1, 9, tzinfo=UTC), dt.datetime(2026, 3, 2, 9, tzinfo=UTC),
    dt.datetime(9999, 11, 30, 10, tzinfo=UTC), dt.datetime(9999, 12, 30, 10, tzinfo=UTC),
    dt.datetime(9999, 12, 31, 9, 59, 59, tzinfo=UTC), dt.datetime(9999, 12, 31, 10, tzinfo=UTC),
    dt.datetime(9999, 12, 31, 12, tzinfo=UTC), dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
    dt.datetime(9999, 12, 31, 23, 59, 59, 500000, tzinfo=UTC),
]
EXTREME_ZONES = [None, "UTC", "America/Los_Angeles", "Pacific/Kiritimati", "Etc/GMT+12", "Etc/GMT-14", "Asia/Kolkata"]
RANGES = [{}, {"to": "0001-01-31"}, {"from": "0001-01-01", "to": "0001-01-01"}, {"from": "9999-12-01"},
          {"from": "9999-12-31T00:00:00Z", "to": "9999-12-31T23:59:59Z"}, {"from": "1800-01-01", "to": "2026-12-31"},
          {"to": "9999-12-31T23:59:59Z"}, {"from": "0001-01-01T00:00:00Z"}, {"from": "2026-03-01T09:00:00Z"}]


def bucket_start(when: dt.datetime, zone: Optional[ZoneInfo], bucket: str) -> str:
    """The written start of the bucket holding `when`, by zoneinfo (UTC with Z without a zone)."""
    years = 400 if when < INNER[0] else -400 if when > INNER[1] else 0
    local = (when + CYCLE * (years // 400)).astimezone(zone or UTC)
    start = local.replace(minute=0, second=0, microsecond=0)  # keeps fold: a repeated hour is its own bar
    if bucket != "hour":
        # Calendar buckets start at the first of two midnights when clocks go back over one.
        start = start.replace(hour=0, fold=0)
        if bucket == "week":
            start -= dt.timedelta(days=start.weekday())
        elif bucket == "month":
            start = start.replace(day=1)
        elif bucket == "year":
            start = start.replace(month=1, day=1)
    # A midnight that clocks skip resolves to the jump itself.
    start = start.astimezone(UTC).astimezone(zone or UTC)
    year = start.year - years
    text = (f"{year:04d}" if 0 <= year <= 9999 else f"{year:+07d}") + start.isoformat()[4:]
    return text if zone else text.replace("+00:00", "Z")


def instant(text: str) -> float:
    """Read a written bucket start as epoch seconds, in year 0 or 10000 too."""
    year, rest = re.fullmatch(r"([+-]\d{6}|\d{4})(-.*)", text).groups()
    years = 400 if int(year) < 1 else -400 if int(year) > 9999 else 0
    moved = dt.datetime.fromisoformat(f"{int(year) + years:04d}{rest}".replace("Z", "+00:00"))
    return moved.timestamp() - CYCLE.total_seconds() * (years // 400)


def expected_bars(rows, zone, bucket) -> dict[str, int]:
    return dict(collections.Counter(bucket_start(r["taken_at"], zone, bucket) for r in rows))


def bound(value: str, end: bool) -> dt.datetime:
    """The instant a from/to value stands for (to: inclusive; a bare date includes the whole day)."""
    if len(value) == 10:
        day = dt.datetime.fromisoformat(value).replace(tzinfo=UTC)
        return day.replace(hour=23, minute=59, second=59, microsecond=999999) if end else day
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def matching(rows, params) -> list[dict]:
    lo = bound(params["from"], False) if "from" in params else None
    hi = bound(params["to"], True) if "to" in params else None
    return [r for r in rows if (lo is None or r["taken_at"] >= lo) and (hi is None or r["taken_at"] <= hi)]


def may_refuse(rows, bucket: str) -> bool:
    """Whether `bucket` could need more bars than one aggregation returns over these captures."""
    if bucket == "year":
        return False  # under one offset, local years run 0 to 9999 or 1 to 10000: never more than 10,000
    span = (max(r["taken_at"] for r in rows) - min(r["taken_at"] for r in rows)).total_seconds()
    return span // SHORTEST[bucket] + 2 > 10_000


def check(reply, rows, zone, bucket: Optional[str]) -> dict:
    """The reply is exact against the brute force; returns it."""
    assert reply.status_code == 200, reply.json
    facets = reply.json
    assert facets["total"] == len(rows)
    assert {d["device"]: d["count"] for d in facets["devices"]} == collections.Counter(r["device"] for r in rows)
    assert {t["trigger"]: t["count"] for t in facets["triggers"]} == collections.Counter(r["trigger"] for r in rows)
    assert bucket is None or facets["bucket"] == bucket
    if rows:
        # A chosen bucket keeps the bars few enough for one aggregation over the data's own span.
        assert not may_refuse(rows, facets["bucket"]), facets["bucket"]
    got = {bar["start"]: bar["count"] for bar in facets["histogram"]}
    assert len(got) == len(facets["histogram"]), "a bucket start written twice"
    assert got == expected_bars(rows, zone, facets["bucket"])
    starts = [instant(bar["start"]) for bar in facets["histogram"]]
    assert starts == sorted(starts)
    return facets


@pytest.fixture(scope="module")
def extremes(make_dataset):
    return make_dataset([{"device": f"pi-{i % 3}", "taken_at": when} for i, when in enumerate(EXTREMES)])


def test_the_issues_example_is_year_0_in_los_angeles(extremes):
    reply = extremes.client().get("/api/facets?to=0001-01-31&tz=America/Los_Angeles")
    assert reply.status_code == 200, reply.json
    assert reply.json["bucket"] == "day"
    # 0001-01-01T00:00Z is 16:07:02 on 31 December of year 0 in Los Angeles' mean solar time.
    assert reply.json["histogram"][0] == {"start": "0000-12-31T00:00:00-07:52:58", "count": 2}


def test_the_last_second_is_year_10000_on_kiritimati(extremes):
    reply = extremes.client().get("/api/facets?from=9999-12-31T10:00:00Z&tz=Pacific/Kiritimati&bucket=year")
    assert reply.status_code == 200, reply.json
    assert reply.json["histogram"] == [{"start": "+010000-01-01T00:00:00+14:00", "count": 4}]


@pytest.mark.parametrize("params", RANGES, ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items()) or "all")
@pytest.mark.parametrize("name", EXTREME_ZONES, ids=lambda n: n or "no-tz")
def test_no_bucket_zone_or_range_is_a_500_and_all_are_exact(extremes, name, params):
    client = extremes.client()
    zone = ZoneInfo(name) if name else None
    rows = matching(extremes.rows, params)
    for bucket in (None, *BUCKETS):
        query = {**params, **({"tz": name} if name else {}), **({"bucket": bucket} if bucket else {})}
        reply = client.get("/api/facets", query_string=query)
        if reply.status_code == 400 and bucket and may_refuse(rows, bucket):
            # Refused only when asked for, naming the bucket and a coarser one that works.
            assert reply.json["parameter"] == "bucket", reply.json
            suggested = reply.json["message"].split("bucket=")[1].split()[0].strip(",;.")
            assert BUCKETS.index(suggested) > BUCKETS.index(bucket) and not may_refuse(rows, suggested)
            continue
        check(reply, rows, zone, bucket)


def test_offset_spans_reach_the_calendars_ends():
    zone = ZoneInfo("America/Los_Angeles")
    first, last = dt.datetime(1, 1, 1, tzinfo=UTC).timestamp(), dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()
    early = offset_spans(zone, first, first + 86400 * 30)
    assert early == [(None, None, -(7 * 3600 + 52 * 60 + 58))]
    late = offset_spans(zone, last - 86400 * 365, last)
    # The yearly rule still holds in 9999: DST from the second Sunday of March (the 14th) to the
    # first of November (the 7th), at 02:00 local.
    assert [(start, offset) for start, _, offset in late[1:]] == [
        (dt.datetime(9999, 3, 14, 10, tzinfo=UTC).timestamp(), -7 * 3600),
        (dt.datetime(9999, 11, 7, 9, tzinfo=UTC).timestamp(), -8 * 3600)]
    assert offset_spans(ZoneInfo("Pacific/Kiritimati"), last - 60, last) == [(None, None, 14 * 3600)]


def test_the_references_400_year_shift_keeps_each_zones_offset():
    for name in EXTREME_ZONES[1:]:
        zone = ZoneInfo(name)
        for when in (dt.datetime(2, 6, 1, tzinfo=UTC), dt.datetime(9598, 3, 14, 10, tzinfo=UTC),
                     dt.datetime(9598, 7, 1, tzinfo=UTC), dt.datetime(9598, 12, 31, 23, tzinfo=UTC)):
            moved = when + CYCLE if when.year < 100 else when - CYCLE
            assert when.astimezone(zone).utcoffset() == moved.astimezone(zone).utcoffset(), (name, when)


# Item 5: one far-dated capture among a week of ordinary ones.
NOW = dt.datetime(2026, 3, 20, 12, tzinfo=UTC)
ORDINARY = [NOW - dt.timedelta(hours=7 * i, minutes=i) for i in range(24)]


@pytest.fixture(scope="module", params=[dt.datetime(1800, 1, 1, tzinfo=UTC), dt.datetime(9999, 6, 1, tzinfo=UTC)],
                ids=["1800", "9999"])
def far(make_dataset, request):
    rng = random.Random(5)
    rows = [{"device": rng.choice(["pi-garden", "pi-door"]), "taken_at": t,
             "trigger": rng.choice(["interval", "motion"])} for t in ORDINARY]
    return make_dataset([*rows, {"device": "pi-old", "taken_at": request.param, "trigger": "import"}])


@pytest.mark.parametrize("params", [
    {}, {"from": (NOW - dt.timedelta(days=7)).isoformat()}, {"device": "pi-door"}, {"trigger": "import"},
    {"from": "1700-01-01"}, {"to": "9999-12-31"},
], ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items()) or "all")
@pytest.mark.parametrize("name", [None, "America/New_York", "Europe/Berlin", "Asia/Kathmandu"], ids=lambda n: n or "no-tz")
def test_a_far_dated_capture_breaks_no_view(far, name, params):
    zone = ZoneInfo(name) if name else None
    reply = far.client().get("/api/facets", query_string={**params, **({"tz": name} if name else {})})
    rows = [r for r in matching(far.rows, params)
            if r["device"] == params.get("device", r["device"]) and r["trigger"] == params.get("trigger", r["trigger"])]
    facets = check(reply, rows, zone, None)
    assert facets["devices"] or not rows


@pytest.mark.parametrize("params, bucket", [
    ({}, "year"),
    ({"from": "2026-03-13", "to": "2026-03-14"}, "hour"),
    ({"from": "2026-03-01", "to": "2026-03-31"}, "day"),
    ({"from": "2026-01-01", "to": "2026-12-31"}, "week"),
    ({"from": "2020-01-01", "to": "2029-12-31"}, "month"),
    ({"from": "1700-01-01", "to": "2100-12-31"}, "year"),
])
def test_the_bucket_follows_the_range_being_viewed(far, params, bucket):
    reply = far.client().get("/api/facets", query_string={**params, "tz": "America/New_York"})
    check(reply, matching(far.rows, params), ZoneInfo("America/New_York"), bucket)


def test_a_bucket_too_fine_for_the_data_is_a_400_saying_which_to_use(far):
    client = far.client()
    years = abs(far.rows[-1]["taken_at"].year - NOW.year)
    refused = ["hour", "day", "week"] + (["month"] if years > 700 else [])
    for bucket in refused:
        reply = client.get("/api/facets", query_string={"bucket": bucket, "tz": "Europe/Berlin"})
        assert reply.status_code == 400 and reply.json["parameter"] == "bucket", reply.json
        advice = "bucket=year" if years > 700 else "bucket=month"
        assert advice in reply.json["message"], reply.json
    for bucket in BUCKETS[len(refused):]:
        check(client.get("/api/facets", query_string={"bucket": bucket, "tz": "Europe/Berlin"}), far.rows,
              ZoneInfo("Europe/Berlin"), bucket)


def test_captures_over_the_whole_calendar_need_no_bucket(make_dataset):
    # One capture every 97 years and some: the auto bucket must still be an answer, never a 400.
    rng = random.Random(3)
    first, last = dt.datetime(1, 1, 1, tzinfo=UTC), dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    times = [first, last] + [first + (last - first) * rng.random() for _ in range(100)]
    data = make_dataset([{"device": "pi", "taken_at": t} for t in times])
    client = data.client()
    for name in ("America/Los_Angeles", "Pacific/Kiritimati", "Etc/GMT+12"):
        started = time.perf_counter()
        reply = client.get("/api/facets", query_string={"tz": name})
        elapsed = time.perf_counter() - started
        check(reply, data.rows, ZoneInfo(name), "year")
        # Offsets are scanned only where captures are: a daily scan of all 10,000 years took 4.9 s in
        # Los Angeles, and gave 16,110 spans to aggregate.
        assert elapsed < 1.5, (name, elapsed)


# Months and years across DST, where the first of a month is itself a change: Havana's clocks go
# back at 01:00 to 00:00 on 1 November 2026 (midnight twice), Asuncion's went forward at 00:00 on
# 1 October 2023 (no midnight), Khandyga's at 00:00 on 1 January 2004 (no New Year's midnight).
CALENDAR_EDGES = {
    "America/Havana": dt.datetime(2026, 11, 1),
    "America/Asuncion": dt.datetime(2023, 10, 1),
    "Asia/Khandyga": dt.datetime(2004, 1, 1),
    "Europe/Berlin": dt.datetime(2026, 11, 1),
    "America/St_Johns": dt.datetime(2026, 3, 1),
}


@pytest.fixture(scope="module")
def calendar(make_dataset):
    rng = random.Random(12)
    times = []
    for name, first in CALENDAR_EDGES.items():
        zone = ZoneInfo(name)
        for wall in (first, first + dt.timedelta(hours=1), first - dt.timedelta(days=31), first.replace(month=1)):
            for fold in (0, 1):
                edge = wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)
                times += [edge + dt.timedelta(seconds=s) for s in (-3600, -0.25, 0, 0.25, 1800)]
        for _ in range(40):
            times.append((first - dt.timedelta(days=60)).replace(tzinfo=UTC) + dt.timedelta(hours=rng.uniform(0, 24 * 120)))
    times += [dt.datetime(2026, 12, 31, 23, 30, tzinfo=UTC), dt.datetime(2027, 1, 1, 0, 30, tzinfo=UTC)]
    return make_dataset([{"device": "pi", "taken_at": t} for t in sorted(set(times))])


@pytest.mark.parametrize("bucket", ["month", "year"])
@pytest.mark.parametrize("name", [*CALENDAR_EDGES, "Asia/Kolkata", "UTC", None])
def test_months_and_years_start_at_local_midnight_across_dst(calendar, name, bucket):
    zone = ZoneInfo(name) if name else None
    client = calendar.client()
    query = {"bucket": bucket, **({"tz": name} if name else {})}
    facets = check(client.get("/api/facets", query_string=query), calendar.rows, zone, bucket)
    for bar in facets["histogram"]:
        local = dt.datetime.fromisoformat(bar["start"].replace("Z", "+00:00")).astimezone(zone or UTC)
        # The first's midnight, or the jump itself when clocks skip it.
        assert local.day == 1 and (local.month == 1 or bucket == "month") and local.minute == 0, bar
    # Filtered to each edge's own days too: the ranges cut through offset spans.
    for edge in CALENDAR_EDGES.values():
        params = {"from": (edge - dt.timedelta(days=2)).date().isoformat(), "to": edge.date().isoformat()}
        check(client.get("/api/facets", query_string={**query, **params}), matching(calendar.rows, params), zone, bucket)
