"""The JSON search API: captures, their images, facets and statistics."""
from __future__ import annotations

import hmac
import time

from flask import Blueprint, Response, current_app, request, url_for

from index import facets as facet_index
from index import query
from models import Capture, NotFoundError
from models.events import iso

from .errors import error_response
from .params import PK, BadParameter, Cursors, FacetParams, SearchParams, parse

bp = Blueprint("api", __name__, url_prefix="/api")

# A capture's bytes never change under its id, so clients may cache them for a year.
IMMUTABLE_MAX_AGE = 365 * 86400
ITEM_FIELDS = ("device", "trigger", "lux", "exposure_us", "analogue_gain", "colour_temp_k", "width", "height",
               "image_size")
SIGNATURES = {b"\xff\xd8": "image/jpeg", b"\x89PNG": "image/png", b"RIFF": "image/webp"}


@bp.errorhandler(BadParameter)
def bad_parameter(exc: BadParameter):
    return error_response(400, str(exc), parameter=exc.parameter)


def to_items(rows: list[dict]) -> list[dict]:
    """Shape captures' metadata for the API: links instead of bytes, ISO times."""
    # URL patterns are built once per call: url_for per item was 2 ms of a 48-item page.
    thumb = url_for("api.thumbnail", pk="~").partition("~")
    image = url_for("api.image", pk="~").partition("~")
    now = time.time()
    return [{
        "id": row["id"],
        "taken_at": iso(row["taken_at"]),
        **{name: row.get(name) for name in ITEM_FIELDS},
        "thumbnail_url": f"{thumb[0]}{row['id']}{thumb[2]}",
        "image_url": None if expired(row, now) else f"{image[0]}{row['id']}{image[2]}",
    } for row in rows]


def expired(row: dict, now: float) -> bool:
    """Whether the full image's own TTL has passed (its thumbnail stays)."""
    return row.get("image_expires_at") is not None and row["image_expires_at"] <= now


def to_item(row: dict) -> dict:
    """Shape one capture's metadata for the API."""
    return to_items([row])[0]


def cursors() -> Cursors:
    return Cursors(current_app.config.get("SECRET_KEY") or "pigallery-cursor")


class NotFound(LookupError):
    """No capture with this id."""


@bp.errorhandler(NotFound)
def not_found(exc: NotFound):
    return error_response(404, f"no capture with id {exc.args[0]!r}", id=exc.args[0])


def load(pk: str) -> Capture:
    """Return the capture `pk`, or raise NotFound (a 404 reply)."""
    if PK.match(pk):
        try:
            return Capture.load(pk)
        except NotFoundError:
            pass
    raise NotFound(pk)


def sniff(data: bytes) -> str:
    """Return the MIME type of image bytes (thumbnails carry no stored type)."""
    return next((mime for magic, mime in SIGNATURES.items() if data.startswith(magic)), "application/octet-stream")


@bp.get("/captures")
def list_captures():
    """Search captures; page with next_cursor."""
    params = parse(SearchParams, request.args)
    limit = params.limit or current_app.config["PAGE_SIZE"]
    most = current_app.config["MAX_PAGE_SIZE"]
    if limit > most:
        raise BadParameter("limit", f"limit must be at most {most}, got {limit}")
    filters = params.filters()
    after = cursors().load(params.cursor, params.sort, filters) if params.cursor else None
    page = query.page(filters, limit, after, newest_first=params.sort == "newest")
    return {
        "items": to_items(page.items),
        "total": page.total,
        "next_cursor": cursors().dump(page.next, params.sort, filters) if page.next else None,
    }


@bp.get("/captures/<pk>")
def get_capture(pk: str):
    """Return one capture's metadata."""
    return to_item(query.capture_row(load(pk)))


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
            raise NotFound(pk)
        response = Response(data, mimetype=capture.mime_type if field == "image" else sniff(data))
    response.set_etag(etag)
    response.cache_control.public = True
    response.cache_control.max_age = IMMUTABLE_MAX_AGE
    response.cache_control.immutable = True
    return response


def gone(pk: str) -> Response:
    return error_response(410, f"the full image of {pk} has expired; its thumbnail remains",
                          thumbnail_url=url_for("api.thumbnail", pk=pk))


@bp.get("/captures/<pk>/image")
def image(pk: str):
    """Return the full-size image bytes (410 once expired)."""
    return send_binary(pk, "image")


@bp.get("/captures/<pk>/thumbnail")
def thumbnail(pk: str):
    """Return the thumbnail bytes."""
    return send_binary(pk, "thumbnail")


@bp.delete("/captures/<pk>")
def delete_capture(pk: str):
    """Delete a capture and its images; needs the API token."""
    token = current_app.config.get("API_TOKEN")
    if not token:
        return error_response(403, "deletion is disabled: set PIGALLERY_API_TOKEN on the server to enable it")
    auth = request.authorization
    given = auth.token if auth is not None and auth.type == "bearer" else None
    if not given or not hmac.compare_digest(given.encode(), token.encode()):
        response = error_response(401, "send the API token as `Authorization: Bearer <token>`")
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    if not PK.match(pk) or not Capture.remove(pk):
        raise NotFound(pk)
    return "", 204


@bp.errorhandler(facet_index.TooManyBuckets)
def too_many_buckets(exc):
    return error_response(400, str(exc), parameter="bucket")


@bp.get("/facets")
def get_facets():
    """Return device and trigger counts and a time histogram for the filters."""
    params = parse(FacetParams, request.args)
    result = facet_index.facets(params.filters(), params.bucket, params.tz or facet_index.UTC)
    for bar in result["histogram"]:
        # With a zone, its local offset (+02:00); without, the UTC "Z" form.
        bar["start"] = bar["start"].isoformat() if params.tz else iso(bar["start"].timestamp())
    return result


@bp.get("/stats")
def get_stats():
    """Return totals, per-device counts, oldest/newest, bytes stored and index state."""
    result = facet_index.stats()
    result["oldest"], result["newest"] = iso(result["oldest"]), iso(result["newest"])
    return result


@bp.get("/openapi.json")
def openapi():
    """Return the OpenAPI 3 description of this API."""
    from .openapi import spec

    return spec()
