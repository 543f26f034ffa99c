"""Benchmark time-of-day windows (Europe/Berlin) beside the unfiltered first page, in one run.

    .venv/bin/python scripts/bench_time_of_day.py [--count 100000] [--runs 50] [--years 1]

Uses REDIS_URL if set (under a throwaway key prefix), else starts an embedded Redis Stack. The raw
column runs the query the API builds, its window clause found beforehand; the API column finds
the clause too (probes of where the captures are) on every request.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import models  # noqa: E402
from bench_common import bench_prefix, load, side_by_side  # noqa: E402
from index import query, schema, windows  # noqa: E402
from index.rows import RETURN_FIELDS  # noqa: E402


def time_of_day(client, conn, args) -> None:
    """First pages with a time-of-day window in Berlin beside the unfiltered one, and facets."""
    from search_web.params import SearchParams

    limit, runs = args.limit, args.runs

    def api(params):
        reply = client.get("/api/captures", query_string={"limit": limit, **params})
        assert reply.status_code == 200, reply.json
        return reply.json

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
        clock = windows.time_of_day(filters)
        built = query.build(filters, clock=clock)
        raw = (lambda q: lambda: conn.execute_command(
            "FT.SEARCH", schema.name(), q, "SORTBY", "taken_at", "DESC",
            "RETURN", len(RETURN_FIELDS), *RETURN_FIELDS, "LIMIT", 0, limit, "DIALECT", 2))(built)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--limit", type=int, default=48)
    parser.add_argument("--years", type=float, default=1, help="spread the captures over this many years")
    args = parser.parse_args()

    from search_web import create_app

    with bench_prefix() as (url, prefix):
        load(args.count, args.years)
        app = create_app(test_config={"REDIS_URL": url, "KEY_PREFIX": prefix, "MAX_PAGE_SIZE": 200})
        time_of_day(app.test_client(), models.Capture.db(), args)


if __name__ == "__main__":
    main()
