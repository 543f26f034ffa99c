"""GET /api/export.zip: the ZIP holds exactly the filter's captures, byte for byte, streamed in flat memory."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import shutil
import struct
import subprocess
import threading
import time
import tracemalloc
import unicodedata
import uuid
import zipfile
from pathlib import Path

import pytest
import redis
import schemathesis
from api_helpers import START, Dataset, walk
from hypothesis import HealthCheck, settings
from werkzeug.serving import make_server

import models
from capture import synthetic
from index import schema
from models import bulk
from pigallery import redis_server
from pigallery.seed import seed_captures
from search_web import create_app, export
from tests.helpers import drop_prefix

UTC = dt.timezone.utc
# Names no file system takes as written, or that mean something to one of them.
HOSTILE = ["../../etc/x", "CON", "nul.txt", "a/b\\c:d*e?f\"g<h>i|j", " .hidden. ", "...", "COM1",
           "Ünï Cødé", unicodedata.normalize("NFD", "Ünï Cødé"), "right\u202eto-left", "=HYPERLINK(\"http://x\")",
           "-cmd", "Pi-Door", "日本 カメラ" * 10]
DEVICES = ["pi-garden", "pi-door"]
COUNT = 48  # two devices over four days, the hostile names among them
UNSAFE = re.compile(r'[<>:"\\|?*\x00-\x1f\x7f]')
RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"{p}{n}" for p in ("COM", "LPT") for n in "0123456789")}
NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})/(.+)_(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2})Z_([0-9A-HJKMNP-TV-Z]{26})"
                  r"(_thumbnail)?\.jpg$")


class Data:
    """Captures with distinct bytes under a prefix of their own; what was stored is kept for comparison."""

    def __init__(self, redis_url: str):
        self.redis_url = redis_url
        self.prefix = f"export{uuid.uuid4().hex[:10]}"
        models.bind(redis_url, self.prefix)
        schema.migrate()
        self.rows: list[dict] = []
        for i in range(COUNT):
            when = START + dt.timedelta(hours=2 * i, seconds=i, microseconds=1000 * i)
            if i in (20, 21):
                when = START + dt.timedelta(hours=40)  # a tie on taken_at, paged by id
            device = HOSTILE[i // 2] if i % 2 and i // 2 < len(HOSTILE) else DEVICES[i % 2]
            image, meta = synthetic.render(when, (96, 72), seed=i)
            trigger = models.TRIGGERS[i % len(models.TRIGGERS)]
            capture = models.Capture.create(image, device=device, taken_at=when, trigger=trigger,
                                            image_ttl=1 if i == 5 else None, **meta)
            self.rows.append({"id": capture.pk, "device": capture.device, "taken_at": when, "trigger": trigger,
                              "lux": capture.lux, "image": image,
                              "thumbnail": models.Capture.read_binary(capture.pk, "thumbnail")})
        self.expired = self.rows[5]["id"]
        schema.wait_indexed()
        time.sleep(1.1)  # capture 5's full image expires by its own TTL; its thumbnail stays

    def app(self, **config):
        return create_app(test_config={"TESTING": True, "REDIS_URL": self.redis_url, "KEY_PREFIX": self.prefix,
                                       **config})

    def matching(self, devices=(), since=None, until=None, triggers=(), lux_min=None, ids=None) -> list[dict]:
        """The brute-force answer: every stored capture the filters select."""
        devices = {models.Capture.clean_device(d) for d in devices}  # trimmed, as stored and as the API reads them
        return [row for row in self.rows
                if (not devices or row["device"] in devices) and (since is None or row["taken_at"] >= since)
                and (until is None or row["taken_at"] <= until) and (not triggers or row["trigger"] in triggers)
                and (lux_min is None or (row["lux"] is not None and row["lux"] >= lux_min))
                and (ids is None or row["id"] in ids)]

    def drop(self) -> None:
        drop_prefix(self.redis_url, self.prefix)


@pytest.fixture(scope="module")
def data(redis_url):
    made = Data(redis_url)
    yield made
    made.drop()


@pytest.fixture
def client(data, monkeypatch):
    # Small keyset pages, so that a few dozen captures cross several page edges (and the tie).
    monkeypatch.setattr(export, "PAGE_SIZE", 7)
    return data.app().test_client()


def download(client, query) -> tuple[zipfile.ZipFile, object]:
    reply = client.get("/api/export.zip", query_string=query)
    assert reply.status_code == 200, reply.get_data()[:500]
    return zipfile.ZipFile(io.BytesIO(reply.get_data())), reply


def sidecars(archive: zipfile.ZipFile) -> tuple[dict, list[dict]]:
    listing = json.loads(archive.read("captures.json"))
    rows = list(csv.DictReader(io.StringIO(archive.read("captures.csv").decode("utf-8"), newline="")))
    return listing, rows


def check_file_name(name: str) -> None:
    """A name extracts as written on Windows, macOS and Linux, inside the folder it is extracted to."""
    assert "\\" not in name and not name.startswith("/")
    for part in name.split("/"):
        assert part and part not in (".", "..") and part == part.strip(" ."), name
        assert not UNSAFE.search(part), name
        assert not any(unicodedata.category(c) in ("Cc", "Cf") for c in part), name
        assert part.split(".")[0].strip().upper() not in RESERVED, name
        assert len(part.encode()) <= 255, name
        assert unicodedata.is_normalized("NFC", part), name


FILTERS = {
    "everything": ({}, {}),
    "one device": ({"device": "pi-door"}, {"devices": ["pi-door"]}),
    "a hostile device": ({"device": "../../etc/x"}, {"devices": ["../../etc/x"]}),
    "two devices and a trigger": ({"device": ["pi-garden", "CON"], "trigger": ["interval", "gpio"]},
                                  {"devices": ["pi-garden", "CON"], "triggers": ["interval", "gpio"]}),
    "a date range": ({"from": "2026-03-02T06:00:00Z", "to": "2026-03-03"},
                     {"since": dt.datetime(2026, 3, 2, 6, tzinfo=UTC),
                      "until": dt.datetime(2026, 3, 3, 23, 59, 59, 999999, tzinfo=UTC)}),
    "lux": ({"lux_min": 1000}, {"lux_min": 1000}),
    "oldest first": ({"sort": "oldest"}, {}),
    "nothing": ({"device": "nobody"}, {"devices": ["nobody"]}),
}


@pytest.mark.parametrize("name", FILTERS)
def test_the_zip_holds_exactly_the_filters_captures_byte_for_byte(data, client, name):
    query, selection = FILTERS[name]
    expected = data.matching(**selection)
    archive, reply = download(client, query)
    assert reply.mimetype == "application/zip"
    assert archive.testzip() is None
    images = [info for info in archive.infolist() if not info.filename.startswith("captures.")]
    assert sorted(info.filename for info in archive.infolist() if info not in images) == ["captures.csv",
                                                                                        "captures.json"]
    by_id = {row["id"]: row for row in expected}
    names = [info.filename for info in images]
    assert len(names) == len(set(names)) == len({n.casefold() for n in names}) == len(expected)
    for info in images:
        check_file_name(info.filename)
        day, device, stamp, pk, thumbnail = NAME.match(info.filename).groups()
        row = by_id[pk]
        assert (day, stamp) == (row["taken_at"].strftime("%Y-%m-%d"), row["taken_at"].strftime("%Y-%m-%dT%H-%M-%S"))
        assert info.compress_type == zipfile.ZIP_STORED
        # The full image, but for the one whose own TTL passed: its thumbnail, named so.
        assert archive.read(info) == (row["thumbnail"] if pk == data.expired else row["image"])
        assert bool(thumbnail) == (pk == data.expired)
        # DOS times count every other second; the "UT" extra field has the exact second.
        when = row["taken_at"]
        assert info.date_time == (*when.timetuple()[:5], when.second // 2 * 2)
        assert struct.unpack("<HHBl", info.extra) == (0x5455, 5, 1, int(when.timestamp()))
    # In the API's order, with the API's item fields, plus where each capture is.
    items, _ = walk(client, 200, **query)
    assert [item["id"] for item in items] == [NAME.match(n).group(4) for n in names]
    listing, rows = sidecars(archive)
    assert listing["count"] == len(listing["items"]) == len(rows) == len(expected)
    assert [{k: v for k, v in entry.items() if k not in ("file", "content")} for entry in listing["items"]] == [
        {**item, "image_url": None} if item["id"] == data.expired else item for item in items]
    assert [entry["file"] for entry in listing["items"]] == names
    assert [entry["content"] for entry in listing["items"]] == [
        "thumbnail" if NAME.match(n).group(5) else "image" for n in names]
    for entry, row in zip(listing["items"], rows):
        assert list(row) == list(export.COLUMNS)
        for column, value in entry.items():
            if value is None:
                assert row[column] == ""
            elif column == "device" and value[:1] in "=+-@":
                assert row[column] == f"'{value}"  # a spreadsheet shows it, never runs it
            elif isinstance(value, float):
                assert float(row[column]) == value
            else:
                assert row[column] == str(value), column
    first, last = (min(r["taken_at"] for r in expected), max(r["taken_at"] for r in expected)) if expected else (None, None)
    days = "empty" if not expected else "_".join(sorted({first.strftime("%Y-%m-%d"), last.strftime("%Y-%m-%d")}))
    assert reply.headers["Content-Disposition"] == f"attachment; filename=pigallery-{days}.zip"


def test_every_hostile_device_name_is_made_safe_and_stays_unique(data, client, tmp_path):
    archive, _ = download(client, {"device": HOSTILE})
    names = [n for n in archive.namelist() if not n.startswith("captures.")]
    assert len(names) == len({n.casefold() for n in names}) == len(data.matching(devices=HOSTILE))
    for name in names:
        check_file_name(name)
    archive.extractall(tmp_path / "out")
    extracted = sorted(p for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert len(extracted) == len(names) + 2 and all(p.resolve().is_relative_to(tmp_path / "out") for p in extracted)
    safe = {NAME.match(n).group(2) for n in names}
    assert {"_.._etc_x", "_CON", "_nul.txt", "a_b_c_d_e_f_g_h_i_j", "hidden", "_", "_COM1", "Ünï Cødé",
            "right_to-left", "=HYPERLINK(_http___x_)", "-cmd", "Pi-Door"} <= safe
    assert max(len(s.encode()) for s in safe) <= export.DEVICE_BYTES


@pytest.mark.skipif(not shutil.which("unzip"), reason="no unzip")
def test_info_zip_unzip_reads_the_streamed_archive(data, client, tmp_path):
    """Streamed entries carry their sizes after the data; a common unzipper takes that, with UTF-8 names."""
    reply = client.get("/api/export.zip")
    (tmp_path / "all.zip").write_bytes(reply.get_data())
    tested = subprocess.run(["unzip", "-t", str(tmp_path / "all.zip")], capture_output=True, text=True)
    assert tested.returncode == 0 and "No errors detected" in tested.stdout, tested.stdout + tested.stderr
    listed = subprocess.run(["unzip", "-Z1", str(tmp_path / "all.zip")], capture_output=True)
    assert "Ünï Cødé".encode() in listed.stdout


def test_an_explicit_selection_narrows_the_filters(data, client):
    chosen = [data.rows[i]["id"] for i in (0, 3, 5, 8, 20, 21)]
    missing = "01JA" + "0" * 22
    archive, _ = download(client, {"id": [*chosen, missing, chosen[0]], "device": "pi-garden"})
    expected = data.matching(devices=["pi-garden"], ids=set(chosen))
    listing, rows = sidecars(archive)
    # Newest first, ties by id, as in /api/captures.
    order = sorted(expected, key=lambda r: (r["taken_at"], r["id"]), reverse=True)
    assert [entry["id"] for entry in listing["items"]] == [row["id"] for row in order] == [r["id"] for r in rows]
    for entry, row in zip(listing["items"], order):
        assert archive.read(entry["file"]) == (row["thumbnail"] if row["id"] == data.expired else row["image"])
        assert entry["taken_at"] == row["taken_at"].isoformat().replace("+00:00", "Z")
    oldest_first, _ = download(client, {"id": chosen, "sort": "oldest"})
    assert [e["id"] for e in sidecars(oldest_first)[0]["items"]] == [
        r["id"] for r in sorted(data.matching(ids=set(chosen)), key=lambda r: (r["taken_at"], r["id"]))]


@pytest.mark.parametrize("query, parameter", [
    ({"from": "yesterday"}, "from"),
    ({"to": "2026-W09"}, "to"),
    ({"from": "2026-03-03", "to": "2026-03-01"}, "from"),
    ({"device": " "}, "device"),
    ({"trigger": "sneeze"}, "trigger"),
    ({"lux_min": "bright"}, "lux_min"),
    ({"lux_min": "nan"}, "lux_min"),
    ({"exposure_max": "-1"}, "exposure_max"),
    ({"sort": "random"}, "sort"),
    ({"sort": ["newest", "oldest"]}, "sort"),
    ({"id": "not-an-id"}, "id"),
    ({"id": [f"01JA{i:022d}" for i in range(export.MAX_IDS + 1)]}, "id"),
    ({"limit": "10"}, "limit"),
    ({"cursor": "x"}, "cursor"),
    ({"colour": "red"}, "colour"),
])
def test_bad_filters_are_400s_naming_the_parameter(client, query, parameter):
    reply = client.get("/api/export.zip", query_string=query)
    assert reply.status_code == 400, reply.get_data()[:300]
    assert reply.json["parameter"] == parameter
    assert reply.json["message"]


def test_more_captures_than_an_export_holds_is_a_400_before_anything_is_sent(data):
    client = data.app(EXPORT_MAX_CAPTURES=10).test_client()
    reply = client.get("/api/export.zip", query_string={"device": "pi-garden"})
    assert reply.status_code == 400
    assert reply.json["total"] == len(data.matching(devices=["pi-garden"])) and reply.json["max_captures"] == 10
    assert "at most 10" in reply.json["message"] and "narrow" in reply.json["message"]
    # Narrowed under the limit, the same client gets its archive.
    narrowed = client.get("/api/export.zip", query_string={"device": "pi-garden", "to": "2026-03-01"})
    assert narrowed.status_code == 200 and narrowed.mimetype == "application/zip"


@pytest.fixture(scope="module")
def many(make_dataset):
    """One capture more than the default limit, each with a tiny image."""
    rows = [{"device": "pi-bulk", "taken_at": START + dt.timedelta(seconds=i)} for i in range(export.MAX_CAPTURES + 1)]
    return make_dataset(rows)


def test_the_default_limit_is_ten_thousand_exactly(many):
    client = many.client()
    over = client.get("/api/export.zip")
    assert over.status_code == 400 and over.json["total"] == 10_001 and over.json["max_captures"] == 10_000
    last = START + dt.timedelta(seconds=export.MAX_CAPTURES - 1)
    started = time.perf_counter()
    reply = client.get("/api/export.zip", query_string={"to": last.isoformat()})
    assert reply.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(reply.get_data()))
    elapsed = time.perf_counter() - started
    assert len(archive.namelist()) == 10_000 + 2
    assert json.loads(archive.read("captures.json"))["count"] == 10_000
    print(f"\nexport of 10,000 tiny captures: {elapsed:.1f} s, {len(reply.get_data()) / 1e6:.1f} MB")


@pytest.fixture(scope="module")
def large(redis_url):
    """200 captures of a camera-sized JPEG (~240 kB; one image shared, stored 200 times)."""
    image = synthetic.render(START, (1280, 960), detail=0.7)[0]
    rows = [{"device": "pi-large", "taken_at": START + dt.timedelta(minutes=i)} for i in range(200)]
    dataset = Dataset(redis_url, rows, image)
    dataset.image_size = len(image)
    yield dataset
    dataset.drop()


def test_memory_stays_flat_while_streaming_200_large_captures(large, tmp_path):
    client = large.client()
    total = 200 * large.image_size
    out = tmp_path / "large.zip"
    tracemalloc.start()
    try:
        started = time.perf_counter()
        reply = client.get("/api/export.zip", buffered=False)
        assert reply.status_code == 200 and reply.is_streamed and "Content-Length" not in reply.headers
        chunks = 0
        with out.open("wb") as sink:
            for chunk in reply.response:
                sink.write(chunk)
                chunks += 1
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    size = out.stat().st_size
    print(f"\nexport of 200 x {large.image_size / 1e3:.0f} kB: {size / 1e6:.1f} MB in {elapsed:.2f} s "
          f"({size / 1e6 / elapsed:.0f} MB/s under tracemalloc), {chunks} chunks, "
          f"peak traced memory {peak / 1e6:.2f} MB ({peak / total:.1%} of the images' {total / 1e6:.1f} MB)")
    assert peak < total / 10, f"peak {peak} bytes for {total} bytes of images"
    with zipfile.ZipFile(out) as archive:
        assert len(archive.namelist()) == 202 and archive.testzip() is None
        assert {info.file_size for info in archive.infolist() if info.filename.endswith(".jpg")} == {large.image_size}


def test_captures_stored_during_an_export_never_take_it_past_the_limit(app, tiny_jpeg, monkeypatch):
    monkeypatch.setattr(export, "PAGE_SIZE", 3)
    app.config["EXPORT_MAX_CAPTURES"] = 10
    stored = bulk.store_many([{"device": "pi-door", "taken_at": START + dt.timedelta(minutes=i), "trigger": "interval"}
                              for i in range(10)], tiny_jpeg)
    schema.wait_indexed()
    reply = app.test_client().get("/api/export.zip", query_string={"sort": "oldest"}, buffered=False)
    assert reply.status_code == 200
    chunks = iter(reply.response)
    received = [next(chunks)]
    # Two newer ones arrive while the first page is being sent: an oldest-first walk would reach them.
    bulk.store_many([{"device": "pi-door", "taken_at": START + dt.timedelta(hours=1, minutes=i), "trigger": "interval"}
                     for i in range(2)], tiny_jpeg)
    schema.wait_indexed()
    received.extend(chunks)
    archive = zipfile.ZipFile(io.BytesIO(b"".join(received)))
    assert [e["id"] for e in json.loads(archive.read("captures.json"))["items"]] == stored


def test_a_client_that_goes_away_ends_the_export_quietly(data, client):
    reply = client.get("/api/export.zip", buffered=False)
    first = next(iter(reply.response))
    assert first.startswith(b"PK\x03\x04")
    reply.close()  # the generator is closed mid-archive: no error, nothing left open


def test_redis_going_away_midway_leaves_an_archive_no_unzipper_takes_as_whole(own_server, tiny_jpeg, tmp_path):
    """Past the headers no error reply can be sent: the archive must not look complete."""
    models.bind(own_server.url, "midway")
    schema.migrate()
    bulk.store_many([{"device": "pi-door", "taken_at": START + dt.timedelta(seconds=i), "trigger": "interval"}
                     for i in range(3 * export.PAGE_SIZE)], tiny_jpeg)
    schema.wait_indexed()
    app = create_app(test_config={"TESTING": True, "REDIS_URL": own_server.url, "KEY_PREFIX": "midway"})
    reply = app.test_client().get("/api/export.zip", buffered=False)
    assert reply.status_code == 200
    chunks = iter(reply.response)
    received = [next(chunks) for _ in range(10)]
    redis_server.stop(own_server)
    with pytest.raises(redis.ConnectionError):
        received.extend(chunks)
    (tmp_path / "cut.zip").write_bytes(b"".join(received))
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(tmp_path / "cut.zip")
    if shutil.which("unzip"):
        assert subprocess.run(["unzip", "-t", str(tmp_path / "cut.zip")], capture_output=True).returncode != 0


def test_redis_unreachable_is_a_503_not_a_broken_archive(data):
    app = create_app(test_config={"TESTING": True, "REDIS_URL": "redis://127.0.0.1:1/0", "KEY_PREFIX": data.prefix})
    reply = app.test_client().get("/api/export.zip")
    assert reply.status_code == 503 and reply.json["error"] == "Service Unavailable"
    models.bind(data.redis_url, data.prefix)


def test_the_document_describes_the_export(client):
    doc = client.get("/api/openapi.json").json
    operation = doc["paths"]["/api/export.zip"]["get"]
    assert "application/zip" in operation["responses"]["200"]["content"]
    names = {p["name"] for p in operation["parameters"]}
    search = {p["name"] for p in doc["paths"]["/api/captures"]["get"]["parameters"]}
    # Every filter /api/captures takes (so a filter added there applies here too), sort, and ids.
    # (`start` is where a listing page begins, no filter: an export holds every match.)
    assert names == search - {"limit", "cursor", "start"} | {"id"}
    assert {"400", "503", "414"} <= set(operation["responses"])


# Fuzzing the operation against its description, as tests/api/test_schemathesis.py does the others.
class Target:
    def __init__(self):
        self.app = create_app(test_config={"TESTING": True, "REDIS_URL": "redis://127.0.0.1:1/0",
                                           "KEY_PREFIX": "export-spec", "SECRET_KEY": "x"})

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


TARGET = Target()
FUZZ = schemathesis.openapi.from_wsgi("/api/openapi.json", TARGET, config=schemathesis.Config.from_dict({
    "seed": 20261201,
    "headers": {"Accept-Encoding": "identity"},
    "checks": {"positive_data_acceptance": {
        "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "410", "429", "5xx"]}},
    "parameters": {"query.device": {"dictionary": "devices", "probability": 0.3}},
    "dictionaries": {"devices": {"values": [*DEVICES, *HOSTILE[:4]]}},
})).include(operation_id=["exportZip"])
FUZZ_DOC = TARGET.app.test_client().get("/api/openapi.json").json
# Parameters whose every schema-valid value must be accepted: a 400 naming one of them is a failure. Any
# other (dates, zones, device names, ranges, ids, and filters added later) may have rules beyond its schema.
STRICT = {"sort", "trigger", "lux_max", "exposure_max"}


@pytest.fixture
def fuzz_target(data):
    TARGET.app = data.app()
    yield
    models.bind(data.redis_url, data.prefix)


@FUZZ.parametrize()
@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
def test_the_export_answers_as_documented(case, fuzz_target):
    from schemathesis.openapi.checks import RejectedPositiveData
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    def accepts_valid_data(ctx, response, case):
        try:
            return positive_data_acceptance(ctx, response, case)
        except RejectedPositiveData:
            documented = {p["name"] for p in FUZZ_DOC["paths"]["/api/export.zip"]["get"]["parameters"]}
            if response.status_code == 400 and response.json().get("parameter") in documented - STRICT:
                return None
            raise

    response = case.call_and_validate(excluded_checks=[positive_data_acceptance], additional_checks=[accepts_valid_data])
    if case.method == "GET" and response.status_code == 200:  # not the coverage phase's other methods
        archive = zipfile.ZipFile(io.BytesIO(response.content))
        assert archive.testzip() is None and "captures.json" in archive.namelist()


README = Path(__file__).resolve().parents[2] / "README.md"
README_SERVER = "http://127.0.0.1:5000"


def readme_export_lines() -> list[str]:
    """The command lines of the README's "### Export" example."""
    section = README.read_text().split("\n### Export\n", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    block = re.search(r"```shell\n(.*?)```", section, re.S)[1]
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_the_readme_example_downloads_what_it_says(app, tmp_path):
    """Run as written with bash and the real curl, against demo-like data on a live server."""
    if not shutil.which("curl"):
        pytest.skip("no curl")
    seed_captures(40, DEVICES, 5, (96, 72), progress=False)
    schema.wait_indexed()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        lines = readme_export_lines()
        assert len(lines) == 3 and all(README_SERVER in line or "zipfile" in line for line in lines)
        for line in lines:
            done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", line.replace(README_SERVER, url)],
                                  cwd=tmp_path, capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
        since = (dt.datetime.now(UTC) - dt.timedelta(days=2)).strftime("%Y-%m-%d")
        client = app.test_client()
        door, _ = walk(client, 200, device="pi-door", **{"from": since})
        assert door and archived(tmp_path / "captures.zip") == [item["id"] for item in door]
        garden, _ = walk(client, 200, device="pi-garden", trigger="interval", sort="oldest")
        named = sorted(tmp_path.glob("pigallery-*.zip"))
        days = sorted({garden[0]["taken_at"][:10], garden[-1]["taken_at"][:10]})
        assert [p.name for p in named] == [f"pigallery-{'_'.join(days)}.zip"]
        assert archived(named[0]) == [item["id"] for item in garden]
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()


def archived(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return [item["id"] for item in json.loads(archive.read("captures.json"))["items"]]
