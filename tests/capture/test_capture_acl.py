"""The agent runs as the write-only `capture` user of deploy/users.acl: no search, no reads."""
from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

from pigallery import redis_server
from pigallery.cli import main

ROOT = Path(__file__).resolve().parents[2]
ACL = ROOT / "deploy" / "users.acl"


@pytest.fixture
def acl_server(tmp_path):
    """A server with the shipped ACL, every password replaced by "pw"."""
    if not ACL.exists():
        pytest.fail(f"{ACL} is missing")
    aclfile = tmp_path / "users.acl"
    aclfile.write_text(re.sub(r"#[0-9a-f]{64}", ">pw", ACL.read_text()))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = redis_server.Server(port, tmp_path / "redis", aclfile=aclfile, vendor=ROOT / ".pigallery" / "vendor")
    redis_server.start(server)
    yield server
    redis_server.stop(server, username="admin", password="pw")


def test_capture_and_import_with_the_capture_user(acl_server, monkeypatch, tmp_path, samples):
    monkeypatch.setenv("REDIS_URL", f"redis://capture:pw@127.0.0.1:{acl_server.port}/0")
    monkeypatch.setenv("PIGALLERY_KEY_PREFIX", "pigallery")  # the prefix the ACL's key pattern names
    monkeypatch.setenv("PIGALLERY_SPOOL_DIR", str(tmp_path / "spool"))
    admin = redis.Redis(port=acl_server.port, username="admin", password="pw")
    admin.acl_log_reset()
    runner = CliRunner()
    result = runner.invoke(main, ["capture", "--camera", "synthetic", "--resolution", "320x240", "--interval", "0.05", "--count", "3"])
    assert result.exit_code == 0, result.output
    for _ in range(2):  # the second run finds no duplicates it may not read, and adds none
        result = runner.invoke(main, ["import", str(samples / "gps")])
        assert result.exit_code == 0 and "imported 9" in result.output, result.output
    assert "cannot read" in result.output
    assert len(list(admin.scan_iter("pigallery:capture:*", _type="HASH"))) == 3 + 9
    # The only refusal is the import's duplicate check; the capture path needed nothing denied.
    assert {entry["object"] for entry in admin.acl_log()} <= {"hmget"}
    assert not list(Path(tmp_path / "spool").glob("*.entry"))
