"""Flask-Compress: the page shell and JSON go out compressed; images and the event stream as they are."""
from __future__ import annotations

import datetime as dt
import gzip

import brotli
import pytest

from models import Capture

WHEN = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
BROWSER = "gzip, deflate, br, zstd"
SHELL = ["/", "/static/vendor/bulma/bulma.min.css", "/static/gallery.js", "/static/facets.js", "/static/gallery.css"]


@pytest.fixture
def captures(store, jpeg):
    image = jpeg((320, 240))
    return [store.create(image, device=f"pi-{i % 3}", taken_at=WHEN + dt.timedelta(minutes=i), trigger="interval")
            for i in range(12)]


@pytest.mark.parametrize("path", SHELL + ["/api/openapi.json", "/api/captures?limit=12"])
def test_shell_and_json_are_gzipped_when_asked(client, captures, path):
    plain = client.get(path)
    packed = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert plain.status_code == packed.status_code == 200
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.headers["Vary"]
    assert int(packed.headers["Content-Length"]) == len(packed.data) < len(plain.data)
    assert gzip.decompress(packed.data) == plain.data


def test_bulma_shrinks_tenfold_and_revalidates(client):
    css = "/static/vendor/bulma/bulma.min.css"
    plain = client.get(css)
    packed = client.get(css, headers={"Accept-Encoding": "br"})
    assert packed.headers["Content-Encoding"] == "br" and brotli.decompress(packed.data) == plain.data
    assert len(packed.data) * 10 < len(plain.data)
    # The compressed body has its own ETag, and a browser holding it gets a 304.
    etag = packed.headers["ETag"]
    assert etag != plain.headers["ETag"]
    again = client.get(css, headers={"Accept-Encoding": "br", "If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""


@pytest.mark.parametrize("kind", ["image", "thumbnail"])
def test_images_are_sent_unchanged_with_their_etag_and_304(client, captures, kind):
    url = f"/api/captures/{captures[0].pk}/{kind}"
    plain = client.get(url)
    asked = client.get(url, headers={"Accept-Encoding": BROWSER})
    assert "Content-Encoding" not in asked.headers
    assert asked.data == plain.data == Capture.read_binary(captures[0].pk, kind)
    assert asked.headers["ETag"] == plain.headers["ETag"] == f'"{captures[0].pk}.{kind}.{len(plain.data)}"'
    again = client.get(url, headers={"Accept-Encoding": BROWSER, "If-None-Match": asked.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


def test_a_png_goes_out_as_stored_however_the_browser_asks(client, store):
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.effect_noise((256, 256), 40).convert("RGB").save(buf, "PNG")
    png = store.create(buf.getvalue(), device="pi", taken_at=WHEN, trigger="import")
    for encoding in (BROWSER, "gzip", "br"):
        reply = client.get(f"/api/captures/{png.pk}/image", headers={"Accept-Encoding": encoding})
        assert reply.content_type == "image/png" and "Content-Encoding" not in reply.headers
        assert reply.data == buf.getvalue()


def test_small_replies_stay_plain(client):
    reply = client.get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in reply.headers
