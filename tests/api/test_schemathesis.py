"""The API against its own /api/openapi.json, with schemathesis: examples, coverage, fuzzing and links.

Every reply is checked against the document: status codes, content types, bodies (JSON and the
event stream's events) and documented headers, plus schemathesis's other checks (no 5xx,
schema-invalid input refused, auth not ignored, a deleted capture stays gone, ...). The data
is small but real: a few captures from two devices, one whose full image has expired.

Runs in-process on the WSGI app. Derandomized, so CI runs the same cases every time (but for
which links the workflow follows: schemathesis picks those outside Hypothesis's choices); the
example counts give some 3,000 requests in about half a minute on two cores.
"""
from __future__ import annotations

import collections
import datetime as dt
import json
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.checks import positive_data_acceptance

import models
from api_helpers import START
from index import schema as index_schema
from models import bulk, events
from pigallery.config import Settings
from search_web import create_app

pytestmark = pytest.mark.slow

TOKEN = "schemathesis-token"
# Examples per operation in the fuzzing phase; examples and coverage cases come on top.
SEARCH_EXAMPLES = 800  # /api/captures and /api/facets: a dozen parameters each
CAPTURE_EXAMPLES = 120  # the four operations on one capture: only its id varies
OTHER_EXAMPLES = 10  # no parameters: one case each, whatever the setting
TIMELAPSE_EXAMPLES = 150  # POST's body has some twenty fields; the rest only a job id
STATEFUL_EXAMPLES, STATEFUL_STEPS = 80, 8
MINIMUM_CASES = 1000
SETTINGS = dict(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                       HealthCheck.data_too_large])
# Whose validity JSON Schema cannot say, so that a schema-valid value may still be a 400 naming it:
# ISO dates and their calendar (from, to), ranges whose low end is above the high end (from,
# lux_min, exposure_min), the server's PAGE_SIZE ceiling (limit), IANA zone names (tz), what a
# device name may hold (device: no control characters, not blank), signed cursors tied to their
# filters (cursor), and a histogram too long for the data's span (bucket).
# start: not with cursor; camera names: not blank once trimmed, as device names.
SEMANTIC_PARAMETERS = {"from", "to", "lux_min", "exposure_min", "limit", "tz", "device", "cursor", "bucket", "start",
                       "camera_make", "camera_model"}
# Fixed ids, so that fuzzing can be told them: random ones are all 404s. The last one's full image expires.
PKS = [f"01JA{index:022d}" for index in range(7)]
EXPIRED = PKS[-1]
DATA = None  # the module's Dataset, once made
CASES: collections.Counter = collections.Counter()
WORKFLOW_STATUSES: collections.Counter = collections.Counter()


def rows() -> list[dict]:
    """Two devices, every trigger, missing lux and exposure, over two days."""
    return [dict(pk=PKS[i], device=("pi-door", "pi-garden")[i % 2], taken_at=START + dt.timedelta(hours=7 * i),
                 trigger=models.TRIGGERS[i % len(models.TRIGGERS)], lux=None if i == 2 else 12.5 * i,
                 exposure_us=None if i == 3 else 1000 * (i + 1), analogue_gain=1.5, colour_temp_k=5600)
            for i in range(6)]


class Target:
    """The WSGI app under test: the data is only made once Redis is up, after collection."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


def build(redis_url: str, prefix: str):
    settings_ = Settings(redis_url=redis_url, key_prefix=prefix, api_token=TOKEN, secret_key="schemathesis")
    # A short event stream: each case reads it to its end.
    # No 409 for a busy encoder: replayed scenarios must get the same replies whatever jobs still wait.
    return create_app(settings_, test_config={"TESTING": True, "EVENTS_HEARTBEAT": 0.05, "EVENTS_MAX_SECONDS": 0.1,
                                              "TIMELAPSE_MAX_WAITING": 100_000})


# The document is read at collection, when no Redis is up yet: serving it touches none, and
# each test's fixtures bind the models again before they run.
TARGET = Target(build("redis://127.0.0.1:1/0", "schemathesis-spec"))
CONFIG = schemathesis.Config.from_dict({
    "seed": 20261212,
    "auth": {"openapi": {"bearer": {"bearer": TOKEN}}},
    # The WSGI transport sends requests' Accept-Encoding but never decodes the reply: ask for none
    # (test_compression.py covers compressed replies).
    "headers": {"Accept-Encoding": "identity"},
    # schemathesis's defaults, and 410: a full image whose own TTL passed is gone, as documented.
    "checks": {"positive_data_acceptance": {
        "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "410", "429", "5xx"]}},
    # Besides what they make up, values that find something: the captures' ids, their devices,
    # dates around them in every ISO spelling, zones with and without DST.
    "dictionaries": {
        "ids": {"values": PKS},
        "devices": {"values": ["pi-door", "pi-garden"]},
        "dates": {"values": ["2026-03-01", "20260302", "2026-W09-7", "2026-061", "2026-03-01T14:00:00Z",
                             "2026-03-02T01:30:00+05:30", "2026-03-01T12:00:00-08:00", "9999-12-31", "0001-01-01"]},
        "zones": {"values": ["Europe/Berlin", "Asia/Kolkata", "America/St_Johns", "UTC"]},
    },
    "parameters": {
        "path.pk": {"dictionary": "ids", "probability": 0.5},
        "query.device": {"dictionary": "devices", "probability": 0.3},
        "query.from": {"dictionary": "dates", "probability": 0.3},
        "query.to": {"dictionary": "dates", "probability": 0.3},
        "query.tz": {"dictionary": "zones", "probability": 0.3},
    },
})
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", TARGET, config=CONFIG)


@pytest.fixture(scope="module", autouse=True)
def data(make_dataset, tiny_jpeg):
    """A few captures, one with its full image expired; the app under test serves them."""
    expiring = {**rows()[0], "pk": EXPIRED, "taken_at": START - dt.timedelta(days=1), "image_ttl": 1}
    dataset = make_dataset([*rows(), expiring])
    dataset.image = tiny_jpeg
    time.sleep(1.1)  # the full image's own TTL passes: /image is a 410, image_url null
    TARGET.app = build(dataset.redis_url, dataset.prefix)
    global DATA
    DATA = dataset
    return dataset


def accepts_valid_data(ctx, response, case):
    """positive_data_acceptance, but a 400 naming a parameter whose rules JSON Schema cannot say is fine."""
    try:
        return positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        body = response.json() if response.status_code == 400 else {}
        if body.get("parameter") in SEMANTIC_PARAMETERS:
            return None
        # A time-lapse of filters that match no capture is a 400 naming the first filter given.
        if case.operation.label == "POST /api/timelapses" and body.get("parameter"):
            return None
        raise


def check(case) -> None:
    CASES[case.operation.label] += 1
    response = case.call_and_validate(excluded_checks=[positive_data_acceptance],
                                      additional_checks=[accepts_valid_data])
    if case.method == "DELETE" and response.status_code == 204 and "pk" in case.path_parameters:
        restore(case.path_parameters["pk"])


def restore(pk: str) -> None:
    """Put back a capture DELETE took (it has the token), so the cases after it find it."""
    row = next(row for row in DATA.rows if row["pk"] == pk)  # with image_ttl for the expired one
    models.bind(DATA.redis_url, DATA.prefix)
    bulk.store_many([row], DATA.image)
    index_schema.wait_indexed()


@schema.include(operation_id=["listCaptures", "getFacets"]).parametrize()
@settings(max_examples=SEARCH_EXAMPLES, **SETTINGS)
def test_search(case):
    check(case)


@schema.include(operation_id=["getCapture", "getImage", "getThumbnail", "deleteCapture"]).parametrize()
@settings(max_examples=CAPTURE_EXAMPLES, **SETTINGS)
def test_one_capture(case):
    check(case)


@schema.include(operation_id=["getStats", "streamEvents", "getOpenapi", "getHealth", "exportZip"]).parametrize()
@settings(max_examples=OTHER_EXAMPLES, **SETTINGS)
def test_the_rest(case):
    check(case)


# Accepted ones encode real (tiny) videos in the background; most are refused: bad options, or
# filters that match no capture.
@schema.include(operation_id=["createTimelapse", "getTimelapse", "deleteTimelapse", "getTimelapseVideo"]).parametrize()
@settings(max_examples=TIMELAPSE_EXAMPLES, **SETTINGS)
def test_timelapses(case):
    check(case)


def test_the_event_stream_sends_what_the_document_says(data):
    """An announcement published while a stream is open, checked against the document's events."""
    client = TARGET.app.test_client()
    stream = client.get("/api/events", buffered=False)  # subscribed once the reply has begun
    models.bind(data.redis_url, data.prefix)
    assert events.publish(models.Capture.load(PKS[1])) >= 1
    body = stream.get_data()  # the stream ends itself after EVENTS_MAX_SECONDS
    assert b"event: capture" in body, body
    announcement = json.loads(body.split(b"data: ", 1)[1].split(b"\n", 1)[0])
    assert announcement["id"] == PKS[1] and "thumbnail_url" not in announcement  # not an Item
    case = schema.find_operation_by_label("GET /api/events").Case()
    case.validate_response(stream)


class Workflow(schema.as_state_machine()):
    """Follow the document's links: list, then a listed capture, its images, deleting it, reading it again."""

    def setup(self):
        # Deleting is part of the workflow, so every scenario starts from the same captures: Hypothesis
        # replays scenarios and needs the same replies (in shape) to draw the same steps.
        self.data.drop()
        models.bind(self.data.redis_url, self.data.prefix)
        index_schema.migrate()
        bulk.store_many(rows(), self.image)
        index_schema.wait_indexed()

    def before_call(self, case):
        CASES[f"stateful {case.operation.label}"] += 1

    def after_call(self, response, case):
        super().after_call(response, case)
        WORKFLOW_STATUSES[case.operation.label, response.status_code] += 1

    def validate_response(self, response, case, additional_checks=None, **kwargs):
        # As in the other tests: the same exemption for parameters with rules beyond their schema.
        case.validate_response(response, excluded_checks=[positive_data_acceptance],
                               additional_checks=[accepts_valid_data, *(additional_checks or [])],
                               transport_kwargs=kwargs or None)


@pytest.fixture
def workflow_data(data, tiny_jpeg):
    Workflow.data, Workflow.image = data, tiny_jpeg
    yield


@pytest.mark.usefixtures("workflow_data")
class TestWorkflow(Workflow.TestCase):
    """Runs last but for the count: it deletes captures, and replaces the module's data with its own."""

    settings = settings(max_examples=STATEFUL_EXAMPLES, stateful_step_count=STATEFUL_STEPS, **SETTINGS)


def test_enough_cases_ran():
    """The counts above make at least MINIMUM_CASES requests when the whole module runs."""
    operations = {result.ok().label for result in schema.get_all_operations()}
    if not operations <= set(CASES):
        pytest.skip(f"only part of the module ran: {sorted(operations - set(CASES))} had no cases")
    print(f"\nschemathesis: {sum(CASES.values())} cases: {dict(sorted(CASES.items()))}\n"
          f"workflow replies: {dict(sorted(WORKFLOW_STATUSES.items()))}")
    assert sum(CASES.values()) >= MINIMUM_CASES, CASES
    # The links were followed: listed captures were read, fetched, deleted, and gone after.
    for label, status in (("GET /api/captures/{pk}", 200), ("GET /api/captures/{pk}/thumbnail", 200),
                          ("DELETE /api/captures/{pk}", 204), ("GET /api/captures/{pk}", 404)):
        assert WORKFLOW_STATUSES[label, status], (label, status, WORKFLOW_STATUSES)
