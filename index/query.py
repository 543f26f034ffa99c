"""Turn capture filters into RediSearch queries and page through them by keyset."""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
import re
from dataclasses import dataclass
from itertools import groupby
from typing import Any, Iterator, Mapping, Optional
from zoneinfo import ZoneInfo

import redis

from models import Capture
from models.capture import EARLIEST, END

from . import schema

# Fields a listing returns; image bytes are never among them.
RETURN_FIELDS = (
    "taken_at", "device", "trigger", "lux", "exposure_us", "analogue_gain", "colour_temp_k",
    "width", "height", "image_size", "image_expires_at",
)
# A capture id: a ULID, as redis-om makes primary keys (and safe inside a quoted filter literal).
PK = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
# RediSearch returns numbers as text ("1" for 1.0); integers may come back as "1e+06".
CONVERTERS = {name: str for name in ("device", "trigger")}
CONVERTERS.update({name: float for name in ("taken_at", "lux", "analogue_gain", "image_expires_at")})
CONVERTERS.update({name: lambda v: _whole(v) for name in ("exposure_us", "colour_temp_k", "width", "height", "image_size")})


def _whole(value) -> int | None:
    """An integer field as indexed; None for inf or NaN, which only a hand-written hash holds
    (the model refuses them on write; its read side then treats the field as missing)."""
    number = float(value)
    return int(number) if math.isfinite(number) else None


# A few rows beyond a page tell where its last taken_at group ends, so a page edge
# inside a small tie group needs no extra query.
TIE_SLACK = 4

DAY = 86400
UTC = dt.timezone.utc
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
# Offsets are scanned only where captures are, found per chunk of 2**25 s (388 days; a power of
# two divides exactly). The 10,000 years of captures' times are at most 9,404 chunks: one round trip.
CHUNK = 2 ** 25
# A daily scan from 2026 to 9999 in Los Angeles took 3.1 s and gave 15,948 spans (measured): over
# this many chunks, only the occupied ones are scanned.
SCAN_WHOLE = 4


class IndexMissing(RuntimeError):
    """The search index does not exist: `pigallery index create` makes it."""


class SearchRefused(RuntimeError):
    """RediSearch refused a query (a server limit or timeout); the message says which."""


@dataclass(frozen=True)
class Filters:
    """What to search for. Time bounds are epoch seconds: `since` inclusive, `until` exclusive.

    A time-of-day window is minutes of the local day in `zone` (an IANA name; None is UTC):
    from `time_from` (inclusive) up to `time_to` (exclusive), across midnight when `time_to`
    is not after `time_from` (1320 to 120 is 22:00-02:00; 0 as `time_to` ends at midnight). Both
    are None for no window, and then `zone` is None too; they are never equal (that would be the
    whole day, which is no window).
    """

    since: Optional[float] = None
    until: Optional[float] = None
    devices: tuple[str, ...] = ()
    triggers: tuple[str, ...] = ()
    lux_min: Optional[float] = None
    lux_max: Optional[float] = None
    exposure_min: Optional[int] = None
    exposure_max: Optional[int] = None
    time_from: Optional[int] = None
    time_to: Optional[int] = None
    zone: Optional[str] = None

    @property
    def windowed(self) -> bool:
        """Whether a time-of-day window applies."""
        return self.time_from is not None


@dataclass(frozen=True)
class Position:
    """A keyset cursor: the last item of the previous page."""

    taken_at: float
    pk: str


@dataclass
class Page:
    items: list[dict]
    total: int
    next: Optional[Position] = None


def escape_tag(value: str) -> str:
    """Escape a TAG value so it matches exactly itself.

    Only ASCII punctuation and spaces are query syntax; a backslash before a
    multi-byte character breaks the match (measured), so non-ASCII stays as is.
    """
    return "".join("\\" + c if c.isascii() and not (c.isalnum() or c == "_") else c for c in value)


def _num(value: float) -> str:
    # repr() is the shortest string that parses back to the same double, so bounds are exact.
    if math.isinf(value):
        return "+inf" if value > 0 else "-inf"
    return repr(float(value)) if isinstance(value, float) else str(value)


def _range(name: str, lo, hi, lo_open: bool = False, hi_open: bool = False) -> str:
    low = "-inf" if lo is None else ("(" if lo_open else "") + _num(lo)
    high = "+inf" if hi is None else ("(" if hi_open else "") + _num(hi)
    return f"@{name}:[{low} {high}]"


def _tags(name: str, values) -> str:
    return f"@{name}:{{{' | '.join(escape_tag(v) for v in values)}}}"


def build(filters: Filters, after: Optional[Position] = None, newest_first: bool = True,
          at: Optional[float] = None, clock: Optional[str] = None) -> str:
    """Return the RediSearch query for `filters`.

    `after` keeps captures at or beyond the cursor's taken_at (ties are resolved by
    the caller, by pk); `at` restricts to exactly one taken_at. `clock` is the time-of-day
    window's clause, time_of_day(filters): found here when not given (probes of the index),
    so a caller building several queries for one request passes it, found once.
    """
    if filters.windowed and clock is None:
        clock = time_of_day(filters)
    parts = [clock] if filters.windowed else []
    if filters.devices:
        parts.append(_tags("device", filters.devices))
    if filters.triggers:
        parts.append(_tags("trigger", filters.triggers))
    if filters.lux_min is not None or filters.lux_max is not None:
        parts.append(_range("lux", filters.lux_min, filters.lux_max))
    if filters.exposure_min is not None or filters.exposure_max is not None:
        parts.append(_range("exposure_us", filters.exposure_min, filters.exposure_max))
    lo, hi, hi_open = filters.since, filters.until, filters.until is not None
    lo_open = False
    if after is not None:
        if newest_first:
            hi, hi_open = (after.taken_at, False) if hi is None or after.taken_at < hi else (hi, hi_open)
        elif lo is None or after.taken_at >= lo:
            lo, lo_open = after.taken_at, False
    if at is not None:
        lo, hi, lo_open, hi_open = at, at, False, False
    if lo is not None or hi is not None:
        parts.append(_range("taken_at", lo, hi, lo_open, hi_open))
    return " ".join(parts) or "*"


def _complete(replies: list) -> list:
    """Return the replies, or raise SearchRefused if RediSearch cut one short.

    Past its query TIMEOUT (500 ms by default) RediSearch's default policy returns the rows it
    has, with a warning and a wrong total: at 1M captures that made facets count part of the
    collection. A 503 that says so beats numbers that are silently wrong, whatever ON_TIMEOUT
    the server (or a hosted Redis) is configured with.
    """
    for reply in replies:
        warnings = reply.get("warning") if isinstance(reply, dict) else None
        if warnings and any("timeout" in str(w).lower() for w in warnings):
            raise SearchRefused("the search took longer than RediSearch's query TIMEOUT and was cut short")
    return replies


def _execute(*calls: tuple[str, tuple]) -> list:
    """Run (command, args) pairs against the index in one round trip; return the replies."""
    try:
        if len(calls) == 1:  # a pipeline costs more than the command itself for small replies
            command, args = calls[0]
            return _complete([Capture.db().execute_command(command, schema.name(), *args)])
        pipe = Capture.db().pipeline(transaction=False)
        for command, args in calls:
            pipe.execute_command(command, schema.name(), *args)
        return _complete(pipe.execute())
    except redis.ResponseError as exc:
        message = str(exc)
        if "no such index" in message.lower():
            raise IndexMissing(f"index {schema.name()} does not exist: run `pigallery index create`") from None
        raise SearchRefused(f"the search index refused the query: {message}") from None


def run(command: str, *commands: tuple) -> list:
    """Run several FT.SEARCH or FT.AGGREGATE commands in one round trip; return the replies."""
    return _execute(*((command, args) for args in commands))


def row(pk: str, fields: Mapping[str, Any]) -> dict:
    """Shape one capture's metadata as listings have it: its id and RETURN_FIELDS, typed.

    `fields` holds the index's text replies or a Capture's own values; times become epoch seconds.
    """
    item = {"id": pk}
    for name, convert in CONVERTERS.items():
        value = fields.get(name)
        if isinstance(value, dt.datetime):
            value = value.timestamp()
        item[name] = None if value is None else convert(value)
    return item


def capture_row(capture: Capture) -> dict:
    """Return a loaded Capture's metadata in the shape listing rows have."""
    return row(capture.pk, capture.model_dump(include=set(RETURN_FIELDS)))


def _item(reply_row: dict) -> dict:
    item = row(reply_row["id"].rsplit(":", 1)[1], reply_row["extra_attributes"])
    # The sort key is the exact indexed double; RETURN rounds taken_at to 12 digits.
    if "sortkey" in reply_row:
        item["taken_at"] = float(reply_row["sortkey"][1:])
    return item


def _search_args(query: str, newest_first: bool, count: int) -> tuple:
    return (query, "WITHSORTKEYS", "SORTBY", "taken_at", "DESC" if newest_first else "ASC",
            "RETURN", len(RETURN_FIELDS), *RETURN_FIELDS, "LIMIT", 0, count, "DIALECT", 2)


def _count_args(filters: Filters, clock: Optional[str]) -> tuple:
    return (build(filters, clock=clock), "LIMIT", 0, 0, "DIALECT", 2)


def count(filters: Filters) -> int:
    """Return how many captures match `filters`."""
    return int(run("FT.SEARCH", _count_args(filters, time_of_day(filters)))[0]["total_results"])


def _tie_args(filters: Filters, clock: Optional[str], taken_at: float, after_pk: Optional[str], newest_first: bool,
              count: int) -> tuple:
    """FT.AGGREGATE arguments for the next `count` captures at exactly `taken_at`, in id order.

    FT.SEARCH sorts by one field only, so captures sharing a taken_at are paged by their
    id here, the way the cursor pages taken_at: a filter on the id, a bounded sort. Each
    page of a tie group of any size costs the same (9 ms at 12,000 ties) and RediSearch's
    10,000-row limit never applies.
    """
    prefix = len(Capture.make_primary_key(""))
    args = [build(filters, at=taken_at, clock=clock), "LOAD", 1, "@__key", "APPLY", f"substr(@__key, {prefix}, strlen(@__key) - {prefix})", "AS", "id"]
    if after_pk is not None:
        if not PK.match(after_pk):
            raise ValueError(f"not a capture id: {after_pk!r}")
        args += ["FILTER", f"@id {'<' if newest_first else '>'} '{after_pk}'"]
    loads = [f"@{name}" for name in RETURN_FIELDS if name != "taken_at"]
    return (*args, "SORTBY", 2, "@id", "DESC" if newest_first else "ASC", "MAX", count,
            "LOAD", len(loads), *loads, "DIALECT", 2)


def _within(filters: Filters, taken_at: float) -> bool:
    return ((filters.since is None or taken_at >= filters.since)
            and (filters.until is None or taken_at < filters.until))


def page(filters: Filters, limit: int, after: Optional[Position] = None, newest_first: bool = True) -> Page:
    """Return up to `limit` captures in (taken_at, id) order, starting after `after`.

    RediSearch sorts only by taken_at and breaks ties in internal doc order, so groups
    of equal taken_at that the page takes whole are ordered by id here, and a group the
    page edge may cut is read by id, from its start or from the cursor's id onwards.
    Every query is a range, never an offset, so the last page costs what the first does.
    """
    out: list[dict] = []
    total: Optional[int] = None
    clock = time_of_day(filters)  # once: every query of the page shares it
    # The tie group to continue in id order: (taken_at, the id to start after or None).
    group = (after.taken_at, after.pk) if after is not None else None
    bound = None  # later rows have a taken_at strictly beyond this one
    while len(out) <= limit:
        want = limit + 1 - len(out)
        if group is not None and not _within(filters, group[0]):
            bound, group = group[0], None  # a cursor from other filters: its group is not in range
        if group is not None:
            call = ("FT.AGGREGATE", _tie_args(filters, clock, group[0], group[1], newest_first, want))
        else:
            position = None if bound is None else Position(
                math.nextafter(bound, -math.inf if newest_first else math.inf), "")
            call = ("FT.SEARCH", _search_args(build(filters, position, newest_first, clock=clock), newest_first,
                                              want + TIE_SLACK))
        calls = [call]
        if total is None and after is not None:
            calls.append(("FT.SEARCH", _count_args(filters, clock)))  # same round trip
        replies = _execute(*calls)
        if total is None:
            total = int(replies[-1]["total_results"])
        if group is not None:
            rows = [row(r["extra_attributes"]["id"], {**r["extra_attributes"], "taken_at": group[0]})
                    for r in replies[0]["results"]]
            out.extend(rows)
            bound, group = group[0], None
            continue
        rows = [_item(r) for r in replies[0]["results"]]
        full = len(rows) == want + TIE_SLACK
        groups = [(t, list(g)) for t, g in groupby(rows, key=lambda r: r["taken_at"])]
        if full:
            group = (groups.pop()[0], None)  # the LIMIT may have cut it: read it by id if needed
        for t, members in groups:
            out.extend(sorted(members, key=lambda r: r["id"], reverse=newest_first))
            bound = t
        if not full:
            break
    items = out[:limit]
    nxt = Position(items[-1]["taken_at"], items[-1]["id"]) if len(out) > limit and items else None
    return Page(items, total, nxt)


# Stretches of constant UTC offset. Within one, local time is taken_at + offset exactly (whole-,
# half- or quarter-hour zones alike): the histogram's local buckets (index.facets) and time-of-day
# windows are both built on them.


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


def readable(filters: Filters) -> Filters:
    """`filters` within the times the model reads (years 1-9999).

    Only a hand-written hash has a taken_at outside them (inf, 1e300): the model leaves such a
    capture out of listings, so it is no bar or count either. Its inf would otherwise reach
    int() and datetime here, and RediSearch's MAX over it is 0 (measured), a wrong span.
    """
    since = EARLIEST if filters.since is None else max(filters.since, EARLIEST)
    until = END if filters.until is None else min(filters.until, END)
    return dataclasses.replace(filters, since=since, until=until)


def without_window(filters: Filters) -> Filters:
    return dataclasses.replace(filters, time_from=None, time_to=None, zone=None)


def window_zone(filters: Filters) -> dt.tzinfo:
    """The zone a time-of-day window is read in (UTC unless named)."""
    return ZoneInfo(filters.zone) if filters.zone else UTC


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
    others = build(dataclasses.replace(filters, since=None, until=None), clock=clock)
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
        replies = _execute(*(("FT.AGGREGATE", (others + _range("taken_at", a, b, hi_open=True), "LIMIT", 0, 1,
                                               "DIALECT", 2)) for a, b, _, _ in asked))
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
            by_offset.setdefault(offset, []).append(_range("taken_at", since, until, hi_open=True))
    if len(by_offset) <= 1:  # one offset wherever these captures are (or none are): no taken_at ranges needed
        return day_ranges(filters, next(iter(by_offset), 0))
    return "(" + " | ".join(f"({day_ranges(filters, offset)} ({' | '.join(ranges)}))"
                            for offset, ranges in by_offset.items()) + ")"
