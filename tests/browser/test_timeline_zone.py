"""The timeline in Berlin time: bars at local midnight, gaps filled by calendar across DST changes."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from browser_helpers import api_requests, open_gallery

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def berlin(browser, live):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="Europe/Berlin", base_url=live.url)
    page = context.new_page()
    page.requests = []
    page.on("request", lambda request: page.requests.append(request))
    yield page
    context.close()


def test_bars_start_at_the_viewers_midnight(berlin, live):
    open_gallery(berlin)
    berlin.wait_for_selector("#timeline button:not([disabled])")
    facets = [url for url in api_requests(berlin, "/api/facets?") if "tz=Europe%2FBerlin" in url]
    assert facets, api_requests(berlin, "/api/facets?")
    starts = berlin.eval_on_selector_all("#timeline button", "els => els.map(e => e.dataset.start)")
    local = [dt.datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(BERLIN) for s in starts]
    assert local and all(t.time() == dt.time(0, 0) for t in local)
    # One bar per calendar day, none missing, none doubled.
    assert [t.date() for t in local] == [local[0].date() + dt.timedelta(days=i) for i in range(len(local))]


def steps(start: dt.datetime, end: dt.datetime, bucket: str) -> list[dt.datetime]:
    """Every bucket start from `start` to `end` in Berlin, by zoneinfo."""
    out, t = [], start
    while t <= end:
        out.append(t)
        if bucket == "hour":
            t = (t.astimezone(dt.timezone.utc) + dt.timedelta(hours=1)).astimezone(BERLIN)
        else:
            t = (t + dt.timedelta(days=7 if bucket == "week" else 1))  # wall-clock arithmetic: next local midnight
    return out


@pytest.mark.parametrize("bucket, start, end", [
    ("day", dt.datetime(2026, 3, 25, tzinfo=BERLIN), dt.datetime(2026, 4, 2, tzinfo=BERLIN)),
    ("day", dt.datetime(2026, 10, 22, tzinfo=BERLIN), dt.datetime(2026, 10, 30, tzinfo=BERLIN)),
    ("week", dt.datetime(2026, 10, 12, tzinfo=BERLIN), dt.datetime(2026, 11, 9, tzinfo=BERLIN)),
    ("hour", dt.datetime(2026, 10, 25, 0, tzinfo=BERLIN), dt.datetime(2026, 10, 25, 5, tzinfo=BERLIN)),
])
def test_gaps_are_filled_by_calendar_across_dst(berlin, live, bucket, start, end):
    every = steps(start, end, bucket)
    # A sparse reply as the API gives it with tz=Europe/Berlin: only some buckets have captures.
    given = {t.isoformat(): 10 + i for i, t in enumerate(every) if i % 3 != 1 or i == len(every) - 1}
    berlin.goto("/")
    bars = berlin.evaluate("""async (reply) => {
        const { histogram } = await import("/static/facets.js");
        return histogram(reply).bars.map((b) => [b.start.toISOString(), b.count]);
    }""", {"bucket": bucket, "histogram": [{"start": s, "count": c} for s, c in given.items()]})
    expected = [[t.astimezone(dt.timezone.utc).isoformat().replace("+00:00", ".000Z"), given.get(t.isoformat(), 0)]
                for t in every]
    assert bars == expected
