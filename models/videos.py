"""Time-lapse jobs and their finished videos in Redis; the one place naming their keys.

Keys, under the models' key prefix (`pigallery` by default):

- `<prefix>:timelapse:<id>`          hash: the job's state, progress and outcome (text fields);
- `<prefix>:timelapse:<id>:partial`  string: the MP4 while it is being copied in, chunk by chunk;
- `<prefix>:timelapse:<id>:video`    string: the finished MP4, raw bytes (binary-safe client);
- `<prefix>:timelapses`              sorted set: ids of stored videos, scored by when they expire,
                                     so the bytes all videos hold can be added up (`usage`).

Every key has a TTL: a job's hash and video go together after `ttl` seconds; an unfinished job's
hash after ACTIVE_TTL. A video is published (`finish`) by renaming the partial string in the same
MULTI/EXEC that sets the state to `done`, so `done` never points at a half-written video. A job
is cancelled by deleting it; a delete that arrives meanwhile (WATCHed) wins.
"""
from __future__ import annotations

import io
import json
import re
import secrets
import time
from typing import Any, Iterable, Optional

import redis

from . import db, om
from .capture import Capture

STATES = ("queued", "selecting", "encoding", "storing", "done", "failed")
ACTIVE = ("queued", "selecting", "encoding", "storing")
FINISHED = ("done", "failed")
# A job whose runner wrote nothing for this long is taken as dead (its process stopped):
# the runner writes at least every HEARTBEAT seconds, queued jobs included.
HEARTBEAT = 5.0
STALE_AFTER = 60.0
# How long an unfinished job's hash lives without being finished (a safety net, not a limit).
ACTIVE_TTL = 2 * 86400
# A job id: 128 random bits, so a status or video URL cannot be guessed.
JOB_ID = re.compile(r"^[0-9a-f]{32}$")
INTEGER_FIELDS = ("frames_done", "frames_total", "thumbnail_frames", "skipped_frames", "width", "height",
                  "size_bytes")
FLOAT_FIELDS = ("created_at", "started_at", "finished_at", "updated_at", "expires_at", "fps", "duration",
                "eta_seconds")

# HSET only if the job still exists: a deleted job (DELETE cancels by deleting) must not come
# back, without its TTL, from a runner's late progress write. Returns whether it exists.
_UPDATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if #ARGV > 0 then redis.call('HSET', KEYS[1], unpack(ARGV)) end
return 1
"""


def prefix() -> str:
    return f"{om.key_prefix(Capture)}:timelapse"


def job_key(job_id: str) -> str:
    return f"{prefix()}:{job_id}"


def partial_key(job_id: str) -> str:
    return f"{prefix()}:{job_id}:partial"


def video_key(job_id: str) -> str:
    return f"{prefix()}:{job_id}:video"


def stored_key() -> str:
    return f"{prefix()}s"


def new_id() -> str:
    return secrets.token_hex(16)


def _text() -> redis.Redis:
    return db.decoding()


def create(job_id: str, params: dict, **fields: Any) -> None:
    """Store a new job as `queued`, with the parameters it was asked with (for display)."""
    now = time.time()
    mapping = {"state": "queued", "created_at": now, "updated_at": now, "frames_done": 0,
               "params": json.dumps(params, sort_keys=True, default=str), **fields}
    with _text().pipeline(transaction=True) as pipe:
        pipe.hset(job_key(job_id), mapping={k: _field(v) for k, v in mapping.items() if v is not None})
        pipe.expire(job_key(job_id), ACTIVE_TTL)
        pipe.execute()


def _field(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return repr(float(value)) if isinstance(value, float) else str(value)


def update(job_id: str, **fields: Any) -> bool:
    """Write progress or a new state (and the heartbeat); False when the job no longer exists
    (it was deleted, which is how a job is cancelled: its runner stops)."""
    fields["updated_at"] = time.time()
    args = [part for name, value in fields.items() if value is not None for part in (name, _field(value))]
    return bool(_text().eval(_UPDATE, 1, job_key(job_id), *args))


def heartbeat(job_ids: Iterable[str]) -> None:
    """Mark queued jobs as still held by a live runner."""
    for job_id in job_ids:
        update(job_id)


def read(job_id: str) -> Optional[dict]:
    """Return a job's fields, typed, or None if there is no such job. A job whose runner stopped
    writing (its process died) is reported `failed`, saying so."""
    if not JOB_ID.match(job_id):
        return None
    raw = _text().hgetall(job_key(job_id))
    if not raw or "state" not in raw:
        return None
    job: dict[str, Any] = {"id": job_id}
    for name, value in raw.items():
        if name in INTEGER_FIELDS:
            job[name] = int(float(value))
        elif name in FLOAT_FIELDS:
            job[name] = float(value)
        elif name == "params":
            job[name] = json.loads(value)
        else:
            job[name] = value
    if job["state"] in ACTIVE and time.time() - job.get("updated_at", 0) > STALE_AFTER:
        job.update(state="failed", error="the process encoding this job stopped (a server restart?); start it again")
    return job


def delete(job_id: str) -> bool:
    """Remove a job and its video; return whether it existed. A running job's runner sees it gone
    at its next progress write (at most half a second later), stops ffmpeg and keeps nothing."""
    with _text().pipeline(transaction=True) as pipe:
        pipe.delete(job_key(job_id), video_key(job_id), partial_key(job_id))
        pipe.zrem(stored_key(), job_id)
        removed = pipe.execute()[0]
    return bool(removed)


def append_partial(job_id: str, chunk: bytes) -> None:
    """Add a chunk to the video being copied in (kept for at most an hour if never finished)."""
    with db.raw().pipeline(transaction=False) as pipe:
        pipe.append(partial_key(job_id), chunk)
        pipe.expire(partial_key(job_id), 3600)
        pipe.execute()


def discard_partial(job_id: str) -> None:
    db.raw().delete(partial_key(job_id))


def finish(job_id: str, ttl: int, **fields: Any) -> bool:
    """Publish the copied-in video and set the job `done`, atomically; False (nothing published)
    if the job was deleted (cancelled) meanwhile. `ttl` is how long both are kept."""
    key = job_key(job_id)
    with _text().pipeline(transaction=True) as pipe:
        try:
            pipe.watch(key)
            if not pipe.exists(key) or not pipe.exists(partial_key(job_id)):
                pipe.unwatch()
                return False
            now = time.time()
            expires = now + ttl
            pipe.multi()
            pipe.rename(partial_key(job_id), video_key(job_id))
            pipe.expire(video_key(job_id), ttl)
            pipe.hset(key, mapping={k: _field(v) for k, v in {
                **fields, "state": "done", "finished_at": now, "updated_at": now, "expires_at": expires}.items()
                if v is not None})
            pipe.expire(key, ttl)
            pipe.zadd(stored_key(), {job_id: expires})
            pipe.execute()
        except redis.WatchError:
            return False
    return True


def usage() -> tuple[int, int, Optional[float]]:
    """Return (bytes held by stored videos, how many, when the soonest one expires)."""
    conn = _text()
    conn.zremrangebyscore(stored_key(), "-inf", time.time())
    entries = conn.zrange(stored_key(), 0, -1, withscores=True)
    if not entries:
        return 0, 0, None
    with db.raw().pipeline(transaction=False) as pipe:
        for job_id, _ in entries:
            pipe.strlen(video_key(job_id))
        sizes = pipe.execute()
    held = [(size, expires) for size, (_, expires) in zip(sizes, entries) if size]
    return sum(size for size, _ in held), len(held), min((e for _, e in held), default=None)


def video_size(job_id: str) -> int:
    """Return the stored video's length in bytes; 0 when it is gone (expired or deleted)."""
    return int(db.raw().strlen(video_key(job_id))) if JOB_ID.match(job_id) else 0


class VideoReader(io.RawIOBase):
    """A seekable, read-only file over a stored video, read with GETRANGE: serving a range, or
    the whole video, holds one buffer at a time, never the video."""

    def __init__(self, job_id: str, size: int):
        super().__init__()
        self.key, self.size, self.position = video_key(job_id), size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def readinto(self, buffer) -> int:
        want = min(len(buffer), self.size - self.position)
        if want <= 0:
            return 0
        data = db.raw().getrange(self.key, self.position, self.position + want - 1)
        # An expired video reads as empty: the reply ends there rather than with made-up bytes.
        buffer[:len(data)] = data
        self.position += len(data)
        return len(data)
