"""Lux and exposure ranges tested on each capture the other filters match, where that is cheaper (scan)."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Optional

from . import rollups
from .filters import Filters

# The ranges a query tests: (field, Filters' lower bound, upper bound). The rollups count the bands
# one of them holds whole (index.rollups, models.rollups.BANDED), never a page's rows.
RANGES = (("lux", "lux_min", "lux_max"), ("exposure_us", "exposure_min", "exposure_max"))
# A range is tested on each capture the other filters match (see scan()) when they match at most
# this many. At 1M captures one Pi's 30 days (16k captures) and a lux range counted in 15.6 ms
# tested, 70.3 ms through the range's iterator; a lux range over all 1M is the other way round.
SCAN_MAX = 50_000


def _literal(value: float) -> str:
    """A finite number as a FILTER expression reads it exactly: positional digits (it refuses 1e+16,
    measured), a negative one as a subtraction (no unary minus there, as in index.bars.key_apply)."""
    digits = format(Decimal(repr(float(value))), "f")
    return f"(0 - {digits[1:]})" if digits.startswith("-") else digits


def without_ranges(filters: Filters) -> Filters:
    """`filters` without its lux and exposure ranges."""
    return dataclasses.replace(filters, **{bound: None for _, low, high in RANGES for bound in (low, high)})


@dataclass(frozen=True)
class Scan:
    """A FILTER expression testing the ranges that queries built from without_ranges(filters) leave out."""

    expression: str
    fields: tuple[str, ...]

    def steps(self) -> tuple:
        """FT.AGGREGATE steps testing the ranges. LOAD reads a SORTABLE field's indexed value (as fast as
        naming it bare, measured); it also keeps an index made before the fields were SORTABLE working
        (values then come from the hashes: 39 against 70 ms) until `pigallery index create` rebuilds it."""
        return ("LOAD", len(self.fields), *(f"@{name}" for name in self.fields), "FILTER", self.expression)


def scan(filters: Filters) -> Optional[Scan]:
    """How to read `filters` (count, page, facets) by testing its lux and exposure ranges on each capture
    the rest of it matches; None: through the ranges' own iterators, as any filter.

    A numeric range's iterator unites every leaf of the numeric tree the range spans, so its
    cost follows the range's share of the whole collection (a lux range over 63% of 1M captures:
    304 leaves), however few captures the other filters match. Testing the sortable values of
    those few costs in proportion to them. The rollups tell how many they are, so this applies
    when they count the rest (devices, triggers, time) and it is at most SCAN_MAX.
    `exists()` first: a comparison with a missing value ends the FILTER's rows early, silently
    (measured), where a numeric range simply leaves a capture without the field out.
    """
    tests, fields, rest = [], [], without_ranges(filters)
    for name, low, high in RANGES:
        lo, hi = getattr(filters, low), getattr(filters, high)
        if lo is None and hi is None:
            continue
        fields.append(name)
        tests.append(f"exists(@{name})")
        bounds = [(op, bound) for op, bound in ((">=", lo), ("<=", hi)) if bound is not None]
        if any(not math.isfinite(bound) for _, bound in bounds):
            return None
        tests += [f"@{name} {op} {_literal(bound)}" for op, bound in bounds]
    if not tests or not rollups.applies(rest):
        return None
    candidates = rollups.count(rest)
    if candidates is None or candidates > SCAN_MAX:
        return None
    return Scan(" && ".join(tests), tuple(fields))
