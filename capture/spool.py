"""A durable on-disk queue of captures waiting for Redis: one atomic file per capture.

Each entry is written to a temporary name, fsynced, renamed into place and the folder
fsynced, so after a power cut an entry is either complete or absent (a leftover temp
file is removed on open). Names start with a zero-padded sequence number, so sorting
names gives capture order; a checksum catches an entry the SD card itself corrupted.

When the disk fills up before the MB cap does, the oldest entry makes room, as the cap
would; dropped and lost pictures are counted (spool_counters.py), so `--status` sees them too.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import struct
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .spool_counters import Counters

log = logging.getLogger(__name__)

MAGIC = b"PGSPOOL1"
HEADER = struct.Struct(">III")  # lengths of the JSON metadata, the image, the thumbnail
DIGEST = 32
NAME = re.compile(r"^(\d{12})-([0-9A-Za-z]+)\.entry$")
# The disk (or the user's quota) is full: dropping older entries may make room.
NO_ROOM = (errno.ENOSPC, errno.EDQUOT)


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
        self.counters = Counters(self.folder)
        # Why nothing can be written here (None: it can). The owner still opens an unwritable
        # spool: the agent then stores straight to Redis rather than stopping while Redis is up.
        self.unwritable: Optional[str] = None
        if owner:
            self._open_as_owner()
        names = self._names()
        self._seq = int(NAME.match(names[-1]).group(1)) + 1 if names else 0
        self._sizes = {n: (self.folder / n).stat().st_size for n in names}

    def _open_as_owner(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.unwritable = f"it cannot be created: {exc.strerror or exc}"
            return  # nothing here to lock or clean up
        self._take_ownership()
        self.unwritable = self.probe()
        if self.counters.problem:
            log.warning("spool: %s; dropped/lost counts start again from 0", self.counters.problem)
        if self.unwritable is None:
            self.counters.open()

    def _take_ownership(self) -> None:
        try:
            fd = os.open(self.folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            # An unwritable folder: lock what is there without writing, still one agent per spool.
            try:
                fd = os.open(self.folder / ".lock", os.O_RDONLY)
            except OSError:
                fd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            # Two agents on one spool would interleave sequence numbers and drain twice.
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SpoolBusy(f"another capture agent is using the spool {self.folder}") from None
        self._owner_fd = fd
        for tmp in self.folder.glob(".*.tmp"):
            log.warning("spool: removing %s, a write cut short (power loss or kill)", tmp.name)
            try:
                tmp.unlink(missing_ok=True)
            except OSError as exc:  # a read-only spool: reported by probe() right after
                log.warning("spool: cannot remove %s: %s", tmp.name, exc.strerror or exc)
                break

    def probe(self) -> Optional[str]:
        """Return why no capture can be written to the folder now, or None if one can.

        Creates and removes an empty file: only trying tells a read-only mount, a folder
        owned by someone else or a full inode table apart from a usable folder.
        """
        if not self.folder.is_dir():
            # A reader never creates the folder (see _names): judge the folder the agent would create it in.
            parent = next(p for p in self.folder.parents if p.is_dir())
            if os.access(parent, os.W_OK | os.X_OK):
                return None
            why = "Read-only file system" if os.statvfs(parent).f_flag & os.ST_RDONLY else "Permission denied"
            return f"it does not exist and cannot be created in {parent}: {why}"
        try:
            fd, tmp = tempfile.mkstemp(prefix=".probe-", suffix=".tmp", dir=self.folder)
        except OSError as exc:
            return exc.strerror or str(exc)
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return None

    def free_bytes(self) -> Optional[int]:
        """Bytes this user may still write on the spool's disk, if it can be told."""
        folder = self.folder if self.folder.is_dir() else next(p for p in self.folder.parents if p.is_dir())
        try:
            st = os.statvfs(folder)
        except OSError:
            return None
        # root may also use the blocks ext4 reserves for it.
        return st.f_frsize * (st.f_bfree if os.geteuid() == 0 else st.f_bavail)

    def _count(self, what: str) -> None:
        """Count one dropped or lost picture (caller holds the lock); only the owner records it."""
        self.counters.count(what, record=self._owner_fd is not None)

    def record_lost(self, pk: str) -> None:
        """Count a picture that neither Redis nor the spool could take."""
        with self._lock:
            self._count("lost")

    def close(self) -> None:
        """Release the folder for another agent."""
        self.counters.close()
        if self._owner_fd is not None:
            os.close(self._owner_fd)
            self._owner_fd = None

    @property
    def dropped(self) -> int:
        """Pictures dropped to make room in this run (the agent's summary)."""
        return self.counters.run["dropped"]

    @property
    def lost(self) -> int:
        """Pictures neither Redis nor the spool could take in this run."""
        return self.counters.run["lost"]

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
        """Write `entry` durably after all others; drop the oldest if over the cap or out of room.

        Raises OSError if it cannot be written even so: the caller must count it lost.
        """
        data = entry.encode()
        with self._lock:
            name = f"{self._seq:012d}-{entry.pk}.entry"
            self._seq += 1
            while True:
                try:
                    self._write(name, data)
                    break
                except OSError as exc:
                    if exc.errno not in NO_ROOM or not self._make_room(len(data), entry.pk, exc):
                        raise
            self._sizes[name] = len(data)
            self._enforce_cap(keep=name)
        return name

    def _write(self, name: str, data: bytes) -> None:
        tmp = self.folder / f".{name}.tmp"
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.folder / name)
        except BaseException:
            # Half an entry must never be drained, and on a full disk its blocks are needed back.
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(self.folder)

    def _make_room(self, needed: int, pk: str, exc: OSError) -> bool:
        """Drop the oldest entry for a capture of `needed` bytes the disk had no room for; False if pointless."""
        if not self._sizes:
            return False
        free = self.free_bytes()
        if exc.errno == errno.ENOSPC and free is not None and free + sum(self._sizes.values()) < needed:
            # Something else fills the disk: even an empty spool would not hold it, so keep what is queued.
            return False
        return self._drop(min(self._sizes), f"no room on the disk for {pk} ({exc.strerror}); free space on "
                                            "that disk, or set PIGALLERY_SPOOL_MAX_MB below what it can hold")

    def _drop(self, name: str, why: str) -> bool:
        """Delete the queued entry `name` to make room, counting it (caller holds the lock)."""
        try:
            (self.folder / name).unlink(missing_ok=True)
        except OSError as exc:
            log.error("spool: cannot drop %s to make room: %s", name, exc.strerror or exc)
            return False
        del self._sizes[name]
        self._count("dropped")
        log.warning("spool: dropped oldest capture %s: %s", name.split("-", 1)[1][:-6], why)
        return True

    def _enforce_cap(self, keep: str) -> None:
        total = sum(self._sizes.values())
        for name in sorted(self._sizes):
            if total <= self.max_bytes or name == keep:
                break
            size = self._sizes[name]
            if not self._drop(name, f"spool full ({self.max_bytes / 1e6:.1f} MB cap, PIGALLERY_SPOOL_MAX_MB)"):
                break
            total -= size

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
            try:
                (self.folder / name).unlink(missing_ok=True)
            except OSError as exc:
                # Stored all the same; sending it again stores the same capture, not a copy.
                log.warning("spool: %s is stored but its file cannot be deleted (%s); it is sent again, "
                            "without duplicating it, when the agent next starts", name, exc.strerror or exc)
                return
        with contextlib.suppress(OSError):  # a deletion lost to a power cut only means a harmless resend
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
        """Return depth, bytes, cap, the oldest/newest entries' capture times, whether the
        folder can be written, free space, and every run's dropped/lost counts."""
        with self._lock:
            names = sorted(self._sizes)
            total = sum(self._sizes.values())
            totals = dict(self.counters.totals)
        info = {"folder": str(self.folder), "entries": len(names), "bytes": total, "max_bytes": self.max_bytes,
                "quarantined": len(list(self.bad.glob("*.entry"))) if self.bad.is_dir() else 0,
                "unwritable": self.probe(), "free_bytes": self.free_bytes(),
                "counters_problem": self.counters.problem, **totals}
        for key, name in (("oldest", names[:1]), ("newest", names[-1:])):
            if name:
                try:
                    info[key] = self.read(name[0]).metadata.get("taken_at")
                except (CorruptEntry, OSError, ValueError):
                    info[key] = f"{name[0]} (unreadable)"
        return info
