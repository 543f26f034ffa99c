"""The JSON search API: captures, their images, facets and statistics."""
from __future__ import annotations

import logging
import time
from typing import Optional

from flask import Blueprint, Response, abort, current_app, request, url_for
from pydantic import Field
from werkzeug.routing import BaseConverter

from index import facets as facet_index
from index import query
from index.rows import capture_row
from models import Capture, NotFoundError
from models.capture import PK, UnreadableCapture, stored_time
from models.wire import Announcement, iso, public

from .errors import error_response
from .security import token_refusal
from .params import BadParameter, Cursors, FacetParams, SearchParams, parse

bp = Blueprint("api", __name__, url_prefix="/api")


class CaptureId(BaseConverter):
    """<capture_id:pk> in a route: a capture id in shape (PK), else no route matches and the reply is a 404."""

    regex = PK.pattern.strip("^$")


@bp.record_once
def _converters(state) -> None:
    # Recorded before any route below, so the converter exists when their rules are added.
    state.app.url_map.converters["capture_id"] = CaptureId


class Item(Announcement):
    """A capture as /api/captures lists it: its public fields (models.wire) and links to its bytes."""

    thumbnail_url: str = Field(..., description="The thumbnail: a JPEG at most 320 px a side, already upright.")
    image_url: Optional[str] = Field(..., description="The full-size image; null once it has expired.")


# A capture's bytes never change under its id, so clients may cache them for a year.
IMMUTABLE_MAX_AGE = 365 * 86400
# The keys of an item, in order (the export's sidecars have these columns).
ITEM_KEYS = tuple(Item.model_fields)
# The formats the model stores (models.images.ACCEPTED_FORMATS), each told by its signature:
# (offset, bytes) parts that must all match. The type served is decided from these alone.
SIGNATURES = {
    "image/jpeg": ((0, b"\xff\xd8\xff"),),
    "image/png": ((0, b"\x89PNG\r\n\x1a\n"),),
    "image/webp": ((0, b"RIFF"), (8, b"WEBP")),  # RIFF alone is also WAV or AVI
}
OCTET_STREAM = "application/octet-stream"

log = logging.getLogger(__name__)


def to_items(rows: list[dict]) -> list[dict]:
    """Shape captures' metadata for the API: links instead of bytes, ISO times.

    Each row is checked again by the model first (models.capture's read side): a field the
    capture user broke is null, a capture it made unreadable is left out, with a log line.
    """
    # URL patterns are built once per call: url_for per item was 2 ms of a 48-item page.
    thumb = url_for("api.thumbnail", pk="~").partition("~")
    image = url_for("api.image", pk="~").partition("~")
    now = time.time()
    items = []
    for row in rows:
        capture = readable(row)
        if capture is None:
            continue
        items.append({
            **public(capture),
            "thumbnail_url": f"{thumb[0]}{capture.pk}{thumb[2]}",
            "image_url": None if expired(capture, now) else f"{image[0]}{capture.pk}{image[2]}",
        })
    return items


def readable(row: dict) -> Optional[Capture]:
    """Return the listing row as a capture the model checked again, or None to leave it out."""
    # The id is the key's name, and the capture user may HSET any key under the prefix.
    if not PK.match(row["id"]):
        log.warning("key %.80r skipped: not a capture id", row["id"])
        return None
    try:
        return Capture.from_stored(row["id"], row)
    except UnreadableCapture:
        return None  # the model logged why


def expired(capture: Capture, now: float) -> bool:
    """Whether the full image's own TTL has passed (its thumbnail stays)."""
    return capture.image_expires_at is not None and capture.image_expires_at.timestamp() <= now


def to_item(row: dict) -> dict:
    """Shape one capture's metadata for the API."""
    return to_items([row])[0]


def cursors() -> Cursors:
    # create_app always sets a key: the configured one, else the data dir's. Never a constant
    # in the code, which would let anyone forge a cursor.
    return Cursors(current_app.config["SECRET_KEY"])


def missing(pk: str):
    """Answer 404 for capture `pk` (raises)."""
    abort(error_response(404, f"no capture with id {pk!r}", id=pk))


def load(pk: str) -> Capture:
    """Return the capture `pk` (an id in shape: the route's converter checked it), or answer 404."""
    try:
        return Capture.load(pk)
    except NotFoundError:
        missing(pk)


def sniff(data: bytes) -> str:
    """Return the MIME type of image bytes from their signature; OCTET_STREAM unless JPEG, PNG or WebP."""
    for mime, parts in SIGNATURES.items():
        if all(data[at:at + len(magic)] == magic for at, magic in parts):
            return mime
    return OCTET_STREAM


@bp.get("/captures")
def list_captures():
    """Search captures; page with next_cursor."""
    params = parse(SearchParams, request.args)
    limit = params.limit or current_app.config["PAGE_SIZE"]
    most = current_app.config["MAX_PAGE_SIZE"]
    if limit > most:
        raise BadParameter("limit", f"limit must be at most {most}, got {limit}")
    filters = params.filters()
    after = cursors().load(params.cursor, params.sort, filters) if params.cursor else params.position()
    page = query.page(filters, limit, after, newest_first=params.sort == "newest")
    return {
        "items": to_items(page.items),
        "total": page.total,
        "next_cursor": cursors().dump(page.next, params.sort, filters) if page.next else None,
    }


@bp.get("/captures/<capture_id:pk>")
def get_capture(pk: str):
    """Return one capture's metadata."""
    return to_item(capture_row(load(pk)))


def send_binary(pk: str, field: str) -> Response:
    """Send an image's bytes, or a 304 decided from metadata alone, before any byte is read."""
    capture = load(pk)
    if field == "image" and not capture.image_available:
        return gone(pk)
    # A capture's bytes never change under its id, so id, field and stored size make a
    # strong validator without reading (or hashing) the bytes.
    etag = f"{pk}.{field}.{capture.stored_size(field)}"
    if request.if_none_match.contains_weak(etag):
        response = Response(status=304)
    else:
        data = Capture.read_binary(pk, field)
        if data is None:
            if field == "image":
                return gone(pk)
            missing(pk)
        # Never the stored mime_type: the capture user may HSET it (text/html would run as a page
        # of this origin). The bytes' own signature decides, and security.py adds nosniff.
        mimetype = sniff(data)
        response = Response(data, mimetype=mimetype)
        if mimetype == OCTET_STREAM:
            # Not an image the model stores, so written around it: a file to save, never a page
            # to render. Served rather than refused, so the bytes can still be looked at.
            response.headers["Content-Disposition"] = f'attachment; filename="{pk}.{field}"'
    response.set_etag(etag)
    response.cache_control.public = True
    response.cache_control.max_age = IMMUTABLE_MAX_AGE
    response.cache_control.immutable = True
    return response


def gone(pk: str) -> Response:
    return error_response(410, f"the full image of {pk} has expired; its thumbnail remains",
                          thumbnail_url=url_for("api.thumbnail", pk=pk))


@bp.get("/captures/<capture_id:pk>/image")
def image(pk: str):
    """Return the full-size image bytes (410 once expired)."""
    return send_binary(pk, "image")


@bp.get("/captures/<capture_id:pk>/thumbnail")
def thumbnail(pk: str):
    """Return the thumbnail bytes."""
    return send_binary(pk, "thumbnail")


@bp.delete("/captures/<capture_id:pk>")
def delete_capture(pk: str):
    """Delete a capture and its images; needs the API token."""
    refusal = token_refusal("deletion is")
    if refusal is not None:
        return refusal
    if not Capture.remove(pk):
        missing(pk)
    return "", 204


@bp.errorhandler(facet_index.TooManyBuckets)
def too_many_buckets(exc):
    return error_response(400, str(exc), parameter="bucket")


@bp.get("/facets")
def get_facets():
    """Return device and trigger counts and a time histogram for the filters."""
    params = parse(FacetParams, request.args)
    # Bar starts come written: with a zone, its local offset (+02:00); without, the UTC "Z" form.
    # Written there because a start can be in year 0 or 10000 locally, beyond Python's datetime.
    return facet_index.facets(params.filters(), params.bucket, params.tz)


@bp.get("/stats")
def get_stats():
    """Return totals, per-device counts, oldest/newest, bytes stored and index state."""
    result = facet_index.stats()
    # Times the capture user wrote outside years 1-9999 (or infinite) are null, not a 500.
    result["oldest"], result["newest"] = iso(stored_time(result["oldest"])), iso(stored_time(result["newest"]))
    return result


@bp.get("/openapi.json")
def openapi():
    """Return the OpenAPI 3 description of this API."""
    from .openapi import spec

    return spec()
