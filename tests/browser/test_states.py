"""Live updates, hostile data, expired images, and the empty, error and Redis-down states."""
from __future__ import annotations

import datetime as dt
import re
import time
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from browser_helpers import XSS_DEVICE, LiveServer, api_requests, new_capture, open_gallery, settle, tile_ids
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

import models
from index import schema
from models import events
from pigallery import redis_server


def announce(**kw) -> models.Capture:
    """Store a capture and announce it, as the capture agent does."""
    capture = new_capture(**kw)
    events.publish(capture)
    return capture


def wait_live(page) -> None:
    expect(page.locator("#live")).to_have_text("live")


def test_a_live_capture_appears_on_top(page, live):
    open_gallery(page)
    wait_live(page)
    before = tile_ids(page)
    capture = announce()
    expect(page.locator("#grid li").first).to_have_attribute("data-id", capture.pk, timeout=10_000)
    assert tile_ids(page)[1:] == before
    expect(page.locator("#total")).to_have_text(str(live.api("/api/captures")["total"]))


def test_a_live_capture_that_does_not_match_stays_out(page, live):
    open_gallery(page, "?device=pi-door")
    wait_live(page)
    before = tile_ids(page)
    announce(device="pi-garden")
    matching = announce(device="pi-door")
    expect(page.locator("#grid li").first).to_have_attribute("data-id", matching.pk, timeout=10_000)
    assert tile_ids(page) == [matching.pk, *before]


def test_scrolled_down_a_banner_counts_new_captures(page, live):
    open_gallery(page)
    wait_live(page)
    page.mouse.wheel(0, 1500)
    page.wait_for_function("() => window.scrollY > 500")
    top = tile_ids(page)[0]
    first, second = announce(), announce()
    banner = page.locator("#new-banner")
    expect(banner).to_have_text("2 new captures — show", timeout=10_000)
    assert tile_ids(page)[0] == top, "the grid must not shift under a reader who scrolled down"
    banner.click()
    expect(banner).to_be_hidden()
    assert tile_ids(page)[:3] == [second.pk, first.pk, top]
    assert page.evaluate("window.scrollY") < 100


def test_a_hostile_device_name_is_shown_as_text(page, live):
    open_gallery(page, f"?device={quote(XSS_DEVICE)}")
    expect(page.locator("#grid li")).to_have_count(1)
    expect(page.locator("#grid .tile-device")).to_have_text(XSS_DEVICE)
    expect(page.locator(f'#devices [data-device="{XSS_DEVICE}"] .device-name')).to_have_text(XSS_DEVICE)
    page.locator("#grid li button").first.click()
    expect(page.locator("#lb-title")).to_contain_text(XSS_DEVICE)
    expect(page.locator("#lb-meta")).to_contain_text(XSS_DEVICE)
    page.wait_for_timeout(300)
    # Had the name become HTML there would be an <img src=x>, a request for it and an alert.
    assert page.locator('img[src="x"]').count() == 0
    assert not [r.url for r in page.requests if r.url.rstrip("/").endswith("/x")]
    assert page.dialogs == []


def test_an_expired_full_image_shows_the_thumbnail(page, live):
    old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=40)
    capture = new_capture(when=old, image_ttl=1)
    try:
        time.sleep(1.2)
        assert models.Capture.read_binary(capture.pk, "image") is None
        open_gallery(page, f"?to={quote(old.isoformat())}")
        expect(page.locator("#grid li")).to_have_count(1)
        page.locator("#grid li button").first.click()
        expect(page.locator("#lb-note")).to_be_visible()
        expect(page.locator("#lb-note")).to_contain_text("expired")
        expect(page.locator("#lb-image")).to_have_attribute("src", f"/api/captures/{capture.pk}/thumbnail")
        page.wait_for_function("() => document.querySelector('#lb-image').naturalWidth > 0")
        expect(page.locator("#lb-download")).to_be_hidden()
    finally:
        models.Capture.remove(capture.pk)


@pytest.mark.parametrize("query, state, text", [
    ("?lux_min=99999999", "empty", "No captures match"),
    ("?lux_min=5&lux_max=1", "bad-filter", "lux_min"),
    ("?from=yesterday", "bad-filter", "from"),
])
def test_empty_and_bad_filter_states_offer_a_way_out(page, live, query, state, text):
    open_gallery(page, query)
    status = page.locator(f'#status [data-state="{state}"]')
    expect(status).to_contain_text(text)
    expect(page.locator("#grid li")).to_have_count(0)
    status.get_by_role("button", name="Clear filters").click()
    settle(page)
    expect(page.locator("#grid li").nth(47)).to_be_attached()  # a page at least: a dense grid may ask for two
    assert page.url.endswith("/")


def test_redis_down_shows_a_message_and_recovers(browser, own_server, key_prefix):
    from search_web import create_app

    app = create_app(test_config={"TESTING": True, "REDIS_URL": own_server.url, "KEY_PREFIX": key_prefix, "API_TOKEN": None})
    schema.migrate()
    new_capture()
    schema.wait_indexed()
    with LiveServer(app) as server:
        context = browser.new_context(base_url=server.url)
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(error))
        open_gallery(page)
        expect(page.locator("#grid li")).to_have_count(1)
        redis_server.stop(own_server)
        page.locator('[data-range="7d"]').click()
        expect(page.locator('#status [data-state="redis-down"]')).to_contain_text("not reachable")
        # The API's message ends its sentence before the page's own begins ("retry shortly. The …").
        assert re.search(r"[.!?] The gallery tries again", page.text_content('#status [data-state="redis-down"]'))
        expect(page.locator("#total-label")).to_have_text("Captures unavailable")  # no count from before
        expect(page.locator("#live")).to_have_text("reconnecting…")
        # Past the stream's 3 s retry, so the browser's reconnect is refused with a 503.
        page.wait_for_timeout(4000)
        redis_server.start(own_server)
        # The page retries on its own; nobody has to reload.
        expect(page.locator('#status [data-state="redis-down"]')).to_have_count(0, timeout=15_000)
        # The capture was saved to disk when the server stopped, so it is back in the grid.
        expect(page.locator("#grid li")).to_have_count(1)
        expect(page.locator("#status [data-state]")).to_have_count(0)
        # Live updates come back too, though the event stream was refused while Redis was down.
        expect(page.locator("#live")).to_have_text("live", timeout=15_000)
        capture = announce()
        expect(page.locator("#grid li").first).to_have_attribute("data-id", capture.pk, timeout=10_000)
        assert not errors
        context.close()


def test_a_capture_half_a_second_newer_than_the_top_appears_on_top(page, live):
    # "…:05.500000Z" sorts before "…:05Z" as text: times must be compared as instants.
    second = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(seconds=5)
    open_gallery(page)
    wait_live(page)
    top = announce(when=second)
    expect(page.locator("#grid li").first).to_have_attribute("data-id", top.pk, timeout=10_000)
    newer = announce(when=second + dt.timedelta(milliseconds=500))
    expect(page.locator("#grid li").first).to_have_attribute("data-id", newer.pk, timeout=10_000)
    assert tile_ids(page)[:2] == [newer.pk, top.pk]


def test_a_late_capture_older_than_the_top_is_offered_by_the_banner(page, live):
    # A Pi sending its spooled backlog late: the capture belongs between tiles already shown.
    open_gallery(page)
    wait_live(page)
    shown = live.api("/api/captures", [("limit", 48)])["items"]
    third, fourth = (dt.datetime.fromisoformat(i["taken_at"].replace("Z", "+00:00")) for i in shown[2:4])
    before = tile_ids(page)
    late = announce(when=third + (fourth - third) / 2)
    banner = page.locator("#new-banner")
    expect(banner).to_have_text("1 new capture — show", timeout=10_000)
    assert tile_ids(page) == before, "nothing is put on top that does not belong there"
    banner.click()
    expect(page.locator("#grid li").nth(3)).to_have_attribute("data-id", late.pk)
    expect(banner).to_be_hidden()
    assert tile_ids(page)[:3] == before[:3]


def test_a_failed_reply_for_old_filters_does_not_end_the_new_results(page, live):
    held = []

    def hold_first(route):
        if held:
            route.continue_()
        else:
            held.append(route)  # the first listing stays unanswered until the filters change

    page.route("**/api/captures?*", hold_first)
    page.goto("/")
    page.wait_for_function("() => document.querySelector('#more').classList.contains('is-loading-more')")
    page.locator('#quick-ranges button[data-range="7d"]').click()
    settle(page)
    expect(page.locator("#grid li").nth(47)).to_be_attached()
    # The page aborted the old request when the filters changed; an answer coming anyway is ignored.
    try:
        held[0].fulfill(status=500, content_type="application/json", body='{"error": "Internal Server Error"}')
    except PlaywrightError:
        pass  # the browser had cancelled it
    page.wait_for_timeout(200)
    total = live.api("/api/captures", [("from", dict(parse_qsl(urlsplit(api_requests(page)[-1]).query))["from"])])["total"]
    for _ in range(5):
        page.mouse.wheel(0, 6000)
        page.wait_for_timeout(200)
    expect(page.locator("#grid li")).to_have_count(total, timeout=10_000)
    expect(page.locator("#status [data-state]")).to_have_count(0)
