"""`pigallery import`: bring a folder tree of existing JPEGs in, once each."""
from __future__ import annotations

import datetime as dt
import hashlib
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
from .exif import BrokenExif, camera_name, read_exif

UNKNOWN_DEVICE = "unknown"


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


def resolve_time(exif_time: Optional[dt.datetime], mtime: float, zone: Optional[dt.tzinfo]) -> dt.datetime:
    """EXIF time with its offset, else in `zone` (None = this machine's), else the file date."""
    if exif_time is None:
        return dt.datetime.fromtimestamp(mtime, dt.timezone.utc)
    if exif_time.tzinfo is None:
        # astimezone() on a naive time reads it as local time, DST included.
        exif_time = exif_time.replace(tzinfo=zone) if zone else exif_time.astimezone()
    return exif_time.astimezone(dt.timezone.utc)


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
        data = path.read_bytes()
    except OSError as exc:
        report.skipped.append((path, f"cannot read the file: {exc.strerror or exc}"))
        return
    # A file already imported is recognised by its bytes alone, before any decoding.
    pk = content_pk(data)
    if already_stored(pk, report):
        report.duplicates += 1
        return
    try:
        facts = read_exif(data)  # headers only: the picture itself is decoded when stored
    except (BrokenExif, OSError) as exc:  # OSError: Pillow's "Truncated File Read" in the headers
        report.skipped.append((path, why_unreadable(data, exc)))
        return
    if facts["taken_at"] is None:
        report.notes.append((path, "no EXIF date: using the file's modification time"))
    taken_at = resolve_time(facts["taken_at"], path.stat().st_mtime, zone)
    metadata = {k: v for k, v in facts.items() if k != "taken_at" and v is not None}
    device = device or camera_name(facts["camera_make"], facts["camera_model"]) or UNKNOWN_DEVICE
    try:
        # Imports keep no TTL: they are someone's archive, not a camera's rolling window.
        # Nor are they announced: live updates are for new shots, and a 10,000-file import
        # would flood every open gallery (a page load shows them).
        Capture.create(data, pk=pk, device=device, taken_at=taken_at, trigger="import", **metadata)
    except InvalidCapture as exc:
        report.skipped.append((path, str(exc)))
        return
    report.imported += 1


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
