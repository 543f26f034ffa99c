"""One query value at a time: dates and instants, time zones, times of day, whole numbers, flags, names.

Each parser raises ValueError saying what is wrong; the Annotated types carry them into the
parameter models (search_web.params), with the JSON Schema the OpenAPI document shows.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Optional, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, Field, PlainValidator, WithJsonSchema

from models.capture import Capture

UTC = dt.timezone.utc
OUT_OF_RANGE = "{value!r} is out of range: times must fall within the years 0001 to 9999 in UTC"
# "+02:00" arrives as " 02:00" when a client forgets to percent-encode the plus sign.
UNENCODED_PLUS = re.compile(r"(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}(?::?\d{2})?)$")
# ISO 8601 ordinal dates (2026-335, 2026335), which date.fromisoformat does not read.
ORDINAL_DATE = re.compile(r"(\d{4})-?(\d{3})", re.ASCII)
# A week without its day (2026-W49): date.fromisoformat reads it as that Monday, which as
# `to` would silently drop the other six days, so it is refused instead.
WEEK_ONLY = re.compile(r"\d{4}(-?)W\d{2}", re.ASCII)
EPOCH_DAY = dt.date(1970, 1, 1)
# A time of day to the minute, as <input type="time"> sends it.
CLOCK = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])", re.ASCII)
# A whole number as a query string writes it. pydantic's lax int also took " 5", "5_0" and "+0.0";
# an integral ".0" stays, since JSON Schema counts 60.0 as an integer and generated requests send it.
WHOLE_NUMBER = re.compile(r"-?[0-9]+(?:\.0+)?", re.ASCII)
FLAGS = {"true": True, "false": False}


def parse_date(text: str) -> Optional[dt.date]:
    """Return the day an ISO 8601 date-only string names, or None when `text` is not date-only.

    Every form date.fromisoformat reads (2026-12-01, 20261201, 2026-W49-2, 2026W492) and the
    ordinal ones (2026-335, 2026335) name a whole day; anything with a time is not date-only.
    """
    week = WEEK_ONLY.fullmatch(text)
    if week:
        day = f"{text}{week.group(1)}"
        raise ValueError(f"{text!r} names a week, not a day: give a day such as {day}1 (its Monday) "
                         f"or {day}7 (its Sunday)")
    ordinal = ORDINAL_DATE.fullmatch(text)
    if ordinal:
        year, number = int(ordinal.group(1)), int(ordinal.group(2))
        if year < 1:
            raise ValueError(OUT_OF_RANGE.format(value=text))
        last = dt.date(year, 12, 31).timetuple().tm_yday
        if not 1 <= number <= last:
            raise ValueError(f"{text!r} is not a day of {year}: its days are {year}-001 to {year}-{last:03d}")
        return dt.date(year, 1, 1) + dt.timedelta(days=number - 1)
    try:
        # Date-only forms alone: date.fromisoformat refuses anything with a time.
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def parse_instant(value) -> Union[dt.date, dt.datetime]:
    """Parse an ISO 8601 date (a whole UTC day) or date-time (UTC unless an offset is given)."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value
    text = UNENCODED_PLUS.sub(r"\1+\2", str(value).strip())
    day = parse_date(text)
    if day is not None:
        return day
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"expected an ISO 8601 date or date-time such as 2026-06-01 or "
                         f"2026-06-01T12:00:00Z, got {value!r}") from None
    try:
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is in year 0 in UTC
        raise ValueError(OUT_OF_RANGE.format(value=value)) from None


def parse_zone(value) -> dt.tzinfo:
    """Look up an IANA time zone name such as Europe/Berlin."""
    if isinstance(value, dt.tzinfo):
        return value
    try:
        return ZoneInfo(str(value))
    # ValueError: a name zoneinfo refuses outright, such as an absolute path or "../x".
    # OSError: one it looks up as a file and cannot open: a directory of the zone database
    # (Europe) or a name longer than a file name may be.
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {value!r}; expected an IANA name such as Europe/Berlin or UTC") from None


def parse_clock(value) -> int:
    """Read a time of day HH:MM (00:00 to 23:59); return its minute of the day."""
    match = CLOCK.fullmatch(str(value))
    if not match:
        raise ValueError(f"expected a time of day HH:MM such as 06:00 or 22:30, got {value!r}")
    return int(match.group(1)) * 60 + int(match.group(2))


def parse_whole(value) -> int:
    """Read a whole number: digits (an integral number from a JSON body too); nothing pydantic's lax mode guesses."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and WHOLE_NUMBER.fullmatch(value):
        return int(value.partition(".")[0])
    raise ValueError(f"expected a whole number such as 5000, got {value!r}")


def parse_flag(value) -> bool:
    """Read true or false (a JSON boolean too)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in FLAGS:
        return FLAGS[value]
    raise ValueError(f"expected true or false, got {value!r}")


def parse_camera(value) -> str:
    """Check a camera make or model: trimmed (as RediSearch indexes a tag), not blank, no control characters."""
    text = str(value).strip()
    if not text:
        raise ValueError("must not be blank")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ValueError("must not contain control characters")
    if len(text) > 128:
        raise ValueError("must be at most 128 characters")
    return text


def parse_device(value) -> str:
    """Check a device name the way the model does (trimmed, no control characters)."""
    return Capture.clean_device(str(value))


Instant = Annotated[
    Union[dt.datetime, dt.date],
    PlainValidator(parse_instant),
    WithJsonSchema({"type": "string", "description": "ISO 8601 date, a whole UTC day (2026-06-01, 20260601, 2026-W23-1, "
                                                     "2026-152), or date-time (UTC unless an offset is given)",
                    "examples": ["2026-06-01", "2026-06-01T12:00:00Z", "2026-06-01T14:00:00+02:00"]}),
]
Zone = Annotated[
    dt.tzinfo,
    PlainValidator(parse_zone),
    WithJsonSchema({"type": "string", "description": "IANA time zone name", "examples": ["Europe/Berlin", "Asia/Kolkata"]}),
]
Clock = Annotated[
    int,
    PlainValidator(parse_clock),
    WithJsonSchema({"type": "string", "pattern": f"^{CLOCK.pattern}$", "examples": ["06:00", "22:30"]}),
]
Device = Annotated[str, PlainValidator(parse_device), WithJsonSchema({"type": "string", "maxLength": 128})]
Camera = Annotated[str, PlainValidator(parse_camera), WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 128})]


def whole(minimum: int):
    """A whole-number parameter of at least `minimum` (the bound first, so the schema says `minimum`)."""
    return Annotated[int, Field(ge=minimum), BeforeValidator(parse_whole)]


Flag = Annotated[bool, PlainValidator(parse_flag), WithJsonSchema({"type": "boolean"})]
Number = Annotated[float, Field(allow_inf_nan=False)]
