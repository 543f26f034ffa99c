"""The body of POST /api/timelapses: its parameters (the search filters and how to make the video),
their JSON Schema, and a JSON object read as parse() reads query arguments.

`pigallery timelapse` builds its options from TimelapseParams too, so the API and the command
take the same parameters, checked the same way.
"""
from __future__ import annotations

import json
from typing import Optional

from pydantic import Field, field_validator
from werkzeug.datastructures import MultiDict

from . import timelapse_plan as planning
from .params import BadParameter, FilterParams
from .values import CLOCK, Number, Zone

EVERY = f"^{planning.EVERY.pattern}$"
DAILY_AT = f"^{CLOCK.pattern}$"
# What the job's own parameters are; the rest of TimelapseParams are search filters.
OPTIONS = ("every", "daily_at", "tz", "fps", "duration", "width", "height", "deflicker")


class TimelapseParams(FilterParams):
    """Body of POST /api/timelapses: the search filters of /api/captures, and how to make the video."""

    every: Optional[str] = Field(None, json_schema_extra={"pattern": EVERY}, description=(
        "One frame per interval: a whole number and s, m, h or d (10m, 1h, 1d), at most 366d; the first capture "
        "of each interval, counted from the first matching capture. Not with daily_at."))
    daily_at: Optional[str] = Field(None, json_schema_extra={"pattern": DAILY_AT}, description=(
        "One frame per day: the capture nearest this local time (HH:MM) on each calendar day in `tz`. "
        "Not with every."))
    # One zone for the day of daily_at and for the time-of-day filters, if any (FilterParams may have tz too).
    tz: Optional[Zone] = Field(None, description=(
        "IANA time zone daily_at's days and time (and the time-of-day filters) are read in; UTC when absent."))
    fps: Optional[Number] = Field(None, ge=planning.FPS_MIN, le=planning.FPS_MAX, description=(
        f"Frames per second ({planning.DEFAULT_FPS} when neither fps nor duration is given). Not with duration."))
    duration: Optional[Number] = Field(None, gt=0, le=planning.MAX_DURATION, description=(
        f"Target length in seconds: the frame rate is frames / duration, kept within {planning.FPS_MIN}-"
        f"{planning.FPS_MAX} fps. Not with fps."))
    width: Optional[int] = Field(None, ge=planning.MIN_SIDE, le=planning.MAX_SIDE, json_schema_extra={"multipleOf": 2},
                                 description=("Video width in pixels, even. Default: from the first frame, its "
                                              f"longer side at most {planning.DEFAULT_MAX_SIDE}; with only one of "
                                              "width and height, the other follows the first frame's aspect. "
                                              "Frames of another shape are letterboxed."))
    height: Optional[int] = Field(None, ge=planning.MIN_SIDE, le=planning.MAX_SIDE, json_schema_extra={"multipleOf": 2},
                                  description=f"Video height in pixels, even. At most {planning.MAX_PIXELS:,} pixels "
                                              "in all.")
    deflicker: bool = Field(False, description="Scale each frame's brightness towards a running mean (exposure "
                                               "normalisation); costs a decode and re-encode per frame.")

    @field_validator("every")
    @classmethod
    def _every(cls, value: Optional[str]) -> Optional[str]:
        if value is not None:
            planning.parse_every(value)  # its ValueError says what is wrong
        return value

    @field_validator("daily_at")
    @classmethod
    def _daily_at(cls, value: Optional[str]) -> Optional[str]:
        if value is not None:
            planning.parse_daily_at(value)
        return value

    @field_validator("width", "height")
    @classmethod
    def _even(cls, value: Optional[int]) -> Optional[int]:
        if value is not None and value % 2:
            raise ValueError(f"must be even (H.264 in yuv420p needs even sides), got {value}")
        return value

    def check(self) -> None:
        super().check()
        if self.every and self.daily_at:
            raise BadParameter("daily_at", "give every or daily_at, not both")
        if self.fps is not None and self.duration is not None:
            raise BadParameter("duration", "give fps or duration, not both")

    def given_filters(self) -> list[str]:
        """The names of the filters set, as the API spells them."""
        return [field.alias or name for name, field in FilterParams.model_fields.items()
                if name in self.model_fields_set and name not in OPTIONS
                and getattr(self, name) not in (None, [], ())]

    def plan(self) -> planning.Plan:
        """Check the request against the captures; BadParameter names what is wrong."""
        given = self.given_filters()
        return planning.make_plan(self.filters(), every=self.every, daily_at=self.daily_at, tz=self.tz, fps=self.fps,
                                  duration=self.duration, width=self.width, height=self.height,
                                  deflicker=self.deflicker, no_match_parameter=given[0] if given else "from")

    def described(self) -> dict:
        """The request as given, for the job's status."""
        return self.model_dump(by_alias=True, exclude_defaults=True)  # made JSON by models.videos


def request_schema() -> dict:
    """The JSON Schema of the body: TimelapseParams', where a repeatable filter may also be one value."""
    schema = TimelapseParams.model_json_schema(by_alias=True)
    schema.pop("title", None)
    for prop in schema["properties"].values():
        prop.pop("title", None)
        if prop.get("type") == "array":
            items = prop.pop("items")
            prop.pop("type")
            prop["anyOf"] = [{"type": "array", "items": items}, items]
    return schema


def fits(value, schema: dict) -> bool:
    """Whether a JSON value has a type `schema` allows (the types only: pydantic checks the rest)."""
    if "anyOf" in schema:
        return any(fits(value, option) for option in schema["anyOf"])
    kinds = schema.get("type")
    if kinds is None:
        return True
    for kind in kinds if isinstance(kinds, list) else [kinds]:
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if (kind == "null" and value is None or kind == "string" and isinstance(value, str)
                or kind == "boolean" and isinstance(value, bool) or kind == "number" and number
                or kind == "integer" and number and float(value).is_integer()
                or kind == "array" and isinstance(value, list) and all(fits(v, schema.get("items", {})) for v in value)):
            return True
    return False


_properties: Optional[dict] = None


def as_args(body) -> MultiDict:
    """A JSON object as parse() takes query arguments, once its values have the types the OpenAPI
    document states (JSON has them, unlike a query string): a list is a repeated parameter, null is absent."""
    global _properties
    if _properties is None:
        _properties = request_schema()["properties"]
    if not isinstance(body, dict):
        raise BadParameter("body", "the body must be a JSON object of parameters, such as {\"every\": \"1h\"}")
    pairs = []
    for name, value in body.items():
        prop = _properties.get(name)
        if prop is not None and not fits(value, prop):
            raise BadParameter(name, f"{name}: {json.dumps(value)[:80]} is not of the type this parameter takes "
                                     "(see /api/openapi.json)")
        for item in value if isinstance(value, list) else [value]:
            if item is not None:
                pairs.append((name, item))
    return MultiDict(pairs)
