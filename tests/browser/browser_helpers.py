"""Small page helpers shared by the browser tests."""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Iterator

from playwright.sync_api import Page, expect
from werkzeug.serving import WSGIRequestHandler, make_server

import models
from capture import synthetic
from models import om
from tests.helpers import drop_prefix  # noqa: F401 (the browser tests take it from here)

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TOKEN = "browser-test-token"
XSS_DEVICE = "<img src=x onerror=alert(1)>"
DEVICES = ("pi-garden", "pi-door")
COUNT = 130  # under three pages of 48, so scrolling has to fetch twice
DAYS = 6
# The sizes the gallery is judged at (issue #13): a 1440 px desktop and a 390 px phone.
SIZES = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
# Recorded from before the page's own scripts run; read back with violations().
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""
# ~1280x960 frames of 170-250 kB, the size a Pi camera's JPEGs have: the byte ratio is measured on these.
FRAME = (1280, 960)
DETAIL = 0.7


def seed(count: int, end: dt.datetime) -> list[models.Capture]:
    """Store `count` captures from two devices over DAYS days, one with a hostile device name."""
    step = dt.timedelta(days=DAYS) / count
    stored = []
    for i in range(count):
        when = end - step * i
        image, meta = synthetic.render(when, FRAME, seed=i, detail=DETAIL)
        device = XSS_DEVICE if i == 60 else DEVICES[i % 2]
        trigger = "motion" if i % 5 == 0 else "interval"
        stored.append(models.Capture.create(image, device=device, taken_at=when, trigger=trigger, **meta))
    return stored


class QuietHandler(WSGIRequestHandler):
    """Skip the access log: hundreds of thumbnail lines would bury a failure's own output."""

    def log_request(self, *args, **kwargs):
        pass


class LiveServer:
    """The Flask app served by werkzeug in a thread (threaded: /api/events holds a connection)."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join(10)

    def api(self, path: str, params=()) -> dict:
        """GET JSON from the running API (the reference the page is compared with)."""
        query = urllib.parse.urlencode(list(params))
        with urllib.request.urlopen(f"{self.url}{path}{'?' if query else ''}{query}", timeout=30) as reply:
            return json.load(reply)

    def walk(self, params=()) -> list[dict]:
        """Every capture matching `params`, following next_cursor to the end."""
        items, cursor = [], None
        while True:
            page = self.api("/api/captures", [*params, ("limit", 200)] + ([("cursor", cursor)] if cursor else []))
            items += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return items


def tile_ids(page: Page) -> list[str]:
    return page.eval_on_selector_all("#grid li", "els => els.map(e => e.dataset.id)")


def settle(page: Page) -> None:
    """Wait until no page of results is being fetched."""
    page.wait_for_function("() => !document.querySelector('#more').classList.contains('is-loading-more')")


def scroll_to_end(page: Page) -> None:
    """Scroll like a reader until the page says the results ended."""
    for _ in range(60):
        settle(page)
        if "End of results" in (page.text_content("#more") or "") or page.locator("#status [data-state]").count():
            return
        page.mouse.wheel(0, 4000)
        page.wait_for_timeout(100)
    raise AssertionError(f"never reached the end; {len(tile_ids(page))} tiles shown")


def open_gallery(page: Page, query: str = "") -> None:
    page.goto(f"/{query}")
    settle(page)


def api_requests(page: Page, endpoint: str = "/api/captures?") -> list[str]:
    return [r.url for r in page.requests if endpoint in r.url]


def new_capture(when: dt.datetime | None = None, device: str = "pi-garden", **kw) -> models.Capture:
    when = when or dt.datetime.now(dt.timezone.utc)
    image, meta = synthetic.render(when, (640, 480), detail=0.5)
    return models.Capture.create(image, device=device, taken_at=when, trigger="manual", **meta, **kw)


def expect_tiles(page: Page, ids: list[str]) -> None:
    expect(page.locator("#grid li")).to_have_count(len(ids))
    assert tile_ids(page) == ids


def serve(redis_url: str, prefix: str, token: str | None = TOKEN, **config) -> LiveServer:
    """A live server of the app on the captures under `prefix` (enter it with `with`)."""
    from search_web import create_app

    app = create_app(test_config={"TESTING": True, "REDIS_URL": redis_url, "KEY_PREFIX": prefix, "API_TOKEN": token,
                                  **config})
    return LiveServer(app)


def bind_back(redis_url: str, prefix: str) -> None:
    """Point the models at the captures under `prefix` if another test's app bound them elsewhere.

    Only when needed: a rebind drops the old clients, and with them the pub/sub connections of
    event streams still open in a live server.
    """
    if om.key_prefix(models.Capture) != prefix:
        models.bind(redis_url, prefix)


@contextlib.contextmanager
def evenly_spaced(redis_url: str, name: str, count: int, step: dt.timedelta, batch: int = 2000,
                  **config) -> Iterator[LiveServer]:
    """A live server on `count` captures under a prefix of their own, one every `step` back from
    an hour ago, alternating pi-garden and pi-door, all sharing one small synthetic JPEG (bulk load)."""
    from index import schema
    from models import bulk

    prefix = f"{name}{uuid.uuid4().hex[:8]}"
    models.bind(redis_url, prefix)
    schema.migrate()
    newest = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0) - dt.timedelta(hours=1)
    image = synthetic.render(newest, (320, 240), detail=0.3)[0]
    rows = (dict(device=("pi-garden", "pi-door")[i % 2], trigger="interval", taken_at=newest - step * i)
            for i in range(count))
    bulk.store_many(rows, image, batch=batch)
    schema.wait_indexed()
    try:
        with serve(redis_url, prefix, **config) as server:
            server.prefix = prefix
            yield server
    finally:
        drop_prefix(redis_url, prefix)


def open_tab(browser, base_url: str, size: str = "desktop", zone: str = "America/New_York") -> Page:
    """A tab at one of SIZES recording requests, JavaScript errors, console errors and CSP violations.

    Close its context with `close_tab`, which fails the test on any error or violation.
    """
    phone = size == "phone"
    context = browser.new_context(viewport=SIZES[size], timezone_id=zone, base_url=base_url, locale="en-US",
                                  is_mobile=phone, has_touch=phone)
    page = context.new_page()
    page.requests, page.errors, page.console_errors = [], [], []
    page.allowed_console = ()  # console errors a test provokes on purpose (a 400 it asks for)
    page.on("request", lambda request: page.requests.append(request))
    page.on("pageerror", lambda error: page.errors.append(error))
    page.on("console", lambda msg: page.console_errors.append(msg.text) if msg.type == "error" else None)
    page.add_init_script(RECORD_VIOLATIONS)
    page.size = size
    return page


def close_tab(page: Page) -> None:
    violations = page.evaluate("window.__violations") if not page.is_closed() else []
    page.context.close()
    assert not page.errors, f"JavaScript errors: {page.errors}"
    assert not violations, f"CSP violations: {violations}"
    unexpected = [m for m in page.console_errors if not any(allowed in m for allowed in page.allowed_console)]
    assert not unexpected, f"console errors: {unexpected}"


def swipe(page: Page, dx: int) -> None:
    """A one-finger swipe across the middle of the viewer, as real touch events (CDP)."""
    cdp = page.context.new_cdp_session(page)
    x, y = page.viewport_size["width"] // 2, page.viewport_size["height"] // 3
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    for step in range(1, 6):
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x + dx * step / 5, "y": y + 3}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()
