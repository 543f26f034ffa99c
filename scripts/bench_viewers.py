"""The viewers test: API latency with N open galleries (event streams), on the production command.

    .venv/bin/python scripts/bench_viewers.py [--streams 200] [--seconds 30] [--rate 20] [--count 10000]

Starts two gunicorns with the Dockerfile's CMD (only the bind address changed) against REDIS_URL
(under a throwaway prefix) or an embedded Redis Stack, opens N `/api/events` streams on one of
them, and sends a paced load of `GET /api/captures` to both in turn while captures are published
(each stream must get every one). Prints p50/p95, timeouts and deliveries per server. Debian's
`wrk` is not installed here, so the load is a small Python client pool: paced requests, not a
flood, so the p50 is the API's and not the pool's backlog.
"""
from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import re
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TIMEOUT = 5.0  # seconds: the issue counted a request slower than this as timed out


def production_command() -> list[str]:
    """The web image's gunicorn command line, from the Dockerfile's CMD (the one place it is written)."""
    text = (ROOT / "Dockerfile").read_text()
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", text, re.M).group(1))
    if cmd[0] != "gunicorn":
        raise SystemExit(f"the Dockerfile's CMD is not gunicorn: {cmd}")
    return cmd


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gunicorn(url: str, prefix: str, cmd: list[str] | None = None):
    """Run `cmd` (default: the production command) on a free loopback port; yield its port."""
    cmd = list(cmd or production_command())
    port = free_port()
    cmd[0] = str(Path(sys.executable).with_name("gunicorn"))
    cmd[cmd.index("--bind") + 1] = f"127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="pigallery-viewers-") as tmp:
        env = {**os.environ, "REDIS_URL": url, "PIGALLERY_KEY_PREFIX": prefix, "PIGALLERY_DATA_DIR": tmp}
        log = open(Path(tmp) / "gunicorn.log", "wb")
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                    conn.request("GET", "/healthz")
                    if conn.getresponse().status == 200:
                        break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not get ready: {(Path(tmp) / 'gunicorn.log').read_text()[-2000:]}")
                time.sleep(0.2)
            yield port
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
            # What went wrong in the server, if anything, for whoever reads the numbers.
            problems = [line for line in (Path(tmp) / "gunicorn.log").read_text(errors="replace").splitlines()
                        if re.search(r"Error|Traceback|CRITICAL|WORKER TIMEOUT", line)]
            for line in problems[:10]:
                print(f"  gunicorn: {line}", file=sys.stderr)


class Streams:
    """`n` open `GET /api/events` streams, read by one thread; what each received, as text."""

    def __init__(self, port: int, n: int):
        self.selector = selectors.DefaultSelector()
        self.received: list[str] = [""] * n
        self.lock = threading.Lock()
        self.socks = []
        for i in range(n):
            sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
            sock.sendall(b"GET /api/events HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n")
            sock.setblocking(False)
            self.selector.register(sock, selectors.EVENT_READ, i)
            self.socks.append(sock)
        self.open = True
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while self.open:
            for key, _ in self.selector.select(timeout=0.2):
                try:
                    data = key.fileobj.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    self.selector.unregister(key.fileobj)
                    continue
                with self.lock:
                    self.received[key.data] += data.decode("utf-8", "replace")

    def wait_connected(self, seconds: float = 30) -> int:
        """Wait until every stream has its first chunk; return how many have."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.count(": connected") == len(self.received):
                break
            time.sleep(0.1)
        return self.count(": connected")

    def count(self, text: str) -> int:
        """How many streams have received `text`."""
        with self.lock:
            return sum(text in r for r in self.received)

    def close(self) -> None:
        self.open = False
        self.reader.join()
        for sock in self.socks:
            sock.close()


def paced_load(ports: list[int], path: str, seconds: float, rate: float, clients: int = 4) -> list[dict]:
    """GET `path` at `rate` requests/s in total for `seconds`, from `clients` threads, on each of `ports` in turn.

    Each client keeps one connection per server and sends its requests to them alternately, so
    load from anything else on the machine hits all servers alike. Returns, per port, the
    latencies (ms) of the answered requests, the timeouts (no answer in TIMEOUT seconds) and
    the errors (any other status than 200, or a dropped connection) by kind.
    """
    results = [{"latencies": [], "timeouts": 0, "errors": 0, "kinds": Counter()} for _ in ports]
    lock = threading.Lock()
    interval = clients / rate
    end = time.monotonic() + seconds

    def client(n: int) -> None:
        conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT) for port in ports]
        next_at = time.monotonic() + interval * n / clients  # spread the clients over one interval
        turn = n
        while next_at < end:
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at += interval
            turn += 1
            conn, result = conns[turn % len(ports)], results[turn % len(ports)]
            started = time.perf_counter()
            try:
                conn.request("GET", path)
                reply = conn.getresponse()
                reply.read()
                ms = (time.perf_counter() - started) * 1000
                with lock:
                    if reply.status == 200:
                        result["latencies"].append(ms)
                    else:
                        result["errors"] += 1
                        result["kinds"][str(reply.status)] += 1
            except TimeoutError:
                with lock:
                    result["timeouts"] += 1
                conn.close()
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    result["errors"] += 1
                    result["kinds"][type(exc).__name__] += 1
                conn.close()
        for conn in conns:
            conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def publish_captures(stop: threading.Event, every: float, published: list[str]) -> None:
    """Store and announce a capture every `every` seconds until `stop`, as the capture agent does."""
    import models
    from capture import synthetic
    from models import events

    image = synthetic.render(dt.datetime(2026, 6, 1, 12, tzinfo=dt.timezone.utc), (32, 24))[0]
    while not stop.wait(every):
        capture = models.Capture.create(image, device="pi-viewers", taken_at=dt.datetime.now(dt.timezone.utc),
                                        trigger="interval")
        events.publish(capture)
        published.append(capture.pk)


def summary(name: str, result: dict) -> str:
    lat = sorted(result["latencies"])
    p50 = statistics.median(lat) if lat else float("nan")
    p95 = lat[int(len(lat) * 0.95)] if lat else float("nan")
    kinds = f"  {dict(result['kinds'])}" if result["kinds"] else ""
    return (f"{name:<22}{len(lat):>9}{p50:>9.2f} ms{p95:>9.2f} ms{result['timeouts']:>10}{result['errors']:>8}{kinds}")


def viewers(url: str, prefix: str, streams: int, seconds: float, rate: float, cmd: list[str] | None = None) -> dict:
    """Run the viewers test; print its table; return the p50s and the problems found.

    Two servers run the same command on the same Redis at the same time, one with `streams`
    open streams and one with none, and the load alternates between them request by request:
    on a shared 2-core machine, a quiet phase before and after the streams differed from each
    other by 3x (30 and 101 ms), more than any effect of the streams.
    """
    path = "/api/captures?limit=48"
    with gunicorn(url, prefix, cmd) as quiet, gunicorn(url, prefix, cmd) as busy:
        shown = " ".join((cmd or production_command())[1:])
        print(f"\nviewers: {streams} open /api/events streams on one of two servers, GET {path} at {rate:g}/s "
              f"for {seconds:g} s,\nalternating between the two\n  gunicorn {shown}\n"
              f"  (the Dockerfile's CMD, each bound to a loopback port here)")
        print(f"{'server':<22}{'answered':>9}{'p50':>12}{'p95':>12}{'timeouts':>10}{'errors':>8}")
        paced_load([quiet, busy], path, 2, rate)  # warm-up: the workers' connections and caches
        opened = Streams(busy, streams)
        try:
            connected = opened.wait_connected()
            stop, published = threading.Event(), []
            publisher = threading.Thread(target=publish_captures, args=(stop, max(1.0, seconds / 5), published))
            publisher.start()
            alone, beside = paced_load([quiet, busy], path, seconds, rate)
            stop.set()
            publisher.join()
            time.sleep(2)  # the last announcement's way to every stream
            delivered = [opened.count(f"id: {pk}\n") for pk in published]
        finally:
            opened.close()
        print(summary("no streams", alone))
        print(summary(f"{streams} streams open", beside))
    p50s = [statistics.median(r["latencies"]) if r["latencies"] else float("nan") for r in (alone, beside)]
    ratio = p50s[1] / p50s[0]
    print(f"streams connected {connected}/{streams}; {len(published)} captures published, each received by "
          f"{min(delivered, default=0)}-{max(delivered, default=0)} of {streams} streams; "
          f"p50 with streams / without: {ratio:.2f}x")
    return {"p50": p50s, "ratio": ratio, "connected": connected, "delivered": delivered,
            "timeouts": alone["timeouts"] + beside["timeouts"], "errors": alone["errors"] + beside["errors"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30, help="how long the load runs")
    parser.add_argument("--rate", type=float, default=20, help="API requests per second, in total")
    parser.add_argument("--count", type=int, default=10_000, help="captures to load first")
    parser.add_argument("--command", help="another gunicorn command line to try instead of the Dockerfile's")
    args = parser.parse_args()

    from bench_common import bench_prefix, load

    cmd = args.command.split() if args.command else None
    with bench_prefix() as (url, prefix):
        load(args.count)
        viewers(url, prefix, args.streams, args.seconds, args.rate, cmd)


if __name__ == "__main__":
    main()
