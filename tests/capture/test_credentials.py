"""Refused credentials are not an outage: fail at start, spool loudly at run time, never print a password."""
from __future__ import annotations

import logging
import threading

import pytest
import redis
from click.testing import CliRunner

import models
from capture import agent
from capture.cameras import SyntheticCamera
from capture.spool import Spool
from capture.triggers import Triggers
from models import Capture
from models.db import redact_url
from pigallery import redis_server
from pigallery.capture_cli import CLIENT_OPTIONS
from pigallery.cli import main
from tests.capture.agent_log import arrival_order, captured_order
from tests.helpers import ACL_PASSWORD, free_port, wait_for

WRONG = "wr0ng-Pa55word"


def url(server, user: str, password: str = ACL_PASSWORD) -> str:
    return f"redis://{user}:{password}@127.0.0.1:{server.port}/0"


@pytest.fixture
def agent_on(monkeypatch, tmp_path):
    """Run `pigallery ARGS...` as a given Redis user of an ACL server; return the click Result."""
    monkeypatch.setenv("PIGALLERY_KEY_PREFIX", "pigallery")  # the prefix the ACL names
    monkeypatch.setenv("PIGALLERY_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setenv("PIGALLERY_DEVICE", "pi-acl")

    def run(redis_url: str, *args, **env):
        monkeypatch.setenv("REDIS_URL", redis_url)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return CliRunner().invoke(main, [str(a) for a in args])

    return run


def admin(server) -> redis.Redis:
    return redis.Redis(port=server.port, username="admin", password=ACL_PASSWORD)


def hashes(server) -> list[bytes]:
    return list(admin(server).scan_iter("pigallery:capture:*", _type="HASH"))


@pytest.mark.parametrize("user, password, env, message", [
    ("capture", WRONG, {}, "Redis refused the user name or password in REDIS_URL"),
    ("nobody", ACL_PASSWORD, {}, "Redis refused the user name or password in REDIS_URL"),
    ("web", ACL_PASSWORD, {}, "lacks a permission the capture agent needs"),
    # Ping and HSET pass: only the queued-then-discarded probe finds the missing HPEXPIREAT.
    ("partial", ACL_PASSWORD, {"PIGALLERY_IMAGE_TTL": "60"}, "no permissions to run the 'hpexpireat' command"),
])
def test_refused_credentials_stop_the_agent_at_start(acl_server, agent_on, tmp_path, user, password, env, message):
    result = agent_on(url(acl_server, user, password), "capture", "--camera", "synthetic", "--resolution", "64x48", "--once", **env)
    assert result.exit_code == 1, result.output
    assert message in result.output and "unreachable" not in result.output.lower()
    assert "Traceback" not in result.output and WRONG not in result.output and ACL_PASSWORD not in result.output
    assert hashes(acl_server) == [] and not list((tmp_path / "spool").glob("*.entry"))


def test_partial_user_is_enough_when_its_missing_permission_is_not_used(acl_server, agent_on):
    # Without an image TTL the agent never sends HPEXPIREAT, so the probe must not ask for it.
    result = agent_on(url(acl_server, "partial"), "capture", "--camera", "synthetic", "--resolution", "64x48", "--once")
    assert result.exit_code == 0, result.output
    assert len(hashes(acl_server)) == 1
    assert admin(acl_server).acl_log() == [], "the probe leaves no refusal behind"


def test_import_with_a_wrong_password_names_the_credentials(acl_server, agent_on, samples):
    result = agent_on(url(acl_server, "capture", WRONG), "import", samples / "gps")
    assert result.exit_code == 1
    assert "Redis refused the credentials in REDIS_URL" in result.output and "cannot reach" not in result.output


@pytest.mark.parametrize("user, password, running, code, state", [
    ("capture", ACL_PASSWORD, True, 0, "reachable, writes allowed"),
    ("capture", WRONG, True, 3, "REFUSED: Redis refused the user name or password"),
    ("web", ACL_PASSWORD, True, 3, "REFUSED: the Redis user in REDIS_URL lacks a permission"),
    ("capture", ACL_PASSWORD, False, 3, "UNREACHABLE"),
])
def test_status_is_a_health_check(acl_server, agent_on, user, password, running, code, state):
    if not running:
        redis_server.stop(acl_server, username="admin", password=ACL_PASSWORD)
    try:
        result = agent_on(url(acl_server, user, password), "capture", "--status")
    finally:
        redis_server.start(acl_server)  # the fixture stops it again
    assert result.exit_code == code, result.output
    assert f"redis: redis://{user}:***@127.0.0.1:{acl_server.port}/0 {state}" in result.output
    assert password not in result.output and "0 captures waiting" in result.output


def test_unreachable_warning_hides_the_password(agent_on, tmp_path, caplog):
    port = free_port()  # nothing listens there
    with caplog.at_level(logging.WARNING, logger="pigallery.capture"):
        result = agent_on(f"redis://capture:{WRONG}@127.0.0.1:{port}/0", "capture", "--camera", "synthetic",
                          "--resolution", "64x48", "--once")
    assert result.exit_code == 0, result.output
    assert f"Redis unreachable at redis://capture:***@127.0.0.1:{port}/0" in caplog.text
    assert WRONG not in caplog.text + result.output
    assert len(list((tmp_path / "spool").glob("*.entry"))) == 1


def rotate_password(conn: redis.Redis, password: str) -> None:
    conn.acl_setuser("capture", enabled=True, reset_passwords=True, passwords=[f"+{password}"])
    # Logged-in connections keep working after a password change; a reconnect (network
    # blip, server restart) is when the agent meets the new password.
    conn.client_kill_filter(user="capture")


@pytest.mark.parametrize("break_it, fix_it, message", [
    (lambda c: rotate_password(c, "rotated"), lambda c: rotate_password(c, ACL_PASSWORD),
     "Redis refused the user name or password in REDIS_URL"),
    (lambda c: c.acl_setuser("capture", enabled=True, commands=["-hset"]),
     lambda c: c.acl_setuser("capture", enabled=True, commands=["+hset"]),
     "lacks a permission the capture agent needs"),
])
def test_credentials_refused_while_running_spool_loudly_and_lose_nothing(acl_server, tmp_path, caplog, break_it, fix_it, message):
    models.bind(url(acl_server, "capture"), "pigallery", **CLIENT_OPTIONS)
    conn = admin(acl_server)
    spool = Spool(tmp_path / "spool", 10**9)
    caplog.set_level(logging.INFO, logger="pigallery.capture")

    def lines():
        return [r.getMessage() for r in caplog.records]

    with agent.Saver(spool, "pi-rotated") as saver:
        loop = threading.Thread(target=agent.run, args=(SyntheticCamera((160, 120), detail=0.1), Triggers(interval=0.1), saver),
                                kwargs={"count": 25})
        loop.start()
        wait_for(lambda: len(arrival_order(lines())) >= 3, what="first captures")
        break_it(conn)
        wait_for(lambda: sum(line.startswith("spooled") for line in lines()) >= 5, what="spooling")
        fix_it(conn)
        loop.join(60)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any(e.startswith("CREDENTIALS REFUSED: ") and message in e for e in errors), errors
    assert not any("Redis unavailable" in line for line in lines()), "a refusal is not reported as an outage"
    order = captured_order(lines())
    assert len(order) == 25 and len(set(order)) == 25 and len(spool) == 0
    assert arrival_order(lines()) == order, "Redis received the captures in capture order"
    models.bind(url(acl_server, "admin"), "pigallery")
    assert sorted(k.decode().rsplit(":", 1)[1] for k in hashes(acl_server)) == sorted(order)
    assert [Capture.load(pk).taken_at for pk in order] == sorted(Capture.load(pk).taken_at for pk in order)


@pytest.mark.parametrize("given, shown", [
    ("redis://capture:s3cret@pi-server:6379/0", "redis://capture:***@pi-server:6379/0"),
    ("rediss://default:p%40ss@redis-1.cloud.example:12345/0?ssl_ca_certs=/etc/pigallery/ca.pem",
     "rediss://default:***@redis-1.cloud.example:12345/0?ssl_ca_certs=/etc/pigallery/ca.pem"),
    ("redis://:s3cret@localhost:6379", "redis://:***@localhost:6379"),
    ("redis://localhost:6379/0?password=s3cret&db=1", "redis://localhost:6379/0?password=***&db=1"),
    ("redis://user:pa@ss@host:6379/0", "redis://user:***@host:6379/0"),  # an unencoded @ in the password
    ("redis://127.0.0.1:6399/0", "redis://127.0.0.1:6399/0"),
    ("unix:///run/redis.sock?password=s3cret", "unix:///run/redis.sock?password=***"),
    ("redis://[::1:6379", "<REDIS_URL (unparsable)>"),
])
def test_redact_url(given, shown):
    assert redact_url(given) == shown
