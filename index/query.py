"""Turn capture filters into RediSearch queries and page through them by keyset."""
from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import groupby
from typing import Optional

import redis

from models import Capture

from . import schema

# Fields a listing returns; image bytes are never among them.
RETURN_FIELDS = (
    "taken_at", "device", "trigger", "lux", "exposure_us", "analogue_gain", "colour_temp_k",
    "width", "height", "image_size", "image_expires_at",
)
# RediSearch returns numbers as text ("1" for 1.0); integers may come back as "1e+06".
CONVERTERS = {name: str for name in ("device", "trigger")}
CONVERTERS.update({name: float for name in ("taken_at", "lux", "analogue_gain", "image_expires_at")})
CONVERTERS.update({name: lambda v: int(float(v)) for name in ("exposure_us", "colour_temp_k", "width", "height", "image_size")})
# RediSearch refuses to return more rows than this from one query (MAXSEARCHRESULTS).
MAX_RESULTS = 10_000
TIE_SLACK = 4


class IndexMissing(RuntimeError):
    """The search index does not exist: `pigallery index create` makes it."""


class TieGroupTooLarge(RuntimeError):
    """More captures share one taken_at than one query can return in pk order."""


@dataclass(frozen=True)
class Filters:
    """What to search for. Time bounds are epoch seconds: `since` inclusive, `until` exclusive."""

    since: Optional[float] = None
    until: Optional[float] = None
    devices: tuple[str, ...] = ()
    triggers: tuple[str, ...] = ()
    lux_min: Optional[float] = None
    lux_max: Optional[float] = None
    exposure_min: Optional[int] = None
    exposure_max: Optional[int] = None


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
          at: Optional[float] = None) -> str:
    """Return the RediSearch query for `filters`.

    `after` keeps captures at or beyond the cursor's taken_at (ties are resolved by
    the caller, by pk); `at` restricts to exactly one taken_at.
    """
    parts = []
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


def run(command: str, *commands: tuple) -> list:
    """Run several FT.SEARCH or FT.AGGREGATE commands in one round trip; return the replies."""
    try:
        if len(commands) == 1:  # a pipeline costs more than the command itself for small replies
            return [Capture.db().execute_command(command, schema.name(), *commands[0])]
        pipe = Capture.db().pipeline(transaction=False)
        for args in commands:
            pipe.execute_command(command, schema.name(), *args)
        return pipe.execute()
    except redis.ResponseError as exc:
        if "no such index" in str(exc).lower():
            raise IndexMissing(f"index {schema.name()} does not exist: run `pigallery index create`") from None
        raise


def _item(row: dict) -> dict:
    attrs = row["extra_attributes"]
    item = {"id": row["id"].rsplit(":", 1)[1]}
    for name, convert in CONVERTERS.items():
        value = attrs.get(name)
        item[name] = None if value is None else convert(value)
    # The sort key is the exact indexed double; RETURN rounds taken_at to 12 digits.
    if "sortkey" in row:
        item["taken_at"] = float(row["sortkey"][1:])
    return item


def _search_args(query: str, newest_first: bool, count: int) -> tuple:
    return (query, "WITHSORTKEYS", "SORTBY", "taken_at", "DESC" if newest_first else "ASC",
            "RETURN", len(RETURN_FIELDS), *RETURN_FIELDS, "LIMIT", 0, count, "DIALECT", 2)


def _count_args(filters: Filters) -> tuple:
    return (build(filters), "LIMIT", 0, 0, "DIALECT", 2)


def count(filters: Filters) -> int:
    """Return how many captures match `filters`."""
    return int(run("FT.SEARCH", _count_args(filters))[0]["total_results"])


def _tie_group(filters: Filters, taken_at: float) -> list[dict]:
    """Return every capture matching `filters` with exactly this taken_at."""
    reply = run("FT.SEARCH", _search_args(build(filters, at=taken_at), True, MAX_RESULTS))[0]
    if int(reply["total_results"]) > len(reply["results"]):
        raise TieGroupTooLarge(f"more than {MAX_RESULTS} captures share taken_at {taken_at}")
    return [_item(r) for r in reply["results"]]


def page(filters: Filters, limit: int, after: Optional[Position] = None, newest_first: bool = True) -> Page:
    """Return up to `limit` captures in (taken_at, id) order, starting after `after`.

    RediSearch sorts only by taken_at and breaks ties in internal doc order, so a
    group of equal taken_at is always taken whole (one more query if the page edge
    cuts through it) and ordered by id here. Each page is a range query, never an
    offset, so the last page costs what the first does.
    """
    out: list[dict] = []
    bound, total = after, None
    more = True
    while more and len(out) <= limit:
        want = limit + 1 - len(out)
        # A few rows beyond the page tell where the last taken_at group ends, so a
        # page edge inside a small tie group needs no extra query.
        commands = [_search_args(build(filters, bound, newest_first), newest_first, want + TIE_SLACK)]
        if total is None and bound is not None:
            commands.append(_count_args(filters))  # same round trip
        replies = run("FT.SEARCH", *commands)
        total = int(replies[-1]["total_results"]) if total is None else total
        rows = [_item(r) for r in replies[0]["results"]]
        full = len(rows) == want + TIE_SLACK
        groups = [(t, list(g)) for t, g in groupby(rows, key=lambda r: r["taken_at"])]
        if full and sum(len(g) for _, g in groups[:-1]) < want:
            # The page needs the last group, which the LIMIT may have cut short.
            groups[-1] = (groups[-1][0], _tie_group(filters, groups[-1][0]))
        elif full:
            groups.pop()  # complete groups alone fill the page; the cut one comes next time
        for t, members in groups:
            members.sort(key=lambda r: r["id"], reverse=newest_first)
            if after is not None and t == after.taken_at:
                members = [m for m in members if (m["id"] < after.pk if newest_first else m["id"] > after.pk)]
            out.extend(members)
        more = full
        if groups:
            # Just past the last whole group: the next query starts strictly beyond it.
            bound = Position(math.nextafter(groups[-1][0], -math.inf if newest_first else math.inf), "")
    items = out[:limit]
    nxt = Position(items[-1]["taken_at"], items[-1]["id"]) if len(out) > limit and items else None
    return Page(items, total, nxt)
