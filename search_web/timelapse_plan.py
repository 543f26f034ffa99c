"""Time-lapse planning: check a request against the captures it selects, then pick its frames.

Frames are chosen by walking keyset pages (index.query.page, oldest first), so a job never holds
more than one page of metadata at a time. The output size follows the first capture's upright
size (shown_size).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from fractions import Fraction
from typing import Callable, Iterator, Optional

from index import query, walk
from index.filters import Filters
from models.capture import PK, stored_time

from .params import BadParameter
from .timelapse_frames import QUARTER_TURNS
from .values import CLOCK

UTC = dt.timezone.utc
# The most frames one video may have: 20,000 frames are 13.9 minutes at 24 fps. More matching
# captures are sampled with `every` (or `daily_at`).
MAX_FRAMES = 20_000
# Output size: the first frame's, scaled down so that its longer side is at most DEFAULT_MAX_SIDE.
DEFAULT_MAX_SIDE = 1920
MIN_SIDE, MAX_SIDE = 16, 3840
MAX_PIXELS = 3840 * 2160  # 4K UHD: within H.264 level 5.1
FPS_MIN, FPS_MAX, DEFAULT_FPS = 1, 60, 24
MAX_DURATION = 3600
EVERY_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_EVERY = 366 * 86400
# As the OpenAPI document states it (a JSON Schema pattern), ASCII digits only. daily_at is a
# time of day as the time-of-day filters take it (values.CLOCK).
EVERY = re.compile(r"[1-9][0-9]{0,5}[smhd]", re.ASCII)
PAGE_SIZE = 500


def parse_every(text: str) -> float:
    """Return the seconds of an interval such as 10m, 1h or 1d."""
    if not EVERY.fullmatch(text):
        raise ValueError(f"must be a whole number and a unit s, m, h or d (10m, 1h, 1d), got {text!r}")
    seconds = int(text[:-1]) * EVERY_UNITS[text[-1]]
    if seconds > MAX_EVERY:
        raise ValueError(f"may be at most 366d, got {text!r}")
    return float(seconds)


def parse_daily_at(text: str) -> tuple[int, int]:
    """Return (hour, minute) of HH:MM."""
    match = CLOCK.fullmatch(text)
    if not match:
        raise ValueError(f"must be a time HH:MM from 00:00 to 23:59, such as 12:00, got {text!r}")
    return int(match.group(1)), int(match.group(2))


def interval_text(seconds: float) -> str:
    """The shortest `every` of whole units at least `seconds` long (for messages)."""
    for unit, size in (("m", 60), ("h", 3600), ("d", 86400)):
        count = math.ceil(seconds / size)
        if count < {"m": 120, "h": 48, "d": 10**9}[unit]:
            return f"{count}{unit}"
    return f"{math.ceil(seconds / 86400)}d"


@dataclasses.dataclass(frozen=True)
class Plan:
    """A checked time-lapse request: which captures, sampled how, encoded how."""

    filters: Filters
    width: int
    height: int
    bound: int  # at most this many frames (the exact count comes from the selection walk)
    every: Optional[float] = None
    daily_at: Optional[tuple[int, int]] = None
    tz: dt.tzinfo = UTC
    fps: Optional[Fraction] = None
    duration: Optional[float] = None
    deflicker: bool = False

    def frame_rate(self, frames: int) -> Fraction:
        """Frames per second: as asked, or what makes `frames` last `duration` (within 1-60 fps)."""
        if self.fps is not None:
            return self.fps
        if self.duration is not None:
            rate = (Fraction(frames) / Fraction(self.duration)).limit_denominator(1000)
            return min(max(rate, Fraction(FPS_MIN)), Fraction(FPS_MAX))
        return Fraction(DEFAULT_FPS)


def _even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)


def output_size(first: tuple[int, int], width: Optional[int], height: Optional[int],
                max_side: int = DEFAULT_MAX_SIDE) -> tuple[int, int]:
    """The video's size: as given; a missing side from the first frame's aspect; else the first
    frame's size with its longer side at most `max_side`. BadParameter names a size that cannot be."""
    w0, h0 = first if first[0] > 0 and first[1] > 0 else (1280, 960)
    if width and height:
        size = (width, height)
    elif width:
        size = (width, _even(width * h0 / w0))
    elif height:
        size = (_even(height * w0 / h0), height)
    else:
        scale = min(1.0, max_side / max(w0, h0))
        size = (max(MIN_SIDE, _even(w0 * scale)), max(MIN_SIDE, _even(h0 * scale)))
    named = "width" if width or not height else "height"
    for side in size:
        if not MIN_SIDE <= side <= MAX_SIDE:
            raise BadParameter(named, f"{named}: the video would be {size[0]}x{size[1]}; each side must be "
                                      f"{MIN_SIDE} to {MAX_SIDE} pixels (give width and height)")
    if size[0] * size[1] > MAX_PIXELS:
        raise BadParameter(named, f"{named}: {size[0]}x{size[1]} is more than {MAX_PIXELS:,} pixels (4K UHD), "
                                  "the most this server encodes")
    return size


def shown_size(row: dict) -> tuple[int, int]:
    """A listed capture's (width, height) as shown: upright, so orientations 5-8 (a quarter turn)
    swap the stored size. Frames are turned upright (upright_jpeg), so the video follows this."""
    width, height = row.get("width") or 0, row.get("height") or 0
    return (height, width) if row.get("orientation") in QUARTER_TURNS else (width, height)


def local_day(seconds: float, tz: dt.tzinfo) -> dt.date:
    return dt.datetime.fromtimestamp(seconds, tz).date()


def make_plan(filters: Filters, *, every: Optional[str] = None, daily_at: Optional[str] = None,
              tz: Optional[dt.tzinfo] = None, fps: Optional[float] = None, duration: Optional[float] = None,
              width: Optional[int] = None, height: Optional[int] = None, deflicker: bool = False,
              no_match_parameter: str = "from") -> Plan:
    """Check a request against the captures it selects (two one-row queries); BadParameter if it
    selects nothing, would have more than MAX_FRAMES frames, or cannot be encoded at its size."""
    step = parse_every(every) if every else None
    at = parse_daily_at(daily_at) if daily_at else None
    zone = tz or UTC
    oldest = query.page(filters, 1, newest_first=False)
    if not oldest.total or not oldest.items:
        raise BadParameter(no_match_parameter, "no captures match these filters: there is nothing to make a "
                                               "time-lapse of")
    newest = query.page(filters, 1, newest_first=True)
    first, last = oldest.items[0], (newest.items or oldest.items)[0]
    span = max(0.0, last["taken_at"] - first["taken_at"]) if math.isfinite(last["taken_at"] - first["taken_at"]) else math.inf
    bound = oldest.total
    if step:
        bound = min(bound, math.floor(span / step) + 1) if math.isfinite(span) else bound
    elif at:
        try:
            bound = min(bound, (local_day(last["taken_at"], zone) - local_day(first["taken_at"], zone)).days + 1)
        except (OverflowError, OSError, ValueError):
            pass
    if bound > MAX_FRAMES:
        hint = f" (every={interval_text(span / (MAX_FRAMES - 1))} would do)" if math.isfinite(span) and span else ""
        name = "every" if step or not at else "daily_at"
        what = f"{oldest.total:,} captures match" if not (step or at) else f"this would take up to {bound:,} frames"
        raise BadParameter(name, f"{name}: {what}; a time-lapse has at most {MAX_FRAMES:,} frames: narrow the "
                                 f"filters or sample with a longer every{hint}")
    size = output_size(shown_size(first), width, height)
    return Plan(filters=filters, width=size[0], height=size[1], bound=bound, every=step, daily_at=at, tz=zone,
                fps=Fraction(fps).limit_denominator(1000) if fps is not None else None, duration=duration,
                deflicker=deflicker)


# Selection: oldest first, one keyset page at a time.

def captures(filters: Filters, check: Callable[[], None] = lambda: None) -> Iterator[dict]:
    """Yield every matching capture's metadata row, oldest first; `check` runs before each page
    (it raises Cancelled to stop)."""
    check()
    for rows in walk.pages(filters, newest_first=False, size=PAGE_SIZE):
        for row in rows:
            # A hand-written hash may hold an id or time no capture has: such a row is no frame.
            if PK.match(row["id"]) and stored_time(row["taken_at"]) is not None:
                yield row
        check()  # before the next page is read


def select(rows: Iterator[dict], plan: Plan) -> Iterator[dict]:
    """The frames of the time-lapse, from rows in time order.

    every: the first capture of each interval, intervals counted from the first capture.
    daily_at: per calendar day in `tz`, the capture nearest that day's HH:MM (the earlier on a tie).
    """
    if plan.every:
        start, last_slot = None, None
        for row in rows:
            start = row["taken_at"] if start is None else start
            slot = math.floor((row["taken_at"] - start) / plan.every)
            if slot != last_slot:
                last_slot = slot
                yield row
    elif plan.daily_at:
        day, best, best_distance, target = None, None, math.inf, 0.0
        for row in rows:
            when = dt.datetime.fromtimestamp(row["taken_at"], plan.tz)
            if when.date() != day:
                if best is not None:
                    yield best
                day, best, best_distance = when.date(), None, math.inf
                target = dt.datetime.combine(day, dt.time(*plan.daily_at), tzinfo=plan.tz).timestamp()
            distance = abs(row["taken_at"] - target)
            if distance < best_distance:
                best, best_distance = row, distance
        if best is not None:
            yield best
    else:
        yield from rows


def count_frames(plan: Plan, check: Callable[[], None] = lambda: None) -> int:
    """How many frames the plan selects (a metadata walk, no image bytes)."""
    return sum(1 for _ in select(captures(plan.filters, check), plan))
