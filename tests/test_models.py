"""The Capture model: raw binary round trips, validation, TTLs."""
from __future__ import annotations

import datetime as dt
import time

import pytest

from models import Capture, InvalidCapture, NotFoundError
from models.capture import IMAGE_FIELD, THUMBNAIL_FIELD
from tests.image_helpers import claiming

UTC = dt.timezone.utc
WHEN = dt.datetime(2026, 5, 4, 10, 30, tzinfo=UTC)


def valid_samples(samples):
    return sorted(p for p in samples.rglob("*.jpg") if "invalid" not in p.parts and p.name != "corrupted.jpg")


def make(store, image, **kw):
    kw.setdefault("device", "pi-test")
    kw.setdefault("taken_at", WHEN)
    kw.setdefault("trigger", "manual")
    return store.create(image, **kw)


def test_real_jpegs_round_trip_raw(store, samples):
    paths = valid_samples(samples)
    assert len(paths) > 30
    from models import db

    for path in paths:
        data = path.read_bytes()
        capture = make(store, data, trigger="import")
        key = capture.key()
        assert db.raw().hget(key, IMAGE_FIELD) == data, path.name
        assert db.raw().hstrlen(key, IMAGE_FIELD) == len(data) == capture.image_size
        thumb = db.raw().hget(key, THUMBNAIL_FIELD)
        assert thumb[:2] == b"\xff\xd8" and db.raw().hstrlen(key, THUMBNAIL_FIELD) == capture.thumbnail_size
        assert Capture.read_binary(capture.pk) == data


def test_thumbnail_is_upright_and_small(store, samples):
    from io import BytesIO

    from PIL import Image

    for path in sorted((samples / "orientation").glob("*.jpg")):
        capture = make(store, path.read_bytes())
        thumb = Image.open(BytesIO(Capture.read_binary(capture.pk, "thumbnail")))
        assert max(thumb.size) <= 320
        portrait = path.name.startswith("portrait")
        # Orientation 5-8 rotate by 90 degrees: the stored pixels are sideways, the thumbnail is not.
        assert (thumb.height > thumb.width) == portrait, path.name
        assert capture.orientation == int(path.stem.split("_")[1])


def test_load_reads_metadata_only(store, jpeg):
    capture = make(store, jpeg(), lux=12.5, exposure_us=1000, analogue_gain=2.0, colour_temp_k=5000)
    loaded = Capture.load(capture.pk)
    assert loaded == capture
    assert loaded.taken_at == WHEN and loaded.taken_at.tzinfo is not None
    with pytest.raises(NotFoundError):
        Capture.load("01NOSUCHCAPTURE")


@pytest.mark.parametrize("name", ["invalid/image00971.jpg", "invalid/image01088.jpg", "invalid/image01137.jpg",
                                  "invalid/image01551.jpg", "invalid/image01713.jpg", "invalid/image01980.jpg",
                                  "invalid/image02206.jpg", "corrupted.jpg"])
def test_broken_exif_with_sound_pixels_is_stored(store, samples, name):
    """These samples have broken EXIF, not broken pixels: refusing them would lose good pictures."""
    from models import db

    data = (samples / name).read_bytes()
    capture = make(store, data)
    assert db.raw().hget(capture.key(), IMAGE_FIELD) == data
    assert capture.orientation == 1  # unreadable orientation falls back to "as stored"
    assert Capture.read_binary(capture.pk, "thumbnail")[:2] == b"\xff\xd8"


@pytest.mark.parametrize(
    "data, problem",
    [
        (b"", "empty"),
        (b"not a jpeg at all", "not a recognised image"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 100, "not a recognised image"),
    ],
)
def test_garbage_rejected(store, data, problem):
    with pytest.raises(InvalidCapture, match=problem):
        make(store, data)


@pytest.mark.parametrize("cut", [20, 200, 2000, -1000])
def test_cut_real_jpeg_rejected(store, samples, cut):
    data = (samples / "Canon_40D.jpg").read_bytes()[:cut]
    with pytest.raises(InvalidCapture, match="not a recognised image|cannot be read|cannot be decoded"):
        make(store, data)
    assert store.find().count() == 0


def test_truncated_jpeg_rejected(store, jpeg):
    data = jpeg()
    with pytest.raises(InvalidCapture, match="cannot be decoded"):
        make(store, data[: len(data) // 2])
    assert store.find().count() == 0


@pytest.mark.parametrize(
    "field, value, problem",
    [
        ("trigger", "sneeze", "trigger must be one of"),
        ("device", "  ", "device must not be blank"),
        ("device", "bad\x1fname", "control characters"),
        ("lux", "bright", "lux"),
        ("ttl", -5, "ttl must be a positive"),
        ("time_source", "guess", "time_source must be one of"),
        ("source_name", "holiday/img.jpg", "without folders"),
        ("source_name", "img\n.jpg", "control characters"),
    ],
)
def test_bad_metadata_rejected(store, jpeg, field, value, problem):
    with pytest.raises(InvalidCapture, match=problem):
        make(store, jpeg(), **{field: value})
    assert store.find().count() == 0


def test_capture_ttl_sets_key_expiry(store, jpeg):
    capture = make(store, jpeg(), ttl=3600)
    ttl = store.db().pttl(capture.key())
    # Never under what was asked, less the moments since it was stored: EXPIREAT's whole second is rounded up.
    assert 3590_000 <= ttl <= 3601_000
    assert ttl >= (capture.expires_at.timestamp() - time.time()) * 1000
    assert capture.expires_at is not None and capture.image_expires_at is None


def test_image_ttl_expires_only_the_full_image(store, jpeg):
    capture = make(store, jpeg(), ttl=3600, image_ttl=1)
    assert capture.image_available
    key = capture.key()
    assert store.db().httl(key, IMAGE_FIELD, THUMBNAIL_FIELD) == [1, -1]
    time.sleep(1.2)
    assert Capture.read_binary(capture.pk) is None
    assert Capture.read_binary(capture.pk, "thumbnail")[:2] == b"\xff\xd8"
    loaded = Capture.load(capture.pk)
    assert not loaded.image_available
    # Still searchable by metadata after its big image is gone.
    assert store.find(store.device == "pi-test").count() == 1


def test_image_ttl_longer_than_capture_ttl_is_ignored(store, jpeg):
    capture = make(store, jpeg(), ttl=60, image_ttl=600)
    assert capture.image_expires_at is None
    assert store.db().httl(capture.key(), IMAGE_FIELD) == [-1]


def test_saving_same_pk_twice_is_idempotent(store, jpeg):
    first = make(store, jpeg())
    again = make(store, jpeg(), pk=first.pk)
    assert again.pk == first.pk
    assert store.find().count() == 1


def test_remove(store, jpeg):
    capture = make(store, jpeg())
    assert Capture.remove(capture.pk)
    assert not Capture.remove(capture.pk)
    with pytest.raises(NotFoundError):
        Capture.load(capture.pk)


@pytest.mark.parametrize("query, timeout", [("", 30), ("?socket_timeout=2", 2.0)])
def test_bind_sets_timeouts_unless_the_url_does(redis_url, key_prefix, query, timeout):
    from models import bind, db

    bind(f"redis://127.0.0.1:1/0{query}", key_prefix)
    try:
        for client in (db.raw(), db.decoding()):
            kwargs = client.connection_pool.connection_kwargs
            assert kwargs["socket_timeout"] == timeout and kwargs["socket_connect_timeout"] == 5
    finally:
        bind(redis_url, key_prefix)


def test_unbound_models_refuse_instead_of_guessing_localhost():
    import subprocess
    import sys

    code = "from models import Capture\ntry:\n    Capture.find().count()\nexcept RuntimeError as e:\n    print(e)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "not bound" in out


@pytest.mark.parametrize("side", [60000, 65535])
def test_decompression_bomb_rejected_without_decoding(store, jpeg, side):
    with pytest.raises(InvalidCapture, match="too many pixels to decode safely"):
        make(store, claiming(jpeg((16, 16)), side, side))
    assert store.find().count() == 0
