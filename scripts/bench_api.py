"""Benchmark the search API against raw FT.SEARCH on 100k captures, side by side in one run.

    .venv/bin/python scripts/bench_api.py [--count 100000] [--runs 50] [--years 1]

Uses REDIS_URL if set (under a throwaway key prefix), else starts an embedded Redis
Stack in a temporary folder. Prints p50 latencies and the ratios the README quotes:
API search <= 2x raw FT.SEARCH, last page <= 1.5x first page; and a time-of-day filtered first
page (Europe/Berlin, across the DST changes of --years years) beside the unfiltered one.
"""
from __future__ import annotations

import argparse
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
from index import query, schema  # noqa: E402
from models import bulk  # noqa: E402

DEVICES = ["pi-garden", "pi-door", "pi-attic", "pi-garage", "pi-shed"]


@contextmanager
def redis_for_bench():
    """Yield a Redis Stack URL: REDIS_URL, or an embedded server stopped afterwards."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    from pigallery import redis_server
    from tests.conftest import VENDOR, free_port

    with tempfile.TemporaryDirectory(prefix="pigallery-bench-") as tmp:
        server = redis_server.Server(port=free_port(), data_dir=Path(tmp), vendor=VENDOR)
        redis_server.start(server)
        try:
            yield server.url
        finally:
            redis_server.stop(server)


def load(count: int, years: float = 1) -> None:
    """Store `count` captures over `years` years up to 2026-06-01 from five devices; one tiny JPEG shared by all."""
    from tqdm import tqdm

    image = synthetic.render(dt.datetime(2026, 6, 1, 12, tzinfo=dt.timezone.utc), (32, 24))[0]
    rng = random.Random(1)
    start = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc) - dt.timedelta(days=365 * years)
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
    schema.wait_indexed()


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--limit", type=int, default=48)
    parser.add_argument("--years", type=float, default=1, help="spread the captures over this many years")
    args = parser.parse_args()

    from search_web import create_app

    prefix = f"bench{uuid.uuid4().hex[:8]}"
    with redis_for_bench() as url:
        models.bind(url, prefix)
        schema.migrate()
        try:
            load(args.count, args.years)
            app = create_app(test_config={"REDIS_URL": url, "KEY_PREFIX": prefix, "MAX_PAGE_SIZE": 200})
            client = app.test_client()
            conn = models.Capture.db()
            report(client, conn, args)
        finally:
            models.bind(url, prefix)
            schema.drop(delete_documents=True)


def report(client, conn, args) -> None:
    limit, runs = args.limit, args.runs
    print(f"\n{schema.info()['num_docs']} captures indexed; page size {limit}; p50 of {runs} runs each\n")

    def api(params):
        reply = client.get("/api/captures", query_string={"limit": limit, **params})
        assert reply.status_code == 200, reply.json
        return reply.json

    def raw(filters):
        return lambda: conn.execute_command(
            "FT.SEARCH", schema.name(), query.build(filters), "SORTBY", "taken_at", "DESC",
            "RETURN", len(query.RETURN_FIELDS), *query.RETURN_FIELDS, "LIMIT", 0, limit)

    cases = [
        ("all captures", {}, query.Filters()),
        ("device + lux + 30 days", {"device": "pi-door", "lux_min": 1000, "lux_max": 20000,
                                    "from": "2026-01-01", "to": "2026-01-30"},
         query.Filters(devices=("pi-door",), lux_min=1000, lux_max=20000,
                       since=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc).timestamp(),
                       until=dt.datetime(2026, 1, 31, tzinfo=dt.timezone.utc).timestamp())),
    ]
    print(f"{'query':<26}{'raw FT.SEARCH':>15}{'API':>10}{'ratio':>8}")
    for name, params, filters in cases:
        assert api(params)["total"] == int(raw(filters)()["total_results"])
        raw_ms, api_ms = side_by_side([raw(filters), lambda: api(params)], runs)
        print(f"{name:<26}{raw_ms:>12.2f} ms{api_ms:>7.2f} ms{api_ms / raw_ms:>7.2f}x")

    # Walk every cursor to the end; `cursor` is then the one that fetched the last page.
    started, pages, seen, cursor = time.perf_counter(), 0, 0, None
    while True:
        page = api({"cursor": cursor} if cursor else {})
        pages += 1
        seen += len(page["items"])
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    walk_s = time.perf_counter() - started
    last_cursor = cursor
    first_ms, last_ms = side_by_side([lambda: api({}), lambda: api({"cursor": last_cursor})], runs)
    print(f"\nwalked {pages} pages, {seen} captures, in {walk_s:.1f} s ({walk_s / pages * 1000:.2f} ms/page)")
    print(f"first page {first_ms:.2f} ms   last page {last_ms:.2f} ms   ratio {last_ms / first_ms:.2f}x")
    # What offset paging would do instead, for comparison.
    for offset in (10_000, 20_000):
        try:
            reply = conn.execute_command("FT.SEARCH", schema.name(), "*", "NOCONTENT", "SORTBY", "taken_at", "DESC",
                                         "LIMIT", offset, limit)
            outcome = f"{len(reply['results'])} results"
        except Exception as exc:  # noqa: BLE001 - RediSearch's own refusal is the point
            outcome = f"error: {exc}"
        print(f"offset paging at {offset}: {outcome}")
    for name, params in (("facets, all", {}), ("facets, device + 30 days",
                                               {"device": "pi-door", "from": "2026-01-01", "to": "2026-01-30"})):
        ms = p50(lambda: client.get("/api/facets", query_string=params), max(10, runs // 5))
        print(f"{name:<26}{ms:>8.2f} ms")
    print(f"{'stats':<26}{p50(lambda: client.get('/api/stats'), max(10, runs // 5)):>8.2f} ms")
    time_of_day(client, conn, args, api)


def time_of_day(client, conn, args, api) -> None:
    """First pages with a time-of-day window in Berlin beside the unfiltered one, in one run.

    The raw column runs the query the API builds, its window clause found beforehand; the API
    column finds the clause too (probes of where the captures are) on every request.
    """
    from search_web.params import SearchParams

    limit, runs = args.limit, args.runs
    berlin = {"tz": "Europe/Berlin"}
    cases = [("all captures", {}), ("06:00-07:00", {"time_from": "06:00", "time_to": "07:00", **berlin}),
             ("22:00-02:00", {"time_from": "22:00", "time_to": "02:00", **berlin}),
             ("12:00-12:15", {"time_from": "12:00", "time_to": "12:15", **berlin}),
             ("06:00-07:00, last 30 days", {"time_from": "06:00", "time_to": "07:00", "from": "2026-05-02", **berlin}),
             ("06:00-07:00, pi-door", {"time_from": "06:00", "time_to": "07:00", "device": ["pi-door"], **berlin})]
    print(f"\ntime of day in Europe/Berlin over {args.years:g} year(s) of captures; first page of {limit}")
    print(f"{'query':<28}{'matches':>9}{'raw FT.SEARCH':>15}{'API':>10}  window clause")
    fns, rows = [], []
    for name, params in cases:
        filters = SearchParams.model_validate(params).filters()
        clock = query.time_of_day(filters)
        built = query.build(filters, clock=clock)
        raw = (lambda q: lambda: conn.execute_command(
            "FT.SEARCH", schema.name(), q, "SORTBY", "taken_at", "DESC",
            "RETURN", len(query.RETURN_FIELDS), *query.RETURN_FIELDS, "LIMIT", 0, limit, "DIALECT", 2))(built)
        total = int(raw()["total_results"])
        assert api(params)["total"] == total, name
        fns += [raw, (lambda p: lambda: api(p))(params)]
        ranges = f"{clock.count('@taken_at:')} taken_at ranges, {len(clock)} chars" if clock else ""
        rows.append((name, total, ranges))
    times = side_by_side(fns, runs)
    for (name, total, ranges), raw_ms, api_ms in zip(rows, times[::2], times[1::2]):
        print(f"{name:<28}{total:>9}{raw_ms:>12.2f} ms{api_ms:>7.2f} ms  {ranges}")
    window = {"time_from": "06:00", "time_to": "07:00", **berlin}
    plain, windowed = side_by_side([lambda: client.get("/api/facets", query_string=berlin),
                                    lambda: client.get("/api/facets", query_string=window)], max(10, runs // 5))
    print(f"{'facets, tz':<28}{plain:>8.2f} ms   with 06:00-07:00 {windowed:.2f} ms")


if __name__ == "__main__":
    main()
