"""More commands in flight than one client keeps connections for: they wait, none is refused.

A gunicorn worker runs 256 threads (Dockerfile); redis-py's plain pool refused the 101st
concurrent command with "Too many connections", which the web app answers as a 503.
"""
from __future__ import annotations

import threading

from models import db

IN_FLIGHT = db.MAX_CONNECTIONS + 50


def test_commands_past_the_pool_size_wait_for_a_connection(store, key_prefix):
    start = threading.Barrier(IN_FLIGHT)
    outcomes: list = []

    def blocked_read() -> None:
        start.wait()
        try:
            # Holds its connection for half a second: all of them at once overrun the pool.
            outcomes.append(db.raw().blpop(f"{key_prefix}:nothing", timeout=0.5))
        except Exception as exc:  # what a refused command raises, recorded to be reported
            outcomes.append(exc)

    threads = [threading.Thread(target=blocked_read) for _ in range(IN_FLIGHT)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert outcomes == [None] * IN_FLIGHT, {repr(o) for o in outcomes if o is not None}
    assert len(db.raw().connection_pool._connections) <= db.MAX_CONNECTIONS
