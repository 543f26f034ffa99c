"""The OpenAPI document describes exactly the routes the app serves."""
from __future__ import annotations

import re

import pytest

# The gallery's HTML page and static files are not part of the JSON API.
NOT_API = {"static", "gallery"}


def served_routes(app) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] in NOT_API:
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        routes |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    return routes


def test_every_route_is_described_and_every_description_is_a_route(app, client):
    doc = client.get("/api/openapi.json").json
    assert doc["openapi"].startswith("3.")
    described = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert described == served_routes(app)


def test_query_parameters_are_the_ones_the_api_accepts(client):
    doc = client.get("/api/openapi.json").json
    search = {p["name"] for p in doc["paths"]["/api/captures"]["get"]["parameters"]}
    assert search == {"from", "to", "device", "trigger", "lux_min", "lux_max", "exposure_min", "exposure_max",
                      "time_from", "time_to", "tz", "camera_make", "camera_model", "has_gps", "sort", "limit",
                      "cursor", "start"}
    facets = {p["name"] for p in doc["paths"]["/api/facets"]["get"]["parameters"]}
    assert facets == search - {"limit", "cursor", "start"} | {"bucket"}
    # Any other name is refused, so the document is the whole truth.
    assert client.get("/api/captures?colour=red").status_code == 400


def references(node):
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from references(value)
    elif isinstance(node, list):
        for value in node:
            yield from references(value)


def test_every_reference_resolves(client):
    doc = client.get("/api/openapi.json").json
    refs = set(references(doc))
    assert refs and {r.rsplit("/", 1)[1] for r in refs} <= set(doc["components"]["schemas"])


@pytest.mark.parametrize("path, status", [("/api/captures", "200"), ("/api/captures", "400"),
                                          ("/api/captures/{pk}/image", "410")])
def test_documented_statuses(client, path, status):
    assert status in client.get("/api/openapi.json").json["paths"][path]["get"]["responses"]


def test_operation_ids_are_unique_and_links_name_real_operations_and_parameters(client):
    """The links schemathesis's workflow follows (tests/api/test_schemathesis.py) point somewhere real."""
    doc = client.get("/api/openapi.json").json
    operations = {op["operationId"]: op for ops in doc["paths"].values() for op in ops.values()}
    assert len(operations) == sum(len(ops) for ops in doc["paths"].values())
    links = [link for op in operations.values() for reply in op["responses"].values()
             for link in reply.get("links", {}).values()]
    assert links
    for link in links:
        target = operations[link["operationId"]]
        assert set(link["parameters"]) <= {p["name"] for p in target.get("parameters", [])}, link


def test_every_operation_documents_the_414_and_its_limit(client):
    from search_web.errors import MAX_URL_LENGTH

    doc = client.get("/api/openapi.json").json
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert f"{MAX_URL_LENGTH:,}" in op["responses"]["414"]["description"], (method, path)
