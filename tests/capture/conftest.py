"""Fixtures for the capture agent: its settings in the environment, the CLI, stored captures."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

import models
from pigallery import redis_server
from pigallery.cli import main
from tests.helpers import ACL_PASSWORD, VENDOR, acl_rules, free_port


@pytest.fixture
def agent_env(monkeypatch, tmp_path, redis_url, key_prefix):
    """Point `pigallery` at the test Redis, this test's key prefix and a fresh spool."""
    env = {
        "REDIS_URL": redis_url,
        "PIGALLERY_KEY_PREFIX": key_prefix,
        "PIGALLERY_SPOOL_DIR": str(tmp_path / "spool"),
        "PIGALLERY_DEVICE": "pi-test",
        "PIGALLERY_IMPORT_TZ": "UTC",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def pigallery(agent_env, store):
    """Run `pigallery ARGS...` in-process; return the click Result."""
    runner = CliRunner()

    def run(*args):
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)

    return run


@pytest.fixture
def stored_pks(key_prefix):
    """Return the ids of every capture hash under this test's prefix (a key scan, no index)."""

    def pks() -> list[str]:
        conn = models.Capture.db()
        return sorted(k.rsplit(":", 1)[1] for k in conn.scan_iter(f"{key_prefix}:capture:*", _type="HASH"))

    return pks


@pytest.fixture
def mock_pins():
    """gpiozero's own MockFactory as the pin factory: GPIO pins a test can drive."""
    from gpiozero import Device
    from gpiozero.pins.mock import MockFactory

    previous = Device.pin_factory
    Device.pin_factory = MockFactory()
    yield Device.pin_factory
    Device.pin_factory.reset()
    Device.pin_factory = previous


@pytest.fixture
def acl_server(tmp_path):
    """An embedded Redis Stack applying deploy/users.acl (see acl_rules), stopped afterwards."""
    aclfile = tmp_path / "users.acl"
    aclfile.write_text(acl_rules())
    server = redis_server.Server(free_port(), tmp_path / "redis", aclfile=aclfile, vendor=VENDOR)
    redis_server.start(server)
    yield server
    redis_server.stop(server, username="admin", password=ACL_PASSWORD)
