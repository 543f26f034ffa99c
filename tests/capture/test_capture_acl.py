"""The agent runs as the write-only `capture` user of deploy/users.acl: no search, no reads."""
from __future__ import annotations

from pathlib import Path

import redis
from click.testing import CliRunner

from pigallery.cli import main
from tests.helpers import ACL_PASSWORD


def test_capture_and_import_with_the_capture_user(acl_server, monkeypatch, tmp_path, samples):
    monkeypatch.setenv("REDIS_URL", f"redis://capture:{ACL_PASSWORD}@127.0.0.1:{acl_server.port}/0")
    monkeypatch.setenv("PIGALLERY_KEY_PREFIX", "pigallery")  # the prefix the ACL's key pattern names
    monkeypatch.setenv("PIGALLERY_SPOOL_DIR", str(tmp_path / "spool"))
    admin = redis.Redis(port=acl_server.port, username="admin", password=ACL_PASSWORD)
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
    assert {entry["object"] for entry in admin.acl_log()} <= {"exists"}
    assert not list(Path(tmp_path / "spool").glob("*.entry"))
