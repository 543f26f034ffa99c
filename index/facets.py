"""Facets and statistics over captures, computed by FT.AGGREGATE."""
from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Optional

from redis.commands.search import reducers
from redis.commands.search.aggregation import AggregateRequest, Asc, Desc

from . import ranges, rollups, schema
from .filters import UTC, Filters, readable, window_zone
from .bars import BUCKETS, bars_of, iso_start
from .histogram import MAX_ROWS, aggregate, histogram, keyed, mostbars_of, per_span
from .matching import Matching, matching
from .ranges import Scan
from .windows import occupied, time_of_day, window_stretches
from .zones import CYCLE, DAY, WEEK

# Auto buckets: the longest time span each is chosen for, so a histogram has at most ~200 bars.
AUTO_SPANS = (("hour", 3 * DAY), ("day", 120 * DAY), ("week", 200 * WEEK), ("month", 200 * CYCLE / 4800))


class TooManyBuckets(ValueError):
    """The histogram would have more bars than one aggregation returns."""


def _counts(where: Matching, field: str) -> AggregateRequest:
    """Captures per value of `field`, most first (ties by value)."""
    return (where.request().group_by(f"@{field}", reducers.count().alias("count"))
            .sort_by(Desc("@count"), Asc(f"@{field}")).limit(0, MAX_ROWS))


def _span(where: Matching) -> AggregateRequest:
    """How many captures, and the oldest and newest taken_at among them."""
    return where.request().group_by([], reducers.count().alias("count"),
                                    reducers.min("@taken_at").alias("oldest"),
                                    reducers.max("@taken_at").alias("newest"))


def _ranked(counts: Counter, name: str) -> list[dict]:
    """Counts most first, ties by value, as FT.AGGREGATE's SORTBY @count DESC @<name> ASC (a null value first)."""
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0] is not None, item[0] or ""))
    return [{name: value, "count": n} for value, n in ranked]


def _breakdown(where: Matching) -> tuple[list[dict], list[dict], int, float, float]:
    """Devices and triggers with their counts, the total, and the oldest and newest taken_at of `query`.

    One FT.AGGREGATE grouped by device and trigger reads the matches once, where a count per
    device, per trigger and the span read them three times: 3x less work for filters the
    rollups cannot count (measured on a lux range over 100,000 of 1,000,000 captures, before the
    rollups counted lux bands).
    Past MAX_ROWS pairs the three are run instead.
    """
    reducers_ = (reducers.count().alias("count"), reducers.min("@taken_at").alias("oldest"),
                 reducers.max("@taken_at").alias("newest"))
    [rows] = aggregate(where.request().group_by(["@device", "@trigger"], *reducers_).limit(0, MAX_ROWS))
    if len(rows) >= MAX_ROWS:
        devices, triggers, span = aggregate(_counts(where, "device"), _counts(where, "trigger"), _span(where))
        total = int(span[0]["count"]) if span else 0
        return ([{"device": r["device"], "count": int(r["count"])} for r in devices],
                [{"trigger": r["trigger"], "count": int(r["count"])} for r in triggers], total,
                float(span[0]["oldest"]) if total else 0.0, float(span[0]["newest"]) if total else 0.0)
    devices: Counter = Counter()
    triggers: Counter = Counter()
    for r in rows:
        devices[r["device"]] += int(r["count"])
        triggers[r["trigger"]] += int(r["count"])
    total = sum(devices.values())
    oldest = min((float(r["oldest"]) for r in rows), default=0.0)
    newest = max((float(r["newest"]) for r in rows), default=0.0)
    return _ranked(devices, "device"), _ranked(triggers, "trigger"), total, oldest, newest


def auto_bucket(seconds: float) -> str:
    """Pick a histogram bucket giving at most about 200 bars for a time span (years past 200 months)."""
    return next((bucket for bucket, longest in AUTO_SPANS if seconds <= longest), "year")


@dataclass
class Pass:
    """What one aggregation grouped by bar, device and trigger found (_pass), summed over the filters read."""

    pairs: Counter  # (device, trigger) -> captures
    keyed: Counter  # histogram key -> captures, in `bucket`
    bucket: str
    oldest: Optional[float] = None
    newest: Optional[float] = None

    def add(self, other: "Pass") -> None:
        self.pairs += other.pairs
        self.keyed += other.keyed
        ends = [t for t in (self.oldest, self.newest, other.oldest, other.newest) if t is not None]
        self.oldest, self.newest = min(ends, default=None), max(ends, default=None)


def _collection_span() -> Optional[tuple[float, float]]:
    """The oldest and newest capture stored (from the rollups); None when there are none or the rollups
    are out of step."""
    everything = rollups.tally(Filters())
    if everything is None or not everything.total:
        return None
    return everything.oldest, everything.newest


def _pass(filters: Filters, bucket: str, zone: dt.tzinfo, first: float, last: float,
          scanned: Optional[Scan]) -> Optional[Pass]:
    """`filters`' matches (all between `first` and `last`) counted per bar of `bucket`, device and trigger,
    in one aggregation per offset span, with their first and last; None past MAX_ROWS rows."""
    replies = per_span(filters, bucket, zone, occupied(filters, first, last), None, scanned, ("@device", "@trigger"),
                       reducers.min("@taken_at").alias("oldest"), reducers.max("@taken_at").alias("newest"))
    if any(len(rows) >= MAX_ROWS for rows in replies):
        return None
    rows = [row for rows in replies for row in rows]
    found = Pass(Counter(), Counter(), bucket, min((float(r["oldest"]) for r in rows), default=None),
                 max((float(r["newest"]) for r in rows), default=None))
    for row in rows:
        n = int(row["count"])
        found.pairs[(row["device"], row["trigger"])] += n
        found.keyed[int(float(row["start"]))] += n
    return found


def _one_pass(filters: Filters, bucket: Optional[str], zone: dt.tzinfo,
              scanned: Optional[Scan]) -> Optional[tuple[Counter, Counter, str, list[dict]]]:
    """Devices, triggers, the bucket and the bars of `filters` from one aggregation of its matches per
    offset span, grouped by bar, device and trigger; None where it does not apply (then facets()
    reads devices, triggers and span first, then the bars: two passes).

    The bucket follows the matches' span, which only the pass finds, so it is guessed from the
    whole collection's (the rollups hold it): never shorter, and the same bucket unless the matches
    are bunched in a far shorter stretch, where the guess is found wrong and None is returned.
    At 1M captures, a lux range over 100k of them: one pass instead of two (measured before the
    rollups counted lux bands; a range inside one band, or a lux with an exposure range, still is).
    """
    span = _collection_span()
    if span is None:
        return None
    first, last = span
    guess = bucket or auto_bucket((last if filters.until is None else filters.until)
                                  - (first if filters.since is None else filters.since))
    if mostbars_of(guess, last - first) > MAX_ROWS:
        return None  # facets() may have to refuse the bucket asked for
    found = _pass(readable(filters), guess, zone, first, last, scanned)
    if found is None or not found.pairs:
        return None  # no match: facets() answers that at once
    if bucket is None and _auto(filters, found.oldest, found.newest) != guess:
        return None
    return rollups.per(found.pairs, 0), rollups.per(found.pairs, 1), guess, bars_of(found.keyed, guess, zone)


def _cut(tally: rollups.Tally, filters: Filters, bucket: Optional[str], zone: dt.tzinfo) -> Optional[Pass]:
    """Count the band parts of `tally` (from rollups.tally(filters, parts=False)) and their bars in
    one pass each (_pass), as _one_pass reads its matches; None where that does not apply (then the
    tally counts them, and bars come apart).

    A part of all time holds 33k of 1M captures for a lux range of 0 to 3000 (scripts/bench_api.py):
    read once, not once to count and once for bars. Its bucket is guessed from the rest's span
    (else the collection's); facets() reads the bars again if the guess proves wrong.
    """
    span = _collection_span()
    if span is None:
        return None
    first, last = span  # every capture lies between
    guess = bucket or _auto(filters, tally.oldest or first, tally.newest or last)
    if mostbars_of(guess, last - first) > MAX_ROWS:
        return None
    cut = Pass(Counter(), Counter(), guess)
    for part in tally.band_parts:
        found = _pass(part, guess, zone, first, last, ranges.scan(part))
        if found is None:
            return None
        cut.add(found)
    return cut


def _auto(filters: Filters, oldest: float, newest: float) -> str:
    """The bucket for captures from `oldest` to `newest` that `filters` match: from the range viewed,
    `filters`' own bounds, else the captures', which is never shorter than the captures' span."""
    lo = filters.since if filters.since is not None else oldest
    hi = filters.until if filters.until is not None else newest
    return auto_bucket(max(hi - lo, newest - oldest))


def facets(filters: Filters, bucket: Optional[str] = None, zone: Optional[dt.tzinfo] = None) -> dict:
    """Return device and trigger counts and a taken_at histogram for `filters`, bucketed in `zone`.

    Bar starts are ISO 8601 with `zone`'s offset, or in UTC with Z when no zone is given. When
    `bucket` is absent it is chosen from the range viewed (`filters`' own bounds, else the
    captures'), which is never shorter than the captures' span, so it is never refused; a
    bucket asked for that could need more bars than one aggregation returns is TooManyBuckets.
    """
    tally = rollups.tally(filters, parts=False) if rollups.applies(filters) else None
    cut = _cut(tally, filters, bucket, zone or UTC) if tally is not None and tally.band_parts else None
    if tally is not None and tally.band_parts and cut is None:
        tally = rollups.tally(filters)  # the parts counted there, their bars below
    scanned = None if tally is not None or filters.windowed else ranges.scan(filters)
    passed = None if tally is not None or filters.windowed else _one_pass(filters, bucket, zone or UTC, scanned)
    if passed is not None:
        devices, triggers, bucket, bars = passed
        return _reply(sum(devices.values()), _ranked(devices, "device"), _ranked(triggers, "trigger"), bucket,
                      bars, zone)
    if tally is not None:
        window = clock = None
        pairs = tally.by_series + cut.pairs if cut else tally.by_series
        ends = [t for t in (tally.oldest, tally.newest, cut and cut.oldest, cut and cut.newest) if t is not None]
        total, oldest, newest = sum(pairs.values()), min(ends, default=0.0), max(ends, default=0.0)
        devices, triggers = _ranked(rollups.per(pairs, 0), "device"), _ranked(rollups.per(pairs, 1), "trigger")
    else:
        # With a time-of-day window, the stretches its clause was built on serve the histogram too.
        window = window_stretches(filters) if filters.windowed else None
        clock = time_of_day(filters, window)
        devices, triggers, total, oldest, newest = _breakdown(matching(filters, clock, scanned))
    if bucket is None:
        bucket = _auto(filters, oldest, newest)
    elif total and mostbars_of(bucket, newest - oldest) > MAX_ROWS:
        # Bars exist only where captures are, so the data's own span bounds their number.
        coarser = tuple(BUCKETS)[tuple(BUCKETS).index(bucket):]
        fits = next(b for b in coarser if mostbars_of(b, newest - oldest) <= MAX_ROWS)  # "year" always does
        raise TooManyBuckets(f"{bucket} bars over these captures could be more than {MAX_ROWS}; "
                             f"use bucket={fits} or a shorter range")
    counted = rollups.histogram(tally, bucket, zone or UTC) if tally is not None and total else None
    if counted is not None:
        if cut is not None and cut.bucket == bucket:
            counted += cut.keyed
        else:
            for part in tally.band_parts:  # the captures in the bands' parts the range cuts into
                counted += keyed(part, bucket, zone or UTC, occupied(part, oldest, newest), None, ranges.scan(part))
        bars = bars_of(counted, bucket, zone or UTC)
    elif total:
        same_zone = filters.windowed and window_zone(filters) == (zone or UTC)
        stretches = window if same_zone else occupied(readable(filters), oldest, newest, clock)
        bars = histogram(readable(filters), bucket, zone or UTC, stretches, clock, scanned)
    else:
        bars = []
    return _reply(total, devices, triggers, bucket, bars, zone)


def _reply(total: int, devices: list[dict], triggers: list[dict], bucket: str, bars: list[dict],
           zone: Optional[dt.tzinfo]) -> dict:
    return {
        "total": total,
        "devices": devices,
        "triggers": triggers,
        "bucket": bucket,
        "histogram": [{"start": iso_start(bar["start"], bar["offset"], z=zone is None), "count": bar["count"]}
                      for bar in bars],
    }


def stats() -> dict:
    """Return totals, per-device counts, oldest/newest, bytes stored and the index state."""
    tally = rollups.tally(Filters())
    if tally is not None:
        total, oldest, newest = tally.total, tally.oldest, tally.newest
        devices = _ranked(tally.per(0), "device")
        image_bytes, thumbnail_bytes = tally.image_bytes, tally.thumbnail_bytes
    else:
        everything = matching(Filters())
        sums = everything.request().group_by([], reducers.sum("@image_size").alias("image_bytes"),
                                                     reducers.sum("@thumbnail_size").alias("thumbnail_bytes"))
        rows, span, size = aggregate(_counts(everything, "device"), _span(everything), sums)
        total = int(span[0]["count"]) if span else 0
        devices = [{"device": r["device"], "count": int(r["count"])} for r in rows]
        oldest = float(span[0]["oldest"]) if total else None
        newest = float(span[0]["newest"]) if total else None
        image_bytes = int(float(size[0]["image_bytes"])) if total else 0
        thumbnail_bytes = int(float(size[0]["thumbnail_bytes"])) if total else 0
    return {
        "total": total,
        "devices": devices,
        "oldest": oldest if total else None,
        "newest": newest if total else None,
        # Sizes as stored at capture time; a full image whose own TTL passed still counts.
        "image_bytes": image_bytes,
        "thumbnail_bytes": thumbnail_bytes,
        "index": schema.info(),
    }
