"""Store many captures that share one image, fast: for benchmarks, demos and tests."""
from __future__ import annotations

from typing import Iterable, Iterator, Optional

from pydantic import ValidationError

from . import db, images
from .capture import IMAGE_FIELD, THUMBNAIL_FIELD, Capture, InvalidCapture


def _batches(rows: Iterable[dict], size: int) -> Iterator[list[dict]]:
    batch: list[dict] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def store_many(rows: Iterable[dict], image: bytes, thumbnail: Optional[bytes] = None, batch: int = 1000) -> list[str]:
    """Store one capture per metadata dict in `rows`, all with the same image; return the pks.

    The image is checked and thumbnailed once, not per capture, and each batch is one
    MULTI/EXEC, so no capture is ever visible half-written. TTLs are not set here.
    """
    try:
        info = images.inspect(image)
        thumbnail = thumbnail if thumbnail is not None else images.thumbnail(image)
    except images.InvalidImage as exc:
        raise InvalidCapture(str(exc)) from None
    common = dict(width=info.width, height=info.height, mime_type=info.mime_type,
                  orientation=info.orientation, image_size=len(image), thumbnail_size=len(thumbnail))
    stored: list[str] = []
    for chunk in _batches(rows, batch):
        with db.raw().pipeline(transaction=True) as pipe:
            for row in chunk:
                try:
                    capture = Capture(**{**common, **row})
                except ValidationError as exc:
                    raise InvalidCapture(str(exc)) from None
                # Not capture.store(): one MULTI per capture is what makes bulk loads slow.
                capture.save(pipeline=pipe)
                pipe.hset(capture.key(), mapping={IMAGE_FIELD: image, THUMBNAIL_FIELD: thumbnail})
                stored.append(capture.pk)
            pipe.execute()
    return stored
