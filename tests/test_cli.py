"""The `pigallery` command: redis, index and seed subcommands, and their error messages."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from pigallery.cli import main
from tests.conftest import VENDOR, free_port


@pytest.fixture
def cli(monkeypatch):
    def run(*args, **env):
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    return run


@pytest.fixture
def cli_env(redis_url, key_prefix, store):
    return {"REDIS_URL": redis_url, "PIGALLERY_KEY_PREFIX": key_prefix}


def test_redis_start_status_stop(cli, tmp_path, monkeypatch):
    from pigallery import redis_server

    # Share the fetched libssl1.1 with the test session instead of fetching it again.
    monkeypatch.setattr(redis_server.Server, "vendor_dir", property(lambda self: VENDOR))
    env = {"PIGALLERY_DATA_DIR": str(tmp_path), "PIGALLERY_REDIS_PORT": str(free_port())}
    started = cli("redis", "start", **env)
    assert started.exit_code == 0, started.output
    assert f"REDIS_URL=redis://127.0.0.1:{env['PIGALLERY_REDIS_PORT']}/0" in started.output
    status = cli("redis", "status", **env)
    assert status.exit_code == 0 and "search" in status.output and "7.4" in status.output
    assert cli("redis", "start", **env).exit_code == 0  # already running: says where, no error
    assert "stopped" in cli("redis", "stop", **env).output
    assert (tmp_path / f"redis-{env['PIGALLERY_REDIS_PORT']}" / "appendonlydir").is_dir()
    after = cli("redis", "status", **env)
    assert after.exit_code == 3 and "running: False" in after.output
    assert "not running" in cli("redis", "stop", **env).output


def test_index_commands(cli, cli_env, jpeg):
    from datetime import datetime, timezone

    from models import Capture

    Capture.create(jpeg((160, 120)), device="pi-a", taken_at=datetime.now(timezone.utc), trigger="manual")
    assert "unchanged" in cli("index", "create", **cli_env).output
    info = cli("index", "info", **cli_env)
    assert info.exit_code == 0 and "num_docs: 1" in info.output and "indexing: False" in info.output
    rebuilt = cli("index", "rebuild", **cli_env)
    assert rebuilt.exit_code == 0 and "rebuilt: 1 captures" in rebuilt.output
    assert "captures kept" in cli("index", "drop", **cli_env).output
    missing = cli("index", "info", **cli_env)
    assert missing.exit_code == 1 and "does not exist" in missing.output
    assert "created" in cli("index", "create", **cli_env).output


def test_seed_stores_captures(cli, cli_env):
    from models import Capture

    result = cli("seed", "--count", "4", "--size", "160x120", "--device", "a", "--device", "b", **cli_env)
    assert result.exit_code == 0, result.output
    assert "stored 4 captures" in result.output
    assert Capture.find(Capture.device == "b").count() == 2
    again = cli("seed", "--if-empty", "--count", "4", "--size", "160x120", **cli_env)
    assert again.exit_code == 0 and "4 captures already stored" in again.output
    assert Capture.find().count() == 4


@pytest.mark.parametrize(
    "args, message",
    [
        (["seed", "--size", "big"], "must be WIDTHxHEIGHT"),
        (["seed", "--size", "5x5"], "out of range"),
        (["seed", "--count", "0"], "--count"),
        (["nosuch"], "No such command"),
    ],
)
def test_bad_arguments_are_named(cli, args, message):
    result = cli(*args, REDIS_URL="redis://127.0.0.1:1/0")
    assert result.exit_code == 2 and message in result.output


def test_unreachable_redis_is_a_clear_error(cli):
    result = cli("index", "info", REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    assert result.exit_code == 1
    assert "cannot reach Redis" in result.output and "Traceback" not in result.output
