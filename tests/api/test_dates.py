"""Issue #12 item 10: every ISO date-only form is a whole UTC day; the calendar's last day is one too."""
from __future__ import annotations

import datetime as dt
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from api_helpers import UTC
from search_web.params import BadParameter, SearchParams, parse

DAY = dt.datetime(2026, 12, 1, tzinfo=UTC)
# Around 2026-12-01 (a Tuesday: week 49, day 335), and one on the calendar's last day.
TIMES = [DAY - dt.timedelta(hours=12), DAY, DAY + dt.timedelta(hours=12),
         DAY + dt.timedelta(days=1) - dt.timedelta(milliseconds=1), DAY + dt.timedelta(days=1),
         dt.datetime(9999, 12, 31, 12, tzinfo=UTC)]
# 2026-12-01 in every date-only form: extended, basic, week date (both), ordinal (both).
SPELLINGS = ["2026-12-01", "20261201", "2026-W49-2", "2026W492", "2026-335", "2026335"]


@pytest.fixture(scope="module")
def client(make_dataset):
    return make_dataset([dict(device="pi", taken_at=when) for when in TIMES]).client()


def total(client, query: str, facets: bool = True) -> int:
    """The number of captures /api/captures (and /api/facets, which filter alike) find."""
    reply = client.get(f"/api/captures?{query}")
    assert reply.status_code == 200, reply.json
    if facets:  # not across the years to 9999: no bucket would fit that span of data
        counts = client.get(f"/api/facets?{query}")
        assert counts.status_code == 200 and counts.json["total"] == reply.json["total"], counts.json
    return reply.json["total"]


@pytest.mark.parametrize("day", SPELLINGS)
def test_every_spelling_of_a_date_is_the_whole_day(client, day):
    assert total(client, f"to={day}") == 4  # the day's last millisecond included, the next midnight not
    assert total(client, f"from={day}", facets=False) == 5  # with the one in 9999
    assert total(client, f"from={day}&to={day}") == 3


@pytest.mark.parametrize("week", ["2026-W49", "2026W49"])
def test_a_week_without_its_day_is_refused_naming_the_parameter(client, week):
    # Python reads it as the Monday; as `to` that would silently drop the rest of the week.
    for name in ("from", "to"):
        reply = client.get(f"/api/captures?{name}={week}")
        assert reply.status_code == 400, reply.json
        assert reply.json["parameter"] == name and week in reply.json["message"]


@pytest.mark.parametrize("query", ["2026-366", "2024-367", "2026-000", "2026-W54-1", "2026-W49-8"])
def test_impossible_dates_are_400(client, query):
    reply = client.get(f"/api/captures?to={query}")
    assert reply.status_code == 400 and reply.json["parameter"] == "to", reply.json


def test_the_calendars_last_day_is_a_whole_day_too(client):
    assert total(client, "to=9999-12-31", facets=False) == len(TIMES)
    assert total(client, "to=99991231", facets=False) == len(TIMES)
    assert total(client, "from=9999-12-31&to=9999-12-31") == 1
    assert total(client, "from=2026-12-02&to=9999-12-31", facets=False) == 2
    # Paging up to it works: the cursor carries the bound.
    first = client.get("/api/captures?to=9999-12-31&limit=4&sort=oldest").json
    rest = client.get(f"/api/captures?to=9999-12-31&limit=4&sort=oldest&cursor={first['next_cursor']}")
    assert rest.status_code == 200 and len(rest.json["items"]) == 2


@pytest.mark.parametrize("zone", ["Europe", "Etc", "x" * 300, "Europe/" + "x" * 300, "zone.tab", "../UTC"])
def test_a_zone_name_that_is_no_zone_is_a_400_not_a_500(client, zone):
    # Found by tests/api/test_schemathesis.py: a directory of the zone database (IsADirectoryError)
    # or a name longer than a file name may be (OSError) escaped as a 500.
    reply = client.get("/api/facets", query_string={"tz": zone})
    assert reply.status_code == 400, reply.json
    assert reply.json["parameter"] == "tz" and "unknown time zone" in reply.json["message"]


ISO_LIKE = (r"\A[0-9]{4}(-?[0-9]{2}(-?[0-9]{2})?|-?W[0-9]{2}(-?[0-9])?|-?[0-9]{3})"
            r"([T ][0-9]{2}(:?[0-9]{2}(:?[0-9]{2}([.,][0-9]{1,9})?)?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?)?\Z")


@settings(max_examples=400, deadline=None, derandomize=True)
@given(low=st.from_regex(ISO_LIKE), high=st.from_regex(ISO_LIKE))
def test_any_iso_like_date_is_a_bound_or_a_400_never_a_crash(low, high):
    """Near-ISO text, calendar edges and offsets included: accepted with from <= to, or BadParameter."""
    try:
        params = parse(SearchParams, MultiDict({"from": low, "to": high}))
    except BadParameter as exc:
        assert exc.parameter in ("from", "to") and str(exc).startswith(exc.parameter), exc
        return
    filters = params.filters()
    assert filters.since < filters.until and math.isfinite(filters.since) and math.isfinite(filters.until)
