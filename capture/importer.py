"""`pigallery import`: bring a folder tree of existing JPEGs in, once each."""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

import redis
from tqdm import tqdm
from ulid import ULID

from models import Capture, InvalidCapture, NotFoundError, images

from .agent import Lifetimes, write
from .cameras import JPEG_SUFFIXES
from .exif import BrokenExif, camera_name, read_exif
from .spool import Entry

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


def jpeg_files(root: Path) -> Iterator[Path]:
    """Yield JPEG files under `root` in a stable order, not following symlinked folders."""
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            if Path(name).suffix.lower() in JPEG_SUFFIXES:
                yield Path(folder) / name


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
        Capture.load(pk)
    except NotFoundError:
        return False
    except redis.exceptions.NoPermissionError:
        report.unchecked = True  # a write-only user: storing again rewrites the same hash, still one copy
        return False
    return True


def import_file(path: Path, report: Report, device: Optional[str], zone: Optional[dt.tzinfo]) -> None:
    """Import one file, recording the outcome in `report`; Redis errors propagate."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        report.skipped.append((path, f"cannot read the file: {exc.strerror or exc}"))
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # read_exif turns Pillow's EXIF warnings into reasons
            images.inspect(data)  # the clearest words for a file that is no picture at all
        facts = read_exif(data)
    except (images.InvalidImage, BrokenExif) as exc:
        report.skipped.append((path, str(exc)))
        return
    except OSError as exc:  # Pillow's own "Truncated File Read" while parsing the headers
        report.skipped.append((path, f"not a readable image: {exc}"))
        return
    pk = content_pk(data)
    if already_stored(pk, report):
        report.duplicates += 1
        return
    if facts["taken_at"] is None:
        report.notes.append((path, "no EXIF date: using the file's modification time"))
    taken_at = resolve_time(facts["taken_at"], path.stat().st_mtime, zone)
    metadata = {k: v for k, v in facts.items() if k != "taken_at" and v is not None}
    device = device or camera_name(facts["camera_make"], facts["camera_model"]) or UNKNOWN_DEVICE
    try:
        # Imports keep no TTL: they are someone's archive, not a camera's rolling window.
        entry = Entry(pk, {**metadata, "device": device, "taken_at": taken_at, "trigger": "import"},
                      data, images.thumbnail(data))
        write(entry, Lifetimes())
    except (InvalidCapture, images.InvalidImage) as exc:
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
