"""Bad input is a 400 naming the parameter; a Redis outage is a 503 the API recovers from."""
from __future__ import annotations

import datetime as dt

import pytest

import models
from index import schema
from pigallery import redis_server

WHEN = dt.datetime(2026, 6, 1, 12, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("query, parameter", [
    ("from=yesterday", "from"),
    ("from=2026-02-30", "from"),
    ("to=2026-06-01T25:00", "to"),
    ("to=", "to"),
    ("from=2026-06-02&to=2026-06-01", "from"),
    ("from=2026-06-01T12:00:00Z&to=2026-06-01T11:59:59Z", "from"),
    ("lux_min=5&lux_max=1", "lux_min"),
    ("lux_min=bright", "lux_min"),
    ("lux_max=nan", "lux_max"),
    ("lux_min=inf", "lux_min"),
    ("exposure_min=-1", "exposure_min"),
    ("exposure_max=1.5", "exposure_max"),
    ("exposure_min=900&exposure_max=100", "exposure_min"),
    ("sort=random", "sort"),
    ("sort=newest&sort=oldest", "sort"),
    ("limit=0", "limit"),
    ("limit=-5", "limit"),
    ("limit=201", "limit"),
    ("limit=ten", "limit"),
    ("cursor=garbage", "cursor"),
    ("cursor=", "cursor"),
    ("device=", "device"),
    ("device=%20%20", "device"),
    ("device=a%01b", "device"),
    ("device=" + "x" * 129, "device"),
    ("trigger=sunrise", "trigger"),
    ("trigger=GPIO", "trigger"),
    ("devices=pi", "devices"),
    ("from_=2026-01-01", "from_"),  # the field's Python name is not a parameter
    ("to_=2026-01-01", "to_"),
])
def test_bad_search_parameters_are_400_naming_the_parameter(client, query, parameter):
    reply = client.get(f"/api/captures?{query}")
    assert reply.status_code == 400, reply.json
    assert reply.json["parameter"] == parameter
    assert reply.json["error"] == "Bad Request" and parameter in reply.json["message"]


@pytest.mark.parametrize("query, parameter", [
    ("bucket=fortnight", "bucket"), ("from=never", "from"), ("limit=5", "limit"), ("cursor=x", "cursor"),
    ("lux_min=3&lux_max=2", "lux_min"), ("sort=up", "sort"),
])
def test_bad_facet_parameters_are_400(client, query, parameter):
    reply = client.get(f"/api/facets?{query}")
    assert reply.status_code == 400 and reply.json["parameter"] == parameter


@pytest.mark.parametrize("path", ["/api/captures", "/api/facets"])
@pytest.mark.parametrize("query, parameter", [
    ("to=9999-12-31T23:59:59-05:00", "to"),  # an instant in year 10000 in UTC
    ("from=0001-01-01T00:00:00%2B01:00", "from"),  # year 0 in UTC
    ("from=0001-01-01T00:00:00 01:00", "from"),  # the same with an unencoded plus
    ("from=2026-01-01&to=9999-12-31T23:59:59-05:00", "to"),
])
def test_dates_beyond_the_calendar_are_400_naming_the_parameter(client, store, path, query, parameter):
    reply = client.get(f"{path}?{query}")
    assert reply.status_code == 400, reply.json
    assert reply.json["parameter"] == parameter and "out of range" in reply.json["message"]


@pytest.mark.parametrize("query", ["from=0001-01-01", "to=9999-12-30", "to=9999-12-31T23:59:59.999999Z",
                                   "from=0001-01-01T01:00:00%2B01:00",
                                   "to=9999-12-31",  # the whole day, though it ends in year 10000
                                   "from=0001-01-01&to=9999-12-31"])
def test_the_calendars_own_ends_are_accepted(client, store, query):
    assert client.get(f"/api/captures?{query}").status_code == 200


def test_hourly_histogram_over_years_is_refused_not_truncated(client, store, jpeg):
    image = jpeg((64, 48))
    for year in (2021, 2025):
        store.create(image, device="pi", taken_at=dt.datetime(year, 1, 1, tzinfo=dt.timezone.utc), trigger="gpio")
    reply = client.get("/api/facets?bucket=hour")
    assert reply.status_code == 400 and reply.json["parameter"] == "bucket"
    assert len(client.get("/api/facets?bucket=day").json["histogram"]) == 2
    # A wide range over sparse data is fine: only two bars exist.
    assert client.get("/api/facets?bucket=hour&from=2024-01-01&to=2026-01-01").status_code == 200


def test_tampered_cursor_is_refused(client, store, jpeg):
    image = jpeg((64, 48))
    for minute in range(3):
        store.create(image, device="pi", taken_at=WHEN + dt.timedelta(minutes=minute), trigger="gpio")
    cursor = client.get("/api/captures?limit=1").json["next_cursor"]
    assert client.get(f"/api/captures?limit=1&cursor={cursor}").status_code == 200
    payload, _, signature = cursor.partition(".")
    import base64
    import json

    fields = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    fields[0] += 1000
    forged = base64.urlsafe_b64encode(json.dumps(fields).encode()).decode().rstrip("=") + "." + signature
    reply = client.get(f"/api/captures?limit=1&cursor={forged}")
    assert reply.status_code == 400 and reply.json["parameter"] == "cursor"
    other_sort = client.get(f"/api/captures?limit=1&sort=oldest&cursor={cursor}")
    assert other_sort.status_code == 400 and "sort" in other_sort.json["message"]


@pytest.mark.parametrize("value", [
    "2026-06-01T12:00:00Z", "2026-06-01T12:00:00", "2026-06-01 12:00", "2026-06-01T12:00:00.000%2B00:00",
    "2026-06-01T14:00:00%2B02:00", "2026-06-01T07:00:00-05:00",
    "2026-06-01T14:00:00+02:00",  # a raw "+" arrives as a space: still read as an offset
])
def test_the_same_instant_in_every_accepted_form(client, store, jpeg, value):
    store.create(jpeg((64, 48)), device="pi", taken_at=WHEN, trigger="gpio")
    store.create(jpeg((64, 48)), device="pi", taken_at=WHEN + dt.timedelta(seconds=1), trigger="gpio")
    reply = client.get(f"/api/captures?from={value}&to={value}")
    assert reply.status_code == 200 and reply.json["total"] == 1, value


@pytest.mark.parametrize("method, path, status", [
    ("get", "/api/nothing-here", 404),
    ("post", "/api/captures", 405),
    ("put", "/api/captures/01ZZZZZZZZZZZZZZZZZZZZZZZZ", 405),
])
def test_unknown_routes_and_methods_answer_json(client, method, path, status):
    reply = getattr(client, method)(path)
    assert reply.status_code == status and reply.is_json and reply.json["error"]


def test_missing_index_is_503_not_500_and_never_created_by_a_request(client, store):
    schema.drop()
    for path in ("/api/captures", "/api/facets", "/api/stats"):
        reply = client.get(path)
        assert reply.status_code == 503 and "pigallery index create" in reply.json["message"], path
    health = client.get("/healthz")
    assert health.status_code == 503 and health.json["redis"] is True and health.json["index"] is None
    assert not schema.exists()


def test_redis_outage_is_503_and_the_api_recovers_by_itself(own_server, key_prefix, jpeg):
    from search_web import create_app

    app = create_app(test_config={"TESTING": True, "REDIS_URL": own_server.url, "KEY_PREFIX": key_prefix})
    schema.migrate()
    capture = models.Capture.create(jpeg((64, 48)), device="pi", taken_at=WHEN, trigger="gpio")
    client = app.test_client()
    paths = ["/api/captures", f"/api/captures/{capture.pk}", f"/api/captures/{capture.pk}/thumbnail",
             "/api/facets", "/api/stats", "/api/events"]
    assert all(client.get(p, buffered=p != "/api/events").status_code == 200 for p in paths[:-1])

    redis_server.stop(own_server)
    for path in paths:
        reply = client.get(path)
        assert reply.status_code == 503, path
        assert reply.is_json and "Redis" in reply.json["message"] and reply.headers["Retry-After"]
    assert client.get("/healthz").status_code == 503

    redis_server.start(own_server)  # appendonly: the capture comes back with the server
    schema.wait_indexed()
    assert client.get("/healthz").status_code == 200
    assert client.get("/api/captures").json["total"] == 1
    assert client.get(f"/api/captures/{capture.pk}/thumbnail").status_code == 200


def test_a_query_redisearch_refuses_is_json_not_a_traceback(own_server, key_prefix, jpeg):
    from search_web import create_app

    app = create_app(test_config={"TESTING": True, "REDIS_URL": own_server.url, "KEY_PREFIX": key_prefix})
    schema.migrate()
    for second in range(3):
        models.Capture.create(jpeg((64, 48)), device="pi", taken_at=WHEN + dt.timedelta(seconds=second), trigger="gpio")
    schema.wait_indexed()
    # A server whose operator lowered RediSearch's result limit below one page.
    models.Capture.db().execute_command("FT.CONFIG", "SET", "MAXSEARCHRESULTS", "2")
    reply = app.test_client().get("/api/captures?limit=48")
    assert reply.status_code == 503 and reply.is_json
    assert "LIMIT exceeds maximum of 2" in reply.json["message"]
