"""Facets, stats and page totals served from the rollups (index.rollups) against brute force (issue #11).

One dataset stored through the model: odd device names, every trigger, quarter-hour edges, bursts of
equal taken_at, captures that expire (ttl=1) or are deleted through the API, and ids saved twice.
Every answer is compared with (a) a count in plain Python over the captures still alive and (b) the
same request answered by FT.AGGREGATE alone (index.rollups.applies / tally made to say no), and each
test checks the rollups really answered, so none can pass by testing the fallback twice.
"""
from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from zoneinfo import ZoneInfo

import pytest

import index.facets
import index.rollups
from capture import synthetic
from models import Capture, TRIGGERS, bulk, db, rollups as counts
from index.filters import Filters
from models.rollups import BANDED
from tests.helpers import wait_for, write_hash

from api_helpers import START, UTC, Dataset, walk

AUTH = {"Authorization": "Bearer test-token"}
# Series names hold `:`; `|`, spaces and quotes are tag syntax; case twins must stay apart, and
# ties between them sort as FT.AGGREGATE sorts.
DEVICES = ("pi-garden", "two words", "cam:1", "a|b", "pi:c|x,y", "Ünï Cødé", "ünï cødé", "日本 カメラ",
           "📷", "Pi-Door", "pi-door", 'say "cheese"', "back\\slash", "*")
ZONES = (None, "Europe/Berlin", "America/New_York", "Asia/Kathmandu", "Asia/Kolkata", "Australia/Lord_Howe")
BUCKETS = (None, "hour", "day", "week", "month", "year")
QUARTER = 900
TIE_DAY = dt.datetime(2026, 3, 20, tzinfo=UTC)
BEGIN = START  # 2026-03-01: ten days of captures around New York's DST change (8 March, 07:00 UTC)
# Clock changes and year ends captures crowd around: New York, Berlin (29 March), Lord Howe
# (+11 -> +10:30 on 4 April 15:00 UTC), New Year in Kathmandu (+05:45) and in UTC.
EDGES = tuple(dt.datetime(*when, tzinfo=UTC) for when in
              ((2026, 3, 8, 7), (2026, 3, 29, 1), (2026, 4, 4, 15), (2025, 12, 31, 18, 15), (2026, 1, 1)))


def quarter(rng: random.Random, days: float = 10) -> dt.datetime:
    return BEGIN + dt.timedelta(seconds=rng.randrange(int(days * 86400 / QUARTER)) * QUARTER)


# The banded fields, their edges, and the filter parameters of their ranges.
BAND_EDGES = {name: edges for name, _, edges in BANDED}
BOUNDS = {"lux": ("lux_min", "lux_max"), "exposure_us": ("exposure_min", "exposure_max")}


def band_of(field: str, value: float) -> str:
    """The band of `field` holding `value`, by its definition: how many edges are at or below it."""
    return str(sum(value >= edge for edge in BAND_EDGES[field]))


def lux(rng: random.Random):
    """None, a band's edge exactly, or anywhere from starlight to past the last edge."""
    pick = rng.random()
    if pick < 0.1:
        return None
    if pick < 0.35:
        return float(rng.choice(BAND_EDGES["lux"]))
    return round(10 ** rng.uniform(-3, 5.5), rng.choice([1, 3, 6]))


def exposure(rng: random.Random):
    """None, a band's edge exactly, or anywhere from 1 us to 30 s (whole microseconds, as the model's)."""
    pick = rng.random()
    if pick < 0.1:
        return None
    if pick < 0.35:
        return rng.choice(BAND_EDGES["exposure_us"])
    return int(10 ** rng.uniform(0, 7.5))


def make_rows(rng: random.Random) -> list[dict]:
    times = [BEGIN + dt.timedelta(seconds=rng.uniform(0, 10 * 86400)) for _ in range(220)]
    for _ in range(30):  # on a quarter hour's first instant, and just before it
        edge = quarter(rng)
        times += [edge, edge - dt.timedelta(microseconds=rng.choice([1, 500_000]))]
    for _ in range(6):  # bursts of equal taken_at, some of them on a quarter hour
        times += [rng.choice([quarter(rng), times[rng.randrange(len(times))]])] * rng.randint(3, 8)
    for edge in EDGES:
        times += [edge + dt.timedelta(seconds=rng.uniform(-4 * 3600, 4 * 3600)) for _ in range(10)]
        times += [edge, edge + dt.timedelta(minutes=10)]  # in Lord Howe's repeated half hour, for one
    rows = [{"device": rng.choice(DEVICES), "trigger": rng.choice(TRIGGERS), "taken_at": t, "lux": lux(rng),
             "exposure_us": exposure(rng)} for t in times]
    # TIE_DAY: two captures of every device, so their counts tie and their order is by name alone.
    rows += [{"device": device, "trigger": TRIGGERS[n % 5], "taken_at": TIE_DAY + dt.timedelta(minutes=7 * n + k)}
             for n, device in enumerate(DEVICES) for k in range(2)]
    for row in rng.sample(rows, 30):
        row["ttl"] = 1  # gone before the first request
    for row in rng.sample([r for r in rows if "ttl" not in r], 8):
        row["ttl"] = 3600  # counted as expiring, still alive
    return rows


class World:
    """The dataset and what is alive in it: pk -> device, trigger, taken_at, stored sizes."""

    def __init__(self, data: Dataset, rows: list[dict], images: list[bytes]):
        self.data, self.client, self.alive = data, data.client(), {}
        conn = db.raw()
        groups = [rows[i::len(images)] for i in range(len(images))]  # each image its own sizes
        stored = [pair for group, image in zip(groups, images) for pair in zip(group, bulk.store_many(group, image))]
        for row, pk in stored:
            if row.get("ttl") != 1:  # those may be gone already: a batch can take over a second
                self.alive[pk] = self.fields(conn, pk, row)
        doomed = [pk for row, pk in stored if row.get("ttl") == 1]
        # A live capture saved again with ttl=1: it must leave the counts when that passes.
        pk = next(pk for row, pk in stored if "ttl" not in row)
        Capture.create(images[2], pk=pk, ttl=1, device="cam:1", trigger="motion", taken_at=EDGES[2])
        doomed.append(pk)
        wait_for(lambda: not any(conn.exists(Capture.make_primary_key(pk)) for pk in doomed), 10, "ttl=1 keys to go")
        for pk in doomed:
            self.alive.pop(pk, None)
        # An expired id written again before anything settled it, without a TTL: counted once, kept.
        again = Capture.create(images[0], pk=doomed[0], device="pi-garden", trigger="manual", taken_at=EDGES[0])
        self.alive[again.pk] = self.fields(conn, again.pk, {"device": "pi-garden", "trigger": "manual",
                                                            "taken_at": EDGES[0]})
        # A live capture saved again under its id, moved in time, device and trigger.
        pk = next(pk for pk, c in self.alive.items() if c["trigger"] != "gpio" and pk != again.pk)
        moved = {"device": "📷", "trigger": "gpio", "taken_at": BEGIN + dt.timedelta(days=4, seconds=1),
                 "lux": 20000.0, "exposure_us": 10000}
        Capture.create(images[1], pk=pk, **moved)
        self.alive[pk] = self.fields(conn, pk, moved)
        for pk in random.Random(3).sample(sorted(self.alive), 20):
            assert self.client.delete(f"/api/captures/{pk}", headers=AUTH).status_code == 204
            del self.alive[pk]

    @staticmethod
    def fields(conn, pk: str, row: dict) -> dict:
        sizes = conn.hmget(Capture.make_primary_key(pk), "image_size", "thumbnail_size")
        return {"device": row["device"], "trigger": row["trigger"], "t": row["taken_at"].timestamp(),
                "lux": row.get("lux"), "exposure_us": row.get("exposure_us"),
                "image_size": int(sizes[0]), "thumbnail_size": int(sizes[1])}

    def matching(self, params: dict) -> list[tuple[str, dict]]:
        """The alive captures `params` (device, trigger, from, to, lux and exposure bounds) pick, newest first
        (ties by id).

        `from` is inclusive; `to` too as an instant, and as a bare date it takes that whole day.
        """
        def at(value: str) -> float:
            return dt.datetime.fromisoformat(value + "T00:00Z" if len(value) == 10 else value).timestamp()

        since = at(params["from"]) if "from" in params else -float("inf")
        to = params.get("to", "")
        chosen = [(pk, c) for pk, c in self.alive.items()
                  if (not params.get("device") or c["device"] in params["device"])
                  and (not params.get("trigger") or c["trigger"] in params["trigger"]) and c["t"] >= since
                  and (not to or (c["t"] < at(to) + 86400 if len(to) == 10 else c["t"] <= at(to)))
                  and all(in_range(c, field, params) for field in BOUNDS)]
        return sorted(chosen, key=lambda item: (item[1]["t"], item[0]), reverse=True)


@pytest.fixture(scope="module")
def world(make_dataset):
    images = [synthetic.render(START, size, detail=detail)[0] for size, detail in
              (((32, 24), 1.0), ((64, 48), 0.5), ((80, 60), 1.0))]
    data = make_dataset([])
    return World(data, make_rows(random.Random(2026)), images)


@pytest.fixture
def tallies(monkeypatch):
    """How many tallies the rollups answered (not None), of them for facets, and how many histograms,
    while the test runs."""
    seen = Counter()

    def counted(name: str, answer):
        def wrapper(*args, **kw):
            result = answer(*args, **kw)
            seen[name] += result is not None
            # facets() asks for its filters' tally leaving band parts to itself (parts=False);
            # the other tallies are stats, page totals and what ranges.scan or the parts ask.
            seen["facets"] += name == "tally" and result is not None and kw.get("parts") is False
            return result
        return wrapper

    for name in ("tally", "histogram"):
        monkeypatch.setattr(index.rollups, name, counted(name, getattr(index.rollups, name)))
    return seen


def iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def in_range(capture: dict, field: str, params: dict) -> bool:
    """Whether `capture` is within the range of `field` that `params` give (none: every capture is)."""
    low, high = (params.get(name) for name in BOUNDS[field])
    if low is None and high is None:
        return True
    value = capture[field]
    return value is not None and (low is None or value >= low) and (high is None or value <= high)


def band_range(rng: random.Random, field: str) -> dict:
    """A range of `field` holding bands whole (the rollups count it), its ends on edges or cutting into
    the bands beside, or open."""
    edges = BAND_EDGES[field]
    i, j = sorted(rng.sample(range(len(edges)), 2))
    if rng.random() < 0.3:  # one band whole: most matches may lie in the parts beside it
        j = i + 1
    low, high = edges[i], edges[j]
    if i and rng.random() < 0.5:
        low -= rng.uniform(0, low - edges[i - 1])
    if j + 1 < len(edges) and rng.random() < 0.5:
        high += rng.uniform(0, edges[j + 1] - high)
    if field == "exposure_us":  # the API takes whole microseconds
        low, high = int(low), int(high)
    bounds = dict(zip(BOUNDS[field], (low, high)))
    if rng.random() < 0.2:
        del bounds[rng.choice(list(bounds))]
    return bounds


def random_params(rng: random.Random, world: World) -> dict:
    """Devices, triggers and a range of every kind the rollups must cut exactly."""
    params: dict = {}
    if rng.random() < 0.5:
        params["device"] = rng.sample(DEVICES + ("nobody",), rng.randint(1, 3))
    if rng.random() < 0.4:
        params["trigger"] = rng.sample(TRIGGERS, rng.randint(1, 2))
    if rng.random() < 0.4:
        params.update(band_range(rng, rng.choice(list(BOUNDS))))
    lo = BEGIN.timestamp() + rng.uniform(-86400, 10 * 86400)
    kind = rng.choice(["open", "from", "to", "odd", "odd", "aligned", "dates", "short", "short-aligned", "capture"])
    if kind == "aligned":  # quarter-hour instants; `to` is inclusive, so a capture at it counts
        lo = lo // QUARTER * QUARTER
        params["from"], params["to"] = iso(lo), iso(lo + rng.randint(2, 400) * QUARTER)
    elif kind == "dates":
        params["from"] = dt.datetime.fromtimestamp(lo, UTC).date().isoformat()
        params["to"] = dt.datetime.fromtimestamp(lo + rng.uniform(0, 5 * 86400), UTC).date().isoformat()
    elif kind in ("short", "short-aligned"):  # under 30 minutes: the index counts all of it
        if kind == "short-aligned":
            lo = lo // QUARTER * QUARTER
        params["from"], params["to"] = iso(lo), iso(lo + rng.choice([1, 899, 900, 1799, 1800]))
    elif kind == "capture":  # from and to exactly on captures' instants
        t = sorted(rng.sample([c["t"] for c in world.alive.values()], 2))
        params["from"], params["to"] = iso(t[0]), iso(t[1])
    elif kind != "open":
        lo = round(lo, rng.choice([0, 3, 6]))
        hi = lo + rng.uniform(1, 6 * 86400)
        params["from"], params["to"] = iso(lo), iso(round(hi, 6))
        if kind in ("from", "to"):
            del params["to" if kind == "from" else "from"]
    return params


def expected_bars(matches: list[tuple[str, dict]], bucket: str, zone) -> dict[float, int]:
    """Bars by zoneinfo: the local hour, day, Monday, 1st or 1 January each capture falls in.

    An hour is read under the offset the capture itself has, as index.facets keys hours: after Lord
    Howe's clocks go back half an hour, 15:10 UTC (01:40, +10:30) is in the hour from 14:30 UTC
    (both paths write that bar "01:30+11:00", measured), not zoneinfo's 01:00 (14:00 UTC).
    """
    bars = Counter()
    for _, c in matches:
        local = dt.datetime.fromtimestamp(c["t"], zone)
        if bucket == "hour":  # the local hour under the offset at the capture (a bar per instant hour)
            offset = local.utcoffset().total_seconds()
            bars[(c["t"] + offset) // 3600 * 3600 - offset] += 1
            continue
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        if bucket == "week":
            start -= dt.timedelta(days=start.weekday())
        elif bucket in ("month", "year"):
            start = start.replace(day=1, month=1 if bucket == "year" else start.month)
        bars[start.timestamp()] += 1
    return dict(bars)


def check_facets(world: World, query: dict, matches: list[tuple[str, dict]]) -> dict:
    reply = world.client.get("/api/facets", query_string=query)
    assert reply.status_code == 200, (query, reply.json)
    got = reply.json
    assert got["total"] == len(matches), query
    for name, key in (("devices", "device"), ("triggers", "trigger")):
        per = Counter(c[key] for _, c in matches)
        assert {row[key]: row["count"] for row in got[name]} == per, (query, name)
        assert [row["count"] for row in got[name]] == sorted(per.values(), reverse=True), query
    if matches and not {"bucket", "from", "to"} & set(query):  # chosen from the matches' own span
        times = [c["t"] for _, c in matches]
        assert got["bucket"] == index.facets.auto_bucket(max(times) - min(times)), query
    zone = ZoneInfo(query["tz"]) if query.get("tz") else UTC
    bars = {dt.datetime.fromisoformat(b["start"].replace("Z", "+00:00")).timestamp(): b["count"]
            for b in got["histogram"]}
    assert bars == expected_bars(matches, got["bucket"], zone), query
    return got


def test_facets_from_rollups_equal_brute_force_and_the_index(world, tallies, monkeypatch):
    rng = random.Random(11)
    combos = [random_params(rng, world) for _ in range(60)]
    # Across each clock change and year end, in every zone, by hour and day: where offsets bite.
    queries = [{"from": iso(edge.timestamp() - 3 * 3600 - 7.5), "to": iso(edge.timestamp() + 5 * 3600 + 0.25),
                "bucket": bucket, "tz": zone} for edge in EDGES for zone in ZONES[1:] for bucket in ("hour", "day")]
    queries.append({"from": TIE_DAY.date().isoformat(), "to": TIE_DAY.date().isoformat(), "bucket": "hour"})
    ties = Counter(c["device"] for _, c in world.matching(queries[-1]))
    assert len(set(ties.values())) < len(ties) - 3, ties  # ties are there to be ordered
    for params in combos:
        bucket, zone = rng.choice(BUCKETS), rng.choice(ZONES)
        queries.append({**params, **({"bucket": bucket} if bucket else {}), **({"tz": zone} if zone else {})})
    answers = [check_facets(world, q, world.matching(q)) for q in queries]
    # Every combination is only devices, triggers, times and a lux or exposure range holding a band: the
    # rollups answered each one, and drew the histogram of each that spans whole quarter hours
    # (measured: most of them).
    assert tallies["facets"] == len(queries)
    for field, names in BOUNDS.items():
        assert sum(any(name in q for name in names) for q in queries) >= 8, field
    assert tallies["histogram"] >= len(queries) // 2, tallies
    assert sum(a["total"] > 0 for a in answers) >= len(queries) // 2  # not a test of empty answers
    with monkeypatch.context() as patch:
        patch.setattr(index.rollups, "applies", lambda filters: False)
        for query, answer in zip(queries, answers):
            assert world.client.get("/api/facets", query_string=query).json == answer, query
    assert tallies["facets"] == len(queries)  # the second round never asked the rollups


def stats_of(world: World) -> dict:
    reply = world.client.get("/api/stats")
    assert reply.status_code == 200, reply.json
    return {k: v for k, v in reply.json.items() if k != "index"}


def check_stats(world: World) -> dict:
    got = stats_of(world)
    alive = list(world.alive.values())
    per = Counter(c["device"] for c in alive)
    assert got["total"] == len(alive)
    assert {row["device"]: row["count"] for row in got["devices"]} == per
    assert [row["count"] for row in got["devices"]] == sorted(per.values(), reverse=True)
    # FT.AGGREGATE's MIN and MAX reply with 12 significant digits (measured: ...105.992094 comes
    # back ...105.99), on both paths: oldest and newest are exact to 10 ms in 2026, no finer.
    for name, pick in (("oldest", min), ("newest", max)):
        assert dt.datetime.fromisoformat(got[name]).timestamp() == float(f"{pick(c['t'] for c in alive):.12g}")
    assert got["image_bytes"] == sum(c["image_size"] for c in alive)
    assert got["thumbnail_bytes"] == sum(c["thumbnail_size"] for c in alive)
    return got


def test_stats_from_rollups_equal_brute_force_and_the_index(world, tallies, monkeypatch):
    got = check_stats(world)
    assert tallies["tally"] == 1
    with monkeypatch.context() as patch:
        patch.setattr(index.rollups, "tally", lambda *args, **kw: None)
        assert stats_of(world) == got


def check_pages(world: World, rng: random.Random, rounds: int) -> None:
    for _ in range(rounds):
        params = random_params(rng, world)
        sort = rng.choice(["newest", "oldest"])
        expected = len(world.matching(params))
        # A listing begun at an instant (the timeline's scrubber) still counts every match.
        start = {"start": iso(rng.choice(list(world.alive.values()))["t"])} if rng.random() < 0.3 else {}
        first = world.client.get("/api/captures", query_string={**params, **start, "sort": sort, "limit": 5})
        assert first.status_code == 200, first.json
        assert first.json["total"] == expected, params
        if first.json["next_cursor"]:  # a keyset page counts the whole filters too
            query = {**params, "sort": sort, "limit": 5, "cursor": first.json["next_cursor"]}
            assert world.client.get("/api/captures", query_string=query).json["total"] == expected, params


def test_page_totals_and_cursor_walks_equal_brute_force(world, tallies):
    check_pages(world, random.Random(5), 25)
    assert tallies["tally"] >= 25
    walks = [{}, {"device": ["a|b", "日本 カメラ", "pi:c|x,y"]},
             {"from": iso(BEGIN.timestamp() + 86400 + 0.25), "to": (BEGIN + dt.timedelta(days=5)).date().isoformat()},
             {"device": ["two words"], "from": iso(BEGIN.timestamp() + 3 * 86400), "to": iso(EDGES[0].timestamp())}]
    for params in walks:
        expected = [pk for pk, _ in world.matching(params)]
        assert expected, params
        for sort, order in (("newest", expected), ("oldest", expected[::-1])):
            items, replies = walk(world.client, 23, sort=sort, **params)
            assert [item["id"] for item in items] == order, (params, sort)
            assert {reply["total"] for reply in replies} == {len(expected)}, (params, sort)


def test_out_of_step_rollups_fall_back_and_a_recount_brings_them_back(world, tallies):
    """Last: the hash written around the model stays, alive, for the rest of the module."""
    conn, when = db.raw(), BEGIN + dt.timedelta(days=2, seconds=17)
    pk = "0" * 25 + "1"
    image = synthetic.render(START, (32, 24))[0]
    write_hash(conn, world.data.prefix, pk, image, {"device": "a|b", "lux": "5"}, when)  # on a band's edge
    wait_for(lambda: world.client.get("/api/stats").json["total"] == len(world.alive) + 1, 10, "the hash indexed")
    world.alive[pk] = {"device": "a|b", "trigger": "interval", "t": when.timestamp(), "lux": 5.0, "exposure_us": None,
                       "image_size": len(image), "thumbnail_size": len(image)}
    rng = random.Random(8)
    for step in ("out of step", "recounted"):
        tallies.clear()
        check_stats(world)
        check_pages(world, rng, 8)
        for params in [random_params(rng, world) for _ in range(8)] + [{"device": ["a|b"]}]:
            check_facets(world, params, world.matching(params))
        if step == "out of step":
            assert tallies["tally"] == 0  # every answer above came from the index
            assert counts.counted() == len(world.alive) - 1
            assert counts.recount_all() == len(world.alive)
    assert tallies["tally"] >= 10


def test_tally_totals_and_spans_with_band_ranges_equal_brute_force(world):
    """The span (oldest, newest) the rollups give a lux or exposure range, whose matches may lie in the
    bands it holds whole, in the parts it cuts into, or only in those parts; it picks facets' bucket."""
    rng = random.Random(21)
    only_in_parts = Counter()
    for _ in range(300):
        field = rng.choice(list(BOUNDS))
        bounds = band_range(rng, field)
        since = BEGIN.timestamp() + rng.uniform(-86400, 9 * 86400) if rng.random() < 0.5 else None
        until = since + rng.uniform(600, 5 * 86400) if since is not None and rng.random() < 0.7 else None
        filters = Filters(since=since, until=until, devices=tuple(rng.sample(DEVICES, rng.randint(1, 2))), **bounds)
        assert index.rollups.applies(filters)
        got = index.rollups.tally(filters)
        matches = [c for c in world.alive.values() if c["device"] in filters.devices and in_range(c, field, bounds)
                   and (since is None or c["t"] >= since) and (until is None or c["t"] < until)]
        assert got.total == len(matches), filters
        if matches:  # FT.AGGREGATE's MIN and MAX: 12 significant digits (see check_stats)
            assert (got.oldest, got.newest) == tuple(float(f"{pick(c['t'] for c in matches):.12g}")
                                                     for pick in (min, max)), filters
            whole, _ = index.rollups.bands(field, *(bounds.get(name) for name in BOUNDS[field]))
            only_in_parts[field] += not any(band_of(field, c[field]) in whole for c in matches)
        if since is None and until is None:  # facets' bucket then follows the matches' span
            query = {"device": list(filters.devices), **bounds}
            check_facets(world, query, world.matching(query))
    assert min(only_in_parts[field] for field in BOUNDS) >= 3, only_in_parts  # only where a range cuts into a band


@pytest.mark.parametrize("path", ["bucket guessed wrong", "parts counted by the tally"])
def test_facets_read_band_parts_apart_when_one_pass_does_not_serve(world, tallies, monkeypatch, path):
    """facets()' other ways to the band parts a range cuts into: its one pass over them guessed a
    bucket the matches prove wrong (the bars are read again), or did not apply (the tally counts
    them, the bars come apart)."""
    one_pass = index.facets._cut
    if path == "bucket guessed wrong":  # the data spans 10 days: "year" is never the auto bucket
        monkeypatch.setattr(index.facets, "_cut", lambda tally, filters, bucket, zone:
                            one_pass(tally, filters, bucket or "year", zone))
    else:
        monkeypatch.setattr(index.facets, "_cut", lambda *args: None)
    rng = random.Random(31)
    queries = []
    while len(queries) < 20:
        field = rng.choice(list(BOUNDS))
        bounds = band_range(rng, field)
        _, cut_into = index.rollups.bands(field, *(bounds.get(name) for name in BOUNDS[field]))
        if cut_into:  # only ranges that cut into a band
            queries.append({**bounds, **({"device": rng.sample(DEVICES, 2)} if rng.random() < 0.5 else {}),
                            **({"tz": rng.choice(ZONES[1:])} if rng.random() < 0.5 else {})})
    answers = [check_facets(world, query, world.matching(query)) for query in queries]
    assert sum(answer["total"] > 0 for answer in answers) >= 10
    assert tallies["facets"] == len(queries)
