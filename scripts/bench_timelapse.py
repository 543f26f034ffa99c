"""Benchmark time-lapse encoding: frames per second for 1280x960 JPEGs, and peak memory of a
10,000-frame job, side by side with a 1,000-frame one (bounded memory: the two should match).

    .venv/bin/python scripts/bench_timelapse.py [--count 10000] [--small 1000]

Seeds `--count` synthetic 1280x960 captures with pigallery.seed.seed_captures (one worker
process per core) under a throwaway key prefix, on a fresh embedded Redis Stack (or REDIS_URL).
Each job then runs in a child process of its own, exactly as the web app runs one
(search_web.timelapse_jobs.run: select through keyset pages, JPEGs from Redis into ffmpeg,
the MP4 copied back into Redis), so that its RSS high-water mark (resource.getrusage) is the
job's alone; ffmpeg's is that of the child's children (RUSAGE_CHILDREN).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

SIZE = (1280, 960)
DETAIL = 0.7  # 170-250 kB JPEGs, like a Pi camera's (as the browser tests seed)
END = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)
MINUTES_APART = 5


def _seed_slice(args: tuple) -> int:
    """Seed one worker's share: `count` captures 5 minutes apart, ending `end`."""
    url, prefix, count, end = args
    import models
    from pigallery.seed import seed_captures

    models.bind(url, prefix)
    days = count * MINUTES_APART / 1440
    seed_captures(count, ["pi-garden"], days, SIZE, detail=DETAIL, progress=False, end=end)
    return count


def seed(url: str, prefix: str, count: int) -> float:
    """Seed `count` captures with one process per core; return the seconds it took."""
    started = time.perf_counter()
    workers = max(1, os.cpu_count() or 1)
    shares = [count // workers + (1 if i < count % workers else 0) for i in range(workers)]
    jobs, end = [], END
    for share in shares:
        if share:
            jobs.append((url, prefix, share, end))
            end -= dt.timedelta(minutes=MINUTES_APART * share)
    pool = multiprocessing.get_context("spawn").Pool(len(jobs))
    done = 0
    for seeded in pool.imap_unordered(_seed_slice, jobs):
        done += seeded
        print(f"  seeded {done:,} of {count:,}", flush=True)
    pool.close()
    pool.join()
    return time.perf_counter() - started


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def job(url: str, prefix: str, frames: int, deflicker: bool) -> dict:
    """Run one time-lapse job of the `frames` oldest captures in this process; report as JSON."""
    import models
    from index import query
    from index.filters import Filters
    from models import videos
    from search_web import timelapse_jobs
    from search_web import timelapse_plan as planning

    models.bind(url, prefix)
    # The oldest `frames` captures, 5 minutes apart: the time bound that holds exactly them.
    oldest = query.page(Filters(), 1, newest_first=False)
    filters = Filters()
    if frames < oldest.total:
        filters = Filters(until=oldest.items[0]["taken_at"] + (frames - 0.5) * MINUTES_APART * 60)
    plan = planning.make_plan(filters, deflicker=deflicker)
    baseline = rss_kib()
    job_id = videos.new_id()
    videos.create(job_id, {"bench": frames}, width=plan.width, height=plan.height)
    started = time.perf_counter()
    timelapse_jobs.run(timelapse_jobs.Job(job_id, plan, ttl=600, max_bytes=2**31))
    seconds = time.perf_counter() - started
    status = videos.read(job_id)
    videos.delete(job_id)
    return {"frames": status.get("frames_done"), "state": status["state"], "error": status.get("error"),
            "seconds": seconds, "fps": (status.get("frames_done") or 0) / seconds, "size": status.get("size_bytes"),
            "width": plan.width, "height": plan.height, "deflicker": deflicker, "baseline_kib": baseline,
            "python_peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "ffmpeg_peak_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}


def run_job(url: str, prefix: str, frames: int, deflicker: bool = False) -> dict:
    out = subprocess.run([sys.executable, __file__, "--job", url, prefix, str(frames), "1" if deflicker else "0"],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="captures to seed: the big job's frames")
    parser.add_argument("--small", type=int, default=1_000, help="frames of the small jobs")
    args = parser.parse_args()

    from bench_common import bench_prefix

    from index import schema

    with bench_prefix("benchtl") as (url, prefix):
        print(f"seeding {args.count:,} captures of {SIZE[0]}x{SIZE[1]} ...", flush=True)
        seeded_in = seed(url, prefix, args.count)
        schema.wait_indexed()
        print(f"seeded in {seeded_in:.0f} s; running jobs ...", flush=True)
        rows = [run_job(url, prefix, args.small), run_job(url, prefix, args.small, deflicker=True),
                run_job(url, prefix, args.count)]
        report(rows)


def report(rows: list[dict]) -> None:
    cores = os.cpu_count()
    print(f"\n{rows[0]['width']}x{rows[0]['height']} JPEGs -> H.264 (libx264 veryfast, crf 23, -threads 1, nice 10); "
          f"{cores} cores\n")
    print(f"{'job':<24}{'frames':>8}{'seconds':>9}{'frames/s':>10}{'MP4':>10}{'python RSS':>12}{'peak':>8}"
          f"{'ffmpeg peak':>13}")
    for row in rows:
        assert row["state"] == "done", row
        name = f"{row['frames']:,} frames" + (", deflicker" if row["deflicker"] else "")
        print(f"{name:<24}{row['frames']:>8,}{row['seconds']:>9.1f}{row['fps']:>10.1f}{row['size'] / 1e6:>8.1f}MB"
              f"{row['baseline_kib'] / 1024:>10.0f}MB{row['python_peak_kib'] / 1024:>6.0f}MB"
              f"{row['ffmpeg_peak_kib'] / 1024:>11.0f}MB")
    print("\npython RSS: the job's process before the job (imports, Redis clients); peak: its high-water mark "
          "(getrusage RUSAGE_SELF); ffmpeg peak: RUSAGE_CHILDREN")


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--job":
        print(json.dumps(job(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] == "1")))
    else:
        main()
