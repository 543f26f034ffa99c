"""Keyset pagination: every capture exactly once, in order, past RediSearch's 10,000 offset limit."""
from __future__ import annotations

import datetime as dt

import pytest

from api_helpers import START, walk

WALK = 25_000


def order(rows, newest: bool) -> list[str]:
    return [r["pk"] for r in sorted(rows, key=lambda r: (r["taken_at"], r["pk"]), reverse=newest)]


@pytest.fixture(scope="module")
def many(make_dataset):
    """25,000 captures; groups of up to 5 share one instant, so ties straddle page edges."""
    rows = [dict(device=f"pi-{i % 4}", taken_at=START + dt.timedelta(seconds=i // (1 + i % 5)))
            for i in range(WALK)]
    return make_dataset(rows)


@pytest.mark.parametrize("sort", ["newest", "oldest"])
@pytest.mark.slow
def test_walking_25000_captures_returns_each_once_in_order(many, sort):
    items, replies = walk(many.client(), 200, sort=sort)
    ids = [i["id"] for i in items]
    assert len(ids) == WALK and len(set(ids)) == WALK
    assert ids == order(many.rows, sort == "newest")
    assert all(r["total"] == WALK for r in replies)


def test_filtered_walk_past_10000(many):
    expected = order([r for r in many.rows if r["device"] in ("pi-1", "pi-2", "pi-3")], True)
    assert len(expected) > 10_000
    items, _ = walk(many.client(), 173, device=["pi-1", "pi-2", "pi-3"])
    assert [i["id"] for i in items] == expected


@pytest.fixture(scope="module")
def ties(make_dataset):
    """Tie groups of 1 to 450 captures at one instant: bigger than any page."""
    rows, second = [], 0
    for size in (1, 2, 3, 47, 48, 49, 199, 200, 201, 450, 1, 5):
        rows += [dict(device=f"pi-{i % 3}", taken_at=START + dt.timedelta(seconds=second)) for i in range(size)]
        second += 1
    return make_dataset(rows)


@pytest.mark.parametrize("limit, sort", [
    (1, "newest"), (2, "oldest"), (47, "newest"), (48, "oldest"), (48, "newest"), (200, "oldest"), (200, "newest"),
])
def test_tie_groups_larger_than_a_page_are_neither_skipped_nor_repeated(ties, limit, sort):
    items, _ = walk(ties.client(), limit, sort=sort)
    assert [i["id"] for i in items] == order(ties.rows, sort == "newest")


@pytest.mark.parametrize("limit, pages", [(5, 1), (4, 2), (200, 1)])
def test_next_cursor_is_null_exactly_at_the_end(ties, limit, pages):
    # The last group: five captures at second 11.
    items, replies = walk(ties.client(), limit, **{"from": "2026-03-01T00:00:11Z"})
    assert len(items) == 5 and len(replies) == pages
    assert replies[-1]["next_cursor"] is None


def test_captures_arriving_while_paging_do_not_disturb_the_walk(make_dataset, tiny_jpeg):
    from models import bulk

    data = make_dataset([dict(device="pi", taken_at=START + dt.timedelta(minutes=i)) for i in range(30)])
    client = data.client()
    first = client.get("/api/captures", query_string={"limit": 10}).json
    newer = bulk.store_many([dict(device="pi", trigger="gpio", taken_at=START + dt.timedelta(days=1))], tiny_jpeg)
    items, cursor = list(first["items"]), first["next_cursor"]
    while cursor:
        reply = client.get("/api/captures", query_string={"limit": 10, "cursor": cursor}).json
        items += reply["items"]
        cursor = reply["next_cursor"]
        assert reply["total"] == 31
    assert newer[0] not in [i["id"] for i in items]
    assert [i["id"] for i in items] == order(data.rows, True)


BIG_TIE = 10_050  # more captures at one instant than RediSearch returns from one query


@pytest.fixture(scope="module")
def big_tie(make_dataset):
    """10,050 captures at one taken_at between a few single ones, from three devices."""
    rows = [dict(device="pi-0", taken_at=START + dt.timedelta(seconds=s)) for s in (-2, -1, 1, 2)]
    rows += [dict(device=f"pi-{i % 3}", taken_at=START) for i in range(BIG_TIE)]
    return make_dataset(rows)


@pytest.mark.parametrize("sort, limit", [("newest", 200), ("oldest", 199)])
def test_a_tie_group_over_10000_walks_completely_once_in_order(big_tie, sort, limit):
    items, replies = walk(big_tie.client(), limit, sort=sort)
    assert [i["id"] for i in items] == order(big_tie.rows, sort == "newest")
    assert len({i["id"] for i in items}) == BIG_TIE + 4
    assert {r["total"] for r in replies} == {BIG_TIE + 4}


def test_a_filtered_walk_through_a_big_tie_group(big_tie):
    expected = order([r for r in big_tie.rows if r["device"] in ("pi-1", "pi-2")], True)
    items, _ = walk(big_tie.client(), 200, device=["pi-1", "pi-2"], **{"from": "2026-03-01T00:00:00Z",
                                                                    "to": "2026-03-01T00:00:00Z"})
    assert [i["id"] for i in items] == expected and len(expected) == 6700
