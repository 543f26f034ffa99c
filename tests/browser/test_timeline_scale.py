"""Issue #13 at scale: the scrubber over 100,000 captures lands on the date chosen with one
listing request, and scrolling through 20,000 of them keeps the page's DOM bounded.

Seeded once for the module with models.bulk (one shared image): a capture every 15 minutes
for about three years.
"""
from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import pytest
from browser_helpers import bind_back, close_tab, evenly_spaced, open_tab, settle
from playwright.sync_api import expect

pytestmark = pytest.mark.slow

NEW_YORK = ZoneInfo("America/New_York")
UTC = dt.timezone.utc
COUNT = 100_000
STEP = dt.timedelta(minutes=15)
PAGE = 200  # the server's page size here: 20,000 captures are 100 pages
SCROLLED = 20_000


@pytest.fixture(scope="module")
def big(redis_url):
    with evenly_spaced(redis_url, "big", COUNT, STEP, batch=5000, PAGE_SIZE=PAGE) as server:
        yield server


@pytest.fixture(autouse=True)
def bound(redis_url, big):
    bind_back(redis_url, big.prefix)


def listings(page) -> list[dict]:
    return [dict(parse_qsl(urlsplit(r.url).query)) for r in page.requests if "/api/captures?" in r.url]


def when(item_or_iso) -> dt.datetime:
    text = item_or_iso if isinstance(item_or_iso, str) else item_or_iso["taken_at"]
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize("size, sort", [("desktop", "newest"), ("phone", "newest"), ("desktop", "oldest")])
def test_the_scrubber_jumps_to_a_date_with_one_request(browser, big, artifacts, size, sort):
    newest = sort == "newest"
    page = open_tab(browser, big.url, size)
    page.goto("/" if newest else "/?sort=oldest")
    settle(page)
    rail = page.locator("#scrubber-rail")
    expect(rail).to_be_visible()
    expect(page.locator("#scrubber-labels .scrubber-label").first).to_be_visible()
    labels = page.locator("#scrubber-labels .scrubber-label").all_text_contents()
    assert {str(y) for y in range(dt.datetime.now(NEW_YORK).year - 2, dt.datetime.now(NEW_YORK).year + 1)} <= set(labels), labels
    lo, hi = (when(rail.get_attribute(f"data-{end}")) for end in ("lo", "hi"))
    box = rail.bounding_box()
    # 37% of the way down the rail: newest first, that is 37% of the time span back from its end.
    y = box["y"] + 0.37 * box["height"]
    target = hi - (hi - lo) * 0.37 if newest else lo + (hi - lo) * 0.37
    pixel = (hi - lo) / box["height"]
    before = len(listings(page))
    page.mouse.click(box["x"] + box["width"] / 2, y)
    settle(page)
    expect(page.locator("#grid li").first).to_be_visible()
    after = listings(page)[before:]
    # One request lands there: `start`, no cursor; the pages that follow continue by cursor.
    assert "start" in after[0] and "cursor" not in after[0], after[0]
    assert all("cursor" in p and "start" not in p for p in after[1:]), after
    assert len(after) <= 3, f"{len(after)} listing requests for one jump"
    start = when(after[0]["start"])
    assert abs(start - target) <= pixel * 1.5, (start, target, pixel)
    # The first tile is the API's first capture at or before that instant, under its day's heading.
    expected = big.api("/api/captures", [("start", after[0]["start"]), ("limit", 1), ("sort", sort)])["items"][0]
    first = page.locator("#grid li").first
    expect(first).to_have_attribute("data-id", expected["id"])
    assert start - STEP <= when(expected) <= start if newest else start <= when(expected) <= start + STEP
    local = when(expected).astimezone(NEW_YORK)
    heading = page.locator("#grid .day-heading").first.text_content()
    assert heading in (local.strftime("%A, %B %-d"), f"{local:%B} {local.day}, {local.year}"), heading
    # The grid is at the top of the screen, the scrubber's mark where it was clicked.
    assert -5 <= page.locator("#grid").bounding_box()["y"] <= 60
    thumb, box = page.locator("#scrubber-thumb").bounding_box(), rail.bounding_box()  # the rail sticks at the top now
    assert abs(thumb["y"] - (box["y"] + 0.37 * box["height"])) < 6, (thumb, box)
    if newest:
        page.screenshot(path=str(artifacts / f"scrubber-{size}.png"))

    # Scrolling back up loads the newer (oldest first: older) captures above, from the same instant the other way,
    # and the tile being looked at stays where it is.
    landed = page.locator(f'#grid li[data-id="{expected["id"]}"]')
    top = landed.bounding_box()["y"]
    shown = page.locator("#grid li").count()
    page.evaluate("() => window.scrollBy(0, -200)")
    expect(page.locator("#grid li")).not_to_have_count(shown)
    settle(page)
    newer = [p for p in listings(page)[before:] if p.get("sort") == ("oldest" if newest else "newest")]
    assert newer and newer[0].get("start") == after[0]["start"], listings(page)[before:]
    # Moved by the scroll (at most 200 px), not by the page put above it.
    assert top - 1 <= landed.bounding_box()["y"] <= top + 201
    assert page.locator("#grid li").first.get_attribute("data-id") != expected["id"]
    close_tab(page)


def test_the_scrubber_by_keyboard(browser, big):
    page = open_tab(browser, big.url, "desktop")
    page.goto("/")
    settle(page)
    rail = page.locator("#scrubber-rail")
    rail.focus()
    page.wait_for_timeout(200)  # focusing may scroll: the mark follows the first capture shown
    # The keys move from where the mark is.
    mark = dt.datetime.fromtimestamp(int(rail.get_attribute("aria-valuenow")) / 1000, UTC)
    before = len(listings(page))
    with page.expect_response(lambda r: "/api/captures?" in r.url and "start=" in r.url):
        page.keyboard.press("PageDown")  # a year back
        page.keyboard.press("PageDown")
        page.keyboard.press("ArrowDown")  # and a month
        expect(rail).to_have_attribute("aria-valuetext", re.compile(str(mark.astimezone(NEW_YORK).year - 2)))
    settle(page)
    expect(page.locator("#grid li").first).to_be_visible()
    after = listings(page)[before:]
    assert "start" in after[0], after  # the keys rested: one jump, not one per key
    assert len([p for p in after if "start" in p]) == 1
    local = mark.astimezone(NEW_YORK)
    month = local.month - 1 or 12
    back = local.replace(year=local.year - 2 - (local.month == 1), month=month)
    assert abs(when(after[0]["start"]) - back) < dt.timedelta(days=1), (after[0]["start"], back)
    close_tab(page)


def test_scrolling_through_20000_captures_keeps_the_dom_bounded(browser, big, capsys):
    page = open_tab(browser, big.url, "desktop")
    page.goto("/")
    settle(page)
    first = page.locator("#grid li").first.get_attribute("data-id")
    nodes = {}
    for _ in range(3000):  # scroll to the end of what is loaded, again and again, like a reader in a hurry
        pages = len(listings(page))
        # At the first look past each mark: pages served fast can land two between looks.
        for mark in (10 * PAGE, SCROLLED):
            if pages * PAGE >= mark and mark not in nodes:
                settle(page)
                nodes[mark] = page.evaluate("() => [document.getElementsByTagName('*').length, "
                                            "document.querySelectorAll('#grid li').length, performance.memory.usedJSHeapSize]")
        if pages >= SCROLLED // PAGE:
            break
        page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
        page.wait_for_timeout(30)
    listed = [p for p in listings(page) if "cursor" in p]
    assert len(listed) >= SCROLLED // PAGE - 1
    (small, small_tiles, small_heap), (large, large_tiles, large_heap) = nodes[10 * PAGE], nodes[SCROLLED]
    with capsys.disabled():
        print(f"\nDOM after {10 * PAGE:,} captures: {small:,} elements ({small_tiles} tiles), JS heap {small_heap / 1e6:.0f} MB; "
              f"after {SCROLLED:,}: {large:,} elements ({large_tiles} tiles), JS heap {large_heap / 1e6:.0f} MB")
    assert large_tiles <= 600 + PAGE, large_tiles
    assert large < small * 1.5, (small, large)
    # Back at the top, the first tiles are there again where they were.
    page.evaluate("() => window.scrollTo(0, 0)")
    expect(page.locator("#grid li").first).to_have_attribute("data-id", first)
    expect(page.locator("#grid li").first).to_be_in_viewport()
    close_tab(page)
