"""models.bulk.store_many: many captures sharing one image, prepared as Capture.create prepares one."""
from __future__ import annotations

import datetime as dt

import pytest

from models import Capture, InvalidCapture, bulk, db, om

WHEN = dt.datetime(2026, 6, 1, 12, tzinfo=dt.timezone.utc)


def test_stored_like_create_stores_them(store, jpeg):
    image = jpeg((320, 240))
    pks = bulk.store_many([dict(device="pi", taken_at=WHEN, trigger="gpio", lux=5.0),
                           dict(device="pi", taken_at=WHEN, trigger="gpio", ttl=60, image_ttl=30)], image, batch=1)
    one = Capture.create(image, device="pi", taken_at=WHEN, trigger="gpio", lux=5.0)
    bulked = Capture.load(pks[0])
    assert bulked.model_dump(exclude={"pk"}) == one.model_dump(exclude={"pk"})
    assert Capture.read_binary(pks[0], "thumbnail") == Capture.read_binary(one.pk, "thumbnail")
    assert Capture.read_binary(pks[0], "image") == image
    # TTLs work as in create(): the key and the full image field expire.
    assert 0 < db.raw().ttl(Capture.make_primary_key(pks[1])) <= 61  # EXPIREAT rounded up to its whole second
    assert 0 < db.raw().httl(Capture.make_primary_key(pks[1]), "image")[0] <= 30


@pytest.mark.parametrize("row, problem", [
    (dict(device="", trigger="gpio"), "device"),
    (dict(device="pi", trigger="sunrise"), "trigger"),
    (dict(device="pi", trigger="gpio", ttl=0), "ttl"),
])
def test_a_bad_row_stores_nothing_of_its_batch(store, jpeg, row, problem):
    rows = [dict(device="pi", taken_at=WHEN, trigger="gpio"), {"taken_at": WHEN, **row}]
    with pytest.raises(InvalidCapture, match=problem):
        bulk.store_many(rows, jpeg((64, 48)))
    assert not list(Capture.db().scan_iter(f"{om.key_prefix(Capture)}:capture:0*"))


def test_a_broken_image_is_refused(store):
    with pytest.raises(InvalidCapture, match="not a recognised image"):
        bulk.store_many([dict(device="pi", taken_at=WHEN, trigger="gpio")], b"not a picture")
