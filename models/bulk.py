"""Store many captures that share one image, fast: for benchmarks, demos and tests."""
from __future__ import annotations

from itertools import islice
from typing import Iterable, Iterator, Optional

from . import db
from .capture import Capture


def _batches(rows: Iterable[dict], size: int) -> Iterator[list[dict]]:
    it = iter(rows)
    while batch := list(islice(it, size)):
        yield batch


def store_many(rows: Iterable[dict], image: bytes, thumbnail: Optional[bytes] = None, batch: int = 1000) -> list[str]:
    """Store one capture per metadata dict in `rows`, all with the same image; return the pks.

    Each row is prepared as Capture.create() prepares one (a row may carry `ttl` and
    `image_ttl` too); the shared image is checked and thumbnailed once, not per capture.
    Each batch is one MULTI/EXEC, so no capture is ever visible half-written.
    """
    stored: list[str] = []
    for chunk in _batches(rows, batch):
        # Prepared before the pipeline opens, so a bad row stores nothing of its batch.
        prepared = []
        for row in chunk:
            capture, thumbnail = Capture.prepare(image, thumbnail=thumbnail, **row)
            prepared.append(capture)
        with db.raw().pipeline(transaction=True) as pipe:
            for capture in prepared:
                # One MULTI for the batch, not one per capture: that is what makes bulk loads fast.
                capture.queue(pipe, image, thumbnail)
            pipe.execute()
        stored += [capture.pk for capture in prepared]
    return stored
