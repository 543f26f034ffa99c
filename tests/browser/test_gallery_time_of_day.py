"""The time-of-day filter in Chromium: two time inputs, kept in the URL, sent with the browser's zone."""
from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import pytest
from browser_helpers import api_requests, new_capture, open_gallery, scroll_to_end, settle, tile_ids
from playwright.sync_api import expect

import models

NEW_YORK = ZoneInfo("America/New_York")  # the browser context's zone (conftest's page)


@pytest.fixture
def noon(live):
    """Captures at the edges of 12:00-12:15 New York time on the last days: three in, two just out."""
    today = dt.datetime.now(NEW_YORK).date()
    times = {"in": [(1, dt.time(12, 0)), (2, dt.time(12, 14, 59, 999000)), (3, dt.time(12, 7))],
             "out": [(1, dt.time(11, 59, 59, 999000)), (2, dt.time(12, 15))]}
    made = {side: [new_capture(dt.datetime.combine(today - dt.timedelta(days=days), at, NEW_YORK).astimezone(dt.timezone.utc))
                   for days, at in moments] for side, moments in times.items()}
    yield {side: [capture.pk for capture in captures] for side, captures in made.items()}
    for captures in made.values():
        for capture in captures:
            models.Capture.remove(capture.pk)


def local_time(item: dict) -> dt.time:
    return dt.datetime.fromisoformat(item["taken_at"].replace("Z", "+00:00")).astimezone(NEW_YORK).time()


def test_a_time_of_day_window_shows_only_its_captures(page, live, noon):
    everything = live.walk()
    expected = [item["id"] for item in everything if dt.time(12, 0) <= local_time(item) < dt.time(12, 15)]
    assert set(noon["in"]) <= set(expected) and not set(noon["out"]) & set(expected)
    open_gallery(page)
    page.fill("#time_from", "12:00")
    settle(page)
    page.fill("#time_to", "12:15")
    settle(page)
    scroll_to_end(page)
    assert tile_ids(page) == expected
    expect(page.locator("#total")).to_have_text(str(len(expected)))
    # In the address like every filter, and read by the API in the browser's zone.
    assert {("time_from", "12:00"), ("time_to", "12:15")} <= set(parse_qsl(urlsplit(page.url).query))
    for url in [api_requests(page)[-1], api_requests(page, "/api/facets?")[-1]]:
        sent = dict(parse_qsl(urlsplit(url).query))
        assert (sent["time_from"], sent["time_to"], sent["tz"]) == ("12:00", "12:15", "America/New_York"), url
    # Shown as an active filter, which survives a reload.
    expect(page.locator('[data-active="time-of-day"]')).to_contain_text("Every day 12:00–12:15")
    page.reload()
    settle(page)
    assert tile_ids(page) == expected
    expect(page.locator("#time_from")).to_have_value("12:00")
    expect(page.locator("#time_to")).to_have_value("12:15")
    # Cleared from the active filter: every capture again.
    page.get_by_label("Clear the time of day").click()
    settle(page)
    expect(page.locator("#time_from")).to_have_value("")
    expect(page.locator('[data-active="time-of-day"]')).to_have_count(0)
    assert "time_" not in page.url
    expect(page.locator("#total")).to_have_text(f"{len(everything):,}")


def test_a_window_across_midnight_with_the_timeline(page, live):
    open_gallery(page, "?time_from=22:00&time_to=02:00")
    everything = live.walk()
    expected = [item["id"] for item in everything if not dt.time(2, 0) <= local_time(item) < dt.time(22, 0)]
    scroll_to_end(page)
    assert tile_ids(page) == expected
    expect(page.locator('[data-active="time-of-day"]')).to_contain_text("Every day 22:00–02:00")
    # The timeline asks for the same window in the same zone, and so counts the same captures.
    url = api_requests(page, "/api/facets?")[-1]
    sent = parse_qsl(urlsplit(url).query)
    assert {("time_from", "22:00"), ("time_to", "02:00"), ("tz", "America/New_York")} <= set(sent), url
    assert live.api("/api/facets", sent)["total"] == len(expected)
