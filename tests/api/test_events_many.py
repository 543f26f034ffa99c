"""Many open galleries on the production command: the API stays quick and every stream gets each capture.

Before one subscription per worker fed all streams, 16 open streams made 8 of 10 API requests
time out (gthread, 2 x 8 threads), and past 100 streams a worker's Redis pool ran out (503s).
"""
from __future__ import annotations

import datetime as dt
import http.client
import statistics
import sys
import time
from pathlib import Path

import pytest

from models import Capture, bulk, events
from tests.helpers import ROOT, clean_env, free_port, server_process

sys.path.insert(0, str(ROOT / "scripts"))
from bench_viewers import Streams, production_command  # noqa: E402  (the benchmark's own stream reader)

STREAMS = 50
WHEN = dt.datetime(2026, 6, 1, 12, tzinfo=dt.timezone.utc)


def healthy(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False


def api_times(port: int, n: int) -> list[float]:
    """Milliseconds of `n` first-page searches, one after the other; any other status than 200 fails."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)  # the timeout
    times = []
    for _ in range(n):
        started = time.perf_counter()
        conn.request("GET", "/api/captures?limit=48")
        reply = conn.getresponse()
        body = reply.read()
        assert reply.status == 200, body[:300]
        times.append((time.perf_counter() - started) * 1000)
    conn.close()
    return times


@pytest.mark.slow
def test_fifty_open_streams_on_the_production_command(redis_url, key_prefix, store, jpeg, tmp_path):
    bulk.store_many([dict(device="pi-door", taken_at=WHEN - dt.timedelta(minutes=i), trigger="interval")
                     for i in range(500)], jpeg((64, 48)))
    command = production_command()
    port = free_port()
    command[0] = str(Path(sys.executable).with_name("gunicorn"))
    command[command.index("--bind") + 1] = f"127.0.0.1:{port}"
    workers = int(command[command.index("--workers") + 1])
    env = {**clean_env(), "REDIS_URL": redis_url, "PIGALLERY_KEY_PREFIX": key_prefix, "PIGALLERY_DATA_DIR": str(tmp_path)}
    with server_process(command, port, tmp_path / "gunicorn.log", cwd=ROOT, env=env, ready=healthy, stop_timeout=5):
        api_times(port, 5)  # warm-up
        alone = statistics.median(api_times(port, 20))
        streams = Streams(port, STREAMS)
        try:
            assert streams.wait_connected(30) == STREAMS
            # One subscription per worker process feeds all its streams, not one per stream.
            subscribed = dict(Capture.db().pubsub_numsub(events.channel()))[events.channel()]
            assert 1 <= subscribed <= workers
            beside = api_times(port, 20)
            # Generous for a shared 2-core machine; the failure this guards against was 5 s timeouts.
            assert statistics.median(beside) < 3 * alone + 50, (alone, beside)

            capture = Capture.create(jpeg((64, 48)), device="pi-door", taken_at=WHEN, trigger="motion")
            events.publish(capture)
            deadline = time.monotonic() + 10
            while streams.count(f"id: {capture.pk}\n") < STREAMS and time.monotonic() < deadline:
                time.sleep(0.1)
            assert streams.count(f"id: {capture.pk}\n") == STREAMS
        finally:
            streams.close()
