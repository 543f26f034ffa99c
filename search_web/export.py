"""GET /api/export.zip: the captures a filter matches, as one ZIP streamed while it is made.

The archive holds each capture's full image (its thumbnail where the full one has expired),
stored as is (ZIP_STORED: JPEGs do not deflate), then two sidecars listing the same captures
with the API's item fields: captures.json and captures.csv. Memory stays flat however large the
export: captures come by keyset pages (index.walk), one capture's bytes are read at a time and
handed to the client as soon as zipfile has written them, and the sidecars' rows wait in a
temporary file (on disk past 1 MB) until the images are done. What grows is zipfile's own list
of entries for the central directory, under 1 kB a capture (ZIP64 past 4 GiB, by zipfile).
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import re
import struct
import tempfile
import unicodedata
import zipfile
from typing import Annotated, Iterator, Literal, Optional

from flask import Blueprint, Response, current_app, request, stream_with_context
from pydantic import Field, PlainValidator, WithJsonSchema

from index import query, walk
from index.filters import Filters
from models import Capture
from models.capture import IMAGE_FIELD, PK, THUMBNAIL_FIELD, stored_time
from models.wire import iso

from .api import ITEM_KEYS, sniff, to_items
from .errors import error_response
from .params import FilterParams, parse

log = logging.getLogger(__name__)

bp = Blueprint("export", __name__, url_prefix="/api")

# Captures per export, decided from the count before anything is sent (EXPORT_MAX_CAPTURES).
MAX_CAPTURES = 10_000
# Ids per explicit selection: 200 `id=<26 characters>&` take 6,000 of the URL's 8,000 bytes.
MAX_IDS = 200
PAGE_SIZE = 100  # captures per keyset page of the walk
SIDECAR_CHUNK = 500  # sidecar rows written between hand-overs to the client
SPOOL_IN_MEMORY = 1 << 20  # sidecar rows past this many bytes wait on disk
# The item fields, as /api/captures gives them, then where the capture is in the archive.
COLUMNS = (*ITEM_KEYS, "file", "content")
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
# What no file name may hold on Windows, macOS or Linux: path separators, Windows' reserved
# punctuation, and control characters; other unsafe characters are told by their category below.
UNSAFE_CHARACTERS = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
UNSAFE_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}  # controls, bidi overrides, unassigned
WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
                    *(f"{port}{n}" for port in ("COM", "LPT") for n in "0123456789¹²³")}
DEVICE_BYTES = 64  # of a name's 255: room for the time, the id and the extension
# Spreadsheets run a cell that starts with one of these as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def parse_id(value) -> str:
    text = str(value).strip()
    if not PK.match(text):
        raise ValueError(f"{value!r} is not a capture id (26 characters, as `id` in /api/captures items)")
    return text


CaptureId = Annotated[str, PlainValidator(parse_id), WithJsonSchema({"type": "string", "pattern": PK.pattern})]


class ExportParams(FilterParams):
    """Parameters of GET /api/export.zip: every filter of /api/captures, the order, and ids."""

    sort: Literal["newest", "oldest"] = Field("newest", description="Order of the files in the archive and of the "
                                                                     "sidecars' rows: newest first (default) or oldest first.")
    id: list[CaptureId] = Field([], max_length=MAX_IDS, description=(
        f"Export only these captures (repeat for several, at most {MAX_IDS}), those of them the other filters "
        "match; ids of captures that do not exist or do not match are left out."))


@bp.record_once
def _defaults(state) -> None:
    state.app.config.setdefault("EXPORT_MAX_CAPTURES", MAX_CAPTURES)


def safe_component(text: str, most_bytes: int = DEVICE_BYTES) -> str:
    """Return `text` as part of a file name every common file system takes as written.

    Path separators, characters Windows refuses, controls and invisible format characters become
    `_`; leading and trailing dots and spaces go (hidden files; Windows drops trailing ones); a
    Windows device name (CON, NUL, COM1, ...) gets a leading `_`; at most `most_bytes` of UTF-8
    (NFC, as macOS and the rest compare names). Unique it is not: names add the capture's id.
    """
    text = unicodedata.normalize("NFC", text)
    text = "".join("_" if UNSAFE_CHARACTERS.match(c) or unicodedata.category(c) in UNSAFE_CATEGORIES else c
                   for c in text)
    text = text.encode()[:most_bytes].decode(errors="ignore").strip(" .")
    if text.split(".")[0].strip().upper() in WINDOWS_RESERVED:
        text = f"_{text}"
    return text or "_"


def file_name(item: dict, content: str, mime: str) -> str:
    """Return the archive path of a capture: its UTC day, then device, time and id.

    2026-12-01/pi-garden_2026-12-01T12-00-00Z_<id>.jpg, or ..._<id>_thumbnail.jpg for a thumbnail
    standing in for an expired full image. The id makes every name unique, also on file systems
    that ignore case (ids have no lower case) or map two device names to one safe name.
    """
    stamp = item["taken_at"][:19]  # 2026-12-01T12:00:00, from the API's ISO time
    suffix = "_thumbnail" if content == THUMBNAIL_FIELD else ""
    return (f"{stamp[:10]}/{safe_component(item['device'])}_{stamp.replace(':', '-')}Z_{item['id']}{suffix}"
            f".{EXTENSIONS.get(mime, 'bin')}")


def zip_info(name: str, when: dt.datetime, compress_type: int) -> zipfile.ZipInfo:
    """A ZipInfo dated `when`: DOS time in UTC, plus the exact instant as a Unix time where one fits."""
    # DOS times only cover 1980-2107; a capture may be dated anywhere in years 1-9999.
    clamped = min(max(when, dt.datetime(1980, 1, 1, tzinfo=dt.timezone.utc)),
                  dt.datetime(2107, 12, 31, 23, 59, 58, tzinfo=dt.timezone.utc))
    info = zipfile.ZipInfo(name, clamped.timetuple()[:6])
    info.compress_type = compress_type
    info.external_attr = 0o644 << 16
    seconds = int(when.timestamp())
    if -2**31 <= seconds < 2**31:
        # The "UT" extra field: unzip and most tools set the file's time from it, not from the DOS local time.
        info.extra = struct.pack("<HHBl", 0x5455, 5, 1, seconds)
    return info


class Sink:
    """A write-only stream for zipfile: what it is given waits here until the generator yields it."""

    def __init__(self):
        self.chunks: list[bytes] = []

    def write(self, data) -> int:
        self.chunks.append(bytes(data))  # the same object for bytes: an image is not copied
        return len(self.chunks[-1])

    def flush(self) -> None:
        pass

    def take(self) -> list[bytes]:
        chunks, self.chunks = self.chunks, []
        return chunks


def read_bytes(item: dict) -> tuple[Optional[bytes], str]:
    """Return a capture's full image, else its thumbnail, and which it is; (None, ...) if both are gone."""
    if item["image_url"] is not None:
        data = Capture.read_binary(item["id"], IMAGE_FIELD)
        if data is not None:
            return data, IMAGE_FIELD
    # Expired by its own TTL (the listing said so, or it passed since): the thumbnail stays.
    return Capture.read_binary(item["id"], THUMBNAIL_FIELD), THUMBNAIL_FIELD


def csv_cell(value):
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return f"'{value}"  # shown as text; captures.json keeps the value exactly
    return value


def archive(pages: Iterator[list[dict]], query_string: str, most: int) -> Iterator[bytes]:
    """Yield a ZIP of the captures in `pages` (listing rows), then its sidecars, as it is written.

    At most `most` captures: the count was checked before, but captures stored during a long
    oldest-first export come at its end.
    """
    sink = Sink()
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # one JSON line per capture
    count = 0
    started = dt.datetime.now(dt.timezone.utc)
    try:
        with spool, zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as zf:
            for rows in pages:
                for item in to_items(rows):
                    if count >= most:
                        break
                    data, content = read_bytes(item)
                    if data is None:
                        continue  # deleted since it was listed: in neither the archive nor the sidecars
                    name = file_name(item, content, sniff(data))
                    taken_at = dt.datetime.fromisoformat(item["taken_at"].replace("Z", "+00:00"))
                    zf.writestr(zip_info(name, taken_at, zipfile.ZIP_STORED), data)
                    del data
                    yield from sink.take()
                    if content == THUMBNAIL_FIELD:
                        item["image_url"] = None
                    spool.write(json.dumps({**item, "file": name, "content": content}).encode() + b"\n")
                    count += 1
            yield from sidecars(zf, sink, spool, count, started, query_string)
        yield from sink.take()  # the central directory
    except Exception:  # not GeneratorExit: a client that went away is no error
        # Past the headers no error reply can be sent: the archive ends without its central
        # directory (unreadable, never mistaken for a complete one) and the log says why.
        log.exception("export aborted after %d captures", count)
        raise


def sidecars(zf: zipfile.ZipFile, sink: Sink, spool, count: int, started: dt.datetime,
             query_string: str) -> Iterator[bytes]:
    """Write captures.json and captures.csv from the spooled rows, handing output over as it comes."""
    head = {"exported_at": iso(started), "query": query_string, "count": count}
    with zf.open(zip_info("captures.json", started, zipfile.ZIP_DEFLATED), "w") as out:
        out.write(json.dumps(head)[:-1].encode() + b', "items": [')  # the head without its closing brace
        spool.seek(0)
        for number, line in enumerate(spool):
            out.write((b",\n" if number else b"\n") + line.rstrip(b"\n"))
            if number % SIDECAR_CHUNK == 0:
                yield from sink.take()
        out.write(b"\n]}\n")
    yield from sink.take()
    with zf.open(zip_info("captures.csv", started, zipfile.ZIP_DEFLATED), "w") as out:
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(COLUMNS)
        spool.seek(0)
        for number, line in enumerate(spool):
            entry = json.loads(line)
            writer.writerow([csv_cell(entry[name]) for name in COLUMNS])
            if number % SIDECAR_CHUNK == 0:
                out.write(text.getvalue().encode())
                text.seek(0)
                text.truncate()
                yield from sink.take()
        out.write(text.getvalue().encode())
    yield from sink.take()


def day(row: Optional[dict]) -> Optional[str]:
    """The UTC day of a listing row; None for none, or for a time no datetime holds (a hand-written hash)."""
    when = stored_time(row["taken_at"]) if row is not None else None
    return when.date().isoformat() if when is not None else None


def archive_name(first: Optional[dict], last: Optional[dict]) -> str:
    """pigallery-<oldest day>_<newest day>.zip (UTC days of the captures in it), one day once."""
    days = sorted({d for d in (day(first), day(last)) if d is not None})
    return f"pigallery-{'_'.join(days) or 'empty'}.zip"


@bp.get("/export.zip")
def export_zip():
    """Stream the filter's captures as a ZIP of their images with JSON and CSV sidecars."""
    params = parse(ExportParams, request.args)
    filters: Filters = params.filters()
    newest_first = params.sort == "newest"
    most = current_app.config["EXPORT_MAX_CAPTURES"]
    if params.id:
        rows = walk.selected(filters, params.id, newest_first)
        pages: Iterator[list[dict]] = iter([rows] if rows else [])
        first, last = (rows[0], rows[-1]) if rows else (None, None)
    else:
        # Up front, before a byte is sent: how many, and the first and last (for the file name).
        head = query.page(filters, 1, newest_first=newest_first)
        if head.total > most:
            return error_response(
                400, f"the filters match {head.total:,} captures and an export holds at most {most:,}: narrow them "
                     "(a shorter from/to range, a device, a trigger, lux or exposure bounds) and export in parts",
                total=head.total, max_captures=most)
        tail = query.page(filters, 1, newest_first=not newest_first) if head.total > 1 else head
        first = head.items[0] if head.items else None
        last = tail.items[0] if tail.items else None
        pages = walk.pages(filters, newest_first, PAGE_SIZE)
    body = stream_with_context(archive(pages, request.query_string.decode("latin-1"), most))
    response = Response(body, mimetype="application/zip")
    response.headers["Content-Disposition"] = f"attachment; filename={archive_name(first, last)}"
    response.headers["Cache-Control"] = "no-store"  # what a filter matches changes with every capture
    return response
