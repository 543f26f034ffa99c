"""Issue #14, time of day across days: time_from/time_to in `tz`, against a brute force by zoneinfo.

The reference reads each capture's local wall-clock time with zoneinfo (datetime.astimezone) and
keeps it when it falls from time_from up to, not including, time_to, across midnight when time_to
is not after time_from. So on the day clocks go forward a skipped local time matches nothing, and
on the day they go back a repeated one matches twice; half- and quarter-hour zones, a zone whose
DST moves by half an hour (Lord Howe) and local mean time with seconds (Berlin's +0:53:28 before
1893) are all exact. Listings are walked page by page to the end and compared id by id, facets
count by count and bar by bar.
"""
from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import random
from typing import Optional
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from api_helpers import UTC, walk
from index import schema, windows
from index.filters import Filters
from models import Capture
from models.capture import day_second
from search_web.params import SearchParams

ZONES = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns",
         "Australia/Lord_Howe", "UTC"]
# Four days around each 2026 change of these zones (UTC): New York and St John's on 8 March and
# 1 November, Berlin on 29 March and 25 October, Lord Howe (+11 to +10:30 and back) on 5 April and 4 October.
DENSE = [dt.datetime(2026, 3, 6, tzinfo=UTC), dt.datetime(2026, 3, 27, tzinfo=UTC), dt.datetime(2026, 4, 3, tzinfo=UTC),
         dt.datetime(2026, 10, 2, tzinfo=UTC), dt.datetime(2026, 10, 23, tzinfo=UTC),
         dt.datetime(2026, 10, 30, tzinfo=UTC)]
# Far from the rest: local mean time before standard time, and DST under the yearly rule in 2400.
FAR = [dt.datetime(1, 1, 2, 12, 7, tzinfo=UTC), dt.datetime(1890, 5, 1, 11, 10, tzinfo=UTC),
       dt.datetime(1890, 5, 1, 11, 6, 32, tzinfo=UTC), dt.datetime(2400, 7, 1, 10, 5, tzinfo=UTC),
       dt.datetime(2400, 12, 1, 10, 5, tzinfo=UTC)]
# (time_from, time_to) as the API takes them; None leaves the parameter out.
WINDOWS = [("06:00", "07:00"), ("22:00", "02:00"), ("12:00", "12:15"), ("02:00", "03:00"), ("02:30", "02:45"),
           ("01:30", "01:31"), ("23:45", "00:00"), ("00:00", "00:15"), (None, "05:30"), ("18:00", None)]
DEVICES = ("pi-garden", "pi-door")


def minutes(text: Optional[str]) -> int:
    return 0 if text is None else int(text[:2]) * 60 + int(text[3:])


def in_window(when: dt.datetime, zone: dt.tzinfo, time_from: Optional[str], time_to: Optional[str]) -> bool:
    """The reference: `when`'s local time of day in `zone`, by zoneinfo, within the window."""
    local = when.astimezone(zone)
    seconds = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
    start, end = minutes(time_from) * 60, minutes(time_to) * 60
    if start == end:
        return True
    return start <= seconds < end if start < end else seconds >= start or seconds < end


def edges() -> list[dt.datetime]:
    """Instants an off-by-one would show: window edges in local time, skipped and repeated times."""
    out = []
    for name in ZONES:
        zone = ZoneInfo(name)
        for day in (dt.datetime(2026, 3, 8), dt.datetime(2026, 3, 29), dt.datetime(2026, 4, 5),
                    dt.datetime(2026, 10, 4), dt.datetime(2026, 10, 25), dt.datetime(2026, 11, 1)):
            for hour, minute, second, micro in ((12, 0, 0, 0), (11, 59, 59, 999999), (12, 15, 0, 0), (12, 14, 59, 500000),
                                                (1, 30, 0, 0), (1, 30, 59, 0), (1, 31, 0, 0), (2, 30, 0, 0),
                                                (2, 44, 59, 0), (2, 59, 59, 0), (0, 0, 0, 0), (23, 59, 59, 999999)):
                for fold in (0, 1):  # a repeated local time twice; a skipped one lands either side of the jump
                    local = day.replace(hour=hour, minute=minute, second=second, microsecond=micro, tzinfo=zone, fold=fold)
                    out.append(local.astimezone(UTC))
    return out


@pytest.fixture(scope="module")
def data(make_dataset):
    rng = random.Random(14)
    times = edges() + FAR
    for start in DENSE:
        when = start
        while when < start + dt.timedelta(days=4):
            times.append(when)
            if rng.random() > 0.2:  # one in five shares its predecessor's instant: ties cross page edges
                when += dt.timedelta(seconds=rng.uniform(60, 900))
    when = dt.datetime(2016, 6, 1, tzinfo=UTC)  # ten years, sparsely: twenty DST changes in Berlin
    while when < dt.datetime(2026, 6, 1, tzinfo=UTC):
        times.append(when)
        when += dt.timedelta(seconds=rng.uniform(1, 3) * 86400)
    return make_dataset([{"device": rng.choice(DEVICES), "taken_at": t} for t in times])


def expected(rows, zone, time_from, time_to, newest=True, lo=None, hi=None) -> list[str]:
    keep = [r for r in rows if in_window(r["taken_at"], zone, time_from, time_to)
            and (lo is None or r["taken_at"] >= lo) and (hi is None or r["taken_at"] <= hi)]
    return [r["pk"] for r in sorted(keep, key=lambda r: (r["taken_at"], r["pk"]), reverse=newest)]


def window_params(name: Optional[str], time_from, time_to) -> dict:
    params = {"time_from": time_from, "time_to": time_to, "tz": name}
    return {k: v for k, v in params.items() if v is not None}


@pytest.mark.parametrize("time_from, time_to", WINDOWS)
@pytest.mark.parametrize("name", ZONES)
def test_walking_a_window_gives_the_zoneinfo_captures(data, name, time_from, time_to):
    want = expected(data.rows, ZoneInfo(name), time_from, time_to)
    items, replies = walk(data.client(), 47, **window_params(name, time_from, time_to))
    assert [i["id"] for i in items] == want
    assert {r["total"] for r in replies} == {len(want)}


@pytest.mark.parametrize("name, time_from, time_to", [("Europe/Berlin", "22:00", "02:00"), ("America/New_York", "01:30", "01:31"),
                                                      ("Australia/Lord_Howe", "02:00", "03:00")])
def test_oldest_first_and_with_other_filters(data, name, time_from, time_to):
    zone = ZoneInfo(name)
    items, _ = walk(data.client(), 31, sort="oldest", **window_params(name, time_from, time_to))
    assert [i["id"] for i in items] == expected(data.rows, zone, time_from, time_to, newest=False)
    lo, hi = dt.datetime(2026, 3, 28, 6, 30, tzinfo=UTC), dt.datetime(2026, 10, 31, 23, tzinfo=UTC)
    items, _ = walk(data.client(), 29, device="pi-door", **{"from": lo.astimezone(zone).isoformat(), "to": hi.isoformat()},
                    **window_params(name, time_from, time_to))
    rows = [r for r in data.rows if r["device"] == "pi-door"]
    assert [i["id"] for i in items] == expected(rows, zone, time_from, time_to, lo=lo, hi=hi)


def test_without_tz_the_window_is_utc(data):
    items, _ = walk(data.client(), 100, time_from="23:30", time_to="00:30")
    assert [i["id"] for i in items] == expected(data.rows, UTC, "23:30", "00:30")


def local_day(zone: ZoneInfo, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The first and last instants of a local calendar day (23 or 25 hours on DST days)."""
    start = dt.datetime.combine(day, dt.time(), zone).astimezone(UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone).astimezone(UTC)
    return start, end - dt.timedelta(microseconds=1)


def test_the_days_clocks_change(data):
    """Berlin's 02:00-03:00 does not exist on 29 March 2026 and happens twice on 25 October."""
    berlin, client = ZoneInfo("Europe/Berlin"), data.client()

    def window_on(day: dt.date, zone: ZoneInfo, time_from: str, time_to: str) -> list[dict]:
        lo, hi = local_day(zone, day)
        return walk(client, 200, **{"from": lo.isoformat(), "to": hi.isoformat()},
                    **window_params(zone.key, time_from, time_to))[0]

    assert window_on(dt.date(2026, 3, 29), berlin, "02:00", "03:00") == []
    autumn = window_on(dt.date(2026, 10, 25), berlin, "02:00", "03:00")
    offsets = {dt.datetime.fromisoformat(i["taken_at"]).astimezone(berlin).utcoffset() for i in autumn}
    assert offsets == {dt.timedelta(hours=2), dt.timedelta(hours=1)}  # both 02:00-03:00s
    # The edge captures at 02:30 local, before and after the change, are both there.
    twice = [dt.datetime(2026, 10, 25, 2, 30, tzinfo=berlin, fold=f).astimezone(UTC) for f in (0, 1)]
    assert {r["pk"] for r in data.rows if r["taken_at"] in twice} <= {i["id"] for i in autumn}
    new_york = ZoneInfo("America/New_York")
    repeated = window_on(dt.date(2026, 11, 1), new_york, "01:30", "01:31")
    assert len({dt.datetime.fromisoformat(i["taken_at"]).astimezone(new_york).utcoffset() for i in repeated}) == 2
    assert window_on(dt.date(2026, 3, 8), new_york, "02:30", "02:45") == []


def bucket_start(when: dt.datetime, zone: dt.tzinfo, bucket: str) -> float:
    local = when.astimezone(zone)
    start = local.replace(minute=0, second=0, microsecond=0)
    if bucket == "day":
        start = start.replace(hour=0, fold=0)
    return start.timestamp()


@pytest.mark.parametrize("time_from, time_to", [("06:00", "07:00"), ("22:00", "02:00"), ("02:00", "03:00"),
                                                ("23:45", "00:00")])
@pytest.mark.parametrize("name", ["Europe/Berlin", "America/St_Johns", "Asia/Kathmandu", "Australia/Lord_Howe"])
def test_facets_count_what_zoneinfo_counts(data, name, time_from, time_to):
    zone = ZoneInfo(name)
    client = data.client()
    everything = client.get("/api/facets", query_string={**window_params(name, time_from, time_to), "bucket": "year"})
    assert everything.status_code == 200, everything.json
    rows = [r for r in data.rows if in_window(r["taken_at"], zone, time_from, time_to)]
    assert everything.json["total"] == len(rows)
    assert {d["device"]: d["count"] for d in everything.json["devices"]} == \
        dict(collections.Counter(r["device"] for r in rows))
    assert sum(bar["count"] for bar in everything.json["histogram"]) == len(rows)
    for start in DENSE:
        lo, hi = start, start + dt.timedelta(days=4)
        # Not Lord Howe's hours: where its clocks go back half an hour, the histogram starts an hour bar at
        # 01:00+10:30, a wall time that never was (the repeated half hour's first bar is 01:00+11:00), with
        # or without a window. Its days are exact.
        for bucket in ("day",) if name == "Australia/Lord_Howe" else ("hour", "day"):
            reply = client.get("/api/facets", query_string={
                **window_params(name, time_from, time_to), "bucket": bucket, "from": lo.isoformat(), "to": hi.isoformat()})
            assert reply.status_code == 200, reply.json
            got = {dt.datetime.fromisoformat(bar["start"]).timestamp(): bar["count"] for bar in reply.json["histogram"]}
            want = collections.Counter(bucket_start(r["taken_at"], zone, bucket) for r in rows if lo <= r["taken_at"] <= hi)
            assert got == dict(want), (bucket, lo)


def test_facets_in_another_zone_than_utc_without_tz(data):
    """Without tz both the window and the bars are UTC."""
    reply = data.client().get("/api/facets", query_string={"time_from": "06:00", "time_to": "07:00", "bucket": "year"})
    assert reply.json["total"] == len(expected(data.rows, UTC, "06:00", "07:00"))


@pytest.mark.parametrize("first, then", [
    ({"time_from": "06:00", "time_to": "07:00"}, {"time_from": "06:00", "time_to": "08:00"}),
    ({"time_from": "06:00", "time_to": "07:00", "tz": "Europe/Berlin"}, {"time_from": "06:00", "time_to": "07:00"}),
    ({"time_from": "06:00", "time_to": "07:00", "tz": "Europe/Berlin"},
     {"time_from": "06:00", "time_to": "07:00", "tz": "Asia/Kolkata"}),
    ({}, {"time_from": "22:00", "time_to": "02:00"}),
    ({"time_from": "22:00", "time_to": "02:00"}, {"time_from": "02:00", "time_to": "22:00"}),
])
def test_a_cursor_keeps_its_window(data, first, then):
    client = data.client()
    cursor = client.get("/api/captures", query_string={**first, "limit": 5}).json["next_cursor"]
    assert cursor
    reply = client.get("/api/captures", query_string={**then, "limit": 5, "cursor": cursor})
    assert reply.status_code == 400 and reply.json["parameter"] == "cursor", reply.json


@pytest.mark.parametrize("first, then", [
    ({"time_from": "18:00"}, {"time_from": "18:00", "time_to": "00:00"}),
    ({"time_to": "05:30"}, {"time_from": "00:00", "time_to": "05:30"}),
    ({"time_from": "00:00", "device": "pi-door"}, {"device": "pi-door"}),  # the whole day is no window
    ({"tz": "Europe/Berlin", "device": "pi-door"}, {"device": "pi-door"}),  # a zone alone changes nothing
])
def test_the_same_window_spelled_differently_keeps_paging(data, first, then):
    client = data.client()
    cursor = client.get("/api/captures", query_string={**first, "limit": 5}).json["next_cursor"]
    reply = client.get("/api/captures", query_string={**then, "limit": 5, "cursor": cursor})
    assert reply.status_code == 200, reply.json


def test_equal_times_are_the_whole_day(data):
    client = data.client()
    whole = client.get("/api/captures", query_string={"time_from": "07:15", "time_to": "07:15", "tz": "Asia/Kolkata"})
    assert whole.status_code == 200 and whole.json["total"] == len(data.rows)


@pytest.mark.parametrize("name, value", [("time_from", "6:00"), ("time_from", "24:00"), ("time_to", "12:60"),
                                         ("time_to", "noon"), ("time_from", "12:00:00"), ("time_to", ""),
                                         ("time_from", " 06:00"), ("time_to", "０６:００")])
@pytest.mark.parametrize("path", ["/api/captures", "/api/facets"])
def test_a_bad_time_is_a_400_naming_it(client, path, name, value):
    reply = client.get(path, query_string={name: value})
    assert reply.status_code == 400, reply.json
    assert reply.json["parameter"] == name and "HH:MM" in reply.json["message"], reply.json


def test_a_time_given_twice_is_a_400(client):
    reply = client.get("/api/captures?time_from=06:00&time_from=07:00")
    assert reply.status_code == 400 and reply.json["parameter"] == "time_from"


def test_an_unknown_zone_on_captures_is_a_400_naming_tz(client):
    reply = client.get("/api/captures", query_string={"time_from": "06:00", "tz": "Mars/Olympus_Mons"})
    assert reply.status_code == 400 and reply.json["parameter"] == "tz"


def clause(data, **params) -> str:
    data.client()  # binds the models to the data
    return windows.time_of_day(SearchParams.model_validate(params).filters())


def test_the_clause_has_one_range_per_stretch_of_constant_offset(data):
    """Ten years of Berlin captures are 21 stretches (two changes a year), grouped by the two offsets."""
    window = {"time_from": "06:00", "time_to": "07:00", "tz": "Europe/Berlin"}
    ten = clause(data, **window, **{"from": "2016-06-01", "to": "2026-05-31"})
    assert ten.count("@taken_at:") == 21 and ten.count("@day_second:") == 2
    one = clause(data, **window, **{"from": "2025-06-01", "to": "2026-05-31"})
    assert one.count("@taken_at:") == 3
    # All of time: only where captures are (year 1, 1890, 2016 to 2026, 2400), never the centuries between.
    everything = clause(data, **window)
    assert everything.count("@taken_at:") < 40, everything
    # A zone whose offset has not changed since 1945 where the captures are needs no taken_at at all.
    assert "@taken_at" not in clause(data, time_from="06:00", tz="Asia/Kolkata", **{"from": "2000-01-01"})
    assert clause(data, time_from="06:00", time_to="07:00") == "@day_second:[21600 25199]"
    assert clause(data, time_from="22:00", time_to="02:00") == "(@day_second:[79200 86399] | @day_second:[0 7199])"


def test_the_model_writes_day_second(store, jpeg):
    when = dt.datetime(2026, 3, 29, 3, 30, 5, 999999, tzinfo=ZoneInfo("Europe/Berlin"))
    capture = Capture.create(jpeg((64, 48)), device="pi", taken_at=when, trigger="manual")
    assert capture.day_second == 1 * 3600 + 30 * 60 + 5 == day_second(when)  # 01:30:05 UTC
    assert Capture.db().hget(capture.key(), "day_second") == "5405"


@pytest.fixture
def older(make_dataset):
    """Captures as an older version stored them, some without day_second; and one the model cannot read."""
    rng = random.Random(5)
    start = dt.datetime(2026, 3, 28, tzinfo=UTC)
    data = make_dataset([{"device": "pi", "taken_at": start + dt.timedelta(seconds=rng.uniform(0, 3 * 86400))}
                         for _ in range(300)])
    conn = Capture.db()
    stripped = data.rows[::3]
    for row in stripped:
        conn.hdel(Capture.make_primary_key(row["pk"]), "day_second")
    # What the capture user may write by hand: a taken_at no capture can have. Left alone.
    conn.hset(Capture.make_primary_key("01JA0000000000000000000000"), mapping={"taken_at": "inf", "device": "pi"})
    schema.wait_indexed()
    data.stripped = {row["pk"] for row in stripped}
    return data


def test_captures_without_day_second_stay_in_unfiltered_results_until_backfilled(older, monkeypatch):
    client = older.client()
    window = {"time_from": "00:00", "time_to": "12:00", "tz": "Europe/Berlin"}
    berlin = ZoneInfo("Europe/Berlin")
    everything, replies = walk(client, 100, **{"from": "2026-03-28", "to": "2026-03-31"})
    assert sorted(i["id"] for i in everything) == sorted(r["pk"] for r in older.rows)
    assert replies[0]["total"] == len(older.rows)
    assert client.get("/api/facets").json["total"] == len(older.rows)
    items, _ = walk(client, 200, **window)
    full = expected(older.rows, berlin, "00:00", "12:00")
    assert [i["id"] for i in items] == [pk for pk in full if pk not in older.stripped]
    assert schema.missing_day_second() == len(older.stripped)

    for key, value in {"REDIS_URL": older.redis_url, "PIGALLERY_KEY_PREFIX": older.prefix}.items():
        monkeypatch.setenv(key, value)
    from pigallery.cli import main

    info = CliRunner().invoke(main, ["index", "info"], catch_exceptions=False)
    assert f"without day_second: {len(older.stripped)} (run `pigallery index backfill`)" in info.output
    # `index create` sees captures without it, though the schema is unchanged, and writes it.
    created = CliRunner().invoke(main, ["index", "create"], catch_exceptions=False)
    assert created.exit_code == 0, created.output
    assert f"day_second written on {len(older.stripped)} of {len(older.rows) + 1} captures" in created.output
    older.client()
    assert schema.missing_day_second() == 0
    items, _ = walk(older.client(), 200, **window)
    assert [i["id"] for i in items] == full
    conn = Capture.db()
    assert conn.hget(Capture.make_primary_key("01JA0000000000000000000000"), "day_second") is None
    again = CliRunner().invoke(main, ["index", "backfill"], catch_exceptions=False)
    assert f"day_second written on 0 of {len(older.rows) + 1} captures" in again.output


def test_backfill_leaves_a_capture_deleted_meanwhile_deleted(older):
    """The write is conditional on the hash still holding the taken_at it was computed from."""
    older.client()
    conn = Capture.db()
    gone = next(iter(older.stripped))
    key = Capture.make_primary_key(gone)
    taken_at = conn.hget(key, "taken_at")
    conn.delete(key)
    script = conn.register_script(schema._BACKFILL)
    script(keys=[key], args=[taken_at, 5])
    assert not conn.exists(key)


def test_filters_dataclass_has_the_window():
    """fingerprint() covers every Filters field: the window is among them."""
    names = {f.name for f in dataclasses.fields(Filters)}
    assert {"time_from", "time_to", "zone"} <= names
