"""Turn capture filters into RediSearch queries and page through them by keyset."""
from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import groupby
from typing import Optional

import redis

from models import Capture
from models.capture import PK

# recent, ranges, rollups and windows use this module in turn (count; build, run): each side reads the other's names
# when called, never at import, so either may be imported first.
from . import ranges, recent, rollups, schema, windows
from .filters import Filters, Position
from .rows import RETURN_FIELDS, row

# A few rows beyond a page tell where its last taken_at group ends, so a page edge
# inside a small tie group needs no extra query.
TIE_SLACK = 4


class IndexMissing(RuntimeError):
    """The search index does not exist: `pigallery index create` makes it."""


class SearchRefused(RuntimeError):
    """RediSearch refused a query (a server limit or timeout); the message says which."""


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


def numeric_range(name: str, lo, hi, lo_open: bool = False, hi_open: bool = False) -> str:
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
    window's clause, windows.time_of_day(filters): found here when not given (probes of the index),
    so a caller building several queries for one request passes it, found once.
    """
    if filters.windowed and clock is None:
        clock = windows.time_of_day(filters)
    parts = [clock] if filters.windowed else []
    if filters.devices:
        parts.append(_tags("device", filters.devices))
    if filters.triggers:
        parts.append(_tags("trigger", filters.triggers))
    for name, low, high in ranges.RANGES:
        bounds = getattr(filters, low), getattr(filters, high)
        if bounds != (None, None):
            parts.append(numeric_range(name, *bounds))
    if filters.camera_makes:
        parts.append(_tags("camera_make", filters.camera_makes))
    if filters.camera_models:
        parts.append(_tags("camera_model", filters.camera_models))
    if filters.has_gps is not None:
        # Both or neither: the importer stores a position whole. A query of only a negation is valid.
        gps = "@latitude:[-inf +inf] @longitude:[-inf +inf]"
        parts.append(gps if filters.has_gps else f"-({gps})")
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
        parts.append(numeric_range("taken_at", lo, hi, lo_open, hi_open))
    return " ".join(parts) or "*"


def complete(replies: list) -> list:
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
            return complete([Capture.db().execute_command(command, schema.name(), *args)])
        pipe = Capture.db().pipeline(transaction=False)
        for command, args in calls:
            pipe.execute_command(command, schema.name(), *args)
        return complete(pipe.execute())
    except redis.ResponseError as exc:
        raise refusal(exc) from None


def refusal(exc: redis.ResponseError) -> RuntimeError:
    """The IndexMissing or SearchRefused to raise for RediSearch's error `exc`."""
    message = str(exc)
    if "no such index" in message.lower() or schema.index_missing(exc):
        return IndexMissing(f"index {schema.name()} does not exist: run `pigallery index create`")
    return SearchRefused(f"the search index refused the query: {message}")


def run(command: str, *commands: tuple) -> list:
    """Run several FT.SEARCH or FT.AGGREGATE commands in one round trip; return the replies."""
    return _execute(*((command, args) for args in commands))


def _item(reply_row: dict) -> dict:
    item = row(reply_row["id"].rsplit(":", 1)[1], reply_row["extra_attributes"])
    # The sort key is the exact indexed double; RETURN rounds taken_at to 12 digits.
    if "sortkey" in reply_row:
        item["taken_at"] = float(reply_row["sortkey"][1:])
    return item


def _search_args(query: str, newest_first: bool, count: int, keys: tuple[str, ...] = ()) -> tuple:
    return (query, *(("INKEYS", len(keys), *keys) if keys else ()), "WITHSORTKEYS",
            "SORTBY", "taken_at", "DESC" if newest_first else "ASC",
            "RETURN", len(RETURN_FIELDS), *RETURN_FIELDS, "LIMIT", 0, count, "DIALECT", 2)


def _scan_args(filters: Filters, position: Optional[Position], newest_first: bool, clock: Optional[str],
               scanned: ranges.Scan, count: int) -> tuple:
    """FT.AGGREGATE arguments for the keys of the first `count` captures from `position` whose ranges
    pass `scanned`'s test, in taken_at order (ties cut anyhow, as FT.SEARCH's LIMIT cuts them).

    Only keys: an aggregation writes taken_at to 12 digits, the page needs the exact sort key,
    so _rows_by_key reads the rows themselves by FT.SEARCH.
    """
    return (build(ranges.without_ranges(filters), position, newest_first, clock=clock), *scanned.steps(),
            "LOAD", 1, "@__key", "SORTBY", 2, "@taken_at", "DESC" if newest_first else "ASC", "MAX", count,
            "DIALECT", 2)


def _rows_by_key(reply: dict, newest_first: bool) -> dict:
    """FT.SEARCH's reply (as _search_args asks) for the captures whose keys an FT.AGGREGATE `reply` holds."""
    keys = tuple(row["extra_attributes"]["__key"] for row in reply["results"])
    if not keys:
        return {"results": []}
    # By key (INKEYS), not by the pk field: a hand-written hash need not hold one.
    return run("FT.SEARCH", _search_args("*", newest_first, len(keys), keys))[0]


def _count_call(filters: Filters, clock: Optional[str], scanned: Optional[ranges.Scan] = None) -> tuple[str, tuple]:
    """The command counting `filters`; read its reply with _counted(). With `scanned` (ranges.scan(filters) or of
    filters holding these), its ranges are tested on the captures the rest of `filters` match."""
    if scanned is None:
        return "FT.SEARCH", (build(filters, clock=clock), "LIMIT", 0, 0, "DIALECT", 2)
    return "FT.AGGREGATE", (build(ranges.without_ranges(filters), clock=clock), *scanned.steps(),
                            "GROUPBY", 0, "REDUCE", "COUNT", 0, "AS", "count", "DIALECT", 2)


def _counted(command: str, reply: dict) -> int:
    """The count in the reply to _count_call's `command` (an FT.AGGREGATE of no match has no row)."""
    if command == "FT.SEARCH":
        return int(reply["total_results"])
    return int(reply["results"][0]["extra_attributes"]["count"]) if reply["results"] else 0


def count(filters: Filters, scanned: Optional[ranges.Scan] = None) -> int:
    """Return how many captures match `filters` (see _count_call for `scanned`)."""
    call = _count_call(filters, windows.time_of_day(filters), scanned)
    return _counted(call[0], _execute(call)[0])


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


def page(filters: Filters, limit: int, after: Optional[Position] = None, newest_first: bool = True,
         clock: Optional[str] = None) -> Page:
    """Return up to `limit` captures in (taken_at, id) order, starting after `after`.

    RediSearch sorts only by taken_at and breaks ties in internal doc order, so groups
    of equal taken_at that the page takes whole are ordered by id here, and a group the
    page edge may cut is read by id, from its start or from the cursor's id onwards.
    Every query is a range, never an offset, so the last page costs what the first does.
    `clock` is windows.time_of_day(filters) when the caller has it (a walk, page after page):
    with a zone it costs index probes of where the captures are.
    """
    # A newest-first page is narrowed to a window of time before its start (issue #11); its total
    # still counts the whole filters, from the rollups when they can (index.rollups), else here.
    scanned = ranges.scan(filters)
    narrowed = recent.narrow(filters, limit + 1, after, newest_first=newest_first, scanned=scanned)
    whole, filters = filters, narrowed or filters
    out: list[dict] = []
    total: Optional[int] = rollups.count(whole) if rollups.applies(whole) else None
    if clock is None and filters.windowed:
        clock = windows.time_of_day(filters)  # once: every query of the page shares it
    # The tie group to continue in id order: (taken_at, the id to start after or None).
    group = (after.taken_at, after.pk) if after is not None and after.pk is not None else None
    bound = None  # later rows have a taken_at strictly beyond this one
    if after is not None and after.pk is None:
        # A start at an instant (the `start` parameter): one keyset query from there, its ties included.
        bound = math.nextafter(after.taken_at, math.inf if newest_first else -math.inf)
    while len(out) <= limit:
        want = limit + 1 - len(out)
        if group is not None and not _within(filters, group[0]):
            bound, group = group[0], None  # a cursor from other filters: its group is not in range
        if group is not None:
            call = ("FT.AGGREGATE", _tie_args(filters, clock, group[0], group[1], newest_first, want))
        else:
            position = None if bound is None else Position(
                math.nextafter(bound, -math.inf if newest_first else math.inf), "")
            call = (("FT.SEARCH", _search_args(build(filters, position, newest_first, clock=clock), newest_first,
                                               want + TIE_SLACK)) if scanned is None else
                    ("FT.AGGREGATE", _scan_args(filters, position, newest_first, clock, scanned, want + TIE_SLACK)))
        calls = [call]
        if total is None and (after is not None or filters is not whole or scanned is not None):
            calls.append(_count_call(whole, clock, scanned))  # same round trip
        replies = _execute(*calls)
        if total is None:
            total = _counted(calls[-1][0], replies[-1])
        if group is not None:
            rows = [row(r["extra_attributes"]["id"], {**r["extra_attributes"], "taken_at": group[0]})
                    for r in replies[0]["results"]]
            out.extend(rows)
            bound, group = group[0], None
            continue
        if scanned is not None:
            replies[0] = _rows_by_key(replies[0], newest_first)
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
