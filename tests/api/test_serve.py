"""`pigallery serve` and the production entry point."""
from __future__ import annotations

import contextlib
import re
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest
from click.testing import CliRunner

from pigallery.cli import main
from tests import helpers


def test_serve_is_a_pigallery_command():
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0 and "--port" in result.output and "gunicorn" in result.output


def test_serve_says_clearly_when_redis_is_unreachable(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    result = CliRunner().invoke(main, ["serve", "--port", "5999"])
    assert result.exit_code == 1 and "cannot reach Redis" in result.output


def test_gunicorn_target_builds_an_app(monkeypatch, redis_url):
    from pigallery import wsgi

    monkeypatch.setenv("REDIS_URL", redis_url)
    app = wsgi.create_app()  # what `gunicorn 'pigallery.wsgi:create_app()'` calls
    assert app.config["REDIS_URL"] == redis_url and "api" in app.blueprints


def test_gunicorn_target_reads_the_env_file_not_the_dotenv(tmp_path, monkeypatch, redis_url, own_environ):
    """Issue #15: the gunicorn factory reads the settings once, from PIGALLERY_ENV_FILE when set."""
    from pigallery import wsgi

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REDIS_URL", raising=False)
    (tmp_path / ".env").write_text("PIGALLERY_API_TOKEN=from-dotenv\n")
    (tmp_path / "prod.env").write_text(f"REDIS_URL={redis_url}\nPIGALLERY_PAGE_SIZE=7\n")
    monkeypatch.setenv("PIGALLERY_ENV_FILE", "prod.env")
    app = wsgi.create_app()
    assert (app.config["REDIS_URL"], app.config["PAGE_SIZE"], app.config["API_TOKEN"]) == (redis_url, 7, None)


# `pigallery serve` run for real: a subprocess of the venv's command, spoken to over HTTP.

MISSING = "01J0000000000000000000000Z"  # a well-formed capture id no test stores


def clean_env() -> dict[str, str]:
    """This process's environment without settings: they must come from the files under test."""
    return {**helpers.clean_env(), "PYTHONUNBUFFERED": "1"}  # every log line is in the file when the server is stopped


class Served:
    """A running `pigallery ... serve`: its base URL, and its output once stopped."""

    def __init__(self, base: str, log: Path):
        self.base, self.log = base, log

    def request(self, method: str, path: str, token: str | None = None) -> int:
        """Send one request; return the status code (errors included)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            with urlopen(Request(self.base + path, method=method, headers=headers), timeout=10) as reply:
                return reply.status
        except HTTPError as exc:
            return exc.code

    def output(self) -> str:
        # werkzeug colours request lines by status even into a file.
        return re.sub(r"\x1b\[[0-9;]*m", "", self.log.read_text(errors="replace"))


@contextlib.contextmanager
def serving(cwd: Path, *args: str, env: dict[str, str] | None = None):
    """Run `pigallery [args...] --port N` in `cwd` until it answers HTTP; always stop it after."""
    port = helpers.free_port()
    log = cwd / f"serve-{port}.log"
    with helpers.server_process([str(helpers.PIGALLERY), *args, "--port", str(port)], port, log, cwd=cwd,
                                env=env if env is not None else clean_env()):
        yield Served(f"http://127.0.0.1:{port}", log)


@pytest.mark.parametrize("env_file_token", ["from-env-file", None], ids=["token-in-both", "token-in-dotenv-only"])
def test_serve_uses_the_env_file_not_the_dotenv(tmp_path, redis_url, key_prefix, env_file_token):
    """Issue #15: with --env-file, the web app has the command's settings; ./.env is not read."""
    (tmp_path / ".env").write_text("PIGALLERY_API_TOKEN=from-dotenv\n")
    lines = [f"REDIS_URL={redis_url}", f"PIGALLERY_KEY_PREFIX={key_prefix}"]
    if env_file_token:
        lines.append(f"PIGALLERY_API_TOKEN={env_file_token}")
    (tmp_path / "prod.env").write_text("\n".join(lines) + "\n")

    with serving(tmp_path, "--env-file", "prod.env", "serve") as served:
        if env_file_token:
            # Accepted: deleting a capture that does not exist is 404, never 401 or 403.
            assert served.request("DELETE", f"/api/captures/{MISSING}", token="from-env-file") in (204, 404)
            assert served.request("DELETE", f"/api/captures/{MISSING}", token="from-dotenv") == 401
        else:
            # prod.env sets no token, so deletion is off: .env's token must not switch it on.
            assert served.request("DELETE", f"/api/captures/{MISSING}", token="from-dotenv") == 403


@pytest.mark.parametrize("flag", [None, "--access-log", "--no-access-log"])
def test_no_access_log_drops_request_lines_but_not_startup_or_5xx(tmp_path, redis_url, key_prefix, flag):
    """Issue #10: --no-access-log keeps the terminal free of a line per request."""
    env = {**clean_env(), "REDIS_URL": redis_url, "PIGALLERY_KEY_PREFIX": key_prefix}
    with serving(tmp_path, "serve", *([flag] if flag else []), env=env) as served:
        assert served.request("GET", "/api/openapi.json") == 200
        assert served.request("GET", f"/api/captures/{MISSING}/thumbnail") == 404
        # No index under this prefix: /healthz is a 503, which stays logged either way.
        assert served.request("GET", "/healthz") == 503
    output = served.output()
    assert f"Running on {served.base}" in output  # startup lines are kept
    assert '"GET /healthz HTTP/1.1" 503' in output
    ok_lines = ["GET /api/openapi.json HTTP/1.1", f"GET /api/captures/{MISSING}/thumbnail HTTP/1.1"]
    if flag == "--no-access-log":
        assert not [line for line in ok_lines if line in output], output
    else:
        assert all(line in output for line in ok_lines), output
