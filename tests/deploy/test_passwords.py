"""`pigallery redis passwords`: new secrets for the ACL users, same rules, nothing secret in the file."""
from __future__ import annotations

import os
import re

import pytest
import redis
from click.testing import CliRunner
from dotenv import dotenv_values
from redis.backoff import NoBackoff
from redis.retry import Retry

from pigallery.cli import main
from pigallery.redis_cli import new_passwords
from tests.deploy.stack import ACL_FILE, DEV_PASSWORDS
from tests.helpers import embedded

HASH = re.compile(r" #[0-9a-f]{64}")


def test_new_passwords_keep_every_rule():
    original = ACL_FILE.read_text()
    rules, passwords = new_passwords(original)
    assert set(passwords) == set(DEV_PASSWORDS)
    assert HASH.sub("", rules) == HASH.sub("", original)
    assert len(HASH.findall(rules)) == len(DEV_PASSWORDS)
    for password in passwords.values():
        assert password not in rules and password not in DEV_PASSWORDS.values()
        assert re.fullmatch(r"[A-Za-z0-9_-]{32}", password)  # goes into a URL unescaped
    assert new_passwords(original)[1] != passwords


@pytest.mark.parametrize("rule, expected", [
    ("user a on >clear ~* +@all", "user a on #{} ~* +@all"),
    ("user a on #" + "0" * 64 + " >second ~k:* +get", "user a on #{} ~k:* +get"),
    ("user a off -@all", None),
])
def test_new_passwords_replace_cleartext_and_extra_passwords(rule, expected):
    import hashlib

    rules, passwords = new_passwords(rule)
    if expected is None:
        assert passwords == {} and rules == rule + "\n"
    else:
        assert rules == expected.format(hashlib.sha256(passwords["a"].encode()).hexdigest()) + "\n"


def test_command_writes_acl_and_env(tmp_path, monkeypatch, own_environ):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("PIGALLERY_API_TOKEN=keep-me\n")
    result = CliRunner().invoke(main, ["redis", "passwords", "--acl", str(ACL_FILE)])
    assert result.exit_code == 0, result.output

    env = dotenv_values(tmp_path / ".env")
    assert env["PIGALLERY_API_TOKEN"] == "keep-me"
    assert env["PIGALLERY_ACL_FILE"] == "./.pigallery/users.acl"
    assert len(env["PIGALLERY_SECRET_KEY"]) >= 32
    assert oct(os.stat(tmp_path / ".env").st_mode & 0o777) == "0o600"
    written = (tmp_path / ".pigallery" / "users.acl").read_text()
    for user in DEV_PASSWORDS:
        password = env[f"PIGALLERY_{user.upper()}_PASSWORD"]
        assert password not in written
    assert f"redis://capture:{env['PIGALLERY_CAPTURE_PASSWORD']}@" in result.output


def test_command_follows_the_data_dir_and_the_configured_port(tmp_path, monkeypatch, own_environ):
    # The ACL goes with the server's data, and the Pis' URL names the port Redis listens on.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("PIGALLERY_DATA_DIR", "server-data")
    monkeypatch.setenv("PIGALLERY_REDIS_PORT", "6411")
    result = CliRunner().invoke(main, ["redis", "passwords", "--acl", str(ACL_FILE)])
    assert result.exit_code == 0, result.output
    assert HASH.search((tmp_path / "server-data" / "users.acl").read_text())
    assert not (tmp_path / ".pigallery").exists()
    assert dotenv_values(tmp_path / ".env")["PIGALLERY_ACL_FILE"] == "./server-data/users.acl"
    assert re.search(r"REDIS_URL for the Pis: redis://capture:[\w-]+@<server>:6411/0", result.output)

    # In a compose service REDIS_URL names Redis's port; an --out outside the .env's folder is kept absolute.
    monkeypatch.setenv("REDIS_URL", "redis://web:pw@redis:6379/0")
    elsewhere = tmp_path.parent / f"{tmp_path.name}-acl" / "users.acl"
    result = CliRunner().invoke(main, ["redis", "passwords", "--acl", str(ACL_FILE), "--out", str(elsewhere)])
    assert result.exit_code == 0, result.output
    assert re.search(r"@<server>:6379/0", result.output)
    assert dotenv_values(tmp_path / ".env")["PIGALLERY_ACL_FILE"] == str(elsewhere)


def test_an_unwritable_data_dir_is_a_clear_error(tmp_path, monkeypatch, own_environ):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("PIGALLERY_DATA_DIR", str(tmp_path / "file" / "data"))  # under a file: never a folder
    result = CliRunner().invoke(main, ["redis", "passwords", "--acl", str(ACL_FILE)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"cannot write {tmp_path / 'file' / 'data' / 'users.acl'}" in result.output and "--out" in result.output
    assert not (tmp_path / ".env").exists()  # nothing half-done


def test_generated_file_works_on_a_real_server(tmp_path):
    rules, passwords = new_passwords(ACL_FILE.read_text())
    aclfile = tmp_path / "users.acl"
    aclfile.write_text(rules)
    with embedded(tmp_path / "redis", aclfile=aclfile) as server:
        for user, password in passwords.items():
            conn = redis.Redis(port=server.port, username=user, password=password)
            assert conn.ping()
            # No retries: redis-py retries a refused login (a ConnectionError) for seconds.
            stale = redis.Redis(port=server.port, username=user, password=DEV_PASSWORDS[user],
                                retry=Retry(NoBackoff(), 0))
            with pytest.raises(redis.AuthenticationError):
                stale.ping()
        capture = redis.Redis(port=server.port, username="capture", password=passwords["capture"])
        with pytest.raises(redis.exceptions.NoPermissionError):
            capture.hget("pigallery:capture:x", "image")
