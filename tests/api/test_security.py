"""Issue #12, defects 6 and 7: what the capture user writes is checked before the web serves it,
and every reply carries the security headers.

The `capture` ACL user (the password every Pi holds) may HSET any field of any capture hash:
these tests write such hashes with plain redis-py HSETs, as a tampered Pi could, bypassing the
model's write-side validation, and check that the API neither serves them as HTML nor fails.
"""
from __future__ import annotations

import datetime as dt
import io
import json

import pytest
import redis
from api_helpers import START

from index import schema
from models.capture import PK
from models.capture import IMAGE_FIELD, THUMBNAIL_FIELD
from tests import helpers

HTML = b"<!doctype html><script>window.pwned=1;alert(document.domain)</script>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>window.pwned=1</script></svg>'
HOSTILE_NAMES = ("<img src=x onerror=alert(1)>", '"><script>window.pwned=1</script>', "javascript:alert(1)")
WHEN = START + dt.timedelta(hours=1)

# Each hostile capture: the fields written over a well-formed hash, and what the API must make of it.
# LISTED: listed and readable by id; SKIPPED: left out of listings and 404 by id (a field the
# gallery needs is unusable); BY_ID: RediSearch refuses to index it (NaN), but the id still reads.
LISTED, SKIPPED, BY_ID = "listed", "skipped", "by id"
CASES = {
    "html-bytes": ({"mime_type": "text/html", IMAGE_FIELD: HTML, THUMBNAIL_FIELD: HTML, "device": HOSTILE_NAMES[0]}, LISTED),
    "svg-bytes": ({"mime_type": "image/svg+xml", IMAGE_FIELD: SVG, THUMBNAIL_FIELD: SVG, "device": HOSTILE_NAMES[1]}, LISTED),
    "html-type": ({"mime_type": "text/html; charset=utf-8"}, LISTED),  # real JPEG bytes, lying type
    "names": ({"device": HOSTILE_NAMES[2], "camera_make": HOSTILE_NAMES[1], "camera_model": HOSTILE_NAMES[0]}, LISTED),
    "inf-numbers": ({"lux": "inf", "analogue_gain": "-inf", "latitude": "inf", "longitude": "-inf"}, LISTED),
    "nan-numbers": ({"lux": "nan", "analogue_gain": "nan", "exposure_us": "nan", "colour_temp_k": "1" + "0" * 400}, BY_ID),
    "bad-expiry": ({"image_expires_at": "inf", "expires_at": "1e300"}, LISTED),
    "long-text": ({"camera_make": "m" * 100_000, "camera_model": "<b>" * 1000, "mime_type": "image/" + "x" * 100_000}, LISTED),
    "infinite-time": ({"taken_at": "inf"}, SKIPPED),
    "huge-time": ({"taken_at": "1e300"}, SKIPPED),
    "year-10000": ({"taken_at": str(dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.timezone.utc).timestamp() + 1)}, SKIPPED),
    "before-year-1": ({"taken_at": "-1e20"}, SKIPPED),
    "nan-time": ({"taken_at": "nan"}, SKIPPED),
    "long-device": ({"device": "d" * 100_000}, SKIPPED),
    "control-device": ({"device": "pi\x07<b>bell</b>"}, SKIPPED),
    "unknown-trigger": ({"trigger": "<script>window.pwned=1</script>"}, SKIPPED),
    "bad-width": ({"width": "nan"}, SKIPPED),  # NaN keeps it out of the index; a required field: not read by id
}


def hostile_pk(n: int) -> str:
    """A capture id (a ULID, as the model makes them), one per case."""
    return f"01JZZZZZZZZZZZZZZZZZZZ{n:04d}"


def write_hash(conn: redis.Redis, prefix: str, pk: str, jpeg: bytes, fields: dict) -> None:
    """HSET a capture hash as the model lays it out, taken at WHEN, `fields` on top."""
    helpers.write_hash(conn, prefix, pk, jpeg, fields, when=WHEN)


@pytest.fixture(scope="module")
def hostile(make_dataset, redis_url, tiny_jpeg):
    """Two well-formed captures, then the hostile hashes written beside them with HSET."""
    data = make_dataset([{"device": "pi-garden", "taken_at": START}, {"device": "pi-door", "taken_at": START}])
    conn = redis.Redis.from_url(redis_url)
    data.hostile = {}
    for n, (name, (fields, outcome)) in enumerate(CASES.items()):
        pk = hostile_pk(n)
        write_hash(conn, data.prefix, pk, tiny_jpeg, fields)
        data.hostile[name] = (pk, outcome)
    # A key name that is no capture id: the listing must not hand it to the page as one.
    write_hash(conn, data.prefix, "<script>window.pwned=1</script>", tiny_jpeg, {})
    schema.wait_indexed()
    data.normal = [row["pk"] for row in data.rows]
    return data


def strict_json(reply) -> object:
    """The reply's body as JSON a browser accepts: NaN or Infinity would make JSON.parse throw."""
    def refuse(constant):
        raise AssertionError(f"{reply.request.path} sent {constant}, which is not JSON")

    return json.loads(reply.data, parse_constant=refuse)


def ids(cases: dict, outcome: str) -> set[str]:
    return {pk for pk, got in cases.values() if got == outcome}


@pytest.mark.parametrize("name", [name for name, (fields, _) in CASES.items() if IMAGE_FIELD in fields or "mime_type" in fields])
@pytest.mark.parametrize("kind", ["image", "thumbnail"])
def test_image_bytes_are_served_by_their_signature_never_the_stored_type(hostile, name, kind):
    pk, outcome = hostile.hostile[name]
    reply = hostile.client().get(f"/api/captures/{pk}/{kind}")
    assert reply.status_code == 200
    assert "html" not in reply.content_type and "svg" not in reply.content_type
    assert reply.headers.get("X-Content-Type-Options") == "nosniff"
    if reply.data.startswith(b"\xff\xd8\xff"):
        assert reply.content_type == "image/jpeg"
    else:
        # Not an image the gallery stores: bytes to save, never a document to render.
        assert reply.content_type == "application/octet-stream"
        assert reply.headers["Content-Disposition"].startswith("attachment")


@pytest.mark.parametrize("kind", ["image", "thumbnail"])
def test_well_formed_captures_keep_their_image_type(hostile, kind):
    reply = hostile.client().get(f"/api/captures/{hostile.normal[0]}/{kind}")
    assert reply.status_code == 200 and reply.content_type == "image/jpeg"
    assert "Content-Disposition" not in reply.headers


@pytest.mark.parametrize("signature, mime", [
    (b"\xff\xd8\xff\xe0", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp"),
    (b"RIFF\x10\x00\x00\x00WAVEfmt ", "application/octet-stream"),  # RIFF alone is not WebP
    (b"\xff\xd8<html>", "application/octet-stream"),
    (b"\x89PNG<script>", "application/octet-stream"),
    (b"<svg", "application/octet-stream"),
    (b"", "application/octet-stream"),
])
def test_sniff_knows_only_the_stored_image_formats(signature, mime):
    from search_web.api import sniff

    assert sniff(signature + b"\x00" * 16) == mime


def test_the_real_image_formats_are_sniffed_as_the_model_stores_them():
    from PIL import Image

    from models import images
    from search_web.api import sniff

    for fmt, mime in images.ACCEPTED_FORMATS.items():
        out = io.BytesIO()
        Image.new("RGB", (8, 8)).save(out, fmt)
        assert sniff(out.getvalue()) == mime == images.inspect(out.getvalue()).mime_type


def walk(client, sort: str, limit: int) -> list[dict]:
    items, cursor = [], None
    while True:
        reply = client.get("/api/captures", query_string={"sort": sort, "limit": limit, **({"cursor": cursor} if cursor else {})})
        assert reply.status_code == 200, reply.data[:300]
        body = strict_json(reply)
        items += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            return items


@pytest.mark.parametrize("sort", ["newest", "oldest"])
def test_listing_skips_unusable_captures_and_nulls_unusable_fields(hostile, sort):
    items = walk(hostile.client(), sort, 100)
    listed = {item["id"] for item in items}
    assert listed == set(hostile.normal) | ids(hostile.hostile, LISTED)
    assert all(PK.match(item["id"]) for item in items)
    by_id = {item["id"]: item for item in items}
    numbers = by_id[hostile.hostile["inf-numbers"][0]]
    assert numbers["lux"] is None and numbers["analogue_gain"] is None
    assert numbers["device"] == "pi-hostile" and numbers["taken_at"] == WHEN.isoformat().replace("+00:00", "Z")
    # An unreadable expiry time is dropped, so the image counts as still there.
    assert by_id[hostile.hostile["bad-expiry"][0]]["image_url"]
    assert by_id[hostile.hostile["names"][0]]["device"] == HOSTILE_NAMES[2]


def test_each_capture_by_id_is_served_cleaned_or_not_found(hostile):
    client = hostile.client()
    for name, (pk, outcome) in hostile.hostile.items():
        reply = client.get(f"/api/captures/{pk}")
        assert reply.status_code == (404 if outcome == SKIPPED else 200), name
        body = strict_json(reply)
        if reply.status_code == 200:
            assert body["id"] == pk and body["taken_at"].endswith("Z")
        for kind in ("image", "thumbnail"):
            assert client.get(f"/api/captures/{pk}/{kind}").status_code in ((404,) if reply.status_code == 404 else (200,)), (name, kind)
    nan = strict_json(client.get(f"/api/captures/{hostile.hostile['nan-numbers'][0]}"))
    assert nan["lux"] is None and nan["analogue_gain"] is None and nan["exposure_us"] is None and nan["colour_temp_k"] is None


def test_stats_do_not_fail_on_hostile_captures(hostile):
    reply = hostile.client().get("/api/stats")
    assert reply.status_code == 200, reply.data[:300]
    stats = strict_json(reply)
    # Times the model cannot read (inf, 1e300, year 10000) are no end of the collection.
    items = walk(hostile.client(), "newest", 100)
    assert (stats["newest"], stats["oldest"]) == (items[0]["taken_at"], items[-1]["taken_at"])


def test_the_model_reads_hostile_hashes_cleaned_or_not_at_all(hostile):
    from models import Capture, NotFoundError

    hostile.client()  # binds the models to this dataset
    for name, (pk, outcome) in hostile.hostile.items():
        if outcome == SKIPPED:
            with pytest.raises(NotFoundError):
                Capture.load(pk)
            continue
        capture = Capture.load(pk)
        assert capture.taken_at == WHEN
    long = Capture.load(hostile.hostile["long-text"][0])
    assert long.camera_make is None and long.camera_model is None and long.mime_type == "image/jpeg"
    names = Capture.load(hostile.hostile["names"][0])
    assert (names.camera_make, names.camera_model) == HOSTILE_NAMES[1::-1]
    assert Capture.load(hostile.hostile["bad-expiry"][0]).image_available


@pytest.mark.parametrize("query", [{}, {"bucket": "day", "tz": "Europe/Berlin"}, {"from": START.isoformat()}])
def test_facets_do_not_fail_on_hostile_captures(hostile, query):
    reply = hostile.client().get("/api/facets", query_string=query)
    assert reply.status_code < 500, reply.data[:300]
    strict_json(reply)


# Known gap: a hash whose key is no capture id (written here by the admin user: deploy/users.acl
# admits only capture ids for the capture user, tests/deploy/test_acl.py) stops a walk of one
# item per page at its position, since a cursor carries only capture ids into the query.
@pytest.mark.xfail(strict=True, reason="a key that is no capture id cannot be a cursor position")
@pytest.mark.parametrize("sort", ["newest", "oldest"])
def test_paging_one_by_one_past_a_capture_at_an_infinite_time(hostile, sort):
    assert {item["id"] for item in walk(hostile.client(), sort, 1)} == set(hostile.normal) | ids(hostile.hostile, LISTED)


def test_an_infinite_integer_in_the_index_does_not_fail_the_listing(hostile, tiny_jpeg, redis_url):
    conn = redis.Redis.from_url(redis_url)
    pk = hostile_pk(9999)
    write_hash(conn, hostile.prefix, pk, tiny_jpeg, {"exposure_us": "inf"})
    try:
        schema.wait_indexed()
        assert hostile.client().get("/api/captures").status_code == 200
    finally:
        conn.delete(f"{hostile.prefix}:capture:{pk}")


# Defect 7: the security headers, on every kind of reply.

CSP_REQUIRED = {
    "default-src": {"'self'"},
    "script-src": {"'self'"},
    "connect-src": {"'self'"},
    "frame-ancestors": {"'none'"},
    "base-uri": {"'none'"},
    "form-action": {"'self'"},
    "object-src": {"'none'"},
}


def csp(reply) -> dict[str, set[str]]:
    policy = reply.headers.get("Content-Security-Policy", "")
    return {name: set(values) for name, *values in (part.split() for part in policy.split(";") if part.strip())}


def assert_security_headers(reply) -> None:
    policy = csp(reply)
    for name, values in CSP_REQUIRED.items():
        assert policy.get(name) == values, (reply.request.path, name, policy.get(name))
    # Nothing inline or evaluated anywhere: the page's own scripts and styles are files.
    for name in ("default-src", "script-src", "style-src", "img-src"):
        assert not policy.get(name, set()) & {"'unsafe-inline'", "'unsafe-eval'", "*", "http:", "https:"}, name
    assert policy.get("img-src", set()) <= {"'self'", "data:", "blob:"}
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["X-Frame-Options"] == "DENY"
    assert reply.headers["Referrer-Policy"] in ("same-origin", "no-referrer")


@pytest.fixture
def served(hostile):
    """A test client on the dataset, and one well-formed capture's id."""
    return hostile.client(), hostile.normal[0]


@pytest.mark.parametrize("path, status", [
    ("/", 200),
    ("/api/captures", 200),
    ("/api/captures/{pk}", 200),
    ("/api/facets?from=2026-02-28&to=2026-03-02", 200),  # the hostile times are outside this range
    ("/api/stats", 200),
    ("/api/openapi.json", 200),
    ("/healthz", 200),
    ("/api/captures/{pk}/image", 200),
    ("/api/captures/{pk}/thumbnail", 200),
    ("/static/gallery.js", 200),
    ("/static/vendor/bulma/bulma.min.css", 200),
    ("/api/captures/" + "0" * 26, 404),
    ("/api/captures/not-an-id/image", 404),
    ("/api/captures?limit=0", 400),
    ("/api/captures?cursor=forged", 400),
    ("/static/nope.js", 404),
    ("/nope", 404),
])
def test_security_headers_on_every_reply(served, path, status):
    client, pk = served
    reply = client.get(path.format(pk=pk), headers={"Accept-Encoding": "gzip"})
    assert reply.status_code == status
    assert_security_headers(reply)


@pytest.mark.parametrize("kind", ["image", "thumbnail"])
def test_security_headers_on_a_304(served, kind):
    client, pk = served
    etag = client.get(f"/api/captures/{pk}/{kind}").headers["ETag"]
    reply = client.get(f"/api/captures/{pk}/{kind}", headers={"If-None-Match": etag})
    assert reply.status_code == 304
    assert_security_headers(reply)


def test_security_headers_on_errors_of_other_methods(served):
    client, pk = served
    assert_security_headers(client.delete(f"/api/captures/{pk}"))  # 401 without the token
    assert_security_headers(client.post("/api/captures"))  # 405


def test_security_headers_on_the_event_stream(served):
    client, _ = served
    reply = client.get("/api/events", buffered=False)
    try:
        assert reply.status_code == 200 and reply.mimetype == "text/event-stream"
        assert_security_headers(reply)
    finally:
        reply.close()


def test_the_page_has_nothing_inline_for_the_policy_to_refuse(served):
    import re

    client, _ = served
    html = client.get("/").get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script>"
    assert not re.search(r"<style\b", html), "inline <style>"
    assert not re.search(r"\s(on[a-z]+|style)\s*=", html), "inline event handler or style attribute"
    assert "javascript:" not in html
