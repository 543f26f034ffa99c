"""/api/facets?tz=: histogram bars start at local midnight, hour or Monday, across DST changes."""
from __future__ import annotations

import collections
import datetime as dt
import random
from zoneinfo import ZoneInfo

import pytest

from api_helpers import UTC
from index.zones import offset_spans

# Clocks change in these windows: Europe/Berlin on 29 March and 25 October 2026 (at 01:00 UTC),
# America/St_Johns (UTC-3:30, itself a half-hour zone) on 8 March and 1 November 2026.
WINDOWS = [(dt.datetime(2026, 3, 6, tzinfo=UTC), dt.datetime(2026, 3, 10, tzinfo=UTC)),
           (dt.datetime(2026, 3, 27, tzinfo=UTC), dt.datetime(2026, 3, 31, tzinfo=UTC)),
           (dt.datetime(2026, 10, 23, tzinfo=UTC), dt.datetime(2026, 10, 27, tzinfo=UTC)),
           (dt.datetime(2026, 10, 30, tzinfo=UTC), dt.datetime(2026, 11, 3, tzinfo=UTC))]
BERLIN = ZoneInfo("Europe/Berlin")
ZONES = ["Europe/Berlin", "Asia/Kolkata", "America/St_Johns", "Asia/Kathmandu", "UTC"]


def edges() -> list[dt.datetime]:
    """Instants where an off-by-one bucket would show: around transitions and local midnights."""
    out = []
    for transition in (dt.datetime(2026, 3, 29, 1, tzinfo=UTC), dt.datetime(2026, 10, 25, 1, tzinfo=UTC)):
        out += [transition + dt.timedelta(seconds=s) for s in (-3600.5, -0.001, 0, 0.5, 1799, 3600)]
    for day in (dt.datetime(2026, 3, 29), dt.datetime(2026, 3, 30), dt.datetime(2026, 10, 26)):
        midnight = day.replace(tzinfo=BERLIN).astimezone(UTC)
        out += [midnight + dt.timedelta(seconds=s) for s in (-0.25, 0, 0.25)]
    # The half-hour edges of Kolkata (UTC+5:30): local midnight is 18:30 UTC.
    out += [dt.datetime(2026, 3, 28, 18, 30, tzinfo=UTC) + dt.timedelta(seconds=s) for s in (-1, 0, 1)]
    return out


@pytest.fixture(scope="module")
def data(make_dataset):
    rng = random.Random(11)
    times = list(edges())
    for start, end in WINDOWS:
        when = start
        while when < end:
            times.append(when)
            when += dt.timedelta(seconds=rng.uniform(60, 2400))
    devices = ("pi-garden", "pi-door")
    return make_dataset([{"device": rng.choice(devices), "taken_at": t} for t in times])


def local_start(when: dt.datetime, zone: ZoneInfo, bucket: str) -> float:
    """The bucket a capture belongs to, computed by zoneinfo alone (the reference)."""
    local = when.astimezone(zone)
    if bucket == "hour":
        start = local.replace(minute=0, second=0, microsecond=0)  # keeps fold: the repeated hour is its own
    else:
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        if bucket == "week":
            start -= dt.timedelta(days=start.weekday())
    return start.timestamp()


def expected_bars(rows, zone: ZoneInfo, bucket: str, lo=None, hi=None) -> dict[float, int]:
    return dict(collections.Counter(local_start(r["taken_at"], zone, bucket) for r in rows
                                    if (lo is None or r["taken_at"] >= lo) and (hi is None or r["taken_at"] <= hi)))


def got_bars(reply, zone: ZoneInfo, bucket: str) -> dict[float, int]:
    assert reply.status_code == 200, reply.json
    assert reply.json["bucket"] == bucket
    bars = {}
    for bar in reply.json["histogram"]:
        start = dt.datetime.fromisoformat(bar["start"])
        # The offset written is the zone's own at that instant, and the wall time is a bucket edge.
        assert start.utcoffset() == start.astimezone(zone).utcoffset(), bar
        local = start.astimezone(zone)
        assert (local.minute, local.second) == (0, 0) and (bucket == "hour" or local.hour == 0), bar
        assert bucket != "week" or local.weekday() == 0, bar
        bars[start.timestamp()] = bar["count"]
    return bars


@pytest.mark.parametrize("bucket", ["hour", "day", "week"])
@pytest.mark.parametrize("name", ZONES)
def test_local_buckets_match_zoneinfo(data, name, bucket):
    zone = ZoneInfo(name)
    reply = data.client().get("/api/facets", query_string={"tz": name, "bucket": bucket})
    assert got_bars(reply, zone, bucket) == expected_bars(data.rows, zone, bucket)


@pytest.mark.parametrize("name", ZONES)
def test_filtered_ranges_match_zoneinfo(data, name):
    zone = ZoneInfo(name)
    client = data.client()
    rng = random.Random(name)
    for _ in range(8):
        start, end = rng.choice(WINDOWS)
        lo = start + dt.timedelta(hours=rng.uniform(-6, 90))
        hi = lo + dt.timedelta(hours=rng.uniform(1, 80))
        for bucket in ("hour", "day", "week"):
            query = {"tz": name, "bucket": bucket, "device": "pi-door",
                     "from": lo.astimezone(zone).isoformat(), "to": hi.isoformat()}
            rows = [r for r in data.rows if r["device"] == "pi-door"]
            assert got_bars(client.get("/api/facets", query_string=query), zone, bucket) == \
                expected_bars(rows, zone, bucket, lo, hi), query


def test_berlin_dst_days_are_23_and_25_hours(data):
    bars = data.client().get("/api/facets", query_string={"tz": "Europe/Berlin", "bucket": "day"}).json["histogram"]
    starts = [bar["start"] for bar in bars]
    assert {"2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00",
            "2026-10-25T00:00:00+02:00", "2026-10-26T00:00:00+01:00"} <= set(starts)
    spring = next(bar for bar in bars if bar["start"] == "2026-03-29T00:00:00+01:00")
    day = (dt.datetime(2026, 3, 28, 23, tzinfo=UTC), dt.datetime(2026, 3, 29, 22, tzinfo=UTC))  # 23 hours
    assert spring["count"] == sum(day[0] <= r["taken_at"] < day[1] for r in data.rows)


def test_the_repeated_hour_is_two_bars(data):
    bars = data.client().get("/api/facets", query_string={
        "tz": "Europe/Berlin", "bucket": "hour", "from": "2026-10-25", "to": "2026-10-25"}).json["histogram"]
    assert {"2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00"} <= {bar["start"] for bar in bars}


def test_without_tz_bars_stay_utc(data):
    bars = data.client().get("/api/facets", query_string={"bucket": "day"}).json["histogram"]
    assert bars and all(bar["start"].endswith("T00:00:00Z") for bar in bars)


@pytest.mark.parametrize("name, changes", [
    ("Europe/Berlin", [dt.datetime(2026, 3, 29, 1, tzinfo=UTC), dt.datetime(2026, 10, 25, 1, tzinfo=UTC)]),
    ("America/St_Johns", [dt.datetime(2026, 3, 8, 5, 30, tzinfo=UTC), dt.datetime(2026, 11, 1, 4, 30, tzinfo=UTC)]),
    ("Asia/Kolkata", []),
    ("UTC", []),
])
def test_offset_spans_split_at_each_change(name, changes):
    zone = ZoneInfo(name)
    lo, hi = dt.datetime(2026, 1, 1, 0, 0, 0, 250000, tzinfo=UTC), dt.datetime(2026, 12, 31, 23, 59, 59, 5, tzinfo=UTC)
    spans = offset_spans(zone, lo.timestamp(), hi.timestamp())
    assert [start for start, _, _ in spans[1:]] == [c.timestamp() for c in changes]
    assert spans[0][0] is None and spans[-1][1] is None
    def offset_at(t: float) -> float:
        return dt.datetime.fromtimestamp(t, zone).utcoffset().total_seconds()

    for start, end, offset in spans:
        # Constant from the span's first second to its last one.
        first = lo.timestamp() if start is None else start
        last = hi.timestamp() if end is None else end - 0.001
        assert offset_at(first) == offset_at(last) == offset


@pytest.mark.parametrize("tz", ["Mars/Olympus_Mons", "europe/berlin", "Europe/Berlin ", "", "/etc/localtime",
                                "../../etc/passwd", "Europe/Berlin\x00"])
def test_unknown_zone_is_400_naming_tz(client, tz):
    reply = client.get("/api/facets", query_string={"tz": tz})
    assert reply.status_code == 400, reply.json
    assert reply.json["parameter"] == "tz" and "time zone" in reply.json["message"]


def test_tz_given_twice_is_400(client):
    reply = client.get("/api/facets?tz=UTC&tz=Europe/Berlin")
    assert reply.status_code == 400 and reply.json["parameter"] == "tz"
