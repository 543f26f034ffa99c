"""Listing rows: the capture fields a search returns (models.wire.LISTED_FIELDS), typed from the model."""
from __future__ import annotations

import datetime as dt
import math
from typing import Any, Callable, Mapping

from models import Capture
from models import wire

# Fields a listing returns; image bytes are never among them (they are no model fields).
RETURN_FIELDS = wire.LISTED_FIELDS


def _whole(value) -> int | None:
    """An integer field as indexed; None for inf or NaN, which only a hand-written hash holds
    (the model refuses them on write; its read side then treats the field as missing)."""
    number = float(value)
    return int(number) if math.isfinite(number) else None


def _converter(name: str) -> Callable[[Any], Any]:
    # RediSearch returns numbers as text ("1" for 1.0); integers may come back as "1e+06". Times are
    # kept in epoch seconds (they are indexed as such), and the model reads them back from that.
    kind = wire.base_type(name)
    if kind in (float, dt.datetime):
        return float
    if kind is int:
        return _whole
    if kind is str:
        return str
    raise TypeError(f"field {name} is listed but the index cannot return a {kind.__name__}")


CONVERTERS = {name: _converter(name) for name in RETURN_FIELDS}


def row(pk: str, fields: Mapping[str, Any]) -> dict:
    """Shape one capture's metadata as listings have it: its id and RETURN_FIELDS, typed.

    `fields` holds the index's text replies or a Capture's own values; times become epoch seconds.
    """
    item = {"id": pk}
    for name, convert in CONVERTERS.items():
        value = fields.get(name)
        if isinstance(value, dt.datetime):
            value = value.timestamp()
        item[name] = None if value is None else convert(value)
    return item


def capture_row(capture: Capture) -> dict:
    """Return a loaded Capture's metadata in the shape listing rows have."""
    return row(capture.pk, capture.model_dump(include=set(RETURN_FIELDS)))
