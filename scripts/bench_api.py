"""Benchmark the browsing requests at 100k and at 1M captures, and 200 open galleries, in one run.

    .venv/bin/python scripts/bench_api.py [--sizes 100000,1000000] [--runs 20] [--streams 200]

Uses REDIS_URL if set (under a throwaway key prefix), else starts an embedded Redis Stack in a
temporary folder. Loads the first size (the year up to this hour, five devices, one tiny shared
JPEG), measures, adds captures up to the next size, measures again, and prints the p50 of each
request at each size with the ratio of the last size to the first: what grows with the
collection. After the first size, the viewers test (scripts/bench_viewers.py) runs on the
production gunicorn command; `--streams 0` leaves it out. At the last size, FT.INFO's index
memory per capture.
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import models  # noqa: E402
from models import rollups  # noqa: E402
from bench_common import bench_prefix, load, side_by_side  # noqa: E402
from index import recent, schema  # noqa: E402
from index.filters import Position  # noqa: E402
from index.rows import RETURN_FIELDS  # noqa: E402

# The (#11) columns, in its order, with the new ones (deep and filtered pages) beside.
COLUMNS = ["raw FT.SEARCH first page", "API first page", "API first page, no window", "API deep page",
           "API filtered page", "facets, all time", "facets, one month", "facets, lux range", "facets, lux bands",
           "facets, exposure range", "stats", "count (raw)"]
# Measured on main before this work, same machine, one run (issue #11), ms; None: not measured.
BEFORE = {100_000: [17.7, 21.6, None, None, None, 149, 44.7, None, None, None, 66.7, 3.1],
          1_000_000: [188, 188, None, None, None, 1195, 399, None, None, None, 894, 31]}
UTC = dt.timezone.utc


def measure(app, conn, args, end: dt.datetime, deep_samples: int = 20) -> tuple[list[float], Counter]:
    """p50 (ms) of each column, side by side; and the non-200 replies seen, by column and status.

    "no window" is the same first page with index.recent's window turned off (PROBES 0): the
    plain query page() ran before, beside the window in the same run.
    """
    from search_web.api import cursors
    from search_web.params import SearchParams

    client, limit, statuses = app.test_client(), args.limit, Counter()

    def get(column: str, path: str, params: dict):
        reply = client.get(path, query_string=params)
        if reply.status_code != 200:
            statuses[(column, reply.status_code)] += 1
        return reply

    def raw(*args):
        return conn.execute_command("FT.SEARCH", schema.name(), *args)

    # Deep keyset pages: cursors at captures sampled over the whole year, as a reader who
    # scrolled there would hold (a full walk of 20,000 pages at 1M would take the run's hour).
    rng = random.Random(7)
    start = (end - dt.timedelta(days=365 * args.years)).timestamp()
    tokens = []
    with app.test_request_context():
        filters = SearchParams.model_validate({}).filters()
        for _ in range(deep_samples):
            t = rng.uniform(start, end.timestamp())
            hit = raw(f"@taken_at:[-inf {t}]", "SORTBY", "taken_at", "DESC", "RETURN", 1, "taken_at",
                      "LIMIT", 0, 1, "DIALECT", 2)["results"][0]
            pk = hit["id"].rsplit(":", 1)[1]
            position = Position(float(hit["extra_attributes"]["taken_at"]), pk)
            tokens.append(cursors().dump(position, "newest", filters))
    deep = iter(tokens * (args.runs + 2))
    # Half a year back: a month of facets, and 30 days of one device in a lux range.
    mid = (end - dt.timedelta(days=182)).date()
    month = {"from": mid.isoformat(), "to": (mid + dt.timedelta(days=30)).isoformat()}
    filtered = {"device": "pi-door", **month, "lux_min": 1000, "lux_max": 20000}
    # A tenth of the lux range, 100k captures at 1M: the rollups count the lux bands it holds whole
    # (models.rollups.LUX_EDGES, up to 2000), the index the 33k captures from 2000 to 3000.
    dim = {"lux_min": 0, "lux_max": 3000}
    # Whole bands (and 2000 itself): 67k captures at 1M, all from the rollups.
    banded = {"lux_min": 0, "lux_max": 2000}
    # 75k captures at 1M: the exposure bands from 100 to 10,000 us whole, 10,000 to 15,000 (25k) read.
    quick = {"exposure_min": 100, "exposure_max": 15000}

    def plain_first_page():
        recent.PROBES, probes = 0, recent.PROBES
        try:
            return get("API first page, no window", "/api/captures", {"limit": limit})
        finally:
            recent.PROBES = probes

    first, plain = get("API first page", "/api/captures", {"limit": limit}), plain_first_page()
    if first.status_code == 200 and plain.status_code == 200:
        assert first.json == plain.json, "the window's first page is not the plain query's"
        assert first.json["total"] == int(raw("*", "LIMIT", 0, 0, "DIALECT", 2)["total_results"]), "total is not exact"
    fns = [
        lambda: raw("*", "SORTBY", "taken_at", "DESC", "RETURN", len(RETURN_FIELDS), *RETURN_FIELDS,
                    "LIMIT", 0, limit, "DIALECT", 2),
        lambda: get("API first page", "/api/captures", {"limit": limit}),
        plain_first_page,
        lambda: get("API deep page", "/api/captures", {"limit": limit, "cursor": next(deep)}),
        lambda: get("API filtered page", "/api/captures", {"limit": limit, **filtered}),
        lambda: get("facets, all time", "/api/facets", {}),
        lambda: get("facets, one month", "/api/facets", month),
        lambda: get("facets, lux range", "/api/facets", dim),
        lambda: get("facets, lux bands", "/api/facets", banded),
        lambda: get("facets, exposure range", "/api/facets", quick),
        lambda: get("stats", "/api/stats", {}),
        lambda: raw("*", "LIMIT", 0, 0, "DIALECT", 2),
    ]
    return side_by_side(fns, args.runs), statuses


def index_memory(count: int) -> str:
    """FT.INFO's memory figures at this size, per capture."""
    info = models.Capture.db().ft(schema.name()).info()
    parts = []
    for field in ("inverted_sz_mb", "offset_vectors_sz_mb", "doc_table_size_mb", "sortable_values_size_mb",
                  "key_table_size_mb", "tag_overhead_sz_mb", "total_index_memory_sz_mb"):
        if field in info:
            parts.append(f"{field} {float(info[field]) * 2 ** 20 / count:.1f} B")
    used = models.Capture.db().info("memory")["used_memory"]
    # The rollups (models.rollups): mostly the `counted` hash, one entry a capture.
    rollup = sum(models.Capture.db().memory_usage(name, samples=0) or 0 for name in rollups.names())
    return (f"index memory per capture at {count:,} (FT.INFO): " + ", ".join(parts)
            + f"; rollups {rollup / count:.1f} B; Redis used_memory {used / count:.0f} B per capture, images included")


def table(results: dict[int, list[float]], statuses: dict[int, Counter]) -> None:
    """The issue's table: a row per size, the last/first ratio, and the numbers before this work."""
    print("\np50 in ms, one run, side by side at each size\n")
    print("| captures | " + " | ".join(COLUMNS) + " |")
    print("|---:|" + "---:|" * len(COLUMNS))
    for size, p50s in results.items():
        cells = []
        for column, ms in zip(COLUMNS, p50s):
            bad = {status: n for (col, status), n in statuses[size].items() if col == column}
            cells.append(f"{ms:.1f}" + "".join(f" ({n} x HTTP {s})" for s, n in bad.items()))
        print(f"| {size:,} | " + " | ".join(cells) + " |")
    sizes = list(results)
    if len(sizes) > 1:
        ratios = [b / a for a, b in zip(results[sizes[0]], results[sizes[-1]])]
        print(f"| {sizes[-1]:,} / {sizes[0]:,} | " + " | ".join(f"{r:.2f}x" for r in ratios) + " |")
    for size, before in BEFORE.items():
        if size in results:
            print(f"| {size:,}, before | " + " | ".join("-" if v is None else f"{v:g}" for v in before) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="collection sizes to measure, comma-separated, growing")
    parser.add_argument("--runs", type=int, default=20, help="samples of each request at each size")
    parser.add_argument("--limit", type=int, default=48)
    parser.add_argument("--years", type=float, default=1, help="spread the captures over this many years")
    parser.add_argument("--streams", type=int, default=200, help="open event streams in the viewers test; 0: no viewers test")
    parser.add_argument("--viewers-seconds", type=float, default=30, help="how long the viewers test's load runs")
    parser.add_argument("--rate", type=float, default=20, help="API requests per second in the viewers test")
    args = parser.parse_args()
    try:
        sizes = [int(s) for s in args.sizes.split(",")]
    except ValueError:
        parser.error(f"--sizes must be whole numbers separated by commas, got {args.sizes!r}")
    if not sizes or any(s <= 0 for s in sizes) or sizes != sorted(set(sizes)):
        parser.error(f"--sizes must be growing positive numbers, got {args.sizes!r}")

    from bench_viewers import viewers
    from search_web import create_app

    # Up to this hour, as a live fleet's captures are: the first page's window starts from now.
    end = dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    results, statuses, viewed = {}, {}, None
    with bench_prefix() as (url, prefix):
        loaded = 0
        for n, size in enumerate(sizes):
            load(size - loaded, args.years, seed=n + 1, end=end)
            loaded = size
            app = create_app(test_config={"REDIS_URL": url, "KEY_PREFIX": prefix, "MAX_PAGE_SIZE": 200,
                                          "SECRET_KEY": "bench"})
            results[size], statuses[size] = measure(app, models.Capture.db(), args, end)
            print(f"{size:,} captures: " + ", ".join(f"{c} {ms:.1f} ms" for c, ms in zip(COLUMNS, results[size])))
            if n == 0 and args.streams:
                viewed = viewers(url, prefix, args.streams, args.viewers_seconds, args.rate)
        memory = index_memory(loaded)
        table(results, statuses)
        print(f"\n{memory}")
        if viewed:
            print(f"viewers at {sizes[0]:,} captures: API p50 {viewed['p50'][0]:.1f} ms "
                  f"with no stream open, {viewed['p50'][1]:.1f} ms with {args.streams} ({viewed['ratio']:.2f}x), "
                  f"{viewed['timeouts']} timeouts, {viewed['errors']} errors; each capture reached "
                  f"{min(viewed['delivered'], default=0)} of {viewed['connected']} streams at least")


if __name__ == "__main__":
    main()
