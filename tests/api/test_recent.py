"""index.recent: a page read from a narrowed recent window equals the plain query's page (DIALECT 2 truth)."""
from __future__ import annotations

import dataclasses
import datetime as dt
import random

import pytest

import models
from index import query, recent
from index.filters import Filters

UTC = dt.timezone.utc
NEWEST = 1_780_000_020  # whole minutes: window edges (whole seconds from whole-minute anchors) land on tie groups
DEVICES = ("pi-garden", "pi-door", "pi-attic", "pi-shed")


def tied_rows(seed: int) -> list[dict]:
    """A minute grid going back from NEWEST, 1-6 captures a minute (ties), with a 20-day gap."""
    rng = random.Random(seed)
    rows, minute = [], 0
    while len(rows) < 2500:
        gap = 20 * 1440 if len(rows) == 1800 else 0  # an idle stretch: windows must widen past it
        minute += 1 + gap + (rng.random() < 0.3) * rng.randrange(1, 30)
        for _ in range(rng.randrange(1, 7)):
            rows.append(dict(device=rng.choice(DEVICES), trigger=rng.choice(models.TRIGGERS),
                             taken_at=dt.datetime.fromtimestamp(NEWEST - 60 * minute, UTC),
                             lux=rng.randrange(0, 1000)))
    return rows


@pytest.fixture(scope="module")
def data(make_dataset):
    return make_dataset(tied_rows(11))


def random_filters(rng: random.Random) -> Filters:
    span = (NEWEST - 60 * 3 * 1440, NEWEST + 60)
    since = rng.choice([None, rng.randrange(*span)])
    until = rng.choice([None, None, rng.randrange(since or span[0], span[1] + 60)])
    lux = sorted(rng.randrange(0, 1000) for _ in range(2))
    return Filters(
        since=since, until=until,
        devices=tuple(rng.sample(DEVICES, rng.choice([0, 0, 1, 2]))),
        triggers=tuple(rng.sample(list(models.TRIGGERS), rng.choice([0, 0, 1]))),
        lux_min=lux[0] if rng.random() < 0.3 else None, lux_max=lux[1] if rng.random() < 0.3 else None)


def plain_page(monkeypatch, *args):
    """The page without narrowing (PROBES 0 makes narrow() give up at once): the truth."""
    with monkeypatch.context() as m:
        m.setattr(recent, "PROBES", 0)
        return query.page(*args)


def test_narrowed_pages_are_the_plain_pages(data, monkeypatch):
    models.bind(data.redis_url, data.prefix)
    rng = random.Random(5)
    narrowed = edge_ties = 0
    for case in range(60):
        filters, limit = random_filters(rng), rng.choice([1, 2, 5, 24, 48, 60])
        now = rng.choice([NEWEST, NEWEST + 3600 * 24 * 30])  # a live gallery, and one idle for a month
        after = None
        for _ in range(4):  # the first page and three keyset pages
            truth = plain_page(monkeypatch, filters, limit, after)
            window = recent.narrow(filters, limit + 1, after, now=now)
            if window is not None:
                narrowed += 1
                assert window.since > (filters.since or float("-inf"))
                assert dataclasses.replace(window, since=filters.since) == filters  # only since moved
                edge = [r for r in data.rows if r["taken_at"].timestamp() == window.since]
                edge_ties += len(edge) > 1
                got = query.page(window, limit, after)
                assert [i["id"] for i in got.items] == [i["id"] for i in truth.items], (case, filters, after)
                assert got.next == truth.next and got.items == truth.items
            if truth.next is None:
                break
            after = truth.next
    # Not vacuous: most pages were read from a window, and windows cut tie groups at their edge.
    assert narrowed > 100 and edge_ties > 10, (narrowed, edge_ties)


def test_what_narrowing_leaves_alone(data):
    models.bind(data.redis_url, data.prefix)
    assert recent.narrow(Filters(), 49, newest_first=False, now=NEWEST) is None
    windowed = Filters(time_from=360, time_to=420)
    assert recent.narrow(windowed, 49, now=NEWEST) is None
    # A range smaller than the first window: nothing to narrow.
    assert recent.narrow(Filters(since=NEWEST - 600), 49, now=NEWEST) is None
    # More than the whole collection asked for: the windows never fill, the plain query answers.
    assert recent.narrow(Filters(), 10**6, now=NEWEST) is None
    window = recent.narrow(Filters(), 49, now=NEWEST)
    assert window is not None and NEWEST - window.since <= recent.FIRST * recent.GROWTH


def test_pages_keep_an_exact_total(data):
    # Whether or not page() reads a window, its total counts every match.
    models.bind(data.redis_url, data.prefix)
    for filters in (Filters(), Filters(devices=("pi-door",)), Filters(until=NEWEST - 3600)):
        first = query.page(filters, 48)
        assert first.total == query.count(filters) == sum(
            1 for r in data.rows if (not filters.devices or r["device"] in filters.devices)
            and (filters.until is None or r["taken_at"].timestamp() < filters.until))
        assert query.page(filters, 48, first.next).total == first.total


def test_a_tie_group_on_the_window_edge_is_read_whole(data, monkeypatch):
    # A window holding exactly the page, the last of it a tie group at the window's lower edge.
    models.bind(data.redis_url, data.prefix)
    times = sorted({r["taken_at"].timestamp() for r in data.rows}, reverse=True)
    edge = next(t for t in times if NEWEST - t >= 3000 and sum(r["taken_at"].timestamp() == t for r in data.rows) >= 3)
    inside = sum(r["taken_at"].timestamp() >= edge for r in data.rows)
    window = recent.narrow(Filters(), inside, now=edge + recent.FIRST)
    assert window is not None and window.since == edge
    got, truth = query.page(window, inside - 1), plain_page(monkeypatch, Filters(), inside - 1)
    assert got.items == truth.items and got.next == truth.next and got.items[-1]["taken_at"] == edge
    # One more than the window holds: it widens.
    wider = recent.narrow(Filters(), inside + 1, now=edge + recent.FIRST)
    assert wider is not None and wider.since < edge


def test_an_upper_bound_far_ahead_starts_the_windows_at_now(data, monkeypatch):
    # to=9999-12-31 (the calendar's end) must not make every window empty years ahead of the captures.
    models.bind(data.redis_url, data.prefix)
    far = Filters(until=253402300800.0)
    window = recent.narrow(far, 49, now=NEWEST)
    assert window is not None and window.until == far.until and NEWEST - window.since <= recent.FIRST * recent.GROWTH
    got, truth = query.page(window, 48), plain_page(monkeypatch, far, 48)
    assert got.items == truth.items and got.next == truth.next
