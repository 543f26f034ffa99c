"""Where in time the captures are, found by probing the index, and the time-of-day window's clause.

A time-of-day window in a zone is exact per stretch of constant UTC offset (index.zones); which
stretches matter depends on where the matching captures are, which a few cheap probes tell
(occupied). index.facets places its local histogram bars over the same stretches.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Optional

from . import query
from .filters import Filters, readable, window_zone, without_window
from .zones import DAY, day_ranges, zone_spans

# Offsets are scanned only where captures are, found per chunk of 2**25 s (388 days; a power of
# two divides exactly). The 10,000 years of captures' times are at most 9,404 chunks: one round trip.
CHUNK = 2 ** 25
# A daily scan from 2026 to 9999 in Los Angeles took 3.1 s and gave 15,948 spans (measured): over
# this many chunks, only the occupied ones are scanned.
SCAN_WHOLE = 4

# Whether a range holds any capture is an FT.AGGREGATE with LIMIT 0 1: with no GROUPBY or SORTBY it
# stops at the first match, where FT.SEARCH counts them all. 11 such probes over 1,000,000
# captures took 0.4 ms, against 40 ms with FT.SEARCH (measured). (FT.SEARCH with DIALECT 4 is as
# fast, but its SORTBY taken_at DESC LIMIT 1 under a taken_at range returned a capture far from
# the newest in RediSearch 2.10.5, measured; so no DIALECT 4 here.) A probe costs about 12 us,
# mostly in redis-py: over all 10,000 years, a year of captures was found to the day at both ends
# with 16 parts a step in 6 round trips, 128 probes, 1.9 ms; with 64 parts in 4, 320 probes, 4.3 ms
# (measured).
FANOUT = 16
# How close to the first and last capture the outer stretches end: offsets are scanned, and
# taken_at ranges written, no further out than this.
EDGE = DAY


def occupied(filters: Filters, oldest: float, newest: float,
             clock: Optional[str] = None) -> list[tuple[Optional[float], Optional[float], float, float]]:
    """Stretches of time holding all of `filters`' captures between `oldest` and `newest` (both
    included, finite): (start, end, first, last) each.

    `start` and `end` bound the stretch (None: unbounded), `first` and `last` are where its
    captures are. One far-dated capture among this year's would otherwise make the histogram
    scan, and aggregate, every offset span of the centuries between them. Up to SCAN_WHOLE
    chunks are one stretch, unasked. Beyond, each of FANOUT parts of the time is asked whether
    it holds a capture, then each part of those that do, until the parts are a CHUNK or less,
    and at the first and last capture an EDGE or less (see FANOUT for what that costs).
    """
    if newest - oldest <= SCAN_WHOLE * CHUNK:
        return [(None, None, oldest, newest)]
    others = query.build(dataclasses.replace(filters, since=None, until=None), clock=clock)
    others = "" if others == "*" else others + " "
    found: list[tuple[float, float]] = []
    # [lo, hi) to look into, and whether each holds the earliest and the latest capture.
    parts = [(oldest, math.nextafter(newest, math.inf), True, True)]
    while parts:
        asked = []
        for lo, hi, low, high in parts:
            step = max((hi - lo) / FANOUT, 1.0)
            cuts = [lo + k * step for k in range(FANOUT) if lo + k * step < hi] + [hi]
            asked += [(a, b, low, high) for a, b in zip(cuts, cuts[1:])]
        replies = query.run("FT.AGGREGATE", *((others + query.numeric_range("taken_at", a, b, hi_open=True), "LIMIT",
                                               0, 1, "DIALECT", 2) for a, b, _, _ in asked))
        hits = [part for part, reply in zip(asked, replies) if reply["results"]]
        parts = []
        for k, (a, b, low, high) in enumerate(hits):
            edge = (low and k == 0) or (high and k == len(hits) - 1)
            if b - a > CHUNK or (edge and b - a > EDGE):
                parts.append((a, b, low and k == 0, high and k == len(hits) - 1))
            else:
                found.append((a, b))
    runs: list[list[float]] = []
    for a, b in sorted(found):
        if runs and a - runs[-1][1] <= CHUNK:  # a gap of a CHUNK or less is not worth a stretch of its own
            runs[-1][1] = b
        else:
            runs.append([a, b])
    stretches = []
    for k, (a, b) in enumerate(runs):
        # The outer ends stay open, as with one stretch: a capture stored meanwhile still counts.
        stretches.append((None if k == 0 else a, None if k == len(runs) - 1 else b, a, min(newest, b)))
    return stretches


def window_stretches(filters: Filters) -> list[tuple[Optional[float], Optional[float], float, float]]:
    """Where the captures a time-of-day window picks from are (occupied() over `filters` without it).

    Within them every span of constant offset is exact for every capture the other filters match.
    """
    base = readable(without_window(filters))
    return occupied(base, base.since, math.nextafter(base.until, -math.inf))


def time_of_day(filters: Filters, stretches=None) -> Optional[str]:
    """The clause selecting `filters`' time-of-day window, or None without one.

    Per stretch of constant UTC offset among the matching captures, the window is one or two
    day_second ranges ANDed with the stretch's taken_at range. Stretches sharing an offset share
    their ranges, so the clause is one group per offset the zone used there (two in a DST zone),
    each ORing its taken_at ranges: 21 ranges for 10 years of Berlin captures. Where the captures
    are comes from probes of the index (see occupied), never from reading them.
    Captures stored before day_second existed have none, so no window selects them until
    `pigallery index backfill` (also run by `pigallery index create`) writes it. `stretches`:
    window_stretches(filters), when the caller has them already.
    """
    if not filters.windowed:
        return None
    if filters.zone is None:
        return day_ranges(filters, 0)
    zone = window_zone(filters)
    base = readable(without_window(filters))
    by_offset: dict[int, list[str]] = {}
    stretches = window_stretches(filters) if stretches is None else stretches
    for since, until, offset in zone_spans(zone, stretches, base.since, base.until):
        if since < until:
            by_offset.setdefault(offset, []).append(query.numeric_range("taken_at", since, until, hi_open=True))
    if len(by_offset) <= 1:  # one offset wherever these captures are (or none are): no taken_at ranges needed
        return day_ranges(filters, next(iter(by_offset), 0))
    return "(" + " | ".join(f"({day_ranges(filters, offset)} ({' | '.join(ranges)}))"
                            for offset, ranges in by_offset.items()) + ")"
