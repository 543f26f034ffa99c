"""Issue #12 item 5 in the browser: one far-dated capture among a few days of ordinary ones.

It used to make every facets request without `to` a 400, so the gallery's first view showed no
device chips and no timeline. In New York (the browser's zone here) 1800 is still local mean
time, UTC-4:56:02: the API writes that offset with its seconds, which Date.parse refuses.
"""
from __future__ import annotations

import datetime as dt
import uuid
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import pytest
from browser_helpers import LiveServer, api_requests, drop_prefix, new_capture, open_gallery, settle, tile_ids
from playwright.sync_api import expect

import models
from index import schema

NEW_YORK = ZoneInfo("America/New_York")
UTC = dt.timezone.utc
FAR = {"1800": dt.datetime(1800, 1, 1, tzinfo=UTC), "9999": dt.datetime(9999, 6, 1, 12, tzinfo=UTC)}


@pytest.fixture(scope="module", params=list(FAR))
def far(request, redis_url):
    """A gallery of its own: 20 captures over the last 4 days from two devices, one from a third far away."""
    from search_web import create_app

    prefix = f"far{uuid.uuid4().hex[:8]}"
    app = create_app(test_config={"TESTING": True, "REDIS_URL": redis_url, "KEY_PREFIX": prefix, "API_TOKEN": None})
    schema.migrate()
    now = dt.datetime.now(UTC).replace(microsecond=0)
    for i in range(20):
        new_capture(now - dt.timedelta(hours=5 * i), device=("pi-garden", "pi-door")[i % 2])
    old = new_capture(FAR[request.param], device="pi-attic")
    schema.wait_indexed()
    with LiveServer(app) as server:
        server.prefix, server.far = prefix, old
        yield server
    drop_prefix(redis_url, prefix)


@pytest.fixture
def far_page(browser, far, redis_url, bound):
    """A New York tab on that gallery (the models bound to it again: `bound` points them elsewhere)."""
    models.bind(redis_url, far.prefix)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="America/New_York",
                                  base_url=far.url)
    page = context.new_page()
    page.requests, page.errors = [], []
    page.on("request", lambda request: page.requests.append(request))
    page.on("pageerror", lambda error: page.errors.append(error))
    yield page
    context.close()
    assert not page.errors, f"JavaScript errors: {page.errors}"


def local(start: str) -> dt.datetime:
    return dt.datetime.fromisoformat(start.replace("Z", "+00:00")).astimezone(NEW_YORK)


def shown_bars(page) -> dict[str, int]:
    """The enabled bars as {ISO start: count}, counts read from their labels."""
    bars = page.eval_on_selector_all("#timeline button:not([disabled])",
                                     "els => els.map(e => [e.dataset.start, e.getAttribute('aria-label')])")
    return {start: int(label.split(" captures")[0].replace(",", "")) for start, label in bars}


def api_bars(far, params=()) -> tuple[dict[float, int], dict]:
    """The API's bars as {epoch seconds: count}, and its whole reply."""
    reply = far.api("/api/facets", [*params, ("tz", "America/New_York")])
    return {local(bar["start"]).timestamp(): bar["count"] for bar in reply["histogram"]}, reply


def test_the_first_view_has_chips_and_a_timeline(far_page, far):
    open_gallery(far_page)
    # Every device has its chip, with the API's count.
    expect(far_page.locator("#devices [data-device]")).to_have_count(3)
    expect(far_page.locator("#timeline button:not([disabled])").first).to_be_visible()
    expected, reply = api_bars(far)
    assert reply["bucket"] == "year"
    for device in reply["devices"]:
        chip = far_page.locator(f'#devices [data-device="{device["device"]}"]')
        expect(chip.locator(".device-count")).to_have_text(str(device["count"]))
    # One bar per year, at New York's local midnight on 1 January, with the API's counts.
    expect(far_page.locator("#timeline-bucket")).to_have_text("one bar per year")
    bars = shown_bars(far_page)
    assert {local(start).timestamp(): count for start, count in bars.items()} == expected
    assert sum(bars.values()) == reply["total"] == 21
    for start in bars:
        when = local(start)
        assert (when.month, when.day, when.hour, when.minute, when.second) == (1, 1, 0, 0, 0), start
    assert far.far.taken_at.astimezone(NEW_YORK).year in {local(start).year for start in bars}
    # The ends are labelled by year, the far one included (1800-01-01T00:00Z is 1799 in New York).
    year = far.far.taken_at.astimezone(NEW_YORK).year
    labels = far_page.text_content("#timeline-start") + far_page.text_content("#timeline-end")
    assert str(year) in labels
    if year < 2000:
        # 228 years, the gaps filled: widths stay proportional to time.
        expect(far_page.locator("#timeline button")).to_have_count(dt.datetime.now(NEW_YORK).year - year + 1)


def test_the_last_7_days_have_chips_and_a_timeline(far_page, far):
    open_gallery(far_page, "?range=7d")
    far_page.wait_for_selector("#timeline button:not([disabled])")
    sent = dict(parse_qsl(urlsplit(api_requests(far_page, "/api/facets?")[-1]).query))
    expected, reply = api_bars(far, [("from", sent["from"])])
    assert sum(shown_bars(far_page).values()) == reply["total"]
    expect(far_page.locator("#devices [data-device]")).to_have_count(len(reply["devices"]))
    expect(far_page.locator("#timeline-bucket")).to_have_text(f"one bar per {reply['bucket']}")


def test_choosing_the_far_bar_shows_that_capture(far_page, far):
    open_gallery(far_page)
    far_page.wait_for_selector("#timeline button:not([disabled])")
    year = far.far.taken_at.astimezone(NEW_YORK).year
    bar = far_page.locator("#timeline button:not([disabled])").nth(0 if year < 2000 else -1)
    bar.click()
    settle(far_page)
    assert tile_ids(far_page) == [far.far.pk]
    # The bar's year, in New York, reached the API: in UTC where New York was on local mean time.
    sent = dict(parse_qsl(urlsplit(api_requests(far_page)[-1]).query))
    start, end = (dt.datetime.fromisoformat(sent[k].replace("Z", "+00:00")) for k in ("from", "to"))
    assert start == dt.datetime(year, 1, 1, tzinfo=NEW_YORK)
    # Year 9999 in New York ends in 10000 in UTC, past the last time a capture can have.
    assert end == (dt.datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC) if year == 9999
                   else dt.datetime(year, 12, 31, 23, 59, 59, 999000, tzinfo=NEW_YORK))
    expect(far_page.locator('#status [data-state]')).to_have_count(0)
    expect(far_page.locator("#devices [data-device]")).to_have_count(1)
    far_page.wait_for_selector("#timeline button:not([disabled])")
    assert sum(shown_bars(far_page).values()) == 1


def test_chips_come_even_when_the_timeline_cannot(far_page, far):
    # With a device chosen, the chips have their own request; the timeline's fails here.
    far_page.route(lambda url: "/api/facets?" in url and "tz=" in url, lambda route: route.fulfill(
        status=400, content_type="application/json",
        body='{"error": "Bad Request", "message": "bucket: no bars", "parameter": "bucket"}'))
    open_gallery(far_page, "?device=pi-attic")
    expect(far_page.locator("#devices [data-device]")).to_have_count(3)
    expect(far_page.locator("#timeline-bucket")).to_contain_text("no bars")
    expect(far_page.locator("#timeline button")).to_have_count(0)
    assert tile_ids(far_page) == [far.far.pk]


def steps(start: dt.datetime, end: dt.datetime, bucket: str) -> list[dt.datetime]:
    """Every month or year start from `start` to `end` in New York, by zoneinfo."""
    out, t = [start], start
    while t < end:
        t = t.replace(year=t.year + 1) if bucket == "year" else \
            t.replace(year=t.year + t.month // 12, month=t.month % 12 + 1)
        out.append(t)
    return out


@pytest.mark.parametrize("bucket, start, end", [
    # New York left its local mean time for EST on 18 November 1883, noon.
    ("year", dt.datetime(1879, 1, 1, tzinfo=NEW_YORK), dt.datetime(1890, 1, 1, tzinfo=NEW_YORK)),
    ("month", dt.datetime(1883, 8, 1, tzinfo=NEW_YORK), dt.datetime(1884, 3, 1, tzinfo=NEW_YORK)),
    ("month", dt.datetime(2026, 1, 1, tzinfo=NEW_YORK), dt.datetime(2027, 6, 1, tzinfo=NEW_YORK)),
    ("year", dt.datetime(9990, 1, 1, tzinfo=NEW_YORK), dt.datetime(9999, 1, 1, tzinfo=NEW_YORK)),
])
def test_month_and_year_gaps_are_filled_by_calendar(far_page, bucket, start, end):
    every = steps(start, end, bucket)
    # A sparse reply as the API writes it, offsets with seconds before 1883 included.
    given = {t.isoformat(): 10 + i for i, t in enumerate(every) if i % 3 != 1 or i == len(every) - 1}
    assert any(s.endswith("-04:56:02") for s in given) or start.year > 1883
    far_page.goto("/")
    bars = far_page.evaluate("""async (reply) => {
        const { histogram } = await import("/static/facets.js");
        return histogram(reply).bars.map((b) => [b.start.toISOString(), b.count]);
    }""", {"bucket": bucket, "histogram": [{"start": s, "count": c} for s, c in given.items()]})
    expected = [[t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"), given.get(t.isoformat(), 0)]
                for t in every]
    assert bars == expected


@pytest.mark.parametrize("text, instant", [
    ("0000-12-31T00:00:00-07:52:58", "0000-12-31T07:52:58.000Z"),
    ("+010000-01-01T00:00:00+14:00", "9999-12-31T10:00:00.000Z"),
    ("1800-01-01T00:00:00-04:56:02", "1800-01-01T04:56:02.000Z"),
    ("0050-03-01T00:00:00Z", "0050-03-01T00:00:00.000Z"),
    ("2026-03-29T00:00:00+01:00", "2026-03-28T23:00:00.000Z"),
    ("2026-03-29T05:30:00.250+05:30", "2026-03-29T00:00:00.250Z"),
])
def test_bar_starts_at_the_calendars_edges_are_read(far_page, text, instant):
    far_page.goto("/")
    got = far_page.evaluate("""async (text) => {
        const { parseStart } = await import("/static/facets.js");
        return parseStart(text).toISOString();
    }""", text)
    assert got == instant


@pytest.mark.parametrize("utc", ["0999-06-01T12:00:00.000Z", "0050-03-01T00:00:00.000Z", "2026-03-29T00:30:00.250Z"])
def test_times_sent_to_the_api_have_four_digit_years(far_page, utc):
    """What the page sends as from/to (isoWithOffset, in the viewer's zone) is ISO 8601 the API reads:
    a year before 1000 padded to four digits, New York's pre-1883 offset of -04:56:02 (not whole
    minutes, which an ISO offset cannot say) sent in UTC, and the same instant back; the date-time
    input shows the local time."""
    far_page.goto("/")
    text, back, shown, shown_back = far_page.evaluate("""async (utc) => {
        const { isoWithOffset, toLocalInput } = await import("/static/format.js");
        const date = new Date(utc);
        const text = isoWithOffset(date);
        const shown = toLocalInput(date);
        return [text, new Date(text).toISOString(), shown, new Date(shown).toISOString()];
    }""", utc)
    assert text[:5] == utc[:4] + "-" and shown[:5] == utc[:4] + "-", (text, shown)
    assert back == utc
    # An input's value is local time without an offset; read back in the page's zone, the same second.
    assert shown_back[:19] == utc[:19]
