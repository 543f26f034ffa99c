"""Stretches of constant UTC offset in a time zone, and the time-of-day clause at one offset.

Pure arithmetic over zoneinfo, no index: index.windows finds where captures are and builds the
time-of-day window from these; index.facets places local histogram buckets with them.
"""
from __future__ import annotations

import datetime as dt
import functools
import math
from typing import TYPE_CHECKING, Iterator, Optional

if TYPE_CHECKING:
    from .filters import Filters

HOUR, DAY = 3600, 86400
WEEK = 7 * DAY
# The epoch began on a Thursday; weeks start on Monday, four days later.
WEEK_ORIGIN = 4 * DAY
# 400 Gregorian years: the calendar, weekdays included, repeats after it, and so does every
# zone's yearly DST rule.
CYCLE = 146097 * DAY
# How often a zone's offset is sampled to find its changes. No zone in tzdata has had two
# changes less than 3.9 days apart (Africa/Freetown in 1939; measured over every zone's listed
# history), so a change is never stepped over.
OFFSET_SCAN = DAY
# Captures are taken from 0001-01-01 to 9999-12-31 UTC. Within two days of either end a local
# time can fall in year 0 or 10000, which Python's datetime cannot hold.
EARLY, LATE = -62135596800 + 2 * DAY, 253402300800 - 2 * DAY


# Stretches of constant UTC offset. Within one, local time is taken_at + offset exactly (whole-,
# half- or quarter-hour zones alike): the histogram's local buckets (index.facets) and time-of-day
# windows are both built on them.


def inward(t: float) -> float:
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
    return int(dt.datetime.fromtimestamp(inward(t), zone).utcoffset().total_seconds())


def offset_spans(zone: dt.tzinfo, lo: float, hi: float) -> list[tuple[Optional[float], Optional[float], int]]:
    """Split time at `zone`'s UTC offset changes between `lo` and `hi`; return (start, end, offset) spans.

    zoneinfo does not list its transitions, so the offset is sampled daily and each change
    narrowed down to the second (transitions fall on whole seconds). The first span starts
    and the last one ends unbounded (None).
    """
    return list(_offset_spans(zone, lo, hi))


# Requests ask again and again for the same spans (stretches end where the captures do): a year of
# Berlin took 0.3 ms to scan, ten years 3 ms (measured).
@functools.lru_cache(maxsize=4096)
def _offset_spans(zone: dt.tzinfo, lo: float, hi: float) -> tuple[tuple[Optional[float], Optional[float], int], ...]:
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
    return tuple(spans)


def zone_spans(zone: dt.tzinfo, stretches, since: Optional[float],
               until: Optional[float]) -> Iterator[tuple[Optional[float], Optional[float], int]]:
    """(since, until, offset) for each span of constant UTC offset in `stretches` (see occupied),
    within `since` and `until` (None: unbounded)."""
    for stretch_start, stretch_end, first, last in stretches:
        for start, end, offset in offset_spans(zone, first, last):
            start = stretch_start if start is None else start
            end = stretch_end if end is None else end
            yield (max((t for t in (start, since) if t is not None), default=None),
                   min((t for t in (end, until) if t is not None), default=None), offset)


def day_ranges(filters: Filters, offset: int) -> str:
    """The clause selecting `filters`' time-of-day window among captures taken at UTC `offset`.

    Local time of day is (UTC second of the day + offset) mod 86400 at a constant offset, so a
    window is one range of day_second, or two where it wraps past UTC midnight. day_second is
    whole seconds and the bounds are too (minutes less a whole-second offset), so comparing
    the truncated second is exact.
    """
    start = (filters.time_from * 60 - offset) % DAY
    end = start + (filters.time_to - filters.time_from) % 1440 * 60  # exclusive; never equal, see Filters
    if end <= DAY:
        return f"@day_second:[{start} {end - 1}]"
    return f"(@day_second:[{start} {DAY - 1}] | @day_second:[0 {end - DAY - 1}])"
