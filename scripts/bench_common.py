"""What the benchmark scripts share: a Redis Stack to run on, loading captures, timing side by side."""
from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import models  # noqa: E402
from capture import synthetic  # noqa: E402
from index import schema  # noqa: E402
from models import bulk  # noqa: E402

DEVICES = ["pi-garden", "pi-door", "pi-attic", "pi-garage", "pi-shed"]
# The captures end here; they start `years` before.
END = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)


@contextmanager
def redis_for_bench():
    """Yield a Redis Stack URL: REDIS_URL, or an embedded server stopped afterwards."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    from tests.helpers import embedded

    with tempfile.TemporaryDirectory(prefix="pigallery-bench-") as tmp, embedded(Path(tmp)) as server:
        yield server.url


@contextmanager
def bench_prefix(name: str = "bench"):
    """Yield (Redis URL, a key prefix of its own), the models bound to them and the index made;
    afterwards drop the index and every key under the prefix (time-lapse videos are no captures)."""
    prefix = f"{name}{uuid.uuid4().hex[:8]}"
    with redis_for_bench() as url:
        models.bind(url, prefix)
        schema.migrate()
        try:
            yield url, prefix
        finally:
            models.bind(url, prefix)  # a benchmark may have bound the models elsewhere meanwhile
            schema.drop(delete_documents=True)
            conn = models.Capture.db()
            keys = list(conn.scan_iter(f"{prefix}:*", count=5000))
            for start in range(0, len(keys), 5000):
                conn.delete(*keys[start:start + 5000])


def load(count: int, years: float = 1, seed: int = 1, end: dt.datetime = END) -> None:
    """Store `count` captures over `years` years up to `end` from five devices; one tiny JPEG shared by all.

    Every third capture shares its taken_at with two others (ties, as bursts make). A second
    call with another `seed` adds captures among the first ones: 100k, then 900k more, is 1M
    over the same year.
    """
    from tqdm import tqdm

    image = synthetic.render(dt.datetime(2026, 6, 1, 12, tzinfo=dt.timezone.utc), (32, 24))[0]
    rng = random.Random(seed)
    start = end - dt.timedelta(days=365 * years)
    step = dt.timedelta(days=365 * years) / count

    def rows():
        for i in range(count):
            yield dict(device=DEVICES[i % len(DEVICES)], taken_at=start + step * (i - i % 3), trigger=rng.choice(models.TRIGGERS),
                       lux=round(rng.uniform(0, 30000), 1), exposure_us=rng.randrange(100, 200_000),
                       analogue_gain=round(rng.uniform(1, 16), 2), colour_temp_k=rng.randrange(2500, 9000))

    with tqdm(total=count, desc="loading", unit="capture", disable=None) as bar:
        it = rows()
        while batch := [row for _, row in zip(range(10_000), it)]:
            bulk.store_many(batch, image)
            bar.update(len(batch))
    schema.wait_indexed(timeout=3600)


def p50(fn, runs: int) -> float:
    """Median wall time of `fn` in milliseconds (after one warm-up call)."""
    return side_by_side([fn], runs)[0]


def side_by_side(fns, runs: int) -> list[float]:
    """Median wall times (ms) of several functions, called in turn so load drift hits all alike."""
    times: list[list[float]] = [[] for _ in fns]
    for fn in fns:
        fn()  # warm-up
    for _ in range(runs):
        for fn, samples in zip(fns, times):
            started = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - started)
    return [statistics.median(samples) * 1000 for samples in times]
