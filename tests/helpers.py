"""Helpers shared by the test folders: import them from here, never from a conftest.

pytest loads each conftest.py itself; `from tests.conftest import ...` loads it a second time as
another module, with its own copies of everything in it. Fixtures stay in the conftest files.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

from models.capture import IMAGE_FIELD, THUMBNAIL_FIELD
from pigallery import redis_server

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT.parent / "shared" / "data" / "exif-samples"
VENDOR = ROOT / ".pigallery" / "vendor"  # libssl1.1 is fetched once per checkout
REDIS_STACK_IMAGE = "redis/redis-stack-server:7.4.0-v3"
PIGALLERY = Path(sys.executable).with_name("pigallery")  # the venv's command
ACL = ROOT / "deploy" / "users.acl"
# Every user of the ACL servers the capture tests start logs in with this password.
ACL_PASSWORD = "pw-5ecret-7f3a"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class embedded:
    """Context manager: an embedded Redis Stack on a free port in `data_dir`."""

    def __init__(self, data_dir: Path, **kw):
        self.server = redis_server.Server(port=free_port(), data_dir=data_dir, vendor=VENDOR, **kw)

    def __enter__(self) -> redis_server.Server:
        redis_server.start(self.server)
        return self.server

    def __exit__(self, *exc):
        redis_server.stop(self.server)


def acl_rules() -> str:
    """The shipped ACL with ACL_PASSWORD for every user, plus `partial`: the capture user without HPEXPIREAT."""
    if not ACL.exists():
        pytest.fail(f"{ACL} is missing")
    rules = re.sub(r"#[0-9a-f]{64}", ">" + ACL_PASSWORD, ACL.read_text())
    capture = next(line for line in rules.splitlines() if line.startswith("user capture "))
    return rules + "\n" + capture.replace("user capture ", "user partial ").replace(" +hpexpireat", "") + "\n"


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def server_process(command: list[str], port: int, log: Path, *, cwd: Path, env: dict[str, str],
                   ready: Callable[[int], bool] = port_open, stop_timeout: float = 10) -> Iterator[subprocess.Popen]:
    """Run a web server `command` listening on `port` until `ready(port)`; always stop it after.

    Its output goes to `log`, a file, not a pipe: a full pipe would block the server. A server
    that exits or does not answer within 30 s fails the test with its output.
    """
    name = Path(command[0]).name
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"{name} exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
            if time.monotonic() > deadline:
                pytest.fail(f"{name} did not answer within 30 s:\n{log.read_text(errors='replace')}")
            if ready(port):
                break
            time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=stop_timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def write_hash(conn, prefix: str, pk: str, jpeg: bytes, fields: dict, when: dt.datetime) -> None:
    """HSET a capture hash the way the model lays it out (epoch seconds as text), `fields` on top.

    What a tampered Pi holding the `capture` user's password could write, past the model's checks.
    """
    base = {
        "pk": pk, "device": "pi-hostile", "taken_at": repr(when.timestamp()), "trigger": "interval",
        "width": 32, "height": 24, "image_size": len(jpeg), "thumbnail_size": len(jpeg),
        "mime_type": "image/jpeg", "orientation": 1, IMAGE_FIELD: jpeg, THUMBNAIL_FIELD: jpeg,
    }
    conn.hset(f"{prefix}:capture:{pk}", mapping={**base, **fields})


def wait_for(predicate: Callable[[], object], timeout: float = 30.0, what: str = "condition") -> None:
    """Poll `predicate` every 50 ms until it is true; AssertionError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def clean_env() -> dict[str, str]:
    """This process's environment without settings: they must come from what the test gives."""
    return {k: v for k, v in os.environ.items() if k != "REDIS_URL" and not k.startswith("PIGALLERY_")}


def drop_prefix(redis_url: str, prefix: str) -> None:
    """Remove the index and every key under `prefix` (models bound to it again, as a test may have moved them)."""
    import models
    from index import schema

    models.bind(redis_url, prefix)
    schema.drop(delete_documents=True)
    conn = models.Capture.db()
    leftovers = list(conn.scan_iter(f"{prefix}:*"))
    if leftovers:
        conn.delete(*leftovers)
