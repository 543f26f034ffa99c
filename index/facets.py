"""Facets and statistics over captures, computed by FT.AGGREGATE."""
from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections import Counter
from typing import Optional

from . import schema
from .query import Filters, build, run

HOUR, DAY, WEEK = 3600, 86400, 7 * 86400
BUCKETS = {"hour": HOUR, "day": DAY, "week": WEEK}
# The epoch began on a Thursday; weeks start on Monday, four days later.
WEEK_ORIGIN = 4 * DAY
# RediSearch returns at most this many aggregate rows (MAXAGGREGATERESULTS).
MAX_ROWS = 10_000
UTC = dt.timezone.utc
# How often a zone's offset is sampled to find its changes. Since 1970 no zone in tzdata has
# had two changes less than 6.9 days apart (measured), so a change is never stepped over.
OFFSET_SCAN = DAY


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
    """Pick a histogram bucket giving roughly 24-200 bars for a time span."""
    if seconds <= 3 * DAY:
        return "hour"
    if seconds <= 120 * DAY:
        return "day"
    return "week"


def offset_spans(zone: dt.tzinfo, lo: float, hi: float) -> list[tuple[Optional[float], Optional[float], int]]:
    """Split time at `zone`'s UTC offset changes between `lo` and `hi`; return (start, end, offset) spans.

    zoneinfo does not list its transitions, so the offset is sampled daily and each change
    narrowed down to the second (transitions fall on whole seconds). The first span starts
    and the last one ends unbounded (None).
    """
    def offset(t: float) -> int:
        return int(dt.datetime.fromtimestamp(t, zone).utcoffset().total_seconds())

    spans, start, current = [], None, offset(lo)
    t = lo
    while t < hi:
        step = min(t + OFFSET_SCAN, hi)
        if offset(step) != current:
            before, after = math.floor(t), math.ceil(step)  # offset(before) == current != offset(after)
            while after - before > 1:
                middle = (before + after) // 2
                before, after = (middle, after) if offset(middle) == current else (before, middle)
            spans.append((start, float(after), current))
            start, current = float(after), offset(after)
        t = step
    spans.append((start, None, current))
    return spans


def _local_start(key: float, bucket: str, zone: dt.tzinfo) -> dt.datetime:
    """Turn a histogram key into the aware start of its bucket in `zone`."""
    if bucket == "hour":
        return dt.datetime.fromtimestamp(key, zone)  # hour keys are instants already
    # Day and week keys are local wall-clock times; zoneinfo knows the offset at that moment.
    # A midnight skipped by a DST jump resolves to the jump itself (PEP 495, fold=0).
    wall = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=key)
    return wall.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)


def histogram(filters: Filters, bucket: str, zone: dt.tzinfo, oldest: float, newest: float) -> list[dict]:
    """Count captures per local hour, day or week (from Monday) in `zone`.

    Within one span of constant UTC offset, local time is taken_at + offset exactly (whole-,
    half- or quarter-hour zones alike), so each span is one FT.AGGREGATE on its own taken_at
    range, all in one round trip. Day and week rows are keyed by local wall-clock start, so
    a DST day's two spans add up to one 23- or 25-hour bar; hour rows are keyed by instant,
    so the hour repeated when clocks go back stays two bars.
    """
    size = BUCKETS[bucket]
    origin = WEEK_ORIGIN if bucket == "week" else 0
    commands = []
    for start, end, offset in offset_spans(zone, oldest, newest):
        since = max((t for t in (start, filters.since) if t is not None), default=None)
        until = min((t for t in (end, filters.until) if t is not None), default=None)
        # Local wall-clock seconds; the offset's own sign avoids relying on unary minus in APPLY.
        local = f"@taken_at {'-' if offset < 0 else '+'} {abs(offset)}"
        key = f"floor(({local} - {origin}) / {size}) * {size} + {origin}"
        if bucket == "hour":
            key += f" {'+' if offset < 0 else '-'} {abs(offset)}"
        commands.append((
            build(dataclasses.replace(filters, since=since, until=until)), "APPLY", key, "AS", "start",
            "GROUPBY", 1, "@start", "REDUCE", "COUNT", 0, "AS", "count", "LIMIT", 0, MAX_ROWS,
        ))
    counts: Counter[float] = Counter()
    for rows in _aggregate(*commands):
        for row in rows:
            counts[float(row["start"])] += int(row["count"])
    return [{"start": _local_start(key, bucket, zone), "count": counts[key]} for key in sorted(counts)]


def facets(filters: Filters, bucket: Optional[str] = None, zone: dt.tzinfo = UTC) -> dict:
    """Return device and trigger counts and a taken_at histogram for `filters`, bucketed in `zone`."""
    query = build(filters)
    devices, triggers, span = _aggregate((query, *_counts("device")), (query, *_counts("trigger")), (query, *_span()))
    total = int(span[0]["count"]) if span else 0
    oldest, newest = (float(span[0]["oldest"]), float(span[0]["newest"])) if total else (0.0, 0.0)
    lo = filters.since if filters.since is not None else oldest
    hi = filters.until if filters.until is not None else newest
    bucket = bucket or auto_bucket(max(0.0, hi - lo))
    # Bars exist only where captures are, so the data's own span bounds their number.
    if total and (newest - oldest) / BUCKETS[bucket] >= MAX_ROWS:
        raise TooManyBuckets(f"{bucket} bars over this range would be more than {MAX_ROWS}; use a longer bucket or range")
    return {
        "total": total,
        "devices": [{"device": r["device"], "count": int(r["count"])} for r in devices],
        "triggers": [{"trigger": r["trigger"], "count": int(r["count"])} for r in triggers],
        "bucket": bucket,
        "histogram": histogram(filters, bucket, zone, oldest, newest) if total else [],
    }


def stats() -> dict:
    """Return totals, per-device counts, oldest/newest, bytes stored and the index state."""
    sums = ("GROUPBY", 0, "REDUCE", "SUM", 1, "@image_size", "AS", "image_bytes",
            "REDUCE", "SUM", 1, "@thumbnail_size", "AS", "thumbnail_bytes")
    devices, span, size = _aggregate(("*", *_counts("device")), ("*", *_span()), ("*", *sums))
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
