"""Query parameters of the API: parsed and validated in one place, described for OpenAPI."""
from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import json
import math
from typing import Literal, Optional, Union

from itsdangerous import BadSignature, URLSafeSerializer
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from index.filters import Filters, Position
from models.capture import PK, TRIGGERS

from .values import EPOCH_DAY, Camera, Clock, Device, Flag, Instant, Number, Zone, whole


class BadParameter(ValueError):
    """A query parameter is wrong; `parameter` names it and the message says why."""

    def __init__(self, parameter: str, message: str):
        super().__init__(message)
        self.parameter = parameter


def _epoch(name: str, when: Union[dt.date, dt.datetime, None], end: bool) -> Optional[float]:
    """Return the epoch bound `when` stands for: `since` inclusive, `until` exclusive."""
    if when is None:
        return None
    if isinstance(when, dt.datetime):
        # An explicit `to` instant is inclusive; the next double makes it an exclusive bound.
        return math.nextafter(when.timestamp(), math.inf) if end else when.timestamp()
    # Counted in whole days, not through a datetime: to=9999-12-31 ends at the first instant
    # of year 10000, which no datetime can hold but an epoch bound can.
    start = (when - EPOCH_DAY).days * 86400
    return float(start + 86400 if end else start)


class FilterParams(BaseModel):
    """Filters shared by /api/captures and /api/facets."""

    # Only the names the API documents: `from_` is this field's Python name, not a parameter.
    model_config = ConfigDict(extra="forbid")

    from_: Optional[Instant] = Field(None, alias="from", description="Earliest taken_at (inclusive).")
    to: Optional[Instant] = Field(None, description="Latest taken_at (inclusive; a bare date includes that whole day).")
    device: list[Device] = Field([], description="Device name, exact and case-sensitive; repeat for several.")
    trigger: list[Literal[TRIGGERS]] = Field([], description="What triggered the capture; repeat for several.")
    lux_min: Optional[Number] = Field(None, description="Lowest estimated illuminance (lux).")
    lux_max: Optional[Number] = Field(None, description="Highest estimated illuminance (lux).")
    exposure_min: Optional[whole(0)] = Field(None, description="Shortest exposure time (microseconds).")
    exposure_max: Optional[whole(0)] = Field(None, description="Longest exposure time (microseconds).")
    camera_make: list[Camera] = Field([], description=(
        "Camera maker as items name it (EXIF Make, such as NIKON), exact and case-sensitive; repeat for several."))
    camera_model: list[Camera] = Field([], description=(
        "Camera model as items name it (EXIF Model, such as COOLPIX P6000), exact and case-sensitive; repeat for "
        "several."))
    has_gps: Optional[Flag] = Field(None, description=(
        "true: only captures with a GPS position (latitude and longitude); false: only those without."))
    time_from: Optional[Clock] = Field(None, description=(
        "Start of a time-of-day window, HH:MM in `tz`, inclusive: only captures taken from this time of day up to "
        "time_to, on any day. Without time_to the window ends at midnight."))
    time_to: Optional[Clock] = Field(None, description=(
        "End of the time-of-day window, HH:MM in `tz`, exclusive: 06:00 to 07:00 is one hour, 00:00 the midnight "
        "that ends the day. At or before time_from the window crosses midnight (22:00 to 02:00 is four hours); "
        "equal to it, the whole day. Without time_from the window starts at midnight. Captures stored before this "
        "filter existed match it only once `pigallery index backfill` has run."))
    tz: Optional[Zone] = Field(None, description=(
        "IANA time zone time_from and time_to are read in, across DST changes: a local time the clocks skip "
        "matches nothing that day, one they repeat matches both times. UTC when absent."))

    @model_validator(mode="after")
    def _ranges_in_order(self):
        """Refuse ranges whose low end is above their high end (parse() turns this into a 400 naming it)."""
        filters = self.filters()
        for low, high, lo, hi in (("from", "to", filters.since, filters.until),
                                  ("lux_min", "lux_max", self.lux_min, self.lux_max),
                                  ("exposure_min", "exposure_max", self.exposure_min, self.exposure_max)):
            if lo is not None and hi is not None and (lo >= hi if low == "from" else lo > hi):
                raise BadParameter(low, f"{low} must not be {'after' if low == 'from' else 'above'} {high}")
        return self

    def check(self) -> None:
        """Checks across parameters beyond the validators; parse() runs it, subclasses add theirs."""

    def filters(self) -> Filters:
        """Return the index filters these parameters describe."""
        return Filters(
            since=_epoch("from", self.from_, False),
            until=_epoch("to", self.to, True),
            devices=tuple(dict.fromkeys(self.device)),
            triggers=tuple(dict.fromkeys(self.trigger)),
            lux_min=self.lux_min, lux_max=self.lux_max,
            exposure_min=self.exposure_min, exposure_max=self.exposure_max,
            camera_makes=tuple(dict.fromkeys(self.camera_make)),
            camera_models=tuple(dict.fromkeys(self.camera_model)),
            has_gps=self.has_gps,
            **self._window(),
        )

    def _window(self) -> dict:
        """The time-of-day window as Filters has it: none at all for the whole day."""
        start, end = self.time_from or 0, self.time_to or 0  # an end at 00:00 is the midnight ending the day
        if start == end:
            return {}
        return {"time_from": start, "time_to": end, "zone": None if self.tz is None else str(self.tz)}


class SearchParams(FilterParams):
    """Parameters of GET /api/captures."""

    sort: Literal["newest", "oldest"] = Field("newest", description="Newest first (default) or oldest first.")
    limit: Optional[whole(1)] = Field(None, description=(
        "Page size; its default and maximum are server settings (PIGALLERY_PAGE_SIZE, PIGALLERY_MAX_PAGE_SIZE), "
        "and a larger limit is a 400 that says the maximum."))
    cursor: Optional[str] = Field(None, min_length=1, description=(
        "`next_cursor` of the previous page, sent with the same filters and sort it came with "
        "(other filters or sort are a 400)."))
    start: Optional[Instant] = Field(None, description=(
        "Begin the listing at this instant instead of at the newest (or oldest) capture: with sort=newest the "
        "captures taken at or before it (a bare date: up to that day's end), with sort=oldest at or after it (a "
        "bare date: from that day's start). One keyset query, however far back; `total` still counts every capture "
        "the filters match, and `next_cursor` goes on from there. Not with `cursor`."))

    @model_validator(mode="after")
    def _start_or_cursor(self):
        if self.start is not None and self.cursor is not None:
            raise BadParameter("start", "start and cursor cannot be combined: start begins a listing, next_cursor "
                                        "continues one (send it without start)")
        return self

    def position(self) -> Optional[Position]:
        """Where the listing starts for `start` (the captures at that instant included), or None."""
        if self.start is None:
            return None
        if self.sort == "newest":
            return Position(math.nextafter(_epoch("start", self.start, True), -math.inf))
        return Position(_epoch("start", self.start, False))


class FacetParams(FilterParams):
    """Parameters of GET /api/facets."""

    # Accepted so one query string serves both endpoints; counts have no order.
    sort: Literal["newest", "oldest"] = Field("newest", description="Accepted and ignored, as in /api/captures.")

    bucket: Optional[Literal["hour", "day", "week", "month", "year"]] = Field(
        None, description="Histogram bucket. When absent it is chosen from the range viewed (`from` and `to`, "
                          "else the matching captures' own span) for at most about 200 bars, and is never refused. "
                          "One that could need more than 10000 bars over the matching captures is a 400 naming "
                          "the bucket to use.")
    tz: Optional[Zone] = Field(
        None, description="IANA time zone the histogram's hours, days, weeks (from Monday), months (the 1st) and "
                          "years (1 January) start in, and time_from and time_to are read in, across DST changes; "
                          "UTC when absent. Bucket starts carry that zone's offset.")


def parse(model: type[FilterParams], args) -> FilterParams:
    """Validate request.args against `model`; raise BadParameter naming the first problem."""
    data = {}
    for name in args:
        field = model.model_fields.get("from_" if name == "from" else name)
        repeatable = field is not None and getattr(field.annotation, "__origin__", None) is list
        values = args.getlist(name)
        if not repeatable and len(values) > 1:
            raise BadParameter(name, f"{name} may be given once")
        data[name] = values if repeatable else values[0]
    try:
        params = model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else "query"
        if error["type"] == "extra_forbidden":
            raise BadParameter(name, f"unknown parameter {name!r}") from None
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, BadParameter):  # a check across parameters (a model validator) names its own
            raise cause from None
        message = str(cause or error["msg"])
        raise BadParameter(name, f"{name}: {message}") from None
    params.check()
    return params


def fingerprint(filters: Filters) -> str:
    """Return a short digest of what `filters` select, the same however the query spelled it.

    Built from the index filters, not the query string, so from=2026-06-01 and
    from=2026-06-01T00:00:00Z, or devices in another order, give one fingerprint.
    Every field of Filters counts, so a filter added later is covered without a change here.
    """
    # Order and repeats of devices and triggers do not change the result set.
    canonical = {name: sorted(value) if isinstance(value, tuple) else value
                 for name, value in dataclasses.asdict(filters).items()}
    digest = hashlib.blake2b(json.dumps(canonical, sort_keys=True).encode(), digest_size=6).digest()
    # Only tells filter sets apart: the cursor's signature is what stops forgery.
    return base64.urlsafe_b64encode(digest).decode()


class Cursors:
    """Encode keyset positions as opaque, signed strings, so an edited cursor is refused.

    A position only means something under the filters and sort it was made for: with
    others it would silently skip or repeat captures, so those are refused too.
    """

    def __init__(self, secret: str):
        self.serializer = URLSafeSerializer(secret, salt="pigallery.cursor")

    def dump(self, position: Position, sort: str, filters: Filters) -> str:
        return self.serializer.dumps([position.taken_at, position.pk, sort, fingerprint(filters)])

    def load(self, token: str, sort: str, filters: Filters) -> Position:
        try:
            fields = self.serializer.loads(token)
        except (BadSignature, ValueError, TypeError):
            raise BadParameter("cursor", "cursor is not one this API issued (copy next_cursor unchanged)") from None
        # Signed by this server but not in today's shape: issued before an upgrade.
        if not isinstance(fields, list) or len(fields) != 4:
            raise BadParameter("cursor", "cursor is from an older version of this API; start again without cursor")
        taken_at, pk, made_for, made_with = fields
        if made_for != sort:
            raise BadParameter("cursor", f"cursor was issued for sort={made_for}; keep the same sort while paging, "
                                         "or start again without cursor")
        if made_with != fingerprint(filters):
            raise BadParameter("cursor", "the filters changed since this cursor was issued; keep the same filters "
                                         "and sort while paging, or start again without cursor")
        # An infinite taken_at is a position too: a hand-written hash can sit there, and paging
        # must get past it (the model leaves that capture out of the items). NaN orders nothing.
        if not isinstance(taken_at, (int, float)) or math.isnan(taken_at) or not PK.match(str(pk)):
            raise BadParameter("cursor", "cursor is malformed")
        return Position(float(taken_at), pk)
