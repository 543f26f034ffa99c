"""Issue #12 item 11: with no PIGALLERY_SECRET_KEY, cursors are signed with a random key kept in the data dir."""
from __future__ import annotations

import datetime as dt
import multiprocessing
import stat
from pathlib import Path

import pytest

from index.filters import Filters, Position
from pigallery.config import Settings
from search_web import create_app
from search_web.params import Cursors

WHEN = dt.datetime(2026, 6, 1, 12, tzinfo=dt.timezone.utc)
# What cursors were signed with when no key was configured: public, so anyone could forge them.
OLD_CONSTANT = "pigallery-cursor"


@pytest.fixture
def captured(store, jpeg):
    image = jpeg((64, 48))
    return [store.create(image, device="pi", taken_at=WHEN + dt.timedelta(minutes=i), trigger="gpio")
            for i in range(3)]


def client_on(data_dir: Path, redis_url: str, key_prefix: str, secret_key: str | None = None):
    """A test client of an app built as gunicorn builds it: from settings with no key unless given."""
    settings = Settings(redis_url=redis_url, key_prefix=key_prefix, data_dir=data_dir, secret_key=secret_key)
    return create_app(settings, test_config={"TESTING": True}).test_client()


def first_cursor(client) -> str:
    reply = client.get("/api/captures?limit=1")
    assert reply.status_code == 200 and reply.json["next_cursor"], reply.json
    return reply.json["next_cursor"]


def test_a_cursor_forged_with_the_old_constant_is_refused(tmp_path, redis_url, key_prefix, captured):
    client = client_on(tmp_path / "data", redis_url, key_prefix)
    # Skips the newest capture without the server ever having issued this cursor.
    newest = captured[-1]
    forged = Cursors(OLD_CONSTANT).dump(Position(newest.taken_at.timestamp(), newest.pk), "newest", Filters())
    reply = client.get(f"/api/captures?limit=1&cursor={forged}")
    assert reply.status_code == 400, reply.json
    assert reply.json["parameter"] == "cursor" and "not one this API issued" in reply.json["message"]
    # The server's own cursors still work.
    assert client.get(f"/api/captures?limit=1&cursor={first_cursor(client)}").status_code == 200


def test_apps_on_one_data_dir_accept_each_others_cursors_and_others_do_not(tmp_path, redis_url, key_prefix, captured):
    one = client_on(tmp_path / "data", redis_url, key_prefix)
    two = client_on(tmp_path / "data", redis_url, key_prefix)  # another worker, or the app after a restart
    elsewhere = client_on(tmp_path / "other", redis_url, key_prefix)
    cursor = first_cursor(one)
    assert two.get(f"/api/captures?limit=1&cursor={cursor}").status_code == 200
    assert one.get(f"/api/captures?limit=1&cursor={first_cursor(two)}").status_code == 200
    reply = elsewhere.get(f"/api/captures?limit=1&cursor={cursor}")
    assert reply.status_code == 400 and reply.json["parameter"] == "cursor"


def test_the_key_file_is_private_and_made_once(tmp_path, redis_url, key_prefix):
    data_dir = tmp_path / "not" / "yet" / "made"
    client_on(data_dir, redis_url, key_prefix)
    key_file = data_dir / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    assert len(key) >= 32
    client_on(data_dir, redis_url, key_prefix)
    assert key_file.read_text().strip() == key
    assert [p.name for p in data_dir.iterdir()] == ["secret_key"]  # no temporary files left behind


def test_a_configured_key_is_used_and_no_file_is_made(tmp_path, redis_url, key_prefix, captured):
    client = client_on(tmp_path / "data", redis_url, key_prefix, secret_key="configured-key")
    assert not (tmp_path / "data").exists()
    other = client_on(tmp_path / "other", redis_url, key_prefix, secret_key="configured-key")
    assert other.get(f"/api/captures?limit=1&cursor={first_cursor(client)}").status_code == 200


def _load_key(data_dir: str, barrier, results) -> None:
    from search_web.secret_key import load_secret_key

    barrier.wait()  # all at once, as gunicorn's workers start
    results.put(load_secret_key(Path(data_dir)))


def test_processes_starting_together_agree_on_one_key(tmp_path):
    context = multiprocessing.get_context("fork")
    count = 8
    barrier, results = context.Barrier(count), context.Queue()
    workers = [context.Process(target=_load_key, args=(str(tmp_path / "data"), barrier, results)) for _ in range(count)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    keys = [results.get(timeout=5) for _ in workers]
    assert len(set(keys)) == 1 and keys[0] == (tmp_path / "data" / "secret_key").read_text().strip()
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["secret_key"]
