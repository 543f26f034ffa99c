"""Issue #13 in Chromium at 1440x900 and 390x844: day sections with years, a dense grid, the dark
viewer with swipe and every detail, filter chips, honest empty and error states, selection.

The captures: real EXIF photos imported from ../shared/data/exif-samples (2008 with camera and
GPS; a portrait stored 600x450 with orientation 6 whose time is its file's date, 2015) and
synthetic ones from today and yesterday. Screenshots of each state go to test-artifacts/.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import uuid
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import pytest
from browser_helpers import TOKEN, bind_back, close_tab, drop_prefix, new_capture, open_tab, serve, settle, swipe, tile_ids
from playwright.sync_api import expect

import models
from capture.importer import import_tree
from index import schema

NEW_YORK = ZoneInfo("America/New_York")
UTC = dt.timezone.utc
IMPORTED = ("gps/DSCN0010.jpg", "gps/DSCN0012.jpg", "orientation/portrait_6.jpg")
FILE_TIME = dt.datetime(2015, 9, 8, 16, 0, tzinfo=UTC)  # portrait_6 has no EXIF date: this is its file's
TODAY, YESTERDAY = 14, 6  # synthetic captures, seconds apart, today and yesterday


@pytest.fixture(scope="module")
def photos(redis_url, samples, tmp_path_factory):
    """A gallery of its own, served; `.ids` names the captures by what they are."""
    prefix = f"photo{uuid.uuid4().hex[:8]}"
    models.bind(redis_url, prefix)
    schema.migrate()
    folder = tmp_path_factory.mktemp("import")
    for name in IMPORTED:
        target = folder / name.replace("/", "_")
        shutil.copyfile(samples / name, target)
        os.utime(target, (FILE_TIME.timestamp(), FILE_TIME.timestamp()))
    report = import_tree(folder, zone=UTC, progress=False)
    assert report.imported == len(IMPORTED), report.skipped
    # At 10:00 New York time today and yesterday, so that a run just after midnight splits no day.
    today = dt.datetime.combine(dt.datetime.now(NEW_YORK).date(), dt.time(10), NEW_YORK).astimezone(UTC)
    made = [new_capture(today - dt.timedelta(seconds=10 * i), device=("pi-garden", "pi-door")[i % 2]) for i in range(TODAY)]
    made += [new_capture(today - dt.timedelta(days=1, seconds=10 * i), device="pi-door") for i in range(YESTERDAY)]
    schema.wait_indexed()
    with serve(redis_url, prefix) as server:
        server.prefix = prefix
        items = server.api("/api/captures", [("limit", 200)])["items"]
        server.ids = {
            "gps": next(i["id"] for i in items if i["taken_at"].startswith("2008-10-22T16:28")),
            "portrait": next(i["id"] for i in items if i["taken_at"].startswith("2015-09-08")),
            "newest": made[0].pk,
        }
        server.items = items
        yield server
    drop_prefix(redis_url, prefix)


@pytest.fixture(autouse=True)
def bound(redis_url, photos):
    """Point the models at this module's captures (the package's `bound` points them elsewhere)."""
    bind_back(redis_url, photos.prefix)


@pytest.fixture(params=["desktop", "phone"])
def tab(request, browser, photos):
    page = open_tab(browser, photos.url, request.param)
    yield page
    close_tab(page)


def shot(page, artifacts, name: str) -> None:
    page.screenshot(path=str(artifacts / f"{name}-{page.size}.png"))


def headings(page) -> list[str]:
    return page.locator("#grid .day-heading").all_text_contents()


def columns(page, day: int = 0) -> int:
    """Tiles in the first row of a day section: those as high up as its first tile."""
    return page.eval_on_selector(f"#grid .day:nth-child({day + 1}) .day-tiles", """ul => {
        const tops = [...ul.children].map((li) => Math.round(li.getBoundingClientRect().top));
        return tops.filter((top) => top === tops[0]).length;
    }""")


def scroll_to_end(page) -> None:
    for _ in range(20):
        settle(page)
        if "End of results" in (page.text_content("#more") or ""):
            return
        page.mouse.wheel(0, 5000)
        page.wait_for_timeout(150)
    raise AssertionError("never reached the end")


def test_days_have_headings_with_the_year_when_not_this_one_and_the_grid_is_dense(tab, photos, artifacts):
    tab.goto("/")
    settle(tab)
    expect(tab.locator("#grid li").first).to_be_visible()
    # Sections by the viewer's day, newest first: today, yesterday, then the imports by year.
    first = headings(tab)
    assert first[:2] == ["Today", "Yesterday"], first
    tab.wait_for_function("() => [...document.querySelectorAll('#grid img')].slice(0, 6).every(i => i.complete && i.naturalWidth)")
    shot(tab, artifacts, "grid")
    assert columns(tab) >= (6 if tab.size == "desktop" else 3), columns(tab)
    scroll_to_end(tab)
    shown = headings(tab)
    # 2008-10-22 16:28 UTC is 12:28 in New York; the portrait's file date 2015-09-08 16:00 UTC is noon.
    assert shown[2:] == ["September 8, 2015", "October 22, 2008"], shown
    assert not any(str(dt.datetime.now(NEW_YORK).year) in h for h in shown), "this year's days go without it"
    # The heading sticks while its day's tiles scroll under it.
    tab.locator("#grid .day").last.scroll_into_view_if_needed()
    old = tab.locator("#grid .day-heading", has_text="2008")
    expect(old).to_be_visible()
    shot(tab, artifacts, "day-headings")
    # Device and time stay readable without a pointer: in each tile's accessible name.
    tile = tab.locator(f'#grid li[data-id="{photos.ids["gps"]}"] .tile-button')
    expect(tile).to_have_attribute("aria-label", re.compile(r"NIKON COOLPIX P6000.*2008"))
    expect(tab.locator("#grid .tile-caption").first).to_be_attached()


def test_the_viewer_is_dark_swipes_and_shows_every_detail(tab, photos, artifacts):
    item = next(i for i in photos.items if i["id"] == photos.ids["gps"])
    if "camera_make" not in item:
        pytest.skip("the API does not send camera, GPS and orientation yet (issue #13's API part)")
    tab.goto("/")
    settle(tab)
    scroll_to_end(tab)
    tab.locator(f'#grid li[data-id="{photos.ids["gps"]}"] .tile-button').click()
    viewer = tab.locator("#lightbox")
    expect(viewer).to_have_class(re.compile("is-active"))
    # Full screen, on black.
    box = tab.locator("#lightbox .viewer").bounding_box()
    size = tab.viewport_size
    assert (box["width"], box["height"]) == (size["width"], size["height"])
    background = tab.eval_on_selector("#lightbox .viewer", "v => getComputedStyle(v).backgroundColor")
    assert sum(map(int, re.findall(r"\d+", background)[:3])) < 60, background
    tab.wait_for_function("() => document.querySelector('#lb-image').naturalWidth > 0")
    if tab.size == "phone":
        # The picture takes the screen; the details come with a tap.
        assert tab.locator("#lb-image").bounding_box()["width"] >= size["width"] - 1
        expect(tab.locator("#lb-panel")).to_be_hidden()
        shot(tab, artifacts, "viewer")
        tab.locator("#lb-info").click()
    expect(tab.locator("#lb-panel")).to_be_visible()
    meta = tab.locator("#lb-meta")
    expect(meta).to_contain_text("NIKON COOLPIX P6000")
    expect(meta).to_contain_text("Oct 22, 2008, 12:28:39 PM EDT")  # the year and the zone
    link = meta.locator('[data-field="location"]')
    expect(link).to_have_text(f"{item['latitude']:.5f}, {item['longitude']:.5f}")
    query = dict(parse_qsl(urlsplit(link.get_attribute("href")).query))
    assert (float(query["mlat"]), float(query["mlon"])) == (round(item["latitude"], 5), round(item["longitude"], 5))
    expect(meta).to_contain_text("gps_DSCN0010.jpg")  # the imported file's own name
    # The id and the times are never broken inside: each is one line of the panel.
    for token in (meta.locator("code"), meta.locator(".nowrap").first, meta.locator(".nowrap").nth(1)):
        assert token.evaluate("n => n.getClientRects().length") == 1
    shot(tab, artifacts, "viewer-details")

    # The portrait: stored 600x450 with orientation 6, shown upright as 450 x 600; its time a guess.
    tab.keyboard.press("Escape")
    tab.locator(f'#grid li[data-id="{photos.ids["portrait"]}"] .tile-button').click()
    if tab.size == "phone":
        tab.locator("#lb-info").click()
    expect(meta.locator('[data-field="size"]')).to_have_text("450 × 600 px")
    expect(meta.locator('[data-time-source="file"]')).to_contain_text("file's date")
    expect(meta).to_contain_text("portrait_6.jpg")


def test_swipe_and_arrow_keys_step_through_and_neighbours_are_preloaded(tab, photos, artifacts):
    tab.goto("/")
    settle(tab)
    ids = tile_ids(tab)
    tab.locator("#grid li .tile-button").nth(1).click()
    expect(tab.locator("#lb-position")).to_have_text(re.compile(r"^2 of "))
    # The neighbours' full images are asked for before anyone steps to them.
    expected = {f"/api/captures/{ids[i]}/image" for i in (0, 2)}
    tab.wait_for_function("urls => urls.every(u => performance.getEntriesByType('resource').some(e => e.name.endsWith(u)))",
                          arg=sorted(expected))
    if tab.size == "phone":
        swipe(tab, -200)  # finger right to left: the next one
        expect(tab.locator("#lb-meta")).to_contain_text(ids[2])
        swipe(tab, 200)
        swipe(tab, 200)
        expect(tab.locator("#lb-meta")).to_contain_text(ids[0])
        expect(tab.locator("#lb-prev")).to_be_disabled()
        # The page leaves pinch zoom to the browser: nothing in the viewport forbids it.
        assert "user-scalable=no" not in tab.get_attribute('meta[name="viewport"]', "content")
        assert "maximum-scale" not in tab.get_attribute('meta[name="viewport"]', "content")
        shot(tab, artifacts, "viewer-swiped")
    else:
        tab.keyboard.press("ArrowRight")
        expect(tab.locator("#lb-meta")).to_contain_text(ids[2])
        tab.keyboard.press("ArrowLeft")
        tab.keyboard.press("ArrowLeft")
        expect(tab.locator("#lb-meta")).to_contain_text(ids[0])


def test_filters_show_as_chips_that_remove_them(tab, photos, artifacts):
    tab.goto("/?device=pi-door&trigger=manual&lux_min=0")
    settle(tab)
    chips = tab.locator("#active-filters [data-active]")
    expect(chips).to_have_count(3)
    expect(tab.locator('#active-filters [data-active="device"]')).to_have_text("Device: pi-door")
    assert set(tab.locator("#grid .tile-device").all_text_contents()) == {"pi-door"}
    shot(tab, artifacts, "chips")
    tab.locator('#active-filters [data-active="device"] button').click()
    settle(tab)
    expect(chips).to_have_count(2)
    assert "device" not in tab.url and "trigger=manual" in tab.url
    assert set(tab.locator("#grid .tile-device").all_text_contents()) == {"pi-door", "pi-garden"}
    if tab.size == "phone":
        # The filters are a sheet: closed, it hides nothing of the grid; its button counts what is on.
        expect(tab.locator("#filters-count")).to_have_text("2")
        expect(tab.locator("#filters")).not_to_be_in_viewport()
        tab.locator("#filters-open").click()
        expect(tab.locator("#filters")).to_be_in_viewport()
        tab.locator('#devices [data-device="pi-garden"]').click()
        settle(tab)
        shot(tab, artifacts, "filter-sheet")
        tab.locator("#filters-done").click()
        expect(tab.locator("#filters")).not_to_be_in_viewport()
    else:
        tab.locator('#devices [data-device="pi-garden"]').click()
        settle(tab)
    expect(tab.locator('#active-filters [data-active="device"]')).to_have_text("Device: pi-garden")
    tab.get_by_role("button", name="Clear all").click()
    settle(tab)
    expect(chips).to_have_count(0)
    expect(tab.locator("#active-filters")).to_be_hidden()
    assert urlsplit(tab.url).query == ""


def test_empty_and_error_states_say_what_is_on_and_keep_no_count(tab, photos, artifacts):
    tab.goto("/?device=nobody-here")
    empty = tab.locator('#status [data-state="empty"]')
    expect(empty).to_contain_text("Device: nobody-here")
    expect(tab.locator("#total")).to_have_text("0")
    shot(tab, artifacts, "empty")
    tab.allowed_console = ("status of 400",)  # the bad filter's replies, logged by the browser
    tab.goto("/?lux_min=5&lux_max=1")
    expect(tab.locator('#status [data-state="bad-filter"]')).to_contain_text("lux_min")
    expect(tab.locator("#total-label")).to_have_text("Captures unavailable")
    expect(tab.locator("#total")).to_have_text("")
    expect(tab.locator("#timeline-bucket")).to_contain_text("no timeline")
    expect(tab.locator("#scrubber")).to_be_hidden()
    shot(tab, artifacts, "error")
    # "Clear filters" stays inside the filters' box.
    if tab.size == "phone":
        tab.locator("#filters-open").click()
    button = tab.locator("#clear-filters").bounding_box()
    form = tab.locator("#filters").bounding_box()
    assert button["x"] >= form["x"] and button["x"] + button["width"] <= form["x"] + form["width"]


def test_several_are_selected_downloaded_and_deleted(tab, photos, tmp_path):
    # A day ahead: newer than every other capture, whatever the time of day the test runs.
    doomed = [new_capture(dt.datetime.now(UTC) + dt.timedelta(days=1, seconds=s), device="pi-doomed") for s in (1, 2, 3)]
    schema.wait_indexed()
    tab.goto("/?device=pi-doomed&device=pi-door")
    settle(tab)
    ids = tile_ids(tab)
    assert ids[:3] == [c.pk for c in reversed(doomed)]
    tiles = tab.locator("#grid li")
    if tab.size == "phone":
        # A long press chooses the first; then a tap chooses more.
        box = tiles.nth(0).bounding_box()
        cdp = tab.context.new_cdp_session(tab)
        point = {"x": box["x"] + box["width"] / 2, "y": box["y"] + box["height"] / 2}
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [point]})
        tab.wait_for_timeout(700)
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        cdp.detach()
        expect(tab.locator("#selection-count")).to_have_text("1 capture selected")
        expect(tab.locator("#lightbox")).not_to_have_class(re.compile("is-active"))
        tiles.nth(1).locator(".tile-button").tap()
        tiles.nth(2).locator(".tile-button").tap()
    else:
        tiles.nth(0).hover()
        tiles.nth(0).locator(".tile-select").check()
        tiles.nth(2).locator(".tile-select").click(modifiers=["Shift"])  # the range: 0, 1 and 2
    expect(tab.locator("#selection-count")).to_have_text("3 captures selected")
    expect(tab.locator("#grid li.is-selected")).to_have_count(3)
    href = tab.locator("#selection-download").get_attribute("href")
    assert urlsplit(href).path == "/api/export.zip"
    assert sorted(v for k, v in parse_qsl(urlsplit(href).query) if k == "id") == sorted(c.pk for c in doomed)
    tab.locator("#selection-delete").click()
    expect(tab.locator("#selection-confirm-text")).to_have_text("Delete 3 captures for good?")
    tab.fill("#selection-token", TOKEN)
    tab.locator("#selection-confirm-delete").click()
    expect(tab.locator("#selection-bar")).to_be_hidden()
    for capture in doomed:
        expect(tab.locator(f'#grid li[data-id="{capture.pk}"]')).to_have_count(0)
        assert not models.Capture.exists(capture.pk)
    assert tile_ids(tab) == ids[3:]
