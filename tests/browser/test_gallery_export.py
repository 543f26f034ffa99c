"""The toolbar's Download button: the ZIP of exactly what the grid's filters match."""
from __future__ import annotations

import json
import re
import zipfile
from urllib.parse import parse_qsl, urlsplit

import pytest
from browser_helpers import XSS_DEVICE, api_requests, open_gallery
from playwright.sync_api import expect

from search_web import export


def grid_params(page) -> list[tuple[str, str]]:
    """The parameters of the grid's first /api/captures request, less the paging ones."""
    first = urlsplit(api_requests(page)[0])
    return sorted((k, v) for k, v in parse_qsl(first.query) if k not in ("limit", "cursor"))


def download(page, tmp_path) -> tuple[str, zipfile.ZipFile]:
    link = page.locator("#export")
    expect(link).not_to_have_attribute("aria-disabled", "true")
    with page.expect_download() as info:
        link.click()
    saved = tmp_path / info.value.suggested_filename
    info.value.save_as(saved)
    assert info.value.failure() is None
    return info.value.suggested_filename, zipfile.ZipFile(saved)


def archived_ids(archive: zipfile.ZipFile) -> list[str]:
    return [item["id"] for item in json.loads(archive.read("captures.json"))["items"]]


def test_download_gives_the_zip_of_the_grids_filters(page, live, tmp_path):
    open_gallery(page, "?range=7d&device=pi-door&sort=oldest")
    params = grid_params(page)
    assert dict(params)["device"] == "pi-door" and "from" in dict(params)  # the quick range, as an instant
    href = page.locator("#export").get_attribute("href")
    assert urlsplit(href).path == "/api/export.zip"
    assert sorted(parse_qsl(urlsplit(href).query)) == params  # the same `from` the grid asked with
    name, archive = download(page, tmp_path)
    assert re.fullmatch(r"pigallery-\d{4}-\d{2}-\d{2}(_\d{4}-\d{2}-\d{2})?\.zip", name), name
    expected = [item["id"] for item in live.walk(params)]
    assert archived_ids(archive) == expected and len(expected) > 48  # more than the grid's first page
    images = [n for n in archive.namelist() if not n.startswith("captures.")]
    assert [n.rsplit("_", 1)[1].split(".")[0] for n in images] == expected
    assert all("/pi-door_" in n for n in images)
    for name, item in zip(images[:3], live.walk(params)[:3]):
        with archive.open(name) as member:
            assert member.read(3) == b"\xff\xd8\xff" and archive.getinfo(name).file_size == item["image_size"]


def test_everything_downloads_with_the_hostile_device_name_made_safe(page, live, tmp_path):
    open_gallery(page)
    expect(page.locator("#export")).to_have_attribute("href", "/api/export.zip")
    _, archive = download(page, tmp_path)
    assert archived_ids(archive) == [item["id"] for item in live.walk()]
    hostile = [n for n in archive.namelist() if "img src" in n]
    assert len(hostile) == 1 and not re.search(r'[<>:"\\|?*]', hostile[0].split("/", 1)[1]), hostile
    assert any(item["device"] == XSS_DEVICE for item in json.loads(archive.read("captures.json"))["items"])


@pytest.fixture
def small_limit(live):
    """An export limit below the 130 seeded captures (the page reads it when it loads)."""
    live.server.app.config["EXPORT_MAX_CAPTURES"] = 100
    yield 100
    live.server.app.config["EXPORT_MAX_CAPTURES"] = export.MAX_CAPTURES


def test_over_the_limit_the_button_says_narrow_the_filters_until_they_are(page, live, small_limit, tmp_path):
    open_gallery(page)
    link = page.locator("#export")
    expect(link).to_have_attribute("aria-disabled", "true")
    expect(link).to_have_attribute("title", re.compile(r"130 captures match; a download holds at most 100: narrow"))
    assert link.get_attribute("href") is None
    link.click(force=True)  # nothing happens: no href, no download
    # One device is under the limit: the button works again, for that device's captures.
    page.locator("#devices [data-device='pi-garden']").click()
    expect(page.locator("#grid li").first).to_be_visible()
    _, archive = download(page, tmp_path)
    assert archived_ids(archive) == [item["id"] for item in live.walk([("device", "pi-garden")])]
    # No match at all: nothing to download either.
    open_gallery(page, "?device=nobody")
    expect(link).to_have_attribute("title", "No captures match the filters.")
