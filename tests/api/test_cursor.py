"""A cursor belongs to the filters and sort it was issued for: with others it is a 400, not a wrong page."""
from __future__ import annotations

import datetime as dt

import pytest

from api_helpers import START

DEVICES = ("pi-door", "pi-garden", "pi-attic")


@pytest.fixture(scope="module")
def data(make_dataset):
    """90 captures an hour apart over four days, three devices taking turns."""
    rows = [dict(device=DEVICES[i % 3], taken_at=START + dt.timedelta(hours=i), trigger=("gpio", "interval")[i % 2],
                 lux=float(i)) for i in range(90)]
    return make_dataset(rows)


@pytest.fixture(scope="module")
def client(data):
    return data.client()


def first_cursor(client, query: str) -> str:
    reply = client.get(f"/api/captures?limit=5&{query}")
    assert reply.status_code == 200, reply.json
    assert reply.json["next_cursor"]
    return reply.json["next_cursor"]


FILTERED = "device=pi-door&from=2026-03-01&to=2026-03-03"


@pytest.mark.parametrize("other", [
    "",  # no filters at all: would silently page through every device
    "device=pi-garden",
    "device=pi-door",  # the device alone, without its time range
    "device=pi-door&device=pi-garden&from=2026-03-01&to=2026-03-03",
    "device=pi-garden&from=2026-03-01&to=2026-03-03",
    "device=pi-door&from=2026-03-02&to=2026-03-03",
    "device=pi-door&from=2026-03-01&to=2026-03-04",
    "device=pi-door&from=2026-03-01",
    "device=pi-door&from=2026-03-01&to=2026-03-03&trigger=gpio",
    "device=pi-door&from=2026-03-01&to=2026-03-03&lux_min=1",
])
def test_a_cursor_sent_with_other_filters_is_a_400_naming_cursor(client, other):
    cursor = first_cursor(client, FILTERED)
    reply = client.get(f"/api/captures?limit=5&cursor={cursor}&{other}")
    assert reply.status_code == 400, reply.json
    assert reply.json["parameter"] == "cursor"
    message = reply.json["message"]
    assert "filters changed" in message and "same filters" in message and "without cursor" in message


def test_a_cursor_made_without_filters_is_refused_with_filters(client):
    cursor = first_cursor(client, "")
    reply = client.get(f"/api/captures?limit=5&cursor={cursor}&device=pi-door")
    assert reply.status_code == 400 and reply.json["parameter"] == "cursor"


def test_a_cursor_sent_with_another_sort_still_says_sort(client):
    cursor = first_cursor(client, FILTERED)
    reply = client.get(f"/api/captures?limit=5&cursor={cursor}&{FILTERED}&sort=oldest")
    assert reply.status_code == 400 and reply.json["parameter"] == "cursor"
    assert "sort=newest" in reply.json["message"] and "without cursor" in reply.json["message"]


# Each page of one walk is asked for with the next spelling of the same filters.
SPELLINGS = [
    "device=pi-door&device=pi-garden&from=2026-03-01&to=2026-03-03&trigger=gpio&trigger=interval",
    "device=pi-garden&device=pi-door&from=2026-03-01T00:00:00Z&to=2026-03-03&trigger=interval&trigger=gpio",
    "from=2026-03-01T01:00:00%2B01:00&device=pi-door&device=pi-garden&device=pi-door&to=2026-03-03"
    "&trigger=gpio&trigger=interval",
    "device=pi-garden&device=pi-door&from=2026-03-01T00:00&to=2026-03-03&trigger=gpio&trigger=gpio&trigger=interval",
]


@pytest.mark.parametrize("sort", ["newest", "oldest"])
def test_the_same_filters_spelled_differently_keep_paging(client, data, sort):
    start, end = START, START + dt.timedelta(days=3)
    expected = [r["pk"] for r in sorted(data.rows, key=lambda r: (r["taken_at"], r["pk"]), reverse=sort == "newest")
                if r["device"] in ("pi-door", "pi-garden") and start <= r["taken_at"] < end]
    ids, cursor, page = [], None, 0
    while True:
        query = f"{SPELLINGS[page % len(SPELLINGS)]}&sort={sort}&limit=7" + (f"&cursor={cursor}" if cursor else "")
        reply = client.get(f"/api/captures?{query}")
        assert reply.status_code == 200, (query, reply.json)
        ids += [i["id"] for i in reply.json["items"]]
        cursor, page = reply.json["next_cursor"], page + 1
        if not cursor:
            break
    assert page > len(SPELLINGS)  # every spelling carried a cursor at least once
    assert ids == expected and len(expected) == 48


def test_a_signed_cursor_of_the_older_shape_says_start_again(client):
    from search_web.api import cursors

    # What the API issued before cursors carried their filters: position and sort only.
    with client.application.app_context():
        old = cursors().serializer.dumps([START.timestamp(), "01J0000000000000000000000A", "newest"])
    reply = client.get(f"/api/captures?limit=5&cursor={old}")
    assert reply.status_code == 400 and reply.json["parameter"] == "cursor"
    assert "without cursor" in reply.json["message"]
