"""Fixtures on a real Redis Stack: REDIS_URL, else testcontainers, else the embedded server."""
from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

import models
from index import schema
from tests.helpers import REDIS_STACK_IMAGE, SAMPLES, drop_prefix, embedded


def docker_engine_answers() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def samples() -> Path:
    if not SAMPLES.is_dir():
        pytest.fail(f"EXIF samples not found at {SAMPLES}: clone next to ../shared as CI does")
    return SAMPLES


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """URL of a Redis Stack for this test session."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
    elif docker_engine_answers():
        from testcontainers.redis import RedisContainer

        with RedisContainer(REDIS_STACK_IMAGE) as container:
            yield f"redis://{container.get_container_host_ip()}:{container.get_exposed_port(6379)}/0"
    else:
        with embedded(tmp_path_factory.mktemp("redis")) as server:
            yield server.url


@pytest.fixture
def own_server(tmp_path):
    """A Redis Stack this test alone controls (to stop, restart, or break)."""
    with embedded(tmp_path / "own") as server:
        yield server


@pytest.fixture
def own_environ():
    """Put os.environ back afterwards: Settings.from_env loads a dotenv file into it, past monkeypatch."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def key_prefix() -> str:
    return f"test{uuid.uuid4().hex[:10]}"


@pytest.fixture
def store(redis_url, key_prefix):
    """Models bound to the test Redis under a fresh key prefix, with the index created."""
    models.bind(redis_url, key_prefix)
    schema.migrate()
    yield models.Capture
    drop_prefix(redis_url, key_prefix)


@pytest.fixture
def jpeg():
    """Return a synthetic JPEG of the given size."""
    import datetime as dt

    from capture import synthetic

    def make(size=(640, 480), detail=1.0, when=None):
        when = when or dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
        return synthetic.render(when, size, detail=detail)[0]

    return make


@pytest.fixture
def app(redis_url, key_prefix, store):
    """The Flask app on the test Redis, under this test's key prefix."""
    from search_web import create_app

    return create_app(test_config={"TESTING": True, "REDIS_URL": redis_url, "KEY_PREFIX": key_prefix, "API_TOKEN": "test-token"})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()
