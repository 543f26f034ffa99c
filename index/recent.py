"""A newest-first page without sorting every match: probe a recent time window, widen it until it holds the page.

`FT.SEARCH <filters> SORTBY taken_at DESC LIMIT 0 49` reads every match to keep the newest 49:
188 ms at 1,000,000 captures, 17.7 ms at 100,000 (issue #11). Bounded to a window of recent time,
the same query reads only the window's matches. Exact by construction: every match outside the
window [lo, upper) is older than every match inside it, so once the window holds `want` matches
its newest `want`, ties at `lo` included (the bound is inclusive), are the whole query's newest
`want`, in the same order. page() then pages the narrowed filters as it pages any.

The window starts at the page's upper end (the cursor or the `until` filter, but now at the
latest) and is sized from the density each probe finds; a count of the window (LIMIT 0 0) costs
in proportion to its matches, so probes that find too few are cheap. page() narrows every
newest-first page, first or keyset, and counts the whole filters for `total` apart (from the
rollups where they can: index.rollups). DIALECT 2 only: DIALECT 4 returned wrong rows for range
queries sorted by taken_at on RediSearch 2.10.5 (issue #11).
"""
from __future__ import annotations

import dataclasses
import math
import time
from typing import Optional

from . import query, ranges
from .filters import Filters, Position

FIRST = 3600.0  # seconds: the first window; a fleet of Pis takes many captures an hour
# At most this many times wider per probe (a probe that found nothing grows by this). The window
# that first reaches past a quiet stretch holds up to GROWTH - 1 times its length of captures:
# with 8, 300k captures whose newest was 30 days old made a filtered first page 1.26x slower
# than the plain query (78 against 62 ms), with 4 faster (37 against 58; unfiltered 14 against
# 73 ms); an empty probe costs about 0.1 ms.
GROWTH = 4
MARGIN = 2  # a window sized from the density aims at this many times what the page needs
PROBES = 10  # then the plain query: windows from 1 hour to 30 years


def narrow(filters: Filters, want: int, after: Optional[Position] = None, newest_first: bool = True,
           now: Optional[float] = None, scanned: Optional[ranges.Scan] = None) -> Optional[Filters]:
    """Return `filters` with `since` raised so that they still hold the next `want` captures after `after`.

    None when narrowing does not apply (oldest first, a time-of-day window) or does not pay
    (the window grew to the filters' whole range, or PROBES windows held too few).
    With `after`, the window counts only captures strictly older than the cursor's taken_at:
    its own tie group is read apart by page(), and any of it would only add rows.
    `scanned` is ranges.scan(filters): each window's captures are then counted that way.
    """
    if not newest_first or filters.windowed:
        return None
    upper = filters.until  # exclusive
    if after is not None:
        upper = after.taken_at if upper is None else min(upper, after.taken_at)
    # Windows end at the upper bound, but start from now at the latest: with `to` far ahead
    # (the calendar's end) nothing lies between, except captures of a Pi whose clock runs
    # ahead, which the window still holds (it reaches up to `upper`).
    anchor = time.time() if now is None else now
    if upper is not None:
        anchor = min(anchor, upper)
    if math.isinf(anchor):
        return None
    width = FIRST
    for _ in range(PROBES):
        lo = math.floor(anchor - width)  # whole seconds: captures' times often are, ties land on edges
        if filters.since is not None and lo <= filters.since:
            return None  # the window is the whole range: nothing to gain
        probe = dataclasses.replace(filters, since=lo, until=upper)
        found = query.count(probe, scanned)  # no time-of-day window here: a plain count
        if found >= want:
            return dataclasses.replace(filters, since=lo)
        grow = GROWTH if found == 0 else min(GROWTH, max(2.0, MARGIN * want / found))
        width *= grow
    return None
