"""The gallery in Chromium: what it shows equals what the API answers."""
from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import pytest
from browser_helpers import TOKEN, LiveServer, api_requests, new_capture, open_gallery, scroll_to_end, settle, tile_ids
from playwright.sync_api import expect

import models

NEW_YORK = ZoneInfo("America/New_York")  # the browser context's zone


def test_first_screen_shows_newest_captures(page, live):
    open_gallery(page)
    first = live.api("/api/captures", [("limit", 48)])
    # The dense grid shows more than a page on the first screen, so the next one may follow at
    # once: the API's first page comes first, in its order.
    expect(page.locator("#grid li").nth(47)).to_be_attached()
    assert tile_ids(page)[:48] == [item["id"] for item in first["items"]]
    taken = [item["taken_at"] for item in first["items"]]
    assert taken == sorted(taken, reverse=True)
    expect(page.locator("#total")).to_have_text(f"{first['total']:,}")
    expect(page.locator("#zone")).to_contain_text("America/New_York")
    # Each tile names its device, its local time and its lux.
    top = first["items"][0]
    tile = page.locator("#grid li").first
    expect(tile.locator(".tile-device")).to_have_text(top["device"])
    expect(tile.locator("time")).to_have_attribute("datetime", top["taken_at"])
    local = dt.datetime.fromisoformat(top["taken_at"].replace("Z", "+00:00")).astimezone(NEW_YORK)
    expect(tile.locator("time")).to_contain_text(local.strftime("%I:%M").lstrip("0"))
    expect(tile.locator(".tile-lux")).to_contain_text("lx")
    expect(tile.locator("img")).to_have_attribute("alt", re.compile(re.escape(top["device"])))
    expect(tile.locator("img")).to_have_attribute("loading", "lazy")


def test_scrolling_loads_every_page_once_until_the_end(page, live):
    open_gallery(page)
    scroll_to_end(page)
    expected = [item["id"] for item in live.walk()]
    shown = tile_ids(page)
    assert len(shown) == len(set(shown)), "a capture was shown twice"
    assert shown == expected
    expect(page.locator("#more")).to_contain_text("End of results")
    cursors = [dict(parse_qsl(urlsplit(u).query)).get("cursor") for u in api_requests(page)]
    assert len([c for c in cursors if c]) >= 2, "expected the next pages to come by next_cursor"
    assert len(cursors) == len(set(cursors)), "a page was fetched twice"


def local_input(when: dt.datetime) -> str:
    return when.astimezone(NEW_YORK).strftime("%Y-%m-%dT%H:%M:%S")


def test_date_range_and_device_filter_give_the_api_results(page, live):
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    start, end = now - dt.timedelta(days=4, hours=3), now - dt.timedelta(days=1, hours=5)
    open_gallery(page)
    page.fill("#from", local_input(start))
    settle(page)
    page.fill("#to", local_input(end))
    settle(page)
    page.locator('#devices [data-device="pi-door"]').click()
    settle(page)
    scroll_to_end(page)
    # The entered local times reach the API with New York's offset.
    sent = dict(parse_qsl(urlsplit(api_requests(page)[-1]).query))
    assert sent["from"] == start.astimezone(NEW_YORK).isoformat()
    assert sent["to"] == end.astimezone(NEW_YORK).isoformat()
    assert sent["device"] == "pi-door"
    expected = live.walk([("from", sent["from"]), ("to", sent["to"]), ("device", "pi-door")])
    assert 10 < len(expected) < live.api("/api/captures")["total"]
    assert tile_ids(page) == [item["id"] for item in expected]
    expect(page.locator("#total")).to_have_text(str(len(expected)))
    expect(page.locator('#devices [data-device="pi-door"]')).to_have_attribute("aria-pressed", "true")


def test_url_reproduces_the_view_after_reload_and_back(page, live):
    open_gallery(page)
    everything = tile_ids(page)
    page.get_by_label("motion").check()
    settle(page)
    motion = tile_ids(page)
    page.locator('#devices [data-device="pi-garden"]').click()
    settle(page)
    narrowed = tile_ids(page)
    assert narrowed and set(narrowed) < set(motion) and motion != everything
    assert set(parse_qsl(urlsplit(page.url).query)) == {("trigger", "motion"), ("device", "pi-garden")}
    page.reload()
    settle(page)
    assert tile_ids(page) == narrowed
    expect(page.get_by_label("motion")).to_be_checked()
    expect(page.locator('#devices [data-device="pi-garden"]')).to_have_attribute("aria-pressed", "true")
    page.go_back()
    settle(page)
    assert tile_ids(page) == motion and "device" not in page.url
    page.go_forward()
    settle(page)
    assert tile_ids(page) == narrowed


def test_timeline_bar_narrows_the_dates(page, live):
    open_gallery(page)
    bar = page.locator("#timeline button:not([disabled])").nth(2)
    start = dt.datetime.fromisoformat(bar.get_attribute("data-start").replace("Z", "+00:00"))
    # Six days of captures make day bars, asked for in the browser's zone: they start at its midnight.
    assert any("tz=America%2FNew_York" in url for url in api_requests(page, "/api/facets?"))
    assert start.astimezone(NEW_YORK).time() == dt.time(0, 0)
    bar.click()
    settle(page)
    sent = dict(parse_qsl(urlsplit(api_requests(page)[-1]).query))
    assert dt.datetime.fromisoformat(sent["from"]) == start
    shown = live.walk([("from", sent["from"]), ("to", sent["to"])])
    assert shown and tile_ids(page) == [item["id"] for item in shown]
    assert all(dt.datetime.fromisoformat(i["taken_at"].replace("Z", "+00:00")) >= start for i in shown)


def test_lightbox_opens_navigates_and_fetches_full_images_only_then(page, live):
    open_gallery(page)
    scroll_to_end(page)
    assert not [u for u in (r.url for r in page.requests) if u.endswith("/image")], "full image fetched before any lightbox"
    items = live.walk()
    page.mouse.wheel(0, -100_000)
    with page.expect_response(f"**/api/captures/{items[2]['id']}/image") as reply:
        page.locator("#grid li button").nth(2).click()
    assert reply.value.status == 200
    box = page.locator("#lightbox")
    expect(box).to_have_class(re.compile("is-active"))
    expect(page.locator("#lb-image")).to_have_attribute("src", items[2]["image_url"])
    expect(page.locator("#lb-meta")).to_contain_text(items[2]["id"])
    expect(page.locator("#lb-meta")).to_contain_text(items[2]["device"])
    expect(page.locator("#lb-meta")).to_contain_text(f"{items[2]['exposure_us']:,} µs")
    expect(page.locator("#lb-download")).to_have_attribute("href", items[2]["image_url"])
    page.keyboard.press("ArrowRight")
    expect(page.locator("#lb-meta")).to_contain_text(items[3]["id"])
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#lb-meta")).to_contain_text(items[1]["id"])
    expect(page.locator("#lb-position")).to_have_text(f"2 of {len(items)}")
    page.keyboard.press("Escape")
    expect(box).not_to_have_class(re.compile("is-active"))
    # Focus goes back to the tile that opened it, so the keyboard user keeps their place.
    assert page.evaluate("document.activeElement.closest('li').dataset.id") == items[2]["id"]
    # Only the captures shown (2, 3, then 1) and their neighbours, preloaded for the next step.
    page.wait_for_timeout(200)
    opened = {u.split("/")[-2] for u in (r.url for r in page.requests) if u.endswith("/image")}
    assert opened == {items[i]["id"] for i in range(5)}


def test_lightbox_by_keyboard_only(page, live):
    open_gallery(page)
    first = tile_ids(page)[0]
    page.locator("#grid li button").first.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#lightbox")).to_have_class(re.compile("is-active"))
    expect(page.locator("#lb-meta")).to_contain_text(first)
    expect(page.locator("#lb-prev")).to_be_disabled()
    page.keyboard.press("Escape")
    expect(page.locator("#lightbox")).not_to_have_class(re.compile("is-active"))


def test_delete_asks_to_confirm_and_needs_the_token(page, live):
    doomed = new_capture()
    open_gallery(page)
    assert tile_ids(page)[0] == doomed.pk
    page.locator("#grid li button").first.click()
    page.locator("#lb-delete").click()
    expect(page.locator("#lb-confirm")).to_be_visible()
    page.locator("#lb-cancel-delete").click()
    expect(page.locator("#lb-confirm")).to_be_hidden()
    page.locator("#lb-delete").click()
    page.fill("#lb-token", "wrong-token")
    page.locator("#lb-confirm-delete").click()
    expect(page.locator("#lb-delete-error")).to_contain_text("Not deleted")
    assert models.Capture.load(doomed.pk)
    page.fill("#lb-token", TOKEN)
    page.locator("#lb-confirm-delete").click()
    expect(page.locator(f'#grid li[data-id="{doomed.pk}"]')).to_have_count(0)
    with pytest.raises(models.NotFoundError):
        models.Capture.load(doomed.pk)
    assert page.evaluate("sessionStorage.getItem('pigallery.token')") == TOKEN
    # The lightbox moved on to the next capture, which is still there.
    expect(page.locator("#lb-meta")).to_contain_text(tile_ids(page)[0])


def test_no_delete_button_without_a_token(browser, redis_url, gallery_prefix):
    from search_web import create_app

    app = create_app(test_config={"TESTING": True, "REDIS_URL": redis_url, "KEY_PREFIX": gallery_prefix, "API_TOKEN": None})
    with LiveServer(app) as server:
        context = browser.new_context(base_url=server.url)
        page = context.new_page()
        page.goto("/")
        page.locator("#grid li button").first.click()
        expect(page.locator("#lb-download")).to_be_visible()
        expect(page.locator("#lb-delete")).to_have_count(0)
        context.close()


@pytest.mark.parametrize("query, requests", [("", 1), ("?device=pi-door", 2)])
def test_facets_are_fetched_once_unless_a_device_is_selected(page, live, query, requests):
    # With a device selected its chips count the other devices too, which takes a second request.
    open_gallery(page, query)
    expect(page.locator("#devices .device-chip")).not_to_have_count(0)
    page.wait_for_timeout(200)
    assert len(api_requests(page, "/api/facets?")) == requests
