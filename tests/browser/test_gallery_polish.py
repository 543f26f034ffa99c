"""Issue #13, the limits left after the redesign: a scrubber jump kept in the URL, the viewer's
"previous" past the top of a jumped grid, the selection bar beside the sticky day headings, a
rail that stays under the pointer with labels that never overlap, and the items' data let go
far off the screen and recalled (by `start=`) when scrolled back to or stepped into by the viewer.

The captures: one every 6 hours for two years up to an hour ago (models.bulk, one shared image),
so the timeline has weekly bars and the scrubber months, and a jump lands mid-listing.
"""
from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qsl, urlsplit

import pytest
from browser_helpers import bind_back, close_tab, evenly_spaced, open_tab, settle, swipe, tile_ids
from playwright.sync_api import expect

STEP = dt.timedelta(hours=6)
COUNT = 4 * 365 * 2


@pytest.fixture(scope="module")
def years(redis_url):
    with evenly_spaced(redis_url, "polish", COUNT, STEP) as server:
        yield server


@pytest.fixture(autouse=True)
def bound(redis_url, years):
    bind_back(redis_url, years.prefix)


@pytest.fixture(params=["desktop", "phone"])
def tab(request, browser, years):
    page = open_tab(browser, years.url, request.param)
    yield page
    close_tab(page)


def listings(page) -> list[dict]:
    return [dict(parse_qsl(urlsplit(r.url).query)) for r in page.requests if "/api/captures?" in r.url]


def click_rail(page, fraction: float) -> None:
    """Click the scrubber `fraction` of the way down, and wait for the grid it lands on."""
    rail = page.locator("#scrubber-rail")
    expect(rail).to_be_visible()
    box = rail.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + fraction * box["height"])
    page.wait_for_function("() => new URLSearchParams(location.search).has('at')")
    settle(page)
    expect(page.locator("#grid li").first).to_be_visible()


def test_a_jump_is_in_the_url_so_a_reload_or_back_lands_at_the_same_date(tab, years):
    tab.goto("/")
    settle(tab)
    newest = tile_ids(tab)[0]
    click_rail(tab, 0.5)
    at = dict(parse_qsl(urlsplit(tab.url).query))["at"]
    landed = tile_ids(tab)[0]
    assert landed != newest
    # Reloaded (or opened from a shared link): one listing request from that instant lands there.
    before = len(listings(tab))
    tab.reload()
    settle(tab)
    expect(tab.locator("#grid li").first).to_have_attribute("data-id", landed)
    after = listings(tab)[before:]
    assert after[0].get("start") == at and "cursor" not in after[0], after
    assert len([p for p in after if p.get("start") and p.get("sort") != "oldest"]) == 1, after
    assert all("at" not in p for p in after), "`at` is the page's, not an API filter"
    assert -5 <= tab.locator("#grid").bounding_box()["y"] <= 60
    # Back: the view before the jump, from the top; forward: the jump again.
    tab.go_back()
    expect(tab.locator("#grid li").first).to_have_attribute("data-id", newest)
    assert "at=" not in tab.url
    tab.go_forward()
    expect(tab.locator("#grid li").first).to_have_attribute("data-id", landed)
    # A new filter starts the view at the top again, the jump left behind.
    tab.goto(f"/?at={at}")
    settle(tab)
    # No chip for `at`: it filters nothing.
    expect(tab.locator("#active-filters [data-active]")).to_have_count(0)
    tab.evaluate("() => { const s = document.querySelector('#sort'); s.value = 'oldest'; s.dispatchEvent(new Event('change', {bubbles: true})); }")
    settle(tab)
    assert "at=" not in tab.url and "sort=oldest" in tab.url


def test_previous_in_the_viewer_loads_the_newer_captures_above_a_jump(tab, years):
    tab.goto("/")
    settle(tab)
    click_rail(tab, 0.6)
    landed = tile_ids(tab)[0]
    taken = years.api(f"/api/captures/{landed}")["taken_at"]
    # The captures just newer than the first tile, nearest first: what "previous" shows.
    above = [i["id"] for i in years.api("/api/captures", [("sort", "oldest"), ("start", taken), ("limit", 4)])["items"] if i["id"] != landed]
    assert not any(i in tile_ids(tab) for i in above[:2]), "the newer captures are not loaded yet"
    tab.locator("#grid li .tile-button").first.click()
    expect(tab.locator("#lb-meta")).to_contain_text(landed)
    expect(tab.locator("#lb-prev")).to_be_enabled()
    for expected in above[:2]:
        if tab.size == "phone":
            swipe(tab, 200)  # finger left to right: the previous one
        else:
            tab.keyboard.press("ArrowLeft")
        expect(tab.locator("#lb-meta")).to_contain_text(expected)
    newer = [p for p in listings(tab) if p.get("sort") == "oldest"]
    assert newer and newer[0].get("start"), newer
    # And back down to where it began.
    tab.keyboard.press("ArrowRight")
    tab.keyboard.press("ArrowRight")
    expect(tab.locator("#lb-meta")).to_contain_text(landed)


def test_the_selection_bar_and_the_sticky_day_heading_do_not_overlap(tab, years, artifacts):
    tab.goto("/")
    settle(tab)
    tab.locator("#grid li .tile-select").first.check()
    expect(tab.locator("#selection-bar")).to_be_visible()
    # A day well down the page, its start scrolled 60 px above the bar's bottom: its heading sticks.
    tab.evaluate("() => document.querySelectorAll('#grid .day')[6].scrollIntoView()")
    tab.wait_for_timeout(100)
    tab.evaluate("""() => {
        const bar = document.querySelector('#selection-bar').getBoundingClientRect();
        const day = document.querySelectorAll('#grid .day')[6].getBoundingClientRect();
        window.scrollBy(0, day.top - bar.bottom + 60);
    }""")
    tab.wait_for_timeout(100)
    bar = tab.locator("#selection-bar").bounding_box()
    heading = tab.locator("#grid .day").nth(6).locator(".day-heading")
    box = heading.bounding_box()
    assert bar["y"] <= 1, f"the bar sticks at the top: {bar}"
    assert bar["y"] + bar["height"] - 0.5 <= box["y"] <= bar["y"] + bar["height"] + 1, (bar, box)
    # Nothing covers it: the point in its middle is the heading's own.
    assert heading.evaluate("h => { const r = h.getBoundingClientRect(); "
                            "return h.contains(document.elementFromPoint(r.left + 20, r.top + r.height / 2)); }")
    tab.screenshot(path=str(artifacts / f"selection-sticky-{tab.size}.png"))


def test_the_rail_stays_under_the_pointer_and_its_labels_do_not_overlap(tab, years, artifacts):
    tab.goto("/")
    settle(tab)
    rail = tab.locator("#scrubber-rail")
    expect(rail).to_be_visible()
    expect(tab.locator("#scrubber-labels .scrubber-label").first).to_be_attached()
    before = rail.bounding_box()
    click_rail(tab, 0.4)
    after = rail.bounding_box()
    assert abs(after["y"] - before["y"]) <= 1 and abs(after["height"] - before["height"]) <= 1, (before, after)
    assert before["y"] + before["height"] <= tab.viewport_size["height"], "the whole rail is on the screen"
    # The mark is where the pointer chose, on the rail that did not move.
    thumb = tab.locator("#scrubber-thumb").bounding_box()
    assert abs(thumb["y"] - (before["y"] + 0.4 * before["height"])) < 6, (thumb, before)
    # Scrolled on, it stays there too.
    tab.mouse.wheel(0, 1200)
    tab.wait_for_timeout(200)
    assert abs(rail.bounding_box()["y"] - before["y"]) <= 1
    labels = sorted((b for b in (label.bounding_box() for label in tab.locator("#scrubber-labels .scrubber-label").all()) if b),
                    key=lambda b: b["y"])
    assert len(labels) >= 2
    for upper, lower in zip(labels, labels[1:]):
        assert lower["y"] >= upper["y"] + upper["height"] - 0.5, (upper, lower)
    texts = tab.locator("#scrubber-labels .scrubber-label").all_text_contents()
    assert any(re.fullmatch(r"\d{4}", t) for t in texts), texts  # the years are kept first
    tab.screenshot(path=str(artifacts / f"scrubber-stable-{tab.size}.png"))


def test_far_captures_data_is_let_go_and_comes_back_when_needed(browser, years):
    """The items' data is bounded like the DOM: 2,920 scrolled hold at most HELD (2,400) + a page."""
    page = open_tab(browser, years.url, "desktop")
    page.goto("/")
    settle(page)
    newest = years.api("/api/captures", [("limit", 100)])["items"]
    for _ in range(400):
        settle(page)
        if "End of results" in (page.text_content("#more") or ""):
            break
        page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
        page.wait_for_timeout(30)
    expect(page.locator("#more")).to_contain_text("End of results")
    held = int(page.get_attribute("#grid", "data-held") or COUNT)
    assert held <= 2400 + 48, f"{held} of {COUNT} captures' data held"
    assert held < COUNT
    # Back at the top, the first tiles come back (one `start=` request a chunk), in order.
    before = len(listings(page))
    page.evaluate("() => window.scrollTo(0, 0)")
    expect(page.locator("#grid li").first).to_have_attribute("data-id", newest[0]["id"])
    expect(page.locator("#grid li").first).to_be_in_viewport()
    recalled = listings(page)[before:]
    assert recalled and all("start" in p and "cursor" not in p for p in recalled), recalled
    # The viewer steps on past the chunks that came back, into ones still let go.
    page.locator("#grid li .tile-button").first.click()
    for item in newest[1:80]:
        page.keyboard.press("ArrowRight")
        expect(page.locator("#lb-meta")).to_contain_text(item["id"])
    close_tab(page)
