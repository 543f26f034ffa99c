"""What a search asks for (Filters) and where a keyset page starts (Position)."""
from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Optional
from zoneinfo import ZoneInfo

from models.capture import EARLIEST, END

UTC = dt.timezone.utc


@dataclass(frozen=True)
class Filters:
    """What to search for. Time bounds are epoch seconds: `since` inclusive, `until` exclusive.

    A time-of-day window is minutes of the local day in `zone` (an IANA name; None is UTC):
    from `time_from` (inclusive) up to `time_to` (exclusive), across midnight when `time_to`
    is not after `time_from` (1320 to 120 is 22:00-02:00; 0 as `time_to` ends at midnight). Both
    are None for no window, and then `zone` is None too; they are never equal (that would be the
    whole day, which is no window).
    `camera_makes` and `camera_models` match exactly, as `devices` do; `has_gps` keeps only captures
    with (True) or without (False) a GPS position, None either.
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
    camera_makes: tuple[str, ...] = ()
    camera_models: tuple[str, ...] = ()
    has_gps: Optional[bool] = None

    @property
    def windowed(self) -> bool:
        """Whether a time-of-day window applies."""
        return self.time_from is not None


@dataclass(frozen=True)
class Position:
    """Where a keyset page starts: after this capture (the last of the previous page).

    Without `pk`, a start at an instant rather than after a capture: the captures at `taken_at`
    itself and beyond it, in the page's order.
    """

    taken_at: float
    pk: Optional[str] = None


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
