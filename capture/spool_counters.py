"""Dropped and lost pictures of a spool, for this run (the agent's summary) and every run (`--status`)."""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
from pathlib import Path
from typing import Optional

log = logging.getLogger(__name__)

# JSON padded to a fixed size and rewritten in place, because it must still be updated when
# the disk is full (no new block is needed).
COUNTERS = "counters.json"
COUNTERS_SIZE = 256
KINDS = ("dropped", "lost")


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class Counters:
    """The counts kept in `folder`/COUNTERS; `problem` says why earlier runs' counts are unknown."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / COUNTERS
        self.run = dict.fromkeys(KINDS, 0)
        self._fd: Optional[int] = None
        self._warned = False
        self.totals, self.problem = self._read()

    def _read(self) -> tuple[dict, Optional[str]]:
        zero = dict.fromkeys(KINDS, 0)
        try:
            data = json.loads(self.path.read_bytes())
            return {**zero, **{k: v for k, v in data.items() if k in KINDS and isinstance(v, int)
                               or k in ("since", "last_dropped", "last_lost") and isinstance(v, str)}}, None
        except FileNotFoundError:
            return zero, None
        except (OSError, ValueError, AttributeError) as exc:
            return zero, f"{COUNTERS} is unreadable ({exc})"

    def _record(self) -> bytes:
        data = json.dumps(self.totals, separators=(",", ":")).encode()
        return data.ljust(COUNTERS_SIZE - 1) + b"\n"

    def open(self) -> None:
        """Open the file for rewriting in place, creating it (atomically) while there is room."""
        self.totals.setdefault("since", _now())
        try:
            if self.problem or not self.path.is_file() or self.path.stat().st_size != COUNTERS_SIZE:
                tmp = self.path.with_name(f".{COUNTERS}.tmp")
                try:
                    with open(tmp, "wb") as f:
                        f.write(self._record())
                        f.flush()
                        os.fsync(f.fileno())
                    os.replace(tmp, self.path)
                except BaseException:
                    with contextlib.suppress(OSError):
                        tmp.unlink(missing_ok=True)
                    raise
                self.problem = None
            self._fd = os.open(self.path, os.O_RDWR)
        except OSError as exc:
            self._failed(exc)

    def _failed(self, exc: OSError) -> None:
        if not self._warned:
            self._warned = True
            log.warning("spool: cannot record dropped/lost counts in %s (%s); this run's summary still has them, "
                        "`--status` will not", self.path, exc.strerror or exc)

    def count(self, what: str, record: bool) -> None:
        """Count one dropped or lost picture; `record` writes it to the file too (the spool's owner)."""
        self.run[what] += 1
        self.totals[what] = self.totals.get(what, 0) + 1
        self.totals[f"last_{what}"] = _now()
        if not record:
            return
        if self._fd is None:
            self.open()  # the disk may have had no room when the agent started
            if self._fd is None:
                return
        try:
            os.pwrite(self._fd, self._record(), 0)
            os.fsync(self._fd)
        except OSError as exc:
            self._failed(exc)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
