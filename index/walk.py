"""Walk every capture a filter matches, page by keyset page; or a few chosen ones by id."""
from __future__ import annotations

from typing import Iterable, Iterator, Optional

from models import Capture
from models.capture import PK

from . import query, windows
from .filters import Filters, Position
from .rows import RETURN_FIELDS, row


def pages(filters: Filters, newest_first: bool = True, size: int = 200) -> Iterator[list[dict]]:
    """Yield the listing rows `filters` match, `size` at a time, in (taken_at, id) order.

    Each page is query.page() after the previous page's last capture: a range, never an offset,
    so the walk costs the same per page at any depth and holds one page at a time.
    """
    after: Optional[Position] = None
    clock = windows.time_of_day(filters)  # once for the walk, not per page
    while True:
        page = query.page(filters, size, after, newest_first, clock=clock)
        if page.items:
            yield page.items
        if page.next is None:
            return
        after = page.next


def selected(filters: Filters, pks: Iterable[str], newest_first: bool = True) -> list[dict]:
    """Return the listing rows of those of `pks` that `filters` match, in (taken_at, id) order.

    One FT.SEARCH restricted to the captures' keys (INKEYS), so a filter added to Filters
    applies here as it does to page(). Meant for a few hundred ids: all rows come in one reply.
    """
    pks = list(dict.fromkeys(pks))
    for pk in pks:
        if not PK.match(pk):
            raise ValueError(f"not a capture id: {pk!r}")
    if not pks:
        return []
    keys = [Capture.make_primary_key(pk) for pk in pks]
    # WITHSORTKEYS: the sort key is the exact indexed taken_at; RETURN rounds it to 12 digits.
    args = (query.build(filters), "INKEYS", len(keys), *keys, "WITHSORTKEYS", "SORTBY", "taken_at", "ASC",
            "RETURN", len(RETURN_FIELDS), *RETURN_FIELDS, "LIMIT", 0, len(keys), "DIALECT", 2)
    rows = []
    for reply_row in query.run("FT.SEARCH", args)[0]["results"]:
        item = row(reply_row["id"].rsplit(":", 1)[1], reply_row["extra_attributes"])
        item["taken_at"] = float(reply_row["sortkey"][1:])
        rows.append(item)
    # Ties on taken_at by id, as page() orders them.
    return sorted(rows, key=lambda r: (r["taken_at"], r["id"]), reverse=newest_first)
