#!/usr/bin/env python
"""Measure how much Redis RAM one capture costs, and print a sizing table.

Stores N synthetic captures (default 100 at 1280x960, the camera default) under a
fresh key prefix with the search index on, and reads the server's `used_memory`
before and after (so the index, key overhead and allocator slack are included),
next to the average `MEMORY USAGE` of one capture hash. It then deletes the full
images, as an image TTL shorter than the capture TTL does, and measures again.

    .venv/bin/python scripts/measure_memory.py             # embedded server, temporary
    .venv/bin/python scripts/measure_memory.py --url redis://admin:...@host:6379/0

Everything it stores is deleted afterwards.
"""
from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import models  # noqa: E402
from index import schema  # noqa: E402
from models.capture import IMAGE_FIELD  # noqa: E402
from pigallery import redis_server  # noqa: E402
from pigallery.seed import seed_captures  # noqa: E402

CAPTURES_PER_DAY = (96, 288, 1440, 8640)  # every 15 min, 5 min, 1 min, 10 s
RETENTION_DAYS = (7, 30, 90, 365)


@contextmanager
def embedded_server():
    """Yield the URL of a throwaway embedded Redis Stack."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="pigallery-mem-") as tmp:
        server = redis_server.Server(port=port, data_dir=Path(tmp), vendor=ROOT / ".pigallery" / "vendor")
        redis_server.start(server)
        try:
            yield server.url
        finally:
            redis_server.stop(server)


def used_memory(conn) -> int:
    return int(conn.info("memory")["used_memory"])


def measure(url: str, count: int, size: tuple[int, int], detail: float) -> dict:
    """Store `count` captures under a fresh prefix and return bytes per capture."""
    prefix = f"memtest{uuid.uuid4().hex[:8]}"
    models.bind(url, prefix)
    conn = models.db.raw()
    schema.migrate()
    try:
        before = used_memory(conn)
        stored = seed_captures(count, ["pi-garden", "pi-door"], days=1, size=size, detail=detail)
        schema.wait_indexed()
        after = used_memory(conn)
        keys = [c.key() for c in stored]
        per_key = sum(conn.memory_usage(k, samples=0) for k in keys) / count
        jpeg = sum(c.image_size for c in stored) / count
        thumb = sum(c.thumbnail_size for c in stored) / count
        with conn.pipeline(transaction=False) as pipe:
            for k in keys:
                pipe.hdel(k, IMAGE_FIELD)
            pipe.execute()
        thumbs_only = used_memory(conn)
        return {
            "count": count,
            "jpeg": jpeg,
            "thumbnail": thumb,
            "hash": per_key,
            "full": (after - before) / count,
            "thumbnail_only": (thumbs_only - before) / count,
        }
    finally:
        schema.drop(delete_documents=True)
        leftovers = list(conn.scan_iter(f"{prefix}:*"))
        if leftovers:
            conn.delete(*leftovers)


def gib(n: float) -> str:
    return f"{n / 2**30:.2f}" if n < 100 * 2**30 else f"{n / 2**30:.0f}"


def table(per_capture: float) -> str:
    """Markdown table: GiB of RAM for captures/day x retention days."""
    head = "| captures/day | " + " | ".join(f"{d} days" for d in RETENTION_DAYS) + " |"
    rule = "|---:|" + "---:|" * len(RETENTION_DAYS)
    rows = [
        f"| {n:,} | " + " | ".join(gib(per_capture * n * d) for d in RETENTION_DAYS) + " |"
        for n in CAPTURES_PER_DAY
    ]
    return "\n".join([head, rule, *rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="Redis to measure on (default: a throwaway embedded server)")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--size", default="1280x960", help="frame WIDTHxHEIGHT")
    parser.add_argument("--detail", type=float, default=1.0, help="synthetic noise level (sets JPEG size)")
    args = parser.parse_args()
    size = tuple(int(p) for p in args.size.lower().split("x"))

    if args.url:
        result = measure(args.url, args.count, size, args.detail)
    else:
        with embedded_server() as url:
            result = measure(url, args.count, size, args.detail)

    print(f"{result['count']} captures at {args.size}, detail {args.detail}:")
    print(f"  JPEG {result['jpeg']:,.0f} B + thumbnail {result['thumbnail']:,.0f} B per capture")
    print(f"  MEMORY USAGE of one capture hash: {result['hash']:,.0f} B")
    print(f"  used_memory per capture (hash + index + overhead): {result['full']:,.0f} B")
    print(f"  after the full image expires (thumbnail + metadata): {result['thumbnail_only']:,.0f} B")
    print("\nRAM in GiB, full images kept for the whole retention:\n")
    print(table(result["full"]))
    print("\nRAM in GiB once full images have expired (thumbnails and metadata only):\n")
    print(table(result["thumbnail_only"]))


if __name__ == "__main__":
    main()
