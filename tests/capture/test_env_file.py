"""`pigallery --env-file PATH` / PIGALLERY_ENV_FILE: the Pi's settings file, read by the command itself."""
from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from pigallery.cli import main
from pigallery.config import Settings

# Shaped like /etc/pigallery/capture.env in the README: comments, a quoted value, an
# inline comment, a systemd-only variable with spaces.
ENV_FILE = """\
# Redis Stack to write to
REDIS_URL={url}
PIGALLERY_KEY_PREFIX={prefix}
PIGALLERY_DEVICE="pi garden"
PIGALLERY_SPOOL_DIR={spool}   # where pictures wait
PIGALLERY_CAPTURE_ARGS=--interval 60 --motion
"""
NAMES = ("REDIS_URL", "PIGALLERY_KEY_PREFIX", "PIGALLERY_DEVICE", "PIGALLERY_SPOOL_DIR",
         "PIGALLERY_CAPTURE_ARGS", "PIGALLERY_ENV_FILE")


@pytest.fixture
def clean_env(monkeypatch):
    """No pigallery variables set; whatever a loaded file adds is removed afterwards."""
    saved = dict(os.environ)
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def env_file(tmp_path, redis_url, key_prefix, store):
    path = tmp_path / "capture.env"
    path.write_text(ENV_FILE.format(url=redis_url, prefix=key_prefix, spool=tmp_path / "spool"))
    path.chmod(0o640)
    return path


@pytest.mark.parametrize("how", ["option", "variable"])
def test_capture_reads_the_env_file(clean_env, env_file, monkeypatch, tmp_path, stored_pks, how):
    args = ["capture", "--camera", "synthetic", "--resolution", "64x48", "--once"]
    if how == "option":
        args = ["--env-file", str(env_file), *args]
    else:
        monkeypatch.setenv("PIGALLERY_ENV_FILE", str(env_file))
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    (pk,) = stored_pks()
    from models import Capture

    assert Capture.load(pk).device == "pi garden"
    status = CliRunner().invoke(main, [*args[:2 if how == "option" else 0], "capture", "--status"])
    assert status.exit_code == 0 and f"spool: {tmp_path / 'spool'}: 0 captures waiting" in status.output, status.output


def test_the_environment_wins_over_the_file(clean_env, env_file, monkeypatch):
    monkeypatch.setenv("PIGALLERY_DEVICE", "from-env")
    settings = Settings.from_env(env_file)
    assert settings.device == "from-env" and settings.spool_path == env_file.parent / "spool"


@pytest.mark.parametrize("problem, via, code, reason", [
    ("missing", "option", 1, "No such file or directory"),
    ("missing", "variable", 1, "No such file or directory"),
    ("directory", "variable", 2, "is a directory"),
    ("binary", "option", 1, "not a text file"),
])
def test_unreadable_env_file_is_one_clear_line(clean_env, tmp_path, problem, via, code, reason):
    path = tmp_path / "capture.env"
    if problem == "directory":
        path.mkdir()
    elif problem == "binary":
        path.write_bytes(b"\xff\xfe\x00garbage")
    args = ["--env-file", str(path)] if via == "option" else []
    env = {"PIGALLERY_ENV_FILE": str(path)} if via == "variable" else {}
    result = CliRunner().invoke(main, [*args, "capture", "--status"], env=env)
    assert result.exit_code == code, result.output
    assert str(path) in result.output and reason in result.output and "Traceback" not in result.output
