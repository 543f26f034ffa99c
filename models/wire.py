"""What of a capture leaves the store: derived from the marks on the Capture model's fields.

models.capture marks each field LISTED (a search returns it) or ITEM (returned, and shown as it is).
From those marks alone come the fields the index returns and how its replies are typed
(index.rows), a capture's public form (public(): the announcement on pub/sub, and the API's item
before its links) and that form's JSON Schema (Announcement, which the OpenAPI document shows).
Adding a field to what the API serves is one change: marking it in the model.
"""
from __future__ import annotations

import datetime as dt
import typing
from typing import Any, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from .capture import PK, Capture


def _marked(kind: str) -> tuple[str, ...]:
    return tuple(name for name, info in Capture.model_fields.items()
                 if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("wire") == kind)


# Shown in items and announcements, taken_at first (as items always had it), then in model order.
ITEM_FIELDS: tuple[str, ...] = tuple(sorted(_marked("item"), key=lambda name: name != "taken_at"))
# Returned by a search: the item's fields and those the web shapes an item from (image_expires_at).
LISTED_FIELDS: tuple[str, ...] = ITEM_FIELDS + _marked("listed")


def base_type(name: str) -> type:
    """The Python type of model field `name`, without its Optional."""
    annotation = Capture.model_fields[name].annotation
    if typing.get_origin(annotation) is Union:
        return next(arg for arg in typing.get_args(annotation) if arg is not type(None))
    return annotation


def iso(when: Union[dt.datetime, float, None]) -> Optional[str]:
    """Format an aware datetime or epoch seconds as ISO 8601 UTC with a Z, as the API and events show times."""
    if when is None:
        return None
    if not isinstance(when, dt.datetime):
        when = dt.datetime.fromtimestamp(when, dt.timezone.utc)
    return when.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def public(capture: Capture) -> dict:
    """A capture's public form: its id and ITEM_FIELDS, times as ISO strings (JSON-ready)."""
    out: dict[str, Any] = {"id": capture.pk}
    for name in ITEM_FIELDS:
        value = getattr(capture, name)
        out[name] = iso(value) if isinstance(value, dt.datetime) else value
    return out


def _schema_field(name: str) -> tuple[Any, Any]:
    """The (type, Field) public() gives field `name` in JSON: always present, null when unknown."""
    info = Capture.model_fields[name]
    extra = {key: value for key, value in info.json_schema_extra.items() if key != "wire"}
    annotation = info.annotation
    if base_type(name) is dt.datetime:
        annotation = str if info.is_required() else Optional[str]
        extra["format"] = "date-time"
    return annotation, Field(..., description=info.description, json_schema_extra=extra or None)


# The JSON Schema of public(): what /api/events announces, and (plus its links) an API item.
Announcement = create_model(
    "Announcement",
    __config__=ConfigDict(extra="forbid"),
    __doc__="A capture as announced on pub/sub and /api/events: the fields the model marks ITEM.",
    id=(str, Field(..., pattern=PK.pattern, description="The capture's id (a ULID).")),
    **{name: _schema_field(name) for name in ITEM_FIELDS},
)


def schema(model: type[BaseModel]) -> dict:
    """`model`'s JSON Schema as the OpenAPI document shows it (what is sent: serialization; no titles)."""
    document = model.model_json_schema(mode="serialization")
    document.pop("title", None)
    for prop in document["properties"].values():
        prop.pop("title", None)
    return document
