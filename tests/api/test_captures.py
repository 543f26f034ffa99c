"""One capture: metadata, image and thumbnail bytes (ETag, 304, 404, 410), deletion."""
from __future__ import annotations

import datetime as dt
import time

import pytest

from models import Capture

WHEN = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def capture(store, jpeg):
    return store.create(jpeg((640, 480)), device="pi-door", taken_at=WHEN, trigger="motion", lux=321.5)


@pytest.mark.parametrize("kind", ["image", "thumbnail"])
def test_bytes_are_served_raw_with_a_strong_etag_and_immutable_caching(client, capture, kind):
    reply = client.get(f"/api/captures/{capture.pk}/{kind}")
    assert reply.status_code == 200
    assert reply.data == Capture.read_binary(capture.pk, kind)
    assert reply.content_type == "image/jpeg"
    assert int(reply.headers["Content-Length"]) == len(reply.data)
    etag = reply.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert "immutable" in reply.headers["Cache-Control"] and "max-age=31536000" in reply.headers["Cache-Control"]

    again = client.get(f"/api/captures/{capture.pk}/{kind}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    other = client.get(f"/api/captures/{capture.pk}/{kind}", headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.data == reply.data


@pytest.mark.parametrize("kind, without_bytes", [("image", 410), ("thumbnail", 404)])
def test_a_304_is_decided_from_metadata_without_reading_the_bytes(client, capture, kind, without_bytes):
    from models import db

    reply = client.get(f"/api/captures/{capture.pk}/{kind}")
    assert reply.headers["ETag"] == f'"{capture.pk}.{kind}.{capture.stored_size(kind)}"'
    assert capture.stored_size(kind) == len(reply.data)
    # The bytes vanish behind the metadata's back: a holder of the ETag still gets its 304
    # (its copy is the capture's immutable bytes), since nothing is read to answer it.
    db.raw().hdel(capture.key(), kind)
    again = client.get(f"/api/captures/{capture.pk}/{kind}", headers={"If-None-Match": reply.headers["ETag"]})
    assert again.status_code == 304 and again.headers["ETag"] == reply.headers["ETag"]
    assert "immutable" in again.headers["Cache-Control"]
    assert client.get(f"/api/captures/{capture.pk}/{kind}").status_code == without_bytes


def test_image_and_thumbnail_have_different_etags(client, capture):
    image = client.get(f"/api/captures/{capture.pk}/image").headers["ETag"]
    thumb = client.get(f"/api/captures/{capture.pk}/thumbnail").headers["ETag"]
    assert image != thumb
    assert client.get(f"/api/captures/{capture.pk}/thumbnail", headers={"If-None-Match": image}).status_code == 200


def test_png_keeps_its_content_type(client, store):
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 200, 30)).save(buf, "PNG")
    png = store.create(buf.getvalue(), device="pi", taken_at=WHEN, trigger="import")
    assert client.get(f"/api/captures/{png.pk}/image").content_type == "image/png"
    assert client.get(f"/api/captures/{png.pk}/thumbnail").content_type == "image/jpeg"


@pytest.mark.parametrize("path", ["", "/image", "/thumbnail"])
@pytest.mark.parametrize("pk", ["01ZZZZZZZZZZZZZZZZZZZZZZZZ", "not-an-id", "%2A"])
def test_unknown_ids_are_404_json(client, store, path, pk):
    reply = client.get(f"/api/captures/{pk}{path}")
    assert reply.status_code == 404
    assert reply.is_json and reply.json["error"] == "Not Found"


def test_expired_image_is_410_while_thumbnail_and_metadata_remain(client, store, jpeg):
    capture = store.create(jpeg((320, 240)), device="pi", taken_at=WHEN, trigger="interval", image_ttl=1)
    assert client.get(f"/api/captures/{capture.pk}").json["image_url"]
    etag = client.get(f"/api/captures/{capture.pk}/image").headers["ETag"]
    time.sleep(1.2)
    assert Capture.read_binary(capture.pk, "image") is None  # Redis expired the field itself
    reply = client.get(f"/api/captures/{capture.pk}/image")
    assert reply.status_code == 410 and reply.json["thumbnail_url"].endswith("/thumbnail")
    # Expiry wins over a cached copy: a client revalidating learns that the image is gone.
    assert client.get(f"/api/captures/{capture.pk}/image", headers={"If-None-Match": etag}).status_code == 410
    assert client.get(f"/api/captures/{capture.pk}/thumbnail").status_code == 200
    item = client.get(f"/api/captures/{capture.pk}").json
    assert item["image_url"] is None and item["thumbnail_url"]
    listed = client.get("/api/captures").json["items"]
    assert [i["image_url"] for i in listed] == [None]


def test_metadata_of_one_capture(client, capture):
    item = client.get(f"/api/captures/{capture.pk}").json
    assert item["id"] == capture.pk and item["device"] == "pi-door" and item["trigger"] == "motion"
    assert item["taken_at"] == "2026-06-01T12:00:00Z" and item["lux"] == 321.5
    assert (item["width"], item["height"]) == (640, 480)


@pytest.mark.parametrize("headers, status", [
    ({}, 401),
    ({"Authorization": "Bearer wrong"}, 401),
    ({"Authorization": "Basic dGVzdC10b2tlbjo="}, 401),
    ({"Authorization": "Bearer test-token"}, 204),
])
def test_delete_needs_the_bearer_token(client, capture, headers, status):
    reply = client.delete(f"/api/captures/{capture.pk}", headers=headers)
    assert reply.status_code == status
    if status == 401:
        assert reply.json["error"] == "Unauthorized" and reply.headers["WWW-Authenticate"] == "Bearer"
        assert Capture.load(capture.pk)
    else:
        assert client.get(f"/api/captures/{capture.pk}").status_code == 404
        assert Capture.read_binary(capture.pk, "thumbnail") is None
        again = client.delete(f"/api/captures/{capture.pk}", headers=headers)
        assert again.status_code == 404


def test_delete_is_disabled_without_a_configured_token(redis_url, key_prefix, capture):
    from search_web import create_app

    app = create_app(test_config={"TESTING": True, "REDIS_URL": redis_url, "KEY_PREFIX": key_prefix, "API_TOKEN": None})
    reply = app.test_client().delete(f"/api/captures/{capture.pk}", headers={"Authorization": "Bearer anything"})
    assert reply.status_code == 403 and "PIGALLERY_API_TOKEN" in reply.json["message"]
    assert Capture.load(capture.pk)
