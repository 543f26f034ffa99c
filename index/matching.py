"""Which captures an aggregation reads (Matching): a query, and a FILTER where the query cannot say it."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional

from redis.commands.search.aggregation import AggregateRequest

from models.capture import EARLIEST, END

# index.rollups uses this module, and query and ranges use rollups: their names are read when
# called, never at import, so any of them may be imported first.
from . import query, ranges
from .filters import Filters, readable


@dataclass(frozen=True)
class Matching:
    """Which captures an aggregation reads: a query and a FILTER expression (None: no FILTER)."""

    query: str
    test: Optional[str] = None
    load: tuple[str, ...] = ()  # fields the test reads (ranges.Scan.steps says why LOAD)

    def request(self) -> AggregateRequest:
        request = AggregateRequest(self.query)
        if self.load:
            request = request.load(*(f"@{name}" for name in self.load))
        return request.filter(self.test) if self.test else request


def matching(filters: Filters, clock: Optional[str] = None, scanned: Optional[ranges.Scan] = None) -> Matching:
    """The captures with a readable taken_at (filters.readable) that `filters` match.

    With no time bounds, readable()'s range spans every leaf of the taken_at tree, and intersecting
    it cost more than the rest of the query (at 1M captures, a lux range over 100k: 235 against
    95 ms). The times beyond it are left out instead, and exists(@taken_at) keeps out a hash
    without one (an APPLY over it would fail the aggregation). `scanned`: ranges.scan(filters).
    """
    tests, load = [], ()
    if scanned is not None:
        filters, tests, load = ranges.without_ranges(filters), [scanned.expression], scanned.fields
    if (filters.since is None or filters.since <= EARLIEST) and (filters.until is None or filters.until >= END):
        unbounded = query.build(dataclasses.replace(filters, since=None, until=None), clock=clock)
        beyond = (f"-{query.numeric_range('taken_at', None, EARLIEST, hi_open=True)} "
                  f"-{query.numeric_range('taken_at', END, None)}")
        return Matching(beyond if unbounded == "*" else f"{unbounded} {beyond}",
                        " && ".join(["exists(@taken_at)", *tests]), load)
    return Matching(query.build(readable(filters), clock=clock), " && ".join(tests) or None, load)
