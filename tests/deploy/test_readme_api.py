"""The README's JSON API examples, run as written with bash and the real curl against a live server.

The server holds what `make demo` seeds (pi-garden and pi-door over the last 5 days, up to now),
so an example whose dates or filters match nothing fails here, as it would for a reader.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from capture import synthetic
from index import schema
from models import Capture, events
from pigallery.seed import seed_captures
from tests.deploy.stack import ROOT

README = ROOT / "README.md"
CURL = Path("/usr/bin/curl")
README_SERVER = "http://127.0.0.1:5000"  # where the README's examples point: `make demo`'s web server
DEVICES = ["pi-garden", "pi-door"]  # as `make demo` seeds them
ASSIGNMENT = re.compile(r"([A-Z_][A-Z0-9_]*)=(.*)")
UTC = dt.timezone.utc


def api_block(text: str) -> str:
    """The one ```sh block with curl lines in the README's "## JSON API" section."""
    section = text.split("\n## JSON API\n", 1)[1].split("\n## ", 1)[0]
    blocks = [b for b in re.findall(r"```sh\n(.*?)```", section, re.S) if re.search(r"^curl ", b, re.M)]
    assert len(blocks) == 1, "the JSON API section has one block of curl examples"
    return blocks[0]


def commands(block: str) -> list[str]:
    """The block's command lines, continuation lines joined, comment lines dropped."""
    lines = block.replace("\\\n", " ").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


@pytest.fixture
def live(app):
    """The app on a free loopback port, served by werkzeug in a thread."""
    # /api/events then ends by itself after a few seconds, as a finished stream: curl exits 0.
    app.config["EVENTS_MAX_SECONDS"] = 3.0
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)
    server.server_close()


@pytest.fixture
def demo(store):
    """What `make demo` seeds, in small frames: 240 captures of two devices over the last 5 days."""
    stored = seed_captures(240, DEVICES, 5, (160, 120), progress=False)
    schema.wait_indexed()
    return stored


def bash(line: str, env: dict, cwd: Path, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-e", "-o", "pipefail", "-c", line], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def url_of(line: str, env: dict, cwd: Path) -> str:
    """The URL a curl line fetches, as bash expands it (the same arguments, printed instead)."""
    printed = bash("printf '%s\\n'" + line[len("curl"):], env, cwd)
    assert printed.returncode == 0, printed.stderr
    return next(arg for arg in printed.stdout.splitlines() if arg.startswith("http"))


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as reply:
        return json.load(reply)


def utc(value: str) -> dt.datetime:
    when = dt.datetime.fromisoformat(value)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def check_search(url: str, body: dict) -> None:
    """A search found something, and only what its filters ask for."""
    assert body["total"] > 0 and body["items"], f"{url} found nothing in the demo data"
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    for item in body["items"]:
        taken_at = utc(item["taken_at"])
        if "device" in query:
            assert item["device"] in query["device"]
        if "trigger" in query:
            assert item["trigger"] in query["trigger"]
        if "lux_max" in query:
            assert item["lux"] <= float(query["lux_max"][0])
        if "from" in query:
            assert taken_at >= utc(query["from"][0])
        if "to" in query:
            to = query["to"][0]
            # A bare date is that whole UTC day.
            end = utc(to) + dt.timedelta(days=1) if len(to) == 10 else utc(to) + dt.timedelta(microseconds=1)
            assert taken_at < end
    if "cursor" in query:
        # The page before: the same query without the cursor. The next page continues it.
        parts = urllib.parse.urlsplit(url)
        pairs = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query) if k != "cursor"]
        first = get_json(parts._replace(query=urllib.parse.urlencode(pairs)).geturl())
        assert not {i["id"] for i in first["items"]} & {i["id"] for i in body["items"]}
        assert utc(body["items"][0]["taken_at"]) <= utc(first["items"][-1]["taken_at"])


def check_facets(url: str, body: dict) -> None:
    assert body["total"] > 0, f"{url} counted nothing in the demo data"
    assert {d["device"] for d in body["devices"]} == set(DEVICES)
    assert sum(t["count"] for t in body["triggers"]) == body["total"]
    assert body["histogram"] and sum(bar["count"] for bar in body["histogram"]) == body["total"]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    if "bucket" in query:
        assert body["bucket"] == query["bucket"][0]
    if "tz" in query:
        assert all(re.search(r"[+-]\d\d:\d\d$", bar["start"]) for bar in body["histogram"])


def watch_events(line: str, env: dict, cwd: Path) -> tuple[int, str, str]:
    """Run the events example; once its stream is open, store and announce a capture."""
    proc = subprocess.Popen(["bash", "-e", "-c", line], env=env, cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 10
        while not any(": connected" in s for s in seen) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any(": connected" in s for s in seen), f"the event stream did not open: {''.join(seen)}"
        now = dt.datetime.now(UTC)
        image, meta = synthetic.render(now, (160, 120))
        shot = Capture.create(image, device="pi-live", taken_at=now, trigger="interval", **meta)
        events.publish(shot)
        rc = proc.wait(timeout=15)  # the server ends the stream after EVENTS_MAX_SECONDS
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    reader.join(5)
    return rc, "".join(seen), shot.pk


def test_readme_api_examples_work_against_demo_data(live, demo, app, tmp_path):
    if not CURL.exists():
        pytest.fail(f"{CURL} is missing: apt-get install curl")
    block = api_block(README.read_text())
    assert README_SERVER in block
    lines = commands(block.replace(README_SERVER, live))
    # What the examples promise to show.
    for shown in ("device=", "from=", "to=", "lux_max=", "trigger=", "tz=", "bucket=", "cursor=$NEXT",
                  "/facets", "/image", "-X DELETE", "/events", "next_cursor"):
        assert shown in block, f"the README's API examples no longer show {shown}"
    assert re.search(r"trigger=interval", block), "a trigger filter that the demo's captures match"
    for curl in re.findall(r"\bcurl(?: -[\w-]+)*", block):
        assert re.search(r" -[a-zA-Z]*f", curl), f"{curl!r}: without -f an HTTP error looks like success"

    env = {"PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
           "HOME": str(tmp_path),  # no ~/.curlrc of whoever runs the tests
           "LC_ALL": "C.UTF-8", "PIGALLERY_API_TOKEN": app.config["API_TOKEN"]}
    checked = set()
    for line in lines:
        if line.startswith("curl ") and "/events" in line:
            rc, out, pk = watch_events(line, env, tmp_path)
            assert rc == 0, f"{line}\nexit {rc}\n{out}"
            assert "event: capture" in out and f'"id": "{pk}"' in out, out
            checked.add("events")
            continue
        assignment = ASSIGNMENT.fullmatch(line)
        # An assignment's value is printed, to be set for the following lines.
        result = bash(f'{line}\nprintf %s "${assignment[1]}"' if assignment else line, env, tmp_path)
        assert result.returncode == 0, f"{line}\nexit {result.returncode}\n{result.stdout}\n{result.stderr}"
        if assignment:
            name, value = assignment[1], result.stdout
            assert value and value not in ("None", "null"), f"{line} set {name} to {value!r}"
            env[name] = value
            checked.add(name)
            continue
        assert line.startswith("curl "), line
        url = url_of(line, env, tmp_path)
        if "-X DELETE" in line:
            assert result.stdout.strip() == "204", result.stdout
            with pytest.raises(urllib.error.HTTPError) as gone:
                urllib.request.urlopen(url, timeout=10)
            assert gone.value.code == 404
            checked.add("delete")
        elif (saved := re.search(r" -o\s*(\S+)", line)):
            assert (tmp_path / saved[1]).read_bytes()[:2] == b"\xff\xd8", "a JPEG, not an error's JSON"
            checked.add("image")
        elif "/api/facets" in url:
            check_facets(url, json.loads(result.stdout))
            checked.add("facets")
        else:
            assert "/api/captures" in url, line
            check_search(url, json.loads(result.stdout))
            checked.add("search")
    assert {"API", "NEXT", "ID", "search", "facets", "image", "delete", "events"} <= checked, checked


def test_dates_that_match_no_demo_capture_fail_the_check(live, demo, tmp_path):
    """Fixed dates (as the README once had) find nothing in the demo's last 5 days: the check says so."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)}
    for dates, found in (("from=$(date -u -d '2 days ago' +%F)", True),
                         ("from=$(date -u -d '30 days ago' +%F)&to=$(date -u -d '20 days ago' +%F)", False)):
        line = f'curl -fsS "{live}/api/captures?device=pi-door&{dates}"'
        result = bash(line, env, tmp_path)
        assert result.returncode == 0, result.stderr  # an empty result is no HTTP error: curl is content
        url = url_of(line, env, tmp_path)
        if found:
            check_search(url, json.loads(result.stdout))
        else:
            with pytest.raises(AssertionError, match="found nothing"):
                check_search(url, json.loads(result.stdout))
