"""Facets and statistics over captures, computed by FT.AGGREGATE."""
from __future__ import annotations

from typing import Optional

from . import schema
from .query import Filters, build, run

HOUR, DAY, WEEK = 3600, 86400, 7 * 86400
BUCKETS = {"hour": HOUR, "day": DAY, "week": WEEK}
# The epoch began on a Thursday; weeks start on Monday, four days later.
WEEK_ORIGIN = 4 * DAY
# RediSearch returns at most this many aggregate rows (MAXAGGREGATERESULTS).
MAX_ROWS = 10_000


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


def facets(filters: Filters, bucket: Optional[str] = None) -> dict:
    """Return device and trigger counts and a taken_at histogram for `filters`."""
    query = build(filters)
    devices, triggers, span = _aggregate((query, *_counts("device")), (query, *_counts("trigger")), (query, *_span()))
    total = int(span[0]["count"]) if span else 0
    lo = filters.since if filters.since is not None else (float(span[0]["oldest"]) if total else 0)
    hi = filters.until if filters.until is not None else (float(span[0]["newest"]) if total else 0)
    bucket = bucket or auto_bucket(max(0.0, hi - lo))
    size = BUCKETS[bucket]
    # Bars exist only where captures are, so the data's own span bounds their number.
    if total and (float(span[0]["newest"]) - float(span[0]["oldest"])) / size >= MAX_ROWS:
        raise TooManyBuckets(f"{bucket} bars over this range would be more than {MAX_ROWS}; use a longer bucket or range")
    origin = WEEK_ORIGIN if bucket == "week" else 0
    histogram = []
    if total:
        (rows,) = _aggregate((
            query, "APPLY", f"floor((@taken_at - {origin}) / {size}) * {size} + {origin}", "AS", "start",
            "GROUPBY", 1, "@start", "REDUCE", "COUNT", 0, "AS", "count", "SORTBY", 2, "@start", "ASC",
            "LIMIT", 0, MAX_ROWS,
        ))
        histogram = [{"start": float(r["start"]), "count": int(r["count"])} for r in rows]
    return {
        "total": total,
        "devices": [{"device": r["device"], "count": int(r["count"])} for r in devices],
        "triggers": [{"trigger": r["trigger"], "count": int(r["count"])} for r in triggers],
        "bucket": bucket,
        "histogram": histogram,
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
