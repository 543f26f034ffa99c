"""Facets and statistics over captures, computed by FT.AGGREGATE."""
from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections import Counter
from typing import Optional

from . import schema
from models.capture import EARLIEST, END

from .query import Filters, build, run

HOUR, DAY, WEEK = 3600, 86400, 7 * 86400
# 400 Gregorian years: the calendar, weekdays included, repeats after it, and so does every
# zone's yearly DST rule.
CYCLE = 146097 * DAY
# Mean lengths: they only pick a bucket for a time span, never place a bar.
BUCKETS = {"hour": HOUR, "day": DAY, "week": WEEK, "month": CYCLE / 4800, "year": CYCLE / 400}
# The shortest each bucket is under one UTC offset, which bounds how many bars a span of time has.
SHORTEST = {"hour": HOUR, "day": DAY, "week": WEEK, "month": 28 * DAY, "year": 365 * DAY}
# Auto buckets: the longest time span each is chosen for, so a histogram has at most ~200 bars.
AUTO_SPANS = (("hour", 3 * DAY), ("day", 120 * DAY), ("week", 200 * WEEK), ("month", 200 * CYCLE / 4800))
# The epoch began on a Thursday; weeks start on Monday, four days later.
WEEK_ORIGIN = 4 * DAY
# RediSearch returns at most this many aggregate rows (MAXAGGREGATERESULTS).
MAX_ROWS = 10_000
UTC = dt.timezone.utc
# How often a zone's offset is sampled to find its changes. No zone in tzdata has had two
# changes less than 3.9 days apart (Africa/Freetown in 1939; measured over every zone's listed
# history), so a change is never stepped over.
OFFSET_SCAN = DAY
# Captures are taken from 0001-01-01 to 9999-12-31 UTC. Within two days of either end a local
# time can fall in year 0 or 10000, which Python's datetime cannot hold.
EARLY, LATE = -62135596800 + 2 * DAY, 253402300800 - 2 * DAY
NAIVE_EPOCH = dt.datetime(1970, 1, 1)
EPOCH_ORDINAL = NAIVE_EPOCH.toordinal()
# Offsets are scanned only where captures are, found per chunk of 2**25 s (388 days; a power of
# two divides exactly). The 10,000 years of captures' times are at most 9,404 chunks: one reply.
CHUNK = 2 ** 25
# A daily scan from 2026 to 9999 in Los Angeles took 3.1 s and gave 15,948 spans, each one FT.AGGREGATE
# (measured): over this many chunks, only the occupied ones are scanned.
SCAN_WHOLE = 4


def _aggregate(*commands: tuple) -> list[list[dict]]:
    """Run FT.AGGREGATE commands in one round trip; return each one's rows."""
    replies = run("FT.AGGREGATE", *((*args, "DIALECT", 2) for args in commands))
    return [[row["extra_attributes"] for row in reply["results"]] for reply in replies]


class TooManyBuckets(ValueError):
    """The histogram would have more bars than one aggregation returns."""


def _counts(field: str) -> tuple:
    return ("GROUPBY", 1, f"@{field}", "REDUCE", "COUNT", 0, "AS", "count",
            "SORTBY", 4, "@count", "DESC", f"@{field}", "ASC", "LIMIT", 0, MAX_ROWS)


def _span() -> tuple:
    return ("GROUPBY", 0, "REDUCE", "COUNT", 0, "AS", "count",
            "REDUCE", "MIN", 1, "@taken_at", "AS", "oldest", "REDUCE", "MAX", 1, "@taken_at", "AS", "newest")


def auto_bucket(seconds: float) -> str:
    """Pick a histogram bucket giving at most about 200 bars for a time span (years past 200 months)."""
    return next((bucket for bucket, longest in AUTO_SPANS if seconds <= longest), "year")


def most_bars(bucket: str, seconds: float) -> int:
    """How many bars captures `seconds` apart can need under one UTC offset (one aggregation)."""
    if bucket == "year":
        # Under one offset local years run from 0 to 9999 or from 1 to 10000, never more.
        return min(int(seconds // SHORTEST[bucket]) + 2, MAX_ROWS)
    return int(seconds // SHORTEST[bucket]) + 2  # + 2: either end may cut into a bucket


def _inward(t: float) -> float:
    """A time with the same UTC offset as `t` in any zone, where datetime can hold its local time.

    Before 0001-01-03 every zone is on its first offset (the earliest change in tzdata is in
    1834, measured); after 9999-12-30 every zone follows its yearly rule, the same 400 years earlier.
    `t` may be an instant or a local wall-clock time alike.
    """
    if t < EARLY:
        return EARLY
    if t > LATE:
        return t - CYCLE
    return t


def offset_at(zone: dt.tzinfo, t: float) -> int:
    """`zone`'s UTC offset at instant `t`, in seconds."""
    return int(dt.datetime.fromtimestamp(_inward(t), zone).utcoffset().total_seconds())


def _wall_offset(zone: dt.tzinfo, wall: int) -> int:
    """`zone`'s UTC offset at local wall-clock time `wall` (seconds from 1970-01-01 00:00 local).

    A wall time that clocks skip or repeat gets the offset before the change (PEP 495, fold=0),
    so a skipped midnight resolves to the jump itself and a repeated one to its first occurrence.
    """
    local = NAIVE_EPOCH + dt.timedelta(seconds=_inward(wall))
    return int(local.replace(tzinfo=zone).utcoffset().total_seconds())


def offset_spans(zone: dt.tzinfo, lo: float, hi: float) -> list[tuple[Optional[float], Optional[float], int]]:
    """Split time at `zone`'s UTC offset changes between `lo` and `hi`; return (start, end, offset) spans.

    zoneinfo does not list its transitions, so the offset is sampled daily and each change
    narrowed down to the second (transitions fall on whole seconds). The first span starts
    and the last one ends unbounded (None).
    """
    spans, start, current = [], None, offset_at(zone, lo)
    t = lo
    while t < hi:
        step = min(t + OFFSET_SCAN, hi)
        if offset_at(zone, step) != current:
            before, after = math.floor(t), math.ceil(step)  # offset(before) == current != offset(after)
            while after - before > 1:
                middle = (before + after) // 2
                before, after = (middle, after) if offset_at(zone, middle) == current else (before, middle)
            spans.append((start, float(after), current))
            start, current = float(after), offset_at(zone, after)
        t = step
    spans.append((start, None, current))
    return spans


def _occupied(query: str, oldest: float, newest: float) -> list[tuple[Optional[float], Optional[float], float, float]]:
    """Stretches of time holding all of `query`'s captures: (start, end, first, last) each.

    `start` and `end` bound the stretch (None: unbounded), `first` and `last` are where its
    captures are. One far-dated capture among this year's would otherwise make the histogram
    scan, and aggregate, every offset span of the centuries between them.
    """
    if newest - oldest <= SCAN_WHOLE * CHUNK:
        return [(None, None, oldest, newest)]
    rows, = _aggregate((query, "APPLY", f"floor(@taken_at / {CHUNK})", "AS", "chunk",
                        "GROUPBY", 1, "@chunk", "LIMIT", 0, MAX_ROWS))
    chunks = sorted(int(float(row["chunk"])) for row in rows)
    runs: list[list[int]] = []
    for chunk in chunks:
        if runs and chunk == runs[-1][1] + 1:
            runs[-1][1] = chunk
        else:
            runs.append([chunk, chunk])
    stretches = []
    for i, (first, last) in enumerate(runs):
        # The outer ends stay open, as with one stretch: a capture stored meanwhile still counts.
        start = None if i == 0 else float(first * CHUNK)
        end = None if i == len(runs) - 1 else float((last + 1) * CHUNK)
        stretches.append((start, end, max(oldest, first * CHUNK), min(newest, (last + 1) * CHUNK)))
    return stretches


def _key(bucket: str, offset: int) -> tuple:
    """APPLY steps giving each capture's bucket as @start, under a constant UTC `offset`.

    Hour keys are instants. Day and week keys are local wall-clock seconds; month keys count
    months since year 0 (year * 12 + month - 1) and year keys count years, from the local
    day's civil date by H. Hinnant's algorithm in floor arithmetic. RediSearch's own month()
    and year() give null before 1970, and month() of 9999-12-31 a day in year 10000 (measured).
    """
    # Local wall-clock seconds; the offset's own sign avoids relying on unary minus in APPLY.
    local = f"@taken_at {'-' if offset < 0 else '+'} {abs(offset)}"
    if bucket in ("hour", "day", "week"):
        size = BUCKETS[bucket]
        origin = WEEK_ORIGIN if bucket == "week" else 0
        key = f"floor(({local} - {origin}) / {size}) * {size} + {origin}"
        if bucket == "hour":
            key += f" {'+' if offset < 0 else '-'} {abs(offset)}"
        return ("APPLY", key, "AS", "start")
    # Days from 0000-03-01, its 400-year era, the day and year within the era (years from March).
    day_of_year = "@doe - 365 * @yoe - floor(@yoe / 4) + floor(@yoe / 100)"  # from 1 March
    month = f"12 * (@yoe + 400 * @era) + floor((5 * ({day_of_year}) + 2) / 153) + 2"
    return ("APPLY", f"floor(({local}) / {DAY}) + 719468", "AS", "days",
            "APPLY", "floor(@days / 146097)", "AS", "era",
            "APPLY", "@days - @era * 146097", "AS", "doe",
            "APPLY", "floor((@doe - floor(@doe / 1460) + floor(@doe / 36524) - floor(@doe / 146096)) / 365)",
            "AS", "yoe",
            "APPLY", month if bucket == "month" else f"floor(({month}) / 12)", "AS", "start")


def _first_day(year: int, month: int) -> int:
    """Days from 1970-01-01 to the first of `month` in `year` (0 to 10000 alike)."""
    cycles = 1 if year < 1 else -1 if year > 9999 else 0  # datetime.date ends at years 1 and 9999
    return dt.date(year + 400 * cycles, month, 1).toordinal() - EPOCH_ORDINAL - cycles * CYCLE // DAY


def _bar_start(key: int, bucket: str, zone: dt.tzinfo) -> int:
    """Turn a histogram key into the instant its bucket starts in `zone`."""
    if bucket == "hour":
        return key  # hour keys are instants already
    if bucket == "month":
        key = _first_day(key // 12, key % 12 + 1) * DAY
    elif bucket == "year":
        key = _first_day(key, 1) * DAY
    return key - _wall_offset(zone, key)


def iso_start(instant: int, offset: int, z: bool = False) -> str:
    """Write a bar's start as ISO 8601 with `offset` (Z for UTC when `z`).

    Years 0 and 10000 are written 0000 and +010000 (ISO 8601's expanded form, which JavaScript
    reads); a local mean time's offset keeps its seconds (Los Angeles until 1883: -07:52:58).
    """
    wall = instant + offset
    cycles = 1 if wall < EARLY else -1 if wall > LATE else 0
    local = NAIVE_EPOCH + dt.timedelta(seconds=wall + cycles * CYCLE)
    year = local.year - 400 * cycles
    text = (f"{year:04d}" if 0 <= year <= 9999 else f"{year:+07d}") + local.isoformat()[4:]
    if z and offset == 0:
        return text + "Z"
    hours, rest = divmod(abs(offset), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{text}{'-' if offset < 0 else '+'}{hours:02d}:{minutes:02d}" + (f":{seconds:02d}" if seconds else "")


def histogram(filters: Filters, bucket: str, zone: dt.tzinfo,
              stretches: list[tuple[Optional[float], Optional[float], float, float]]) -> list[dict]:
    """Count captures per local hour, day, week (from Monday), month or year in `zone`.

    Within one span of constant UTC offset, local time is taken_at + offset exactly (whole-,
    half- or quarter-hour zones alike), so each span is one FT.AGGREGATE on its own taken_at
    range, all in one round trip. Calendar rows are keyed by local wall-clock start, so a DST
    day's two spans add up to one 23- or 25-hour bar; hour rows are keyed by instant, so the
    hour repeated when clocks go back stays two bars. Spans are found only in `stretches`
    (see _occupied). Bars are {"start": instant, "offset": zone's offset there, "count"}.
    """
    commands = []
    for stretch_start, stretch_end, first, last in stretches:
        for start, end, offset in offset_spans(zone, first, last):
            start = stretch_start if start is None else start
            end = stretch_end if end is None else end
            since = max((t for t in (start, filters.since) if t is not None), default=None)
            until = min((t for t in (end, filters.until) if t is not None), default=None)
            commands.append((
                build(dataclasses.replace(filters, since=since, until=until)), *_key(bucket, offset),
                "GROUPBY", 1, "@start", "REDUCE", "COUNT", 0, "AS", "count", "LIMIT", 0, MAX_ROWS,
            ))
    counts: Counter[int] = Counter()
    for rows in _aggregate(*commands):
        for row in rows:
            counts[int(float(row["start"]))] += int(row["count"])
    bars: Counter[int] = Counter()
    for key, count in counts.items():
        bars[_bar_start(key, bucket, zone)] += count
    return [{"start": start, "offset": offset_at(zone, start), "count": bars[start]} for start in sorted(bars)]


def readable(filters: Filters) -> Filters:
    """`filters` within the times the model reads (years 1-9999).

    Only a hand-written hash has a taken_at outside them (inf, 1e300): the model leaves such a
    capture out of listings, so it is no bar or count either. Its inf would otherwise reach
    int() and datetime here, and RediSearch's MAX over it is 0 (measured), a wrong span.
    """
    since = EARLIEST if filters.since is None else max(filters.since, EARLIEST)
    until = END if filters.until is None else min(filters.until, END)
    return dataclasses.replace(filters, since=since, until=until)


def facets(filters: Filters, bucket: Optional[str] = None, zone: Optional[dt.tzinfo] = None) -> dict:
    """Return device and trigger counts and a taken_at histogram for `filters`, bucketed in `zone`.

    Bar starts are ISO 8601 with `zone`'s offset, or in UTC with Z when no zone is given. When
    `bucket` is absent it is chosen from the range viewed (`filters`' own bounds, else the
    captures'), which is never shorter than the captures' span, so it is never refused; a
    bucket asked for that could need more bars than one aggregation returns is TooManyBuckets.
    """
    query = build(readable(filters))
    devices, triggers, span = _aggregate((query, *_counts("device")), (query, *_counts("trigger")), (query, *_span()))
    total = int(span[0]["count"]) if span else 0
    oldest, newest = (float(span[0]["oldest"]), float(span[0]["newest"])) if total else (0.0, 0.0)
    lo = filters.since if filters.since is not None else oldest
    hi = filters.until if filters.until is not None else newest
    if bucket is None:
        bucket = auto_bucket(max(hi - lo, newest - oldest))
    elif total and most_bars(bucket, newest - oldest) > MAX_ROWS:
        # Bars exist only where captures are, so the data's own span bounds their number.
        coarser = tuple(BUCKETS)[tuple(BUCKETS).index(bucket):]
        fits = next(b for b in coarser if most_bars(b, newest - oldest) <= MAX_ROWS)  # "year" always does
        raise TooManyBuckets(f"{bucket} bars over these captures could be more than {MAX_ROWS}; "
                             f"use bucket={fits} or a shorter range")
    bars = histogram(readable(filters), bucket, zone or UTC, _occupied(query, oldest, newest)) if total else []
    return {
        "total": total,
        "devices": [{"device": r["device"], "count": int(r["count"])} for r in devices],
        "triggers": [{"trigger": r["trigger"], "count": int(r["count"])} for r in triggers],
        "bucket": bucket,
        "histogram": [{"start": iso_start(bar["start"], bar["offset"], z=zone is None), "count": bar["count"]}
                      for bar in bars],
    }


def stats() -> dict:
    """Return totals, per-device counts, oldest/newest, bytes stored and the index state."""
    sums = ("GROUPBY", 0, "REDUCE", "SUM", 1, "@image_size", "AS", "image_bytes",
            "REDUCE", "SUM", 1, "@thumbnail_size", "AS", "thumbnail_bytes")
    everything = build(readable(Filters()))
    devices, span, size = _aggregate((everything, *_counts("device")), (everything, *_span()), (everything, *sums))
    total = int(span[0]["count"]) if span else 0
    return {
        "total": total,
        "devices": [{"device": r["device"], "count": int(r["count"])} for r in devices],
        "oldest": float(span[0]["oldest"]) if total else None,
        "newest": float(span[0]["newest"]) if total else None,
        # Sizes as stored at capture time; a full image whose own TTL passed still counts.
        "image_bytes": int(float(size[0]["image_bytes"])) if total else 0,
        "thumbnail_bytes": int(float(size[0]["thumbnail_bytes"])) if total else 0,
        "index": schema.info(),
    }
