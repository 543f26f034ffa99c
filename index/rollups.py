"""Totals, device and trigger counts and histograms from the rollups (models.rollups), not RediSearch.

At 1,000,000 captures RediSearch counts in 25 ms and aggregates a year's facets in 900 ms, in
proportion to the matches (issue #11); the rollups answer the same in a few ms, in proportion to
the quarter hours asked about. They serve filters of devices, triggers, a time range and a lux or
an exposure range: anything else (both ranges, camera, GPS, a time-of-day window) is the index's
to count.

Exact, not estimated: the rollups count whole quarter hours, and the part of a range that cuts
into a quarter hour at either end (under 15 minutes of captures) is counted by the index, in the
same MULTI/EXEC as the rollups are read. A lux or exposure range is cut the same way: the bands
it holds whole (models.rollups.BANDED) are read from the rollups, the parts of a band it cuts into
at either end are counted by the index (a range of whole bands: none, but its upper bound itself).
That MULTI also reads the rollups' `count` and the index's num_docs: they differ when
hashes were written around the model, while the index is still indexing, or before `pigallery
index rollups` counted older captures; then every caller here gets None and asks RediSearch.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

import redis
from redis.commands.search import reducers

from models import Capture
from models import rollups as counts
from models.rollups import BANDED, QUARTER, stamp

# query, ranges and matching use this module in turn (page totals): names are read when called, never at import.
from . import matching, query, ranges, schema
from .filters import Filters, readable
from .zones import DAY, HOUR, WEEK, WEEK_ORIGIN, offset_at, zone_spans
EPOCH = dt.date(1970, 1, 1)


EDGES = {name: edges for name, _, edges in BANDED}


def _band(edges: tuple, k: int) -> tuple[float, float]:
    """Band `k`'s values: [low, high), or [low, +inf] for the last (models.rollups.BANDED)."""
    return (edges[k - 1] if k else -math.inf), (edges[k] if k < len(edges) else math.inf)


def bands(field: str, lo: Optional[float], hi: Optional[float]) -> Optional[tuple[frozenset[str], list[tuple]]]:
    """The bands of a BANDED `field` that the range [lo, hi] (None: unbounded) holds whole, and the
    parts of the bands at its ends that it holds, as inclusive (min, max) ranges; None when it holds
    no band whole."""
    edges = EDGES[field]
    a = -math.inf if lo is None else lo
    b = math.inf if hi is None else hi
    last = len(edges)
    core = [k for k in range(last + 1) if a <= _band(edges, k)[0]
            and (b == math.inf if k == last else math.nextafter(_band(edges, k)[1], -math.inf) <= b)]
    if not core:
        return None
    parts = []
    low, high = _band(edges, core[0])[0], _band(edges, core[-1])[1]
    if a < low:
        parts.append((lo, math.nextafter(low, -math.inf)))
    if core[-1] < last and high <= b:
        parts.append((high, hi))
    return frozenset(str(k) for k in core), parts


def banded(filters: Filters) -> Optional[tuple[str, str, str]]:
    """The range `filters` set, as (field, Filters' lower bound, upper bound), if one (ranges.RANGES)."""
    ranged = [r for r in ranges.RANGES if getattr(filters, r[1]) is not None or getattr(filters, r[2]) is not None]
    return ranged[0] if len(ranged) == 1 else None


def applies(filters: Filters) -> bool:
    """Whether the rollups can count `filters`: devices, triggers, a time range and a lux or an
    exposure range holding a band whole (bands()), nothing else."""
    if ranges.without_ranges(filters) != Filters(since=filters.since, until=filters.until,
                                                 devices=filters.devices, triggers=filters.triggers):
        return False
    if filters == ranges.without_ranges(filters):
        return True
    ranged = banded(filters)
    return ranged is not None and bands(ranged[0], getattr(filters, ranged[1]), getattr(filters, ranged[2])) is not None


@dataclass
class Tally:
    """What the rollups say of some filters."""

    by_series: Counter = field(default_factory=Counter)  # (device, trigger) -> captures
    oldest: Optional[float] = None
    newest: Optional[float] = None
    image_bytes: int = 0
    thumbnail_bytes: int = 0
    series: list[str] = field(default_factory=list)  # the series the filters select
    summed: list[str] = field(default_factory=list)  # the fewest series holding their sum (_summed)
    fragments: list[tuple[float, int]] = field(default_factory=list)  # (since, captures) of each edge counted
    range: tuple[float, float] = (0.0, 0.0)  # [since, until) as counted
    # The parts of bands a lux or exposure range cuts into, over the whole quarter hours counted
    # from the rollups: those holding captures, counted by the index; all of them when tally() was
    # told not to count them. histogram() leaves them out.
    band_parts: list[Filters] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.by_series.values())

    def per(self, index: int) -> Counter:
        """Captures per device (index 0) or trigger (1), those with none left out."""
        return per(self.by_series, index)


def per(pairs: Counter, index: int) -> Counter:
    """Captures per device (index 0) or trigger (1) of counts per (device, trigger), those with none left out."""
    summed: Counter = Counter()
    for key, n in pairs.items():
        summed[key[index]] += n
    return Counter({name: n for name, n in summed.items() if n > 0})


def _up(t: float) -> float:
    return math.ceil(t / QUARTER) * QUARTER


def _down(t: float) -> float:
    return math.floor(t / QUARTER) * QUARTER


def _selected(filters: Filters, names: list[str], field: Optional[str], core: frozenset[str]) -> list[str]:
    """The series of `names` that `filters` pick: `series` names, or with a BANDED `field` names from
    `<field>-series` in the bands `core`."""
    chosen = []
    for name in names:
        if field is None:
            device, trigger = counts.parse_series(name)
        else:
            device, trigger, band = counts.parse_banded(field, name)
            if band not in core:
                continue
        if (not filters.devices or device in filters.devices) and (not filters.triggers or trigger in filters.triggers):
            chosen.append(name)
    return sorted(chosen)


def _summed(filters: Filters, series: list[str], field: Optional[str]) -> list[str]:
    """The fewest series whose sum, quarter by quarter, is that of `series` (which `filters` select):
    `all` with no device, trigger or range filter, the bands' own series with a range alone, else
    `series`. A histogram and the span read these: a lux range over all devices reads 11 band
    series instead of 165 (15 devices and triggers a band), 33.5 against 12 ms a facet at 1M."""
    if filters.devices or filters.triggers or not series:
        return series
    if field is None:
        return [counts.base() + "all"]
    # A band's own series exists wherever one of its device and trigger series does (models.rollups).
    return sorted({counts.band_name(field, counts.parse_banded(field, name)[2]) for name in series})


def _fragment(filters: Filters, since: float, until: float) -> list:
    """FT.AGGREGATE arguments: per device and trigger, captures in [since, until) and their first and last.

    matching() leaves the time range out when it spans all the model's times: a lux band's part over
    all time at 1M captures (33k of them) cost 144 ms within a range over the whole taken_at tree.
    """
    request = matching.matching(dataclasses.replace(filters, since=since, until=until)).request().group_by(
        ["@device", "@trigger"], reducers.count().alias("count"),
        reducers.min("@taken_at").alias("oldest"), reducers.max("@taken_at").alias("newest"))
    return request.dialect(2).build_args()


def pieces_of(since: float, until: float, levels=counts.LEVELS) -> list[tuple[int, str, float, float]]:
    """[since, until), both whole quarter hours, as runs of whole buckets, coarsest in the middle:
    (bucket size, level prefix, start, end). A year is 365 days and at most 46 hours and quarters."""
    if since >= until:
        return []
    size, prefix = levels[-1]
    start, end = math.ceil(since / size) * size, math.floor(until / size) * size
    if start >= end:
        return pieces_of(since, until, levels[:-1])
    return [*pieces_of(since, start, levels[:-1]), (size, prefix, start, end), *pieces_of(end, until, levels[:-1])]


def tally(filters: Filters, span: bool = True, parts: bool = True) -> Optional[Tally]:
    """Count `filters` (applies() must hold) from the rollups; None while they are out of step with the index.

    With `span`, also the oldest and newest taken_at among the matches (one more round trip).
    Without `parts`, the parts of bands a lux or exposure range cuts into are not counted, nor in
    the span but for one in the quarter hour of the rest's first or last match (asked of the index
    with the whole filters): Tally.band_parts lists them all, for the caller to count (index.facets,
    with their bars).
    """
    conn = Capture.db()
    base = counts.base()
    counts.settle(Capture.make_primary_key(""))
    ranged = banded(filters)
    measure = ranged and ranged[0]  # the banded field, if any
    core, cut_into = bands(measure, getattr(filters, ranged[1]), getattr(filters, ranged[2])) if ranged else ((), [])
    listed = base + (f"{measure}-series" if measure else "series")
    names = sorted(conn.smembers(listed))
    whole = readable(filters)
    lo, hi = whole.since, whole.until
    inner = (_up(lo), _down(hi)) if _up(lo) < _down(hi) else None
    series = _selected(filters, names, measure, core)
    summed = _summed(filters, series, measure)
    pipe = conn.pipeline(transaction=True)  # one snapshot: counts, index count and edges agree
    pipe.get(base + "count")
    pipe.get(base + (f"{measure}-count" if measure else "count"))
    pipe.execute_command("FT.INFO", schema.name())
    pipe.smembers(listed)
    pipe.hgetall(base + "bytes")
    fragments = [(lo, inner[0]), (inner[1], hi)] if inner else [(lo, hi)]
    for since, until in fragments:
        pipe.execute_command("FT.AGGREGATE", schema.name(), *_fragment(filters, since, until))
    cuts = [dataclasses.replace(filters, since=inner[0], until=inner[1], **{ranged[1]: low, ranged[2]: high})
            for low, high in cut_into] if inner else []
    counted_cuts = cuts if parts else []
    for part in counted_cuts:
        pipe.execute_command("FT.AGGREGATE", schema.name(), *_fragment(part, part.since, part.until))
    pieces = pieces_of(*inner) if inner else []
    if inner:
        first, last = stamp(inner[0]), stamp(inner[1]) - 1
        for name in series:
            for size, prefix, since, until in pieces:
                start, end = stamp(since, size), stamp(until, size) - 1
                pipe.execute_command("TS.RANGE", counts.at_level(name, prefix), start, end,
                                     "AGGREGATION", "sum", end - start + 1)
        for name in summed if span else ():
            pipe.execute_command("TS.RANGE", name, first, last, "FILTER_BY_VALUE", 0.5, 1e300, "COUNT", 1)
            pipe.execute_command("TS.REVRANGE", name, first, last, "FILTER_BY_VALUE", 0.5, 1e300, "COUNT", 1)
    try:
        replies = pipe.execute()
    except redis.ResponseError as exc:
        raise query.refusal(exc) from None
    counted, field_counted, info, now_names, sizes = replies[:5]
    searched = replies[5:5 + len(fragments) + len(counted_cuts)]
    query.complete(searched)
    if int(counted or 0) != int(info["num_docs"]) or sorted(now_names) != names:
        return None
    if int(field_counted or 0) != int(info["num_docs"]):
        return None  # captures counted before the bands existed: `pigallery index rollups`
    result = Tally(image_bytes=int(sizes.get("image", 0)), thumbnail_bytes=int(sizes.get("thumbnail", 0)),
                   series=series, summed=summed, range=(lo, hi), band_parts=[] if parts else cuts)
    edges = []  # (oldest, newest) of each fragment with captures, in time order
    for (since, _), reply in zip(fragments, searched):
        rows = [row["extra_attributes"] for row in reply["results"]]
        for r in rows:
            result.by_series[(r["device"], r["trigger"])] += int(r["count"])
        if rows:
            edges.append((min(float(r["oldest"]) for r in rows), max(float(r["newest"]) for r in rows)))
            result.fragments.append((since, sum(int(r["count"]) for r in rows)))
        else:
            edges.append(None)
    cut = []  # (oldest, newest) of the band parts with captures
    for part, reply in zip(counted_cuts, searched[len(fragments):]):
        rows = [row["extra_attributes"] for row in reply["results"]]
        for r in rows:
            result.by_series[(r["device"], r["trigger"])] += int(r["count"])
        if rows:
            cut.append((min(float(r["oldest"]) for r in rows), max(float(r["newest"]) for r in rows)))
            result.band_parts.append(part)
    quarters_first, quarters_last = [], []
    rest = iter(replies[5 + len(searched):])
    for name in series if inner else ():
        for _ in pieces:
            key = counts.parse_banded(measure, name)[:2] if measure else counts.parse_series(name)
            result.by_series[key] += int(sum(value for _, value in next(rest)))
    for _ in summed if inner and span else ():
        quarters_first += [t for t, _ in next(rest)]
        quarters_last += [t for t, _ in next(rest)]
    if span and result.total:
        found = None
        if quarters_first or result.fragments:
            found = _span(filters, edges, quarters_first, quarters_last)
            if found is None:
                return None
        # The band parts' first and last, exact as FT.AGGREGATE gives them, as the fragments' are.
        result.oldest = min([t for t, _ in cut] + ([found[0]] if found else []))
        result.newest = max([t for _, t in cut] + ([found[1]] if found else []))
    return result


def _span(filters: Filters, edges: list, firsts: list[int], lasts: list[int]) -> Optional[tuple[float, float]]:
    """The oldest and newest match: from the edge fragments, else asked of the index in the quarter holding it."""
    oldest = edges[0][0] if edges[0] else None
    newest = edges[-1][1] if edges[-1] else None
    asks = []
    if oldest is None:
        if firsts:
            asks.append(("oldest", counts.instant(min(firsts))))
        else:  # only the last fragment holds captures
            oldest = edges[-1][0]
    if newest is None:
        if lasts:
            asks.append(("newest", counts.instant(max(lasts))))
        else:
            newest = edges[0][1]
    if asks:
        replies = query.run("FT.AGGREGATE", *(_fragment(filters, start, start + QUARTER) for _, start in asks))
        for (which, _), reply in zip(asks, replies):
            rows = [row["extra_attributes"] for row in reply["results"]]
            if not rows:
                return None  # the index changed since the snapshot
            value = (min if which == "oldest" else max)(float(r[which]) for r in rows)
            oldest, newest = (value, newest) if which == "oldest" else (oldest, value)
    return oldest, newest


def count(filters: Filters) -> Optional[int]:
    """How many captures match `filters` (applies() must hold); None while the rollups are out of step."""
    result = tally(filters, span=False)
    return None if result is None else result.total


def _local_key(bucket: str, instant: float, offset: int) -> int:
    """The histogram key index.bars.key_apply gives a capture at `instant` under UTC `offset` (its APPLY, here in Python)."""
    local = instant + offset
    if bucket == "hour":
        return int(local // HOUR * HOUR - offset)
    if bucket == "day":
        return int(local // DAY * DAY)
    if bucket == "week":
        return int((local - WEEK_ORIGIN) // WEEK * WEEK + WEEK_ORIGIN)
    day = EPOCH + dt.timedelta(days=local // DAY)  # OverflowError past year 9999: the caller falls back
    return day.year * 12 + day.month - 1 if bucket == "month" else day.year


# The time series bucket each histogram bucket is read in, and where buckets start in local time.
READ_AS = {"hour": (HOUR, 0), "day": (DAY, 0), "week": (WEEK, WEEK_ORIGIN), "month": (DAY, 0), "year": (DAY, 0)}


def histogram(result: Tally, bucket: str, zone: dt.tzinfo) -> Optional[Counter]:
    """Captures per histogram key (as index.bars keys them) for the tally's filters; None if the rollups cannot.

    Within a span of constant UTC offset a local hour, day or week is a fixed run of quarter
    hours when the offset is whole quarter hours (every zone's since 1979; not local mean times),
    so RedisTimeSeries sums it, aligned to the local start (ALIGN). Months and years are summed
    from local days here. Each edge fragment the tally counted lies inside one quarter hour, so
    inside one bar: its captures are added there. The band parts (Tally.band_parts) are not:
    they are the index's to place in bars.
    """
    if result.oldest is None:
        return Counter()
    lo, hi = result.range
    if not _up(lo) < _down(hi):
        return None  # under half an hour: the index's own histogram costs nothing
    # A quarter either side: MIN and MAX come back rounded to 10 digits (whole seconds today).
    inner = (max(_up(lo), _down(result.oldest) - QUARTER), min(_down(hi), _down(result.newest) + 2 * QUARTER))
    size, origin = READ_AS[bucket]
    names = result.summed
    pipe = Capture.db().pipeline(transaction=False)
    offsets = []
    if inner[0] < inner[1]:
        for since, until, offset in zone_spans(zone, [(None, None, inner[0], inner[1])], inner[0], inner[1]):
            if offset % QUARTER or since % QUARTER or until % QUARTER:
                return None  # a local mean time, or an offset changing inside a quarter hour
            # The coarsest level whose buckets each lie inside one bar (UTC days for UTC days, hours
            # for Berlin's), with quarter hours where the span starts or ends inside a bucket of it.
            levels = tuple(level for level in counts.LEVELS
                           if size % level[0] == 0 and (origin - offset) % level[0] == 0)
            align = ((origin - offset + counts.SHIFT) * 1000) % (size * 1000)
            for level, prefix, start, end in pieces_of(since, until, levels):
                for name in names:
                    pipe.execute_command("TS.RANGE", counts.at_level(name, prefix), stamp(start, level),
                                         stamp(end, level) - 1, "ALIGN", align, "AGGREGATION", "sum", size * 1000)
                    offsets.append(offset)
    bars: Counter = Counter()
    try:
        for offset, rows in zip(offsets, pipe.execute() if offsets else []):
            for start, value in rows:
                if value:
                    bars[_local_key(bucket, counts.instant(start), offset)] += int(value)
        for since, n in result.fragments:
            # Inside one quarter hour: one bar, when the offset there is whole quarter hours.
            offset = offset_at(zone, since)
            if offset % QUARTER:
                return None
            bars[_local_key(bucket, since, offset)] += n
    except OverflowError:  # a local date past year 9999
        return None
    return bars
