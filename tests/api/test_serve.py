"""`pigallery serve` and the production entry point."""
from __future__ import annotations

from click.testing import CliRunner

from pigallery.cli import main


def test_serve_is_a_pigallery_command():
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0 and "--port" in result.output and "gunicorn" in result.output


def test_serve_says_clearly_when_redis_is_unreachable(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    result = CliRunner().invoke(main, ["serve", "--port", "5999"])
    assert result.exit_code == 1 and "cannot reach Redis" in result.output


def test_gunicorn_target_builds_an_app(monkeypatch, redis_url):
    import search_web

    monkeypatch.setenv("REDIS_URL", redis_url)
    app = search_web.create_app()  # what `gunicorn 'search_web:create_app()'` calls
    assert app.config["REDIS_URL"] == redis_url and "api" in app.blueprints
