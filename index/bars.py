"""Histogram bars: the key FT.AGGREGATE gives each capture's bucket (APPLY), and keys as bars in a zone."""
from __future__ import annotations

import datetime as dt
from collections import Counter

from .zones import CYCLE, DAY, EARLY, HOUR, LATE, WEEK, WEEK_ORIGIN, inward, offset_at

# Mean lengths: they only pick a bucket for a time span, never place a bar.
BUCKETS = {"hour": HOUR, "day": DAY, "week": WEEK, "month": CYCLE / 4800, "year": CYCLE / 400}

NAIVE_EPOCH = dt.datetime(1970, 1, 1)
EPOCH_ORDINAL = NAIVE_EPOCH.toordinal()


def _wall_offset(zone: dt.tzinfo, wall: int) -> int:
    """`zone`'s UTC offset at local wall-clock time `wall` (seconds from 1970-01-01 00:00 local).

    A wall time that clocks skip or repeat gets the offset before the change (PEP 495, fold=0),
    so a skipped midnight resolves to the jump itself and a repeated one to its first occurrence.
    """
    local = NAIVE_EPOCH + dt.timedelta(seconds=inward(wall))
    return int(local.replace(tzinfo=zone).utcoffset().total_seconds())


def key_apply(bucket: str, offset: int) -> dict[str, str]:
    """APPLY steps giving each capture's bucket as @start, under a constant UTC `offset`.

    Hour keys are instants. Day and week keys are local wall-clock seconds; month keys count
    months since year 0 (year * 12 + month - 1) and year keys count years, from the local
    day's civil date by H. Hinnant's algorithm in floor arithmetic. RediSearch's own month()
    and year() give null before 1970, and month() of 9999-12-31 a day in year 10000 (measured).
    """
    # Local wall-clock seconds; the offset's own sign avoids relying on unary minus in APPLY.
    local = f"@taken_at {'-' if offset < 0 else '+'} {abs(offset)}"
    if bucket in ("hour", "day", "week"):
        size = BUCKETS[bucket]
        origin = WEEK_ORIGIN if bucket == "week" else 0
        key = f"floor(({local} - {origin}) / {size}) * {size} + {origin}"
        if bucket == "hour":
            key += f" {'+' if offset < 0 else '-'} {abs(offset)}"
        return {"start": key}
    # Days from 0000-03-01, its 400-year era, the day and year within the era (years from March).
    day_of_year = "@doe - 365 * @yoe - floor(@yoe / 4) + floor(@yoe / 100)"  # from 1 March
    month = f"12 * (@yoe + 400 * @era) + floor((5 * ({day_of_year}) + 2) / 153) + 2"
    return {"days": f"floor(({local}) / {DAY}) + 719468",  # in this order: each APPLY uses those before
            "era": "floor(@days / 146097)",
            "doe": "@days - @era * 146097",
            "yoe": "floor((@doe - floor(@doe / 1460) + floor(@doe / 36524) - floor(@doe / 146096)) / 365)",
            "start": month if bucket == "month" else f"floor(({month}) / 12)"}


def _first_day(year: int, month: int) -> int:
    """Days from 1970-01-01 to the first of `month` in `year` (0 to 10000 alike)."""
    cycles = 1 if year < 1 else -1 if year > 9999 else 0  # datetime.date ends at years 1 and 9999
    return dt.date(year + 400 * cycles, month, 1).toordinal() - EPOCH_ORDINAL - cycles * CYCLE // DAY


def _bar_start(key: int, bucket: str, zone: dt.tzinfo) -> int:
    """Turn a histogram key into the instant its bucket starts in `zone`."""
    if bucket == "hour":
        return key  # hour keys are instants already
    if bucket == "month":
        key = _first_day(key // 12, key % 12 + 1) * DAY
    elif bucket == "year":
        key = _first_day(key, 1) * DAY
    return key - _wall_offset(zone, key)


def iso_start(instant: int, offset: int, z: bool = False) -> str:
    """Write a bar's start as ISO 8601 with `offset` (Z for UTC when `z`).

    Years 0 and 10000 are written 0000 and +010000 (ISO 8601's expanded form, which JavaScript
    reads); a local mean time's offset keeps its seconds (Los Angeles until 1883: -07:52:58).
    """
    wall = instant + offset
    cycles = 1 if wall < EARLY else -1 if wall > LATE else 0
    local = NAIVE_EPOCH + dt.timedelta(seconds=wall + cycles * CYCLE)
    year = local.year - 400 * cycles
    text = (f"{year:04d}" if 0 <= year <= 9999 else f"{year:+07d}") + local.isoformat()[4:]
    if z and offset == 0:
        return text + "Z"
    hours, rest = divmod(abs(offset), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{text}{'-' if offset < 0 else '+'}{hours:02d}:{minutes:02d}" + (f":{seconds:02d}" if seconds else "")


def bars_of(counts: Counter, bucket: str, zone: dt.tzinfo) -> list[dict]:
    """Histogram keys (see key_apply) and their counts as bars in `zone`."""
    bars: Counter[int] = Counter()
    for key, count in counts.items():
        bars[_bar_start(key, bucket, zone)] += count
    return [{"start": start, "offset": offset_at(zone, start), "count": bars[start]} for start in sorted(bars)]
