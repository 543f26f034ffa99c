"""The OpenAPI 3.1 description of the API; query parameters come from params.py's models."""
from __future__ import annotations

from functools import lru_cache

from pydantic import BaseModel

from .params import FacetParams, SearchParams

NUMBER_OR_NULL = {"type": ["number", "null"]}
INTEGER_OR_NULL = {"type": ["integer", "null"]}


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


ID = {"name": "pk", "in": "path", "required": True, "description": "Capture id (a ULID).",
      "schema": {"type": "string", "pattern": "^[0-9A-HJKMNP-TV-Z]{26}$"}}
UNAVAILABLE = _error("Redis is unreachable or the index does not exist.")

SCHEMAS = {
    "Error": {"type": "object", "required": ["error"], "properties": {
        "error": {"type": "string"}, "message": {"type": "string"},
        "parameter": {"type": "string", "description": "The query parameter at fault (400 only)."}}},
    "Item": {"type": "object", "required": ["id", "taken_at", "device", "trigger", "thumbnail_url", "image_url"],
             "properties": {
                 "id": {"type": "string"}, "taken_at": {"type": "string", "format": "date-time"},
                 "device": {"type": "string"}, "trigger": {"type": "string"},
                 "lux": NUMBER_OR_NULL, "exposure_us": INTEGER_OR_NULL, "analogue_gain": NUMBER_OR_NULL,
                 "colour_temp_k": INTEGER_OR_NULL, "width": {"type": "integer"}, "height": {"type": "integer"},
                 "image_size": {"type": "integer"}, "thumbnail_url": {"type": "string"},
                 "image_url": {"type": ["string", "null"], "description": "null once the full image has expired"}}},
    "Page": {"type": "object", "required": ["items", "total", "next_cursor"], "properties": {
        "items": {"type": "array", "items": _ref("Item")}, "total": {"type": "integer"},
        "next_cursor": {"type": ["string", "null"],
                        "description": "Pass as `cursor`, with the same filters and sort, for the next page; "
                                       "null at the end."}}},
    "Count": {"type": "object", "properties": {"device": {"type": "string"}, "trigger": {"type": "string"},
                                               "count": {"type": "integer"}}},
    "Facets": {"type": "object", "properties": {
        "total": {"type": "integer"},
        "devices": {"type": "array", "items": _ref("Count")}, "triggers": {"type": "array", "items": _ref("Count")},
        "bucket": {"type": "string", "enum": ["hour", "day", "week"]},
        "histogram": {"type": "array", "items": {"type": "object", "properties": {
            "start": {"type": "string", "format": "date-time",
                      "description": "Bucket start: local midnight (Monday for weeks) or hour in `tz`, with its "
                                     "offset (2026-03-29T00:00:00+01:00); UTC with Z when no `tz` is given."},
            "count": {"type": "integer"}}}}}},
    "Stats": {"type": "object", "properties": {
        "total": {"type": "integer"}, "devices": {"type": "array", "items": _ref("Count")},
        "oldest": {"type": ["string", "null"], "format": "date-time"},
        "newest": {"type": ["string", "null"], "format": "date-time"},
        "image_bytes": {"type": "integer"}, "thumbnail_bytes": {"type": "integer"}, "index": {"type": "object"}}},
    "Health": {"type": "object", "properties": {
        "status": {"type": "string", "enum": ["ok", "indexing", "unavailable"]},
        "redis": {"type": "boolean"}, "index": {"type": ["object", "null"]}}},
}


def _binary(what: str) -> dict:
    return {
        "summary": f"The {what} bytes (immutable: strong ETag, 304 on If-None-Match)",
        "parameters": [ID, {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"}}],
        "responses": {
            "200": {"description": f"The {what}.", "headers": {
                "ETag": {"schema": {"type": "string"}}, "Cache-Control": {"schema": {"type": "string"}}},
                "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}},
            "304": {"description": "Not modified."},
            "404": _error("No such capture."),
            **({"410": _error("The full image expired; the thumbnail remains.")} if what == "full image" else {}),
            "503": UNAVAILABLE,
        },
    }


@lru_cache(maxsize=1)
def spec() -> dict:
    """Return the OpenAPI document."""
    bad = _error("A parameter is wrong; `parameter` names it.")
    return {
        "openapi": "3.1.0",
        "info": {"title": "pigallery API", "version": "1",
                 "description": "Search Raspberry Pi camera captures stored in Redis Stack."},
        "paths": {
            "/api/captures": {"get": {
                "summary": "Search captures, newest first; page with next_cursor (keyset, any depth)",
                "parameters": query_parameters(SearchParams),
                "responses": {"200": _json("A page of captures.", "Page"), "400": bad, "503": UNAVAILABLE}}},
            "/api/captures/{pk}": {
                "get": {"summary": "One capture's metadata", "parameters": [ID],
                        "responses": {"200": _json("The capture.", "Item"), "404": _error("No such capture."),
                                      "503": UNAVAILABLE}},
                "delete": {"summary": "Delete a capture and its images", "parameters": [ID],
                           "security": [{"bearer": []}],
                           "responses": {"204": {"description": "Deleted."},
                                         "401": _error("Missing or wrong token."),
                                         "403": _error("Deletion is disabled: no token is configured."),
                                         "404": _error("No such capture."), "503": UNAVAILABLE}}},
            "/api/captures/{pk}/image": {"get": _binary("full image")},
            "/api/captures/{pk}/thumbnail": {"get": _binary("thumbnail")},
            "/api/facets": {"get": {
                "summary": "Device and trigger counts and a taken_at histogram for the filters",
                "parameters": query_parameters(FacetParams),
                "responses": {"200": _json("Facets.", "Facets"), "400": bad, "503": UNAVAILABLE}}},
            "/api/stats": {"get": {"summary": "Totals, devices, oldest/newest, bytes stored, index state",
                                   "responses": {"200": _json("Statistics.", "Stats"), "503": UNAVAILABLE}}},
            "/api/events": {"get": {
                "summary": "Server-Sent Events: `event: capture` with an Item as data for each new capture",
                "responses": {"200": {"description": "An event stream; `: keepalive` comments while quiet.",
                                      "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                              "503": UNAVAILABLE}}},
            "/api/openapi.json": {"get": {"summary": "This document",
                                          "responses": {"200": {"description": "OpenAPI 3.1 JSON."}}}},
            "/healthz": {"get": {"summary": "Redis reachable and index ready",
                                 "responses": {"200": _json("Ready.", "Health"),
                                               "503": _json("Not ready; says why.", "Health")}}},
        },
        "components": {"schemas": SCHEMAS,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }
