"""The OpenAPI 3.1 description of the API; query parameters come from params.py's models."""
from __future__ import annotations

from functools import lru_cache

from pydantic import BaseModel

from models import wire
from models.capture import PK
from models.videos import JOB_ID, STATES
from models.wire import Announcement

from .api import Item
from .errors import MAX_URL_LENGTH
from .export import ExportParams
from .params import FacetParams, SearchParams
from .timelapse_params import request_schema


def query_parameters(model: type[BaseModel]) -> list[dict]:
    """Describe a params model's fields as OpenAPI query parameters."""
    schema = model.model_json_schema(by_alias=True)
    params = []
    for name, prop in schema["properties"].items():
        prop = {k: v for k, v in prop.items() if k != "title"}
        description = prop.pop("description", "")
        param = {"name": name, "in": "query", "required": False, "description": description, "schema": prop}
        if prop.get("type") == "array":
            param.update(style="form", explode=True)  # repeat the parameter: ?device=a&device=b
        params.append(param)
    return params


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(description: str, schema: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


def _error(description: str) -> dict:
    return _json(description, "Error")


ULID = PK.pattern
ID = {"name": "pk", "in": "path", "required": True, "description": "Capture id (a ULID).",
      "schema": {"type": "string", "pattern": ULID}}
UNAVAILABLE = _error("Redis is unreachable or the index does not exist.")
# search_web.errors answers it before any route, so every operation has it.
TOO_LONG = _error(f"The URL (path and query string) is longer than {MAX_URL_LENGTH:,} bytes; `limit` says the "
                  "maximum.")
# Follow-ups on a capture the search listing returns (stateful clients and tests).
ITEM_LINKS = {name: {"operationId": operation, "parameters": {"pk": "$response.body#/id"}}
              for name, operation in (("GetThumbnail", "getThumbnail"), ("GetImage", "getImage"),
                                      ("DeleteCapture", "deleteCapture"))}

SCHEMAS = {
    "Error": {"type": "object", "required": ["error", "message"], "properties": {
        "error": {"type": "string", "description": "The status's name, such as Bad Request."},
        "message": {"type": "string", "description": "What is wrong, in words."},
        "parameter": {"type": "string", "description": "The query parameter at fault (400 only)."},
        "id": {"type": "string", "description": "The capture id asked for (404 for a capture only)."},
        "thumbnail_url": {"type": "string", "description": "Where the thumbnail still is (410 only)."},
        "limit": {"type": "integer", "description": "The longest URL taken, in bytes (414 only)."},
        "total": {"type": "integer", "description": "Captures the filters match (an export's 400 only)."},
        "max_captures": {"type": "integer", "description": "The most captures one export holds (an export's 400 only)."}}},
    # Generated from the model's marked fields (models.wire), as the API and events build them.
    "Item": {**wire.schema(Item), "description": (
        "A capture. width and height are as stored; with orientation 5-8 it is shown turned by 90 degrees, "
        "so its size as shown is height x width (the thumbnail is already upright).")},
    # What /api/events sends for a new capture (models.events.message): an Item without its links.
    "Announcement": wire.schema(Announcement),
    "Page": {"type": "object", "required": ["items", "total", "next_cursor"], "properties": {
        "items": {"type": "array", "items": _ref("Item")}, "total": {"type": "integer", "minimum": 0},
        "next_cursor": {"type": ["string", "null"],
                        "description": "Pass as `cursor`, with the same filters and sort, for the next page; "
                                       "null at the end."}}},
    "Count": {"type": "object", "required": ["count"], "minProperties": 2,
              "properties": {"device": {"type": "string"}, "trigger": {"type": "string"},
                             "count": {"type": "integer", "minimum": 1}}},
    "Facets": {"type": "object", "properties": {
        "total": {"type": "integer"},
        "devices": {"type": "array", "items": _ref("Count")}, "triggers": {"type": "array", "items": _ref("Count")},
        "bucket": {"type": "string", "enum": ["hour", "day", "week", "month", "year"]},
        "histogram": {"type": "array", "items": {"type": "object", "properties": {
            "start": {"type": "string",
                      "description": "Bucket start: local midnight (Monday for weeks, the 1st for months, 1 January "
                                     "for years) or hour in `tz`, with its offset (2026-03-29T00:00:00+01:00); UTC "
                                     "with Z when no `tz` is given. A midnight that clocks skip starts at the jump. "
                                     "ISO 8601, and RFC 3339 date-time except at the calendar's ends: a local start "
                                     "in year 0 or 10000 is written 0000-12-31T00:00:00-07:52:58 or "
                                     "+010000-01-01T00:00:00+14:00, and a local mean time before a zone adopted "
                                     "standard time keeps its offset's seconds."},
            "count": {"type": "integer"}}}}}},
    "Stats": {"type": "object",
              "required": ["total", "devices", "oldest", "newest", "image_bytes", "thumbnail_bytes", "index"],
              "properties": {
                  "total": {"type": "integer", "minimum": 0}, "devices": {"type": "array", "items": _ref("Count")},
                  "oldest": {"type": ["string", "null"], "format": "date-time"},
                  "newest": {"type": ["string", "null"], "format": "date-time"},
                  "image_bytes": {"type": "integer"}, "thumbnail_bytes": {"type": "integer"},
                  "index": _ref("Index")}},
    "Index": {"type": "object", "description": "The search index's state (index.schema.info).",
              "required": ["name", "num_docs", "indexing", "percent_indexed", "hash_indexing_failures", "up_to_date"],
              "properties": {
                  "name": {"type": "string"}, "num_docs": {"type": "integer"}, "indexing": {"type": "boolean"},
                  "percent_indexed": {"type": "number"}, "hash_indexing_failures": {"type": "integer"},
                  "up_to_date": {"type": "boolean", "description": "Built from this version's schema."}}},
    "Health": {"type": "object", "required": ["status", "redis", "index"], "properties": {
        "status": {"type": "string", "enum": ["ok", "indexing", "unavailable"]},
        "redis": {"type": "boolean"}, "index": {"oneOf": [_ref("Index"), {"type": "null"}]},
        "message": {"type": "string", "description": "Why it is not ready (503 only); never Redis's address."}}},
}


def _binary(what: str, operation_id: str) -> dict:
    # Sent on 200 and 304 alike: the validator and the year-long cache lifetime.
    headers = {"ETag": {"required": True, "schema": {"type": "string"}},
               "Cache-Control": {"required": True, "schema": {"type": "string"}}}
    # The type is the bytes' own (search_web.api.sniff); anything else is a download.
    bytes_ = {"schema": {"type": "string", "format": "binary"}}
    return {
        "operationId": operation_id,
        "summary": f"The {what} bytes (immutable: strong ETag, 304 on If-None-Match)",
        "parameters": [ID, {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"}}],
        "responses": {
            "200": {"description": f"The {what}: JPEG, PNG or WebP as its bytes are; other bytes as a download.",
                    "headers": headers,
                    "content": {mime: bytes_ for mime in ("image/jpeg", "image/png", "image/webp",
                                                          "application/octet-stream")}},
            "304": {"description": "Not modified.", "headers": headers},
            "404": _error("No such capture."),
            **({"410": _error("The full image expired; the thumbnail remains.")} if what == "full image" else {}),
            "503": UNAVAILABLE,
        },
    }


def timelapse_spec() -> tuple[dict, dict]:
    """The time-lapse operations (search_web/timelapse.py; the body: timelapse_params.py) and their schemas."""
    job = {"name": "job_id", "in": "path", "required": True, "description": "Time-lapse job id.",
           "schema": {"type": "string", "pattern": JOB_ID.pattern}}
    unauthorized = {**_error("Missing or wrong token."),
                    "headers": {"WWW-Authenticate": {"required": True, "schema": {"const": "Bearer"}}}}
    disabled = _error("Time-lapses are disabled: no token is configured.")
    missing = _error("No such job (finished ones expire with their video).")
    links = {name: {"operationId": operation, "parameters": {"job_id": "$response.body#/id"}}
             for name, operation in (("GetTimelapse", "getTimelapse"), ("GetTimelapseVideo", "getTimelapseVideo"),
                                     ("DeleteTimelapse", "deleteTimelapse"))}
    time_or_null = {"type": ["string", "null"], "format": "date-time"}
    number_or_null = {"type": ["number", "null"]}
    integer_or_null = {"type": ["integer", "null"]}
    schemas = {
        "TimelapseRequest": request_schema(),
        "Timelapse": {"type": "object", "required": [
            "id", "state", "frames_done", "frames_total", "thumbnail_frames", "skipped_frames", "progress",
            "eta_seconds", "width", "height", "fps", "duration", "size_bytes", "created_at", "started_at",
            "finished_at", "expires_at", "error", "params", "status_url", "video_url"], "properties": {
            "id": {"type": "string", "pattern": JOB_ID.pattern},
            "state": {"type": "string", "enum": list(STATES), "description": (
                "queued, selecting (counting the frames), encoding, storing, then done or failed. `done` only "
                "once ffmpeg exited 0 and the video is stored.")},
            "frames_done": {"type": "integer", "minimum": 0},
            "frames_total": {**integer_or_null, "description": "Known once selecting is over."},
            "thumbnail_frames": {"type": "integer", "minimum": 0,
                                 "description": "Frames shown by their thumbnail: the full image had expired."},
            "skipped_frames": {"type": "integer", "minimum": 0,
                               "description": "Frames left out: the capture was deleted meanwhile."},
            "progress": {"type": "number", "minimum": 0, "maximum": 1},
            "eta_seconds": {**number_or_null, "description": "Estimated seconds to go while encoding."},
            "width": integer_or_null, "height": integer_or_null,
            "fps": number_or_null, "duration": {**number_or_null, "description": "Seconds of video."},
            "size_bytes": integer_or_null,
            "created_at": time_or_null, "started_at": time_or_null, "finished_at": time_or_null,
            "expires_at": {**time_or_null, "description": "When the video (and this job) is deleted."},
            "error": {"type": ["string", "null"], "description": "Why the job failed."},
            "params": {"type": "object", "description": "The parameters the job was started with."},
            "status_url": {"type": "string"},
            "video_url": {"type": ["string", "null"], "description": "The MP4, once done."}}},
    }
    video_headers = {"Accept-Ranges": {"required": True, "schema": {"const": "bytes"}},
                     "ETag": {"required": True, "schema": {"type": "string"}}}
    mp4 = {"video/mp4": {"schema": {"type": "string", "format": "binary"}}}
    paths = {
        "/api/timelapses": {"post": {
            "operationId": "createTimelapse",
            "summary": "Start a time-lapse (H.264 MP4) of the captures matching the filters; needs the API token",
            "description": ("The body holds the search filters of /api/captures (a list for a repeated one) and "
                            "how to sample and encode. The job runs in the background: follow it with "
                            "GET /api/timelapses/{job_id}. At most 20,000 frames: sample with `every` or `daily_at`."),
            "security": [{"bearer": []}],
            "requestBody": {"required": False, "content": {"application/json": {"schema": _ref("TimelapseRequest")}}},
            "responses": {
                "202": {**_json("Accepted: the job's status.", "Timelapse"), "links": links,
                        "headers": {"Location": {"required": True, "schema": {"type": "string"}}}},
                "400": _error("A parameter is wrong, the filters match no capture, or there would be too many "
                              "frames; `parameter` names what to change."),
                "401": unauthorized, "403": disabled, "413": _error("The body is larger than 64 KiB."),
                "409": _error("Not now: stored videos fill the space they may take, or this server process "
                              "already has enough jobs waiting."),
                "503": UNAVAILABLE}}},
        "/api/timelapses/{job_id}": {
            "get": {"operationId": "getTimelapse", "summary": "A time-lapse job's state and progress (frames, ETA)",
                    "parameters": [job],
                    "responses": {"200": {**_json("The job.", "Timelapse"), "links": links}, "404": missing,
                                  "503": UNAVAILABLE}},
            "delete": {"operationId": "deleteTimelapse",
                       "summary": "Cancel a job (its encoding stops, nothing is kept) or delete a finished one",
                       "parameters": [job], "security": [{"bearer": []}],
                       "responses": {"204": {"description": "Cancelled or deleted."}, "401": unauthorized,
                                     "403": disabled, "404": missing, "503": UNAVAILABLE}}},
        "/api/timelapses/{job_id}/video": {"get": {
            "operationId": "getTimelapseVideo",
            "summary": "The finished time-lapse (video/mp4); Range requests for seeking",
            "parameters": [job],
            "responses": {
                "200": {"description": "The whole MP4.", "headers": video_headers, "content": mp4},
                "206": {"description": "The range asked for (`Range: bytes=...`).", "headers": video_headers,
                        "content": mp4},
                "304": {"description": "Not modified (If-None-Match)."},
                "404": missing,
                "409": _error("The job is not done (still running, or failed): no video."),
                "410": _error("The video expired or was deleted."),
                "416": _error("The range is not within the video."),
                "503": UNAVAILABLE}}},
    }
    return paths, schemas


@lru_cache(maxsize=1)
def spec() -> dict:
    """Return the OpenAPI document."""
    bad = _error("A parameter is wrong; `parameter` names it.")
    document = {
        "openapi": "3.1.0",
        "info": {"title": "pigallery API", "version": "1",
                 "description": "Search Raspberry Pi camera captures stored in Redis Stack."},
        "paths": {
            "/api/captures": {"get": {
                "operationId": "listCaptures",
                "summary": "Search captures, newest first; page with next_cursor (keyset, any depth)",
                "parameters": query_parameters(SearchParams),
                "responses": {"200": {**_json("A page of captures.", "Page"), "links": {
                    **{name: {**link, "parameters": {"pk": "$response.body#/items/0/id"}}
                       for name, link in {"GetCapture": {"operationId": "getCapture"}, **ITEM_LINKS}.items()},
                    # The same filters and sort, as a cursor requires.
                    "NextPage": {"operationId": "listCaptures", "parameters": {
                        "cursor": "$response.body#/next_cursor",
                        **{p["name"]: f"$request.query.{p['name']}"
                           for p in query_parameters(SearchParams) if p["name"] != "cursor"}}}}},
                    "400": bad, "503": UNAVAILABLE}}},
            "/api/captures/{pk}": {
                "get": {"operationId": "getCapture", "summary": "One capture's metadata", "parameters": [ID],
                        "responses": {"200": {**_json("The capture.", "Item"), "links": ITEM_LINKS},
                                      "404": _error("No such capture."), "503": UNAVAILABLE}},
                "delete": {"operationId": "deleteCapture", "summary": "Delete a capture and its images",
                           "parameters": [ID], "security": [{"bearer": []}],
                           "responses": {"204": {"description": "Deleted.", "links": {
                                             # Gone for good: its metadata is a 404 from now on.
                                             "GetDeleted": {"operationId": "getCapture",
                                                            "parameters": {"pk": "$request.path.pk"}}}},
                                         "401": {**_error("Missing or wrong token."), "headers": {
                                             "WWW-Authenticate": {"required": True, "schema": {"const": "Bearer"}}}},
                                         "403": _error("Deletion is disabled: no token is configured."),
                                         "404": _error("No such capture."), "503": UNAVAILABLE}}},
            "/api/captures/{pk}/image": {"get": _binary("full image", "getImage")},
            "/api/captures/{pk}/thumbnail": {"get": _binary("thumbnail", "getThumbnail")},
            "/api/facets": {"get": {
                "operationId": "getFacets",
                "summary": "Device and trigger counts and a taken_at histogram for the filters",
                "parameters": query_parameters(FacetParams),
                "responses": {"200": _json("Facets.", "Facets"), "400": bad, "503": UNAVAILABLE}}},
            "/api/stats": {"get": {"operationId": "getStats",
                                   "summary": "Totals, devices, oldest/newest, bytes stored, index state",
                                   "responses": {"200": _json("Statistics.", "Stats"), "503": UNAVAILABLE}}},
            "/api/events": {"get": {
                "operationId": "streamEvents",
                "summary": "Server-Sent Events: an `event: capture` for each new capture, its data the announcement "
                           "as published: an Item without its links (ask /api/captures whether it matches your "
                           "filters)",
                "responses": {"200": {
                    "description": "An event stream: `retry: 3000` first, then one event per new capture, "
                                   "`: keepalive` comments while quiet; it ends after a while (5 minutes) and the "
                                   "browser reconnects.",
                    "headers": {"Cache-Control": {"required": True, "schema": {"const": "no-cache"}}},
                    # Per event, as Open API 3.2 has it (itemSchema) and readers of 3.1 streams take it.
                    "content": {"text/event-stream": {"schema": {
                        "type": "object", "required": ["event", "id", "data"], "properties": {
                            "event": {"const": "capture"},
                            "id": {"type": "string", "pattern": ULID, "description": "The capture's id."},
                            "data": {"type": "string", "contentMediaType": "application/json",
                                     "contentSchema": _ref("Announcement")},
                            "retry": {"type": "integer"}}}}}},
                    "503": UNAVAILABLE}}},
            "/api/export.zip": {"get": {
                "operationId": "exportZip",
                "summary": "The filter's captures as one ZIP, streamed: full images (the thumbnail where the full one "
                           "expired), captures.json and captures.csv",
                "description": "Files are `<UTC day>/<device>_<UTC time>_<id>.<ext>` (`..._<id>_thumbnail.jpg` for a "
                               "thumbnail standing in for an expired full image), stored, not deflated; device names are "
                               "made safe for any file system. The sidecars list exactly the captures in the archive, "
                               "with the item fields of /api/captures plus `file` and `content` (`image` or "
                               "`thumbnail`). More matches than the server's limit (10,000 by default) is a 400 "
                               "saying so before anything is sent.",
                "parameters": query_parameters(ExportParams),
                "responses": {"200": {
                    "description": "A ZIP archive, sent as it is written (no Content-Length).",
                    "headers": {"Content-Disposition": {
                        "required": True, "description": "attachment; filename=pigallery-<oldest day>_<newest day>.zip "
                                                         "(UTC days of the captures in it; one day once; "
                                                         "pigallery-empty.zip when none match)",
                        "schema": {"type": "string", "pattern": "^attachment; filename=pigallery-(empty|[0-9]{4}-[0-9]{2}-"
                                                                "[0-9]{2}(_[0-9]{4}-[0-9]{2}-[0-9]{2})?)\\.zip$"}}},
                    "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}},
                    "400": _error("A parameter is wrong (`parameter` names it), or the filters match more captures "
                                  "than one export holds (`total`, `max_captures`)."),
                    "503": UNAVAILABLE}}},
            "/api/openapi.json": {"get": {"operationId": "getOpenapi", "summary": "This document",
                                          "responses": {"200": {
                                              "description": "OpenAPI 3.1 JSON.",
                                              "content": {"application/json": {"schema": {
                                                  "type": "object", "required": ["openapi", "info", "paths"]}}}}}}},
            "/healthz": {"get": {"operationId": "getHealth", "summary": "Redis reachable and index ready",
                                 "responses": {"200": _json("Ready.", "Health"),
                                               "503": _json("Not ready; says why.", "Health")}}},
        },
        "components": {"schemas": SCHEMAS,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }
    paths, schemas = timelapse_spec()
    document["paths"].update(paths)
    document["components"]["schemas"] = {**document["components"]["schemas"], **schemas}
    for operations in document["paths"].values():
        for operation in operations.values():
            operation["responses"]["414"] = TOO_LONG
    return document
