"""The README's main command, `make demo`, run as a newcomer runs it, on ports of its own.

A relative data dir with nothing fetched yet: the path that once broke (apt read no sources list
because the relative path was resolved in apt's own working directory).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from pigallery import redis_server
from tests.helpers import ROOT, free_port

pytestmark = pytest.mark.slow

SEEDED = 240  # the Makefile's `seed --count`
START_TIMEOUT = 420  # set-up, libssl fetch and seeding 240 full-size captures on a 2-core CI machine


def get(url: str, timeout: float = 5.0) -> tuple[int, bytes, str]:
    with urllib.request.urlopen(url, timeout=timeout) as reply:
        return reply.status, reply.read(), reply.headers.get("Content-Type", "")


def process_group_members(pgid: int) -> list[str]:
    """Command lines of the live processes in a process group (zombies excluded)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if fields[0] != "Z" and int(fields[2]) == pgid:
                members.append((stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except (OSError, IndexError, ValueError):
            continue
    return members


def signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass  # make demo failed and its group is gone already


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def make(target: str, env: dict, **kw) -> subprocess.Popen:
    return subprocess.Popen(["make", target], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kw)


@pytest.fixture
def demo_env():
    if not shutil.which("make"):
        pytest.fail("make is not installed: the README's commands need it")
    data_dir = f".pigallery/demo-test-{uuid.uuid4().hex[:8]}"  # relative, as the Makefile's default
    env = {k: v for k, v in os.environ.items()
           # Exactly as typed in a terminal: no outer make's flags, no Redis chosen by the test run.
           if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "REDIS_URL", "PIGALLERY_KEY_PREFIX")}
    env.update(PIGALLERY_DATA_DIR=data_dir, PIGALLERY_REDIS_PORT=str(free_port()), WEB_PORT=str(free_port()))
    yield env
    shutil.rmtree(ROOT / data_dir, ignore_errors=True)


def test_make_demo_serves_the_seeded_gallery_and_stops_cleanly(demo_env):
    web = f"http://127.0.0.1:{demo_env['WEB_PORT']}"
    data_dir = ROOT / demo_env["PIGALLERY_DATA_DIR"]
    assert not (data_dir / "vendor").exists()
    demo = make("demo", demo_env, start_new_session=True)
    pgid = os.getpgid(demo.pid)
    output = ""
    try:
        deadline = time.monotonic() + START_TIMEOUT
        first = None
        while time.monotonic() < deadline and demo.poll() is None:
            try:
                status, body, _ = get(f"{web}/api/captures?limit=3")
                first = json.loads(body)
                if status == 200 and first["total"] >= SEEDED:
                    break
            except OSError:
                pass
            time.sleep(1)
        assert demo.poll() is None, "make demo exited before the gallery answered"
        assert first and first["total"] >= SEEDED, f"the gallery did not show the seeded captures: {first}"
        assert {"pi-garden", "pi-door", "pi-live"} >= {item["device"] for item in first["items"]}

        status, page, kind = get(f"{web}/")
        assert status == 200 and "text/html" in kind and b"<title>" in page
        status, thumb, kind = get(f"{web}/api/captures/{first['items'][0]['id']}/thumbnail")
        assert status == 200 and kind == "image/jpeg" and thumb[:2] == b"\xff\xd8"
        redis_pid = int((data_dir / f"redis-{demo_env['PIGALLERY_REDIS_PORT']}" / "redis.pid").read_text())
    finally:
        # Ctrl-C in a terminal signals the whole foreground group: make, the server, the agent.
        signal_group(pgid, signal.SIGINT)
        try:
            output = demo.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            signal_group(pgid, signal.SIGKILL)
            output = demo.communicate()[0]
        print(output[-5000:])  # shown by pytest when the test fails
        # Stop Redis the way the README says, without telling make the port the demo used.
        stop_env = {k: v for k, v in demo_env.items() if k != "PIGALLERY_REDIS_PORT"}
        stopped = make("stop", stop_env)
        stop_output = stopped.communicate(timeout=60)[0]

    port = demo_env["PIGALLERY_REDIS_PORT"]
    assert f"redis cli --port {port} FT.SEARCH" in output, output[-3000:]
    assert "GET /api/captures" not in output, "the demo's terminal lists every request"
    assert stopped.returncode == 0 and f"Redis Stack on port {port} stopped" in stop_output, stop_output
    assert not redis_server._alive(redis_pid), "redis-server still runs"
    assert not port_open(int(port))
    time.sleep(0.5)
    assert process_group_members(pgid) == [], "the demo left processes behind"
