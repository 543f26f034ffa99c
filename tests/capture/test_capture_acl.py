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
    # The count script (models.rollups) needs EXISTS on capture keys, so the capture user has it
    # since rollups, and the import's duplicate check works for it: the second run adds nothing.
    result = runner.invoke(main, ["import", str(samples / "gps")])
    assert result.exit_code == 0 and "imported 9" in result.output, result.output
    result = runner.invoke(main, ["import", str(samples / "gps")])
    assert result.exit_code == 0 and "imported 0, already present 9" in result.output, result.output
    assert "cannot read" not in result.output
    assert len(list(admin.scan_iter("pigallery:capture:*", _type="HASH"))) == 3 + 9
    assert int(admin.get("pigallery:rollup:count")) == 3 + 9  # each counted once, by the capture user
    # Nothing the capture and import paths do was refused (the count script's commands included).
    assert admin.acl_log() == []
    assert not list(Path(tmp_path / "spool").glob("*.entry"))
