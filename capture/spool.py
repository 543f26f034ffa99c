"""A durable on-disk queue of captures waiting for Redis: one atomic file per capture.

Each entry is written to a temporary name, fsynced, renamed into place and the folder
fsynced, so after a power cut an entry is either complete or absent (a leftover temp
file is removed on open). Names start with a zero-padded sequence number, so sorting
names gives capture order; a checksum catches an entry the SD card itself corrupted.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

log = logging.getLogger(__name__)

MAGIC = b"PGSPOOL1"
HEADER = struct.Struct(">III")  # lengths of the JSON metadata, the image, the thumbnail
DIGEST = 32
NAME = re.compile(r"^(\d{12})-([0-9A-Za-z]+)\.entry$")


class CorruptEntry(ValueError):
    """A spool file that is not a complete, intact entry."""


@dataclass
class Entry:
    """A capture waiting to be stored: its id, metadata and both images."""

    pk: str
    metadata: dict
    image: bytes
    thumbnail: bytes

    def encode(self) -> bytes:
        meta = json.dumps({"pk": self.pk, **self.metadata}, separators=(",", ":")).encode()
        body = MAGIC + HEADER.pack(len(meta), len(self.image), len(self.thumbnail)) + meta + self.image + self.thumbnail
        return body + hashlib.sha256(body).digest()

    @classmethod
    def decode(cls, data: bytes) -> "Entry":
        start = len(MAGIC) + HEADER.size
        if data[: len(MAGIC)] != MAGIC or len(data) < start + DIGEST:
            raise CorruptEntry("not a spool entry")
        body, digest = data[:-DIGEST], data[-DIGEST:]
        if hashlib.sha256(body).digest() != digest:
            raise CorruptEntry("checksum mismatch")
        n_meta, n_image, n_thumb = HEADER.unpack(body[len(MAGIC):start])
        if start + n_meta + n_image + n_thumb != len(body):
            raise CorruptEntry("length mismatch")
        meta = json.loads(body[start:start + n_meta])
        image = body[start + n_meta:start + n_meta + n_image]
        return cls(meta.pop("pk"), meta, image, body[start + n_meta + n_image:])


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SpoolBusy(RuntimeError):
    """Another agent already writes to this spool."""


class Spool:
    """The queue in `folder`, holding at most `max_bytes` (the oldest entries go first).

    The owner (`owner=True`, the agent) locks the folder and clears leftovers of a write
    cut short; a reader (`--status`) does neither, so it never disturbs a running agent.
    """

    def __init__(self, folder: Path, max_bytes: int, owner: bool = True):
        self.folder = Path(folder)
        self.bad = self.folder / "bad"
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._owner_fd: Optional[int] = None
        if owner:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._take_ownership()
        names = self._names()
        self._seq = int(NAME.match(names[-1]).group(1)) + 1 if names else 0
        self._sizes = {n: (self.folder / n).stat().st_size for n in names}

    def _take_ownership(self) -> None:
        fd = os.open(self.folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            # Two agents on one spool would interleave sequence numbers and drain twice.
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SpoolBusy(f"another capture agent is using the spool {self.folder}") from None
        self._owner_fd = fd
        for tmp in self.folder.glob(".*.tmp"):
            log.warning("spool: removing %s, a write cut short (power loss or kill)", tmp.name)
            tmp.unlink(missing_ok=True)

    def close(self) -> None:
        """Release the folder for another agent."""
        if self._owner_fd is not None:
            os.close(self._owner_fd)
            self._owner_fd = None

    def __enter__(self) -> "Spool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _names(self) -> list[str]:
        # A reader does not create the folder: run as root, it would leave one the agent cannot write.
        if not self.folder.is_dir():
            return []
        return sorted(n for n in os.listdir(self.folder) if NAME.match(n))

    def __contains__(self, name: str) -> bool:
        with self._lock:
            return name in self._sizes

    def __len__(self) -> int:
        with self._lock:
            return len(self._sizes)

    @property
    def size(self) -> int:
        with self._lock:
            return sum(self._sizes.values())

    def put(self, entry: Entry) -> str:
        """Write `entry` durably after all others; drop the oldest if over the cap."""
        data = entry.encode()
        with self._lock:
            name = f"{self._seq:012d}-{entry.pk}.entry"
            self._seq += 1
            tmp = self.folder / f".{name}.tmp"
            try:
                with open(tmp, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.folder / name)
            except OSError:
                tmp.unlink(missing_ok=True)  # a full card must not keep half an entry
                raise
            _fsync_dir(self.folder)
            self._sizes[name] = len(data)
            self._enforce_cap(keep=name)
        return name

    def _enforce_cap(self, keep: str) -> None:
        total = sum(self._sizes.values())
        for name in sorted(self._sizes):
            if total <= self.max_bytes or name == keep:
                break
            total -= self._sizes.pop(name)
            (self.folder / name).unlink(missing_ok=True)
            log.warning("spool full (%.1f MB cap): dropped oldest capture %s", self.max_bytes / 1e6, name.split("-", 1)[1][:-6])

    def oldest(self) -> Optional[str]:
        with self._lock:
            return min(self._sizes) if self._sizes else None

    def read(self, name: str) -> Entry:
        """Return the entry `name`; CorruptEntry if it is damaged, FileNotFoundError if gone."""
        return Entry.decode((self.folder / name).read_bytes())

    def remove(self, name: str) -> None:
        """Forget an entry once Redis has acknowledged it."""
        with self._lock:
            self._sizes.pop(name, None)
            (self.folder / name).unlink(missing_ok=True)
        _fsync_dir(self.folder)

    def quarantine(self, name: str, reason: str) -> None:
        """Move an entry that can never be stored to bad/, so the queue moves on."""
        log.error("spool: moving %s to %s: %s", name, self.bad, reason)
        with self._lock:
            # Off the queue first: even if it cannot be moved, the drainer must not retry it.
            self._sizes.pop(name, None)
            try:
                self.bad.mkdir(exist_ok=True)
                os.replace(self.folder / name, self.bad / name)
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.error("spool: cannot move %s aside (%s); it is retried when the agent restarts", name, exc)

    def status(self) -> dict:
        """Return depth, bytes, cap and the oldest/newest entries' capture times."""
        with self._lock:
            names = sorted(self._sizes)
            total = sum(self._sizes.values())
        info = {"folder": str(self.folder), "entries": len(names), "bytes": total, "max_bytes": self.max_bytes,
                "quarantined": len(list(self.bad.glob("*.entry"))) if self.bad.is_dir() else 0}
        for key, name in (("oldest", names[:1]), ("newest", names[-1:])):
            if name:
                try:
                    info[key] = self.read(name[0]).metadata.get("taken_at")
                except (CorruptEntry, OSError, ValueError):
                    info[key] = f"{name[0]} (unreadable)"
        return info
