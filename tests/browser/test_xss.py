"""Issue #12 in Chromium: what the capture user writes renders as text and never runs, and the
gallery works under its Content-Security-Policy without a single violation.

The hostile captures are HSET straight into Redis, as a tampered Pi holding the `capture`
user's password could: past the model's write-side checks, with whatever bytes and type.
"""
from __future__ import annotations

import datetime as dt
import uuid

import pytest
import redis
from browser_helpers import RECORD_VIOLATIONS, TOKEN, LiveServer, bind_back, open_gallery, settle, tile_ids
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

import models
from capture import synthetic
from index import schema
from models.capture import IMAGE_FIELD, THUMBNAIL_FIELD
from tests import helpers

HTML = b"<!doctype html><body><script>window.pwned=1;alert('stored xss')</script>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>window.pwned=1;alert(2)</script></svg>'
NAMES = ("<img src=x onerror=alert(1)>", '"><script>window.pwned=1</script>', "javascript:alert(1)")


def hostile_hash(conn: redis.Redis, prefix: str, pk: str, when: dt.datetime, jpeg: bytes, **fields) -> None:
    """HSET a capture hash laid out as the model writes it, a manual 320x240 shot, `fields` on top."""
    helpers.write_hash(conn, prefix, pk, jpeg, {"trigger": "manual", "width": 320, "height": 240, **fields}, when=when)


@pytest.fixture(scope="module")
def xss_prefix(redis_url):
    """A key prefix of its own: well-formed captures from two devices, and hostile ones beside them."""
    prefix = f"xss{uuid.uuid4().hex[:8]}"
    models.bind(redis_url, prefix)
    schema.migrate()
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    for i in range(12):
        when = now - dt.timedelta(hours=6 * i + 1)
        image, meta = synthetic.render(when, (320, 240), seed=i, detail=0.3)
        models.Capture.create(image, device=("pi-garden", "pi-door")[i % 2], taken_at=when,
                              trigger="motion" if i % 3 == 0 else "interval", **meta)
    jpeg = synthetic.render(now, (320, 240), detail=0.3)[0]
    conn = redis.Redis.from_url(redis_url)
    hostile = {
        # Scripts as the bytes, a document type as the stored type, hostile names around them.
        "html": dict(device=NAMES[0], camera_make=NAMES[1], camera_model=NAMES[2], mime_type="text/html",
                     **{IMAGE_FIELD: HTML, THUMBNAIL_FIELD: HTML}),
        "svg": dict(device=NAMES[1], camera_make=NAMES[0], mime_type="image/svg+xml", **{IMAGE_FIELD: SVG, THUMBNAIL_FIELD: SVG}),
        "names": dict(device=NAMES[2], camera_make=NAMES[2], camera_model=NAMES[1], mime_type="text/html"),
        # Values no JSON or date can hold: nulled or skipped by the API, so the page keeps working.
        "numbers": dict(device=NAMES[0], lux="inf", analogue_gain="-inf", camera_make="m" * 5000),
        "trigger": dict(trigger="<script>window.pwned=1</script>"),
    }
    pks = {}
    for n, (name, fields) in enumerate(hostile.items()):
        pks[name] = f"01JXSS{n:020d}"
        hostile_hash(conn, prefix, pks[name], now - dt.timedelta(minutes=10 * n + 5), jpeg, **fields)
    schema.wait_indexed()
    yield prefix, pks
    helpers.drop_prefix(redis_url, prefix)


@pytest.fixture(autouse=True)
def bound(redis_url, xss_prefix):
    """Point the models at this module's captures (the package's `bound` points them at the shared ones)."""
    bind_back(redis_url, xss_prefix[0])


@pytest.fixture(scope="module")
def xss_live(redis_url, xss_prefix):
    from search_web import create_app

    app = create_app(test_config={"TESTING": True, "REDIS_URL": redis_url, "KEY_PREFIX": xss_prefix[0], "API_TOKEN": TOKEN})
    with LiveServer(app) as server:
        yield server


@pytest.fixture
def tab(browser, xss_live):
    """A fresh tab recording dialogs, JavaScript errors, CSP console messages and violation events."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=xss_live.url)
    page = context.new_page()
    page.dialogs, page.errors, page.csp_messages = [], [], []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: page.errors.append(error))
    page.on("console", lambda msg: page.csp_messages.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.add_init_script(RECORD_VIOLATIONS)
    yield page
    context.close()
    assert not page.errors, f"JavaScript errors: {page.errors}"


def assert_nothing_ran(page) -> None:
    page.wait_for_timeout(300)  # an onerror or onload would have fired by now
    assert page.dialogs == [], f"a hostile script ran: {page.dialogs}"
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert page.locator('img[src="x"]').count() == 0
    assert page.evaluate("[...document.scripts].map((s) => s.src.split('/').pop())") == ["gallery.js"]


def assert_no_violations(page) -> None:
    assert page.csp_messages == []
    assert page.evaluate("window.__violations") == []


def test_hostile_names_render_as_text_in_grid_lightbox_and_chips(tab, xss_live, xss_prefix):
    _, pks = xss_prefix
    listed = xss_live.api("/api/captures", [("limit", 200)])["items"]
    open_gallery(tab)
    expect(tab.locator("#grid li")).to_have_count(len(listed))
    assert pks["trigger"] not in tile_ids(tab)  # an unknown trigger: left out by the API
    devices = tab.locator("#grid .tile-device").all_text_contents()
    chips = tab.locator("#devices .device-name")
    expect(chips.first).to_be_visible()
    for name in NAMES:
        assert name in devices
        assert name in chips.all_text_contents()
    for key in ("html", "svg", "names", "numbers"):
        item = next(i for i in listed if i["id"] == pks[key])
        tab.locator(f'#grid li[data-id="{pks[key]}"] button').click()
        expect(tab.locator("#lightbox")).to_have_class("modal is-active")
        expect(tab.locator("#lb-title")).to_contain_text(item["device"])
        expect(tab.locator("#lb-meta")).to_contain_text(item["device"])
        assert_nothing_ran(tab)
        tab.keyboard.press("Escape")
        expect(tab.locator("#lightbox")).not_to_have_class("modal is-active")
    # A device filter on a hostile name: the chip, the URL and the query all keep it as text.
    tab.locator("#devices [data-device]", has_text=NAMES[1]).first.click()
    settle(tab)
    assert set(tab.locator("#grid .tile-device").all_text_contents()) == {NAMES[1]}
    assert_nothing_ran(tab)
    assert_no_violations(tab)


@pytest.mark.parametrize("key", ["html", "svg", "names"])
@pytest.mark.parametrize("kind", ["image", "thumbnail"])
def test_hostile_bytes_opened_directly_never_run(tab, xss_prefix, key, kind):
    _, pks = xss_prefix
    open_gallery(tab)
    try:
        tab.goto(f"/api/captures/{pks[key]}/{kind}")
    except PlaywrightError as exc:
        # Not an image: sent as an attachment, so Chromium saves it instead of showing a page.
        assert "Download is starting" in str(exc)
        shown = None
    else:
        shown = tab.evaluate("document.contentType")
    tab.wait_for_timeout(300)
    assert tab.dialogs == [], f"the stored bytes ran as a page: {tab.dialogs}"
    assert tab.evaluate("typeof window.pwned") == "undefined"
    assert shown in (None, "image/jpeg", "image/png", "image/webp")


def test_the_gallery_works_under_its_policy_without_violations(tab, xss_live):
    open_gallery(tab)
    # Predicates are functions: a string expression is eval()ed in the page, which the policy refuses.
    expect(tab.locator("#live")).to_have_text("live")  # EventSource: connect-src
    tab.wait_for_function("() => [...document.querySelectorAll('#grid li img')].some((img) => img.naturalWidth > 0)")
    # Timeline bar heights are set through the CSSOM: a style attribute would be refused.
    bars = tab.locator("#timeline .timeline-bar:not([disabled])")
    expect(bars.first).to_be_visible()
    assert tab.evaluate("document.querySelector('#timeline .timeline-bar:not([disabled]) .timeline-fill').style.height").endswith("%")
    assert tab.locator("#timeline .timeline-bar:not([disabled]) .timeline-fill").first.bounding_box()["height"] > 1

    # The lightbox on a well-formed capture: full image, next, close.
    tab.locator("#grid li", has_text="pi-garden").first.locator("button").click()
    expect(tab.locator("#lightbox")).to_have_class("modal is-active")
    tab.wait_for_function("() => document.querySelector('#lb-image').naturalWidth > 0")
    first = tab.text_content("#lb-title")
    tab.keyboard.press("ArrowRight")
    expect(tab.locator("#lb-title")).not_to_have_text(first)
    tab.keyboard.press("Escape")
    expect(tab.locator("#lightbox")).not_to_have_class("modal is-active")

    # Filters: a device chip, a quick range, a timeline bar, a trigger, lux, then clear.
    tab.locator('#devices [data-device="pi-door"]').click()
    settle(tab)
    assert set(tab.locator("#grid .tile-device").all_text_contents()) == {"pi-door"}
    tab.locator('#quick-ranges [data-range="7d"]').click()
    settle(tab)
    assert "range=7d" in tab.url
    bars.first.click()
    settle(tab)
    assert "from=" in tab.url and "to=" in tab.url
    tab.locator('input[name="trigger"][value="motion"]').check()
    settle(tab)
    tab.fill("#lux_min", "0")
    tab.locator("#lux_min").dispatch_event("change")
    settle(tab)
    tab.locator("#clear-filters").click()
    settle(tab)
    assert tab.url.rstrip("/") == xss_live.url
    expect(tab.locator("#grid li")).to_have_count(len(xss_live.api("/api/captures", [("limit", 200)])["items"]))
    assert_no_violations(tab)

    # The policy is enforced and the listeners hear it: an injected inline script is refused.
    ran = tab.evaluate("""() => {
      const script = document.createElement("script");
      script.textContent = "window.inlineRan = 1";
      document.head.append(script);
      return typeof window.inlineRan;
    }""")
    assert ran == "undefined", "inline script ran: the page has no Content-Security-Policy"
    tab.wait_for_function("() => window.__violations.length > 0")
    assert "script-src" in tab.evaluate("window.__violations")[0]
