"""`pigallery import`: bring a folder tree of existing JPEGs in, once each."""
from __future__ import annotations

import datetime as dt
import errno
import hashlib
import os
import stat
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import redis
from tqdm import tqdm
from ulid import ULID

from models import Capture, InvalidCapture, images

from .cameras import jpeg_files
from .exif import BrokenExif, ImageBomb, camera_name, read_exif

UNKNOWN_DEVICE = "unknown"
# The largest in-camera JPEGs (100-150 megapixel medium format at top quality) stay well under
# 100 MB. A bigger file is no camera's picture, and is read whole into memory, then stored whole
# in one Redis value, so it is skipped unread.
MAX_FILE_BYTES = 128 * 1024 * 1024
# What a path that is not a regular file turns out to be, for the skip reason.
FILE_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
              (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))


def content_pk(data: bytes) -> str:
    """Return the capture id for these bytes: the same file always gets the same id.

    A ULID-shaped string (26 Crockford base32 characters) made from SHA-256, so it
    fits wherever a capture id goes; re-importing rewrites nothing new.
    """
    return str(ULID.from_bytes(hashlib.sha256(data).digest()[:16]))


@dataclass
class Report:
    """What an import did: counts, plus every skipped file with the reason."""

    imported: int = 0
    duplicates: int = 0
    unchecked: bool = False  # the Redis user may not read, so duplicates were rewritten in place
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    notes: list[tuple[Path, str]] = field(default_factory=list)

    def summary(self) -> str:
        text = (f"imported {self.imported}, already present {self.duplicates}, "
                f"skipped {len(self.skipped)}, time from file date {len(self.notes)}")
        if self.unchecked:
            text += " (this Redis user cannot read: files already there were rewritten in place, not added twice)"
        return text


class Unreadable(Exception):
    """The file is not read: it is no regular file, too big, or cannot be opened; the message says why."""


def _check_file(path: Path, st: os.stat_result) -> None:
    if not stat.S_ISREG(st.st_mode):
        kind = next((name for test, name in FILE_KINDS if test(st.st_mode)), "of an unknown type")
        via = f" (symlink to {os.path.realpath(path)})" if path.is_symlink() else ""
        raise Unreadable(f"not a regular file: {kind}{via}")
    if st.st_size > MAX_FILE_BYTES:
        raise Unreadable(f"{st.st_size:,} bytes, over the {MAX_FILE_BYTES // 2**20} MiB limit for a picture")


def read_file(path: Path) -> tuple[bytes, os.stat_result]:
    """Return the bytes and stat of `path` if it is, or links to, a regular file of sane size.

    Raises Unreadable otherwise: a FIFO would block the import forever, /dev/zero would
    fill the memory, and a symlink loop cannot be opened at all.
    """
    try:
        st = os.stat(path)  # follows symlinks: a link to a regular file is read as that file
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Unreadable("symlink loop (too many levels of symbolic links)") from None
        if exc.errno == errno.ENOENT and path.is_symlink():
            raise Unreadable(f"dangling symlink to {os.readlink(path)}") from None
        raise Unreadable(f"cannot read the file: {exc.strerror or exc}") from None
    _check_file(path, st)
    try:
        # O_NONBLOCK: should the path have become a FIFO since the stat, opening it cannot hang.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise Unreadable(f"cannot read the file: {exc.strerror or exc}") from None
    with open(fd, "rb") as file:
        st = os.fstat(file.fileno())
        _check_file(path, st)  # the file opened is the file checked
        try:
            data = file.read(MAX_FILE_BYTES + 1)  # bounded, in case it grows meanwhile
        except OSError as exc:
            raise Unreadable(f"cannot read the file: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise Unreadable(f"over the {MAX_FILE_BYTES // 2**20} MiB limit for a picture (it grew while being read)")
    return data, st


def resolve_time(exif_time: Optional[dt.datetime], mtime: float, zone: Optional[dt.tzinfo]) -> dt.datetime:
    """EXIF time with its offset, else in `zone` (None = this machine's), else the file date."""
    if exif_time is None:
        return dt.datetime.fromtimestamp(mtime, dt.timezone.utc)
    if exif_time.tzinfo is None:
        # astimezone() on a naive time reads it as local time, DST included.
        exif_time = exif_time.replace(tzinfo=zone) if zone else exif_time.astimezone()
    return exif_time.astimezone(dt.timezone.utc)


def source_name(path: Path) -> str:
    """The file's own name as the gallery shows it: bytes that are no UTF-8 and control characters
    (a Linux name may hold both) become U+FFFD; at most 255 characters, as the model takes."""
    name = os.fsencode(path.name).decode("utf-8", "replace")
    return "".join("\ufffd" if ord(c) < 32 or ord(c) == 127 else c for c in name)[:255]


def already_stored(pk: str, report: Report) -> bool:
    """Whether a capture with this id exists; False if this Redis user may not read."""
    try:
        return Capture.exists(pk)
    except redis.exceptions.NoPermissionError:
        report.unchecked = True  # a write-only user: storing again rewrites the same hash, still one copy
        return False


def why_unreadable(data: bytes, exc: Exception) -> str:
    """Say why EXIF could not be read: the picture's own fault in the clearest words, else the EXIF's."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the EXIF warnings are what `exc` already says
            images.inspect(data)  # decoding only a file already known to be broken
    except images.InvalidImage as bad:
        return str(bad)
    return str(exc)


def import_file(path: Path, report: Report, device: Optional[str], zone: Optional[dt.tzinfo]) -> None:
    """Import one file, recording the outcome in `report`; Redis errors propagate."""
    try:
        data, st = read_file(path)
    except Unreadable as exc:
        report.skipped.append((path, str(exc)))
        return
    # A file already imported is recognised by its bytes alone, before any decoding.
    pk = content_pk(data)
    if already_stored(pk, report):
        report.duplicates += 1
        return
    try:
        facts = read_exif(data)  # headers only: the picture itself is decoded when stored
    except ImageBomb as exc:
        report.skipped.append((path, str(exc)))  # said without decoding: that is the danger
        return
    except (BrokenExif, OSError) as exc:  # OSError: Pillow's "Truncated File Read" in the headers
        report.skipped.append((path, why_unreadable(data, exc)))
        return
    taken_at = note = None
    time_source = "exif"
    if facts["taken_at"] is None:
        note = "no EXIF date: using the file's modification time"
    else:
        try:
            taken_at = resolve_time(facts["taken_at"], st.st_mtime, zone)
        except (OverflowError, ValueError):
            # A clock set to year 1 or 9999 plus an offset lands outside what can be stored, and
            # is as wrong as an unset clock: the picture is good, so the file date stands in.
            note = (f"EXIF date {facts['taken_at']} falls outside the years 1-9999 in UTC: "
                    "using the file's modification time")
    if taken_at is None:
        taken_at, time_source = resolve_time(None, st.st_mtime, zone), "file"  # a guess, shown as one
    metadata = {k: v for k, v in facts.items() if k != "taken_at" and v is not None}
    device = device or camera_name(facts["camera_make"], facts["camera_model"]) or UNKNOWN_DEVICE
    try:
        # Imports keep no TTL: they are someone's archive, not a camera's rolling window.
        # Nor are they announced: live updates are for new shots, and a 10,000-file import
        # would flood every open gallery (a page load shows them).
        with warnings.catch_warnings():
            # read_exif has judged the size and the EXIF already: Pillow's warnings about them
            # (DecompressionBombWarning, skipped tags) would only print through the progress bar.
            warnings.filterwarnings("ignore", module=r"PIL\.")
            Capture.create(data, pk=pk, device=device, taken_at=taken_at, trigger="import", time_source=time_source,
                           source_name=source_name(path), **metadata)
    except InvalidCapture as exc:
        report.skipped.append((path, str(exc)))
        return
    report.imported += 1
    if note:  # only now: a file skipped when stored got no time at all
        report.notes.append((path, note))


def import_tree(root: Path, device: Optional[str] = None, zone: Optional[dt.tzinfo] = None,
                progress: bool = True) -> Report:
    """Import every JPEG under `root`, reporting each skipped file as it goes."""
    report = Report()
    paths = list(jpeg_files(root))
    for path in tqdm(paths, desc="importing", unit="file", disable=None if progress else True):
        before = len(report.skipped), len(report.notes)
        import_file(path, report, device, zone)
        # tqdm.write prints above the progress bar instead of through it.
        for kind, items, seen in (("skipped", report.skipped, before[0]), ("note", report.notes, before[1])):
            for _path, reason in items[seen:]:
                tqdm.write(f"{kind}: {_path}: {reason}", file=sys.stderr)
    return report
