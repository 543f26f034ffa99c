"""Histograms counted by the index: one FT.AGGREGATE per span of constant UTC offset, keyed by bar."""
from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from typing import Optional

from redis.commands.search import reducers
from redis.commands.search.aggregation import AggregateRequest

from .bars import bars_of, key_apply
from .filters import Filters, window_zone
from .matching import matching
from .query import run
from .ranges import Scan
from .zones import DAY, HOUR, WEEK, day_ranges, zone_spans

# The shortest each bucket is under one UTC offset, which bounds how many bars a span of time has.
SHORTEST = {"hour": HOUR, "day": DAY, "week": WEEK, "month": 28 * DAY, "year": 365 * DAY}
# RediSearch returns at most this many aggregate rows (MAXAGGREGATERESULTS).
MAX_ROWS = 10_000


def aggregate(*requests: AggregateRequest) -> list[list[dict]]:
    """Run FT.AGGREGATE requests in one round trip; return each one's rows."""
    replies = run("FT.AGGREGATE", *(request.dialect(2).build_args() for request in requests))
    return [[row["extra_attributes"] for row in reply["results"]] for reply in replies]


def mostbars_of(bucket: str, seconds: float) -> int:
    """How many bars captures `seconds` apart can need under one UTC offset (one aggregation)."""
    if bucket == "year":
        # Under one offset local years run from 0 to 9999 or from 1 to 10000, never more.
        return min(int(seconds // SHORTEST[bucket]) + 2, MAX_ROWS)
    return int(seconds // SHORTEST[bucket]) + 2  # + 2: either end may cut into a bucket


def histogram(filters: Filters, bucket: str, zone: dt.tzinfo,
              stretches: list[tuple[Optional[float], Optional[float], float, float]],
              clock: Optional[str] = None, scanned: Optional[Scan] = None) -> list[dict]:
    """Count captures per local hour, day, week (from Monday), month or year in `zone`.

    Within one span of constant UTC offset, local time is taken_at + offset exactly (whole-,
    half- or quarter-hour zones alike), so each span is one FT.AGGREGATE on its own taken_at
    range, all in one round trip. Calendar rows are keyed by local wall-clock start, so a DST
    day's two spans add up to one 23- or 25-hour bar; hour rows are keyed by instant, so the
    hour repeated when clocks go back stays two bars. Spans are found only in `stretches`
    (see windows.occupied). Bars are {"start": instant, "offset": zone's offset there, "count"}.
    A time-of-day window read in this same zone is, within one span, just its day_second ranges
    at the span's offset: exact when `stretches` are windows.window_stretches(filters), which hold
    every capture the window picks from. Otherwise each span takes the whole `clock`.
    `scanned` is ranges.scan(filters), for its ranges to be tested on each capture (see matching()).
    """
    return bars_of(keyed(filters, bucket, zone, stretches, clock, scanned), bucket, zone)


def keyed(filters: Filters, bucket: str, zone: dt.tzinfo,
           stretches: list[tuple[Optional[float], Optional[float], float, float]],
           clock: Optional[str] = None, scanned: Optional[Scan] = None) -> Counter:
    """histogram()'s captures per bar key (index.bars), before they are made bars."""
    counts: Counter[int] = Counter()
    for rows in per_span(filters, bucket, zone, stretches, clock, scanned):
        for row in rows:
            counts[int(float(row["start"]))] += int(row["count"])
    return counts


def per_span(filters: Filters, bucket: str, zone: dt.tzinfo,
              stretches: list[tuple[Optional[float], Optional[float], float, float]], clock: Optional[str],
              scanned: Optional[Scan], by: tuple[str, ...] = (), *more) -> list[list[dict]]:
    """histogram()'s aggregation rows, a list per span: @start and its count, also per `by` fields with
    `more` reducers."""
    same_zone = filters.windowed and window_zone(filters) == zone
    commands = []
    for since, until, offset in zone_spans(zone, stretches, filters.since, filters.until):
        where = matching(dataclasses.replace(filters, since=since, until=until),
                         day_ranges(filters, offset) if same_zone else clock, scanned)
        commands.append(where.request().apply(**key_apply(bucket, offset))
                        .group_by(["@start", *by], reducers.count().alias("count"), *more).limit(0, MAX_ROWS))
    return aggregate(*commands)
