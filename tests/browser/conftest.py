"""A live gallery on a real Redis Stack, driven by Debian's Chromium through Playwright."""
from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
from browser_helpers import ARTIFACTS, CHROMIUM, COUNT, bind_back, drop_prefix, seed, serve

import models
from index import schema


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in item.nodeid:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="package")
def gallery_prefix(redis_url):
    """A key prefix holding the seeded captures for every browser test."""
    prefix = f"browser{uuid.uuid4().hex[:8]}"
    models.bind(redis_url, prefix)
    schema.migrate()
    seed(COUNT, dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1))
    schema.wait_indexed()
    yield prefix
    drop_prefix(redis_url, prefix)


@pytest.fixture(scope="package")
def live(redis_url, gallery_prefix):
    with serve(redis_url, gallery_prefix) as server:
        yield server


@pytest.fixture(autouse=True)
def bound(redis_url, gallery_prefix):
    """Point the models back at the gallery data if another test's app rebound them."""
    bind_back(redis_url, gallery_prefix)


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: `apt-get install chromium` (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live):
    """A fresh tab in New York time (not UTC, so zone handling shows), recording its requests."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="America/New_York",
                                  base_url=live.url)
    page = context.new_page()
    page.requests = []
    page.errors = []
    page.dialogs = []
    page.on("request", lambda request: page.requests.append(request))
    page.on("pageerror", lambda error: page.errors.append(error))
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    yield page
    context.close()
    assert not page.errors, f"JavaScript errors: {page.errors}"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
