"""Issue #12 item 10: a long URL is a JSON 414 naming the limit, from the app, gunicorn and werkzeug alike."""
from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import json
import os
import socket
import sys
import threading
from pathlib import Path

import pytest
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.serving import make_server

from search_web.errors import MAX_URL_LENGTH
from tests import helpers

GUNICORN = Path(sys.executable).with_name("gunicorn")
WHEN = dt.datetime(2026, 6, 1, 12, tzinfo=dt.timezone.utc)


def url_of(length: int, path: str = "/api/captures") -> str:
    """A URL of exactly `length` bytes: a path and one long, otherwise valid, parameter."""
    prefix = f"{path}?trigger=gpio&device="
    return prefix + "x" * (length - len(prefix))


def get(port: int, url: str) -> tuple[int, str, str]:
    """GET `url` over a new connection; return status, Content-Type and body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        connection.request("GET", url)
        reply = connection.getresponse()
        return reply.status, reply.getheader("Content-Type", ""), reply.read().decode("utf-8", "replace")
    finally:
        connection.close()


def assert_json_414(status: int, content_type: str, body: str, *words: str) -> dict:
    assert status == 414, body[:300]
    assert content_type.startswith("application/json"), (content_type, body[:300])
    reply = json.loads(body)
    # The same body as every other error, whoever answered: the app or gunicorn.
    assert reply["error"] == HTTP_STATUS_CODES[414] and all(word in reply["message"] for word in words), reply
    return reply


@pytest.fixture
def captured(store, jpeg):
    image = jpeg((64, 48))
    for minute in range(3):
        store.create(image, device="pi", taken_at=WHEN + dt.timedelta(minutes=minute), trigger="gpio")


@pytest.mark.parametrize("path", ["/api/captures", "/api/facets", "/api/nothing-here", "/healthz", "/"])
def test_the_app_answers_a_long_url_with_json_naming_the_limit(client, path):
    reply = client.get(url_of(MAX_URL_LENGTH + 1, path))
    assert reply.status_code == 414 and reply.is_json, reply.data[:300]
    assert reply.json["limit"] == MAX_URL_LENGTH and str(MAX_URL_LENGTH) in reply.json["message"]
    # At the limit, the request is the API's to judge (the device name is too long: a 400).
    at_limit = client.get(url_of(MAX_URL_LENGTH, path))
    assert at_limit.status_code != 414


def test_werkzeug_dev_server_answers_json_414(app):
    port = helpers.free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert_json_414(*get(port, url_of(MAX_URL_LENGTH + 1)), str(MAX_URL_LENGTH))
        # http.server reads request lines of up to 64 KiB before the app sees them.
        assert_json_414(*get(port, url_of(60_000)), str(MAX_URL_LENGTH))
    finally:
        server.shutdown()
        thread.join(timeout=10)


def raw_request(port: int, request: bytes) -> tuple[int, str, str]:
    """Send `request` as it is (http.client refuses malformed ones); return status, Content-Type, body."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(request)
        reply = http.client.HTTPResponse(sock)
        reply.begin()
        return reply.status, reply.getheader("Content-Type", ""), reply.read().decode("utf-8", "replace")


@pytest.mark.parametrize("flag", ["--access-log", "--no-access-log"])
def test_pigallery_serve_answers_what_it_cannot_read_with_json(tmp_path, redis_url, key_prefix, captured, flag):
    """`pigallery serve` (werkzeug on http.server) answers a request line past 64 KiB, a header line
    past 64 KiB and a malformed request itself, before the app: in the API's JSON, never HTML."""
    port = helpers.free_port()
    env = helpers.clean_env()
    env.update(REDIS_URL=redis_url, PIGALLERY_KEY_PREFIX=key_prefix, PIGALLERY_ENV_FILE=os.devnull,
               PYTHONUNBUFFERED="1")
    with helpers.server_process([str(helpers.PIGALLERY), "serve", "--port", str(port), flag], port,
                                tmp_path / "serve.log", cwd=tmp_path, env=env):
        assert get(port, "/api/captures?device=pi")[0] == 200
        assert_json_414(*get(port, url_of(MAX_URL_LENGTH + 1)), str(MAX_URL_LENGTH))  # the app's own
        # 70 KiB: past the 65,536 bytes http.server reads of a request line.
        reply = assert_json_414(*get(port, url_of(70 * 1024)), "65,536 bytes", str(MAX_URL_LENGTH))
        assert "limit" not in reply  # http.server's reply, not the app's
        status, content_type, body = raw_request(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Long: "
                                                 + b"y" * (70 * 1024) + b"\r\n\r\n")
        assert (status, content_type) == (431, "application/json"), body[:300]
        assert json.loads(body) == {"error": HTTP_STATUS_CODES[431],
                                     "message": "Line too long: got more than 65536 bytes when reading header line"}
        status, content_type, body = raw_request(port, b"GET /a space HTTP/1.1\r\n\r\n")  # an unescaped space
        assert (status, content_type) == (400, "application/json"), body[:300]
        assert json.loads(body) == {"error": HTTP_STATUS_CODES[400],
                                    "message": "Bad request syntax ('GET /a space HTTP/1.1')"}
    log = (tmp_path / "serve.log").read_text(errors="replace")
    assert "code 414" in log and "code 431" in log  # logged either way, as werkzeug's own errors were


def dockerfile_command() -> list[str]:
    """The image's CMD: the command the web service runs."""
    line = next(line for line in (helpers.ROOT / "Dockerfile").read_text().splitlines() if line.startswith("CMD "))
    return json.loads(line[len("CMD "):])


@contextlib.contextmanager
def gunicorn(tmp_path: Path, redis_url: str, key_prefix: str):
    """Run the Dockerfile's gunicorn command on a free loopback port until it answers; yield the port."""
    command = dockerfile_command()
    assert command[0] == "gunicorn"
    port = helpers.free_port()
    command[0] = str(GUNICORN)
    command[command.index("--bind") + 1] = f"127.0.0.1:{port}"
    env = helpers.clean_env()
    env.update(REDIS_URL=redis_url, PIGALLERY_KEY_PREFIX=key_prefix, PIGALLERY_DATA_DIR=str(tmp_path / "data"),
               PIGALLERY_ENV_FILE=os.devnull)  # settings from here only, not a .env in the checkout

    def healthy(port: int) -> bool:
        try:
            return get(port, "/healthz")[0] == 200
        except OSError:
            return False

    with helpers.server_process(command, port, tmp_path / "gunicorn.log", cwd=helpers.ROOT, env=env, ready=healthy,
                                stop_timeout=15):
        yield port


def test_gunicorn_answers_long_urls_with_json(tmp_path, redis_url, key_prefix, captured):
    with gunicorn(tmp_path, redis_url, key_prefix) as port:
        assert get(port, url_of(300))[0] == 400  # an over-long device name: the API's own 400
        assert get(port, "/api/captures?device=pi")[0] == 200
        # Past gunicorn's default request line (4,094 bytes) but within the app's limit: the app
        # judges it (the over-long device name is its 400), not gunicorn with an HTML 414.
        status, content_type, body = get(port, url_of(5000))
        assert status == 400 and content_type.startswith("application/json"), body[:300]
        assert json.loads(body)["parameter"] == "device"
        assert_json_414(*get(port, url_of(MAX_URL_LENGTH + 1)), str(MAX_URL_LENGTH))
        # Past the longest request line gunicorn reads at all, gunicorn answers itself: JSON too.
        assert_json_414(*get(port, url_of(20_000)), "too large")


def test_gunicorn_workers_share_one_cursor_key(tmp_path, redis_url, key_prefix, captured):
    """Two workers start at once on an empty data dir: a cursor from either is good at both."""
    with gunicorn(tmp_path, redis_url, key_prefix) as port:
        status, _, body = get(port, "/api/captures?limit=1")
        assert status == 200, body
        cursor = json.loads(body)["next_cursor"]
        # A new connection each time, so the workers take turns (whichever accepts first).
        for _ in range(30):
            status, _, body = get(port, f"/api/captures?limit=1&cursor={cursor}")
            assert status == 200, body
    key = (tmp_path / "data" / "secret_key").read_text().strip()
    assert len(key) >= 32
