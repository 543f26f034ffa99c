"""The RediSearch index over captures, derived from the Capture model by redis-om."""
from __future__ import annotations

import hashlib
import re
import time
from typing import Callable, Optional

import redis

from models import Capture
from models.om import Migrator, schema_hash_key, schema_text_key
from models.capture import EARLIEST, END, PK, day_second, stored_time


class IndexNotCreated(RuntimeError):
    """Redis did not create the index; the message says the likely reason."""


def name() -> str:
    return Capture.Meta.index_name


def _conn() -> redis.Redis:
    return Capture.db()


def model_hash() -> str:
    return hashlib.sha1(Capture.redisearch_schema().encode("utf-8")).hexdigest()  # nosec - a fingerprint


def index_missing(exc: redis.ResponseError) -> bool:
    """Whether RediSearch answered that the index does not exist (not: refused, out of memory)."""
    text = str(exc).lower()
    return not isinstance(exc, redis.exceptions.NoPermissionError) and (
        "unknown index" in text or "no such index" in text
    )


def exists() -> bool:
    try:
        _conn().ft(name()).info()
    except redis.ResponseError as exc:
        if index_missing(exc):
            return False
        raise
    return True


def migrate() -> str:
    """Create the index, or rebuild it if the model's schema changed; say which.

    Migrator drops a stale index without its documents and creates the new one;
    RediSearch then re-indexes the existing hashes in the background.
    """
    before = exists()
    stale = before and _conn().get(schema_hash_key(name())) != model_hash()
    Migrator(conn=_conn()).run()
    # Migrator logs and swallows every FT.CREATE error, an ACL refusal included.
    if not exists() or _conn().get(schema_hash_key(name())) != model_hash():
        raise IndexNotCreated(
            f"index {name()} was not created or updated: the Redis user in REDIS_URL may lack "
            "FT.CREATE/FT.DROPINDEX (use the admin user), or Redis refused the schema"
        )
    return "rebuilt" if stale else ("unchanged" if before else "created")


def drop(delete_documents: bool = False) -> bool:
    """Drop the index (captures stay unless `delete_documents`); False if there was none."""
    conn = _conn()
    try:
        conn.ft(name()).dropindex(delete_documents=delete_documents)
    except redis.ResponseError as exc:
        if not index_missing(exc):
            raise  # refused: the index and its fingerprint stay as they were
        dropped = False
    else:
        dropped = True
    conn.delete(schema_hash_key(name()), schema_text_key(name()))
    return dropped


def rebuild(progress: Optional[Callable[[float], None]] = None, timeout: float = 600) -> dict:
    """Drop and recreate the index over the stored captures, waiting until it is ready."""
    drop()
    migrate()
    return wait_indexed(progress, timeout)


def info() -> dict:
    """Return the document count and indexing state (empty dict if no index)."""
    try:
        raw = _conn().ft(name()).info()
    except redis.ResponseError as exc:
        if index_missing(exc):
            return {}
        raise
    return {
        "name": name(),
        "num_docs": int(raw["num_docs"]),
        "indexing": bool(int(raw["indexing"])),
        "percent_indexed": float(raw["percent_indexed"]) * 100,
        "hash_indexing_failures": int(raw["hash_indexing_failures"]),
        "up_to_date": _conn().get(schema_hash_key(name())) == model_hash(),
    }


def wait_indexed(progress: Optional[Callable[[float], None]] = None, timeout: float = 600) -> dict:
    """Block until RediSearch has finished (re)indexing existing captures."""
    deadline = time.monotonic() + timeout
    while True:
        state = info()
        if progress and state:
            progress(state["percent_indexed"])
        if not state or not state["indexing"]:
            return state
        if time.monotonic() > deadline:
            raise TimeoutError(f"index {name()} still indexing after {timeout}s")
        time.sleep(0.1)


# Writes day_second only where the hash still holds the taken_at it was computed from: a capture
# deleted meanwhile is not brought back as a lone field, and one stored again meanwhile has its own.
_BACKFILL = """
for i, key in ipairs(KEYS) do
  if redis.call('HGET', key, 'taken_at') == ARGV[2 * i - 1] then
    redis.call('HSET', key, 'day_second', ARGV[2 * i])
  end
end
return 0
"""


def missing_day_second() -> int:
    """How many captures (with a readable taken_at) the index holds without day_second.

    Those match no time-of-day window until backfill() writes it; every other filter, and no
    filter at all, still finds them. Needs the index to have finished indexing.
    """
    query = f"@taken_at:[{EARLIEST!r} ({END!r}] -@day_second:[-inf +inf]"
    return int(_conn().execute_command("FT.SEARCH", name(), query, "LIMIT", 0, 0, "DIALECT", 2)["total_results"])


def backfill(progress: Optional[Callable[[int], None]] = None, batch: int = 1000) -> dict:
    """Write day_second on every stored capture that lacks it (or holds a wrong one); say how many.

    Reads the hashes, not the index (which may still be indexing after a schema change): SCAN
    over the capture keys, HMGET of taken_at and day_second per batch, and one script per batch
    writing the missing ones. `progress` gets the number of captures each batch looked at.
    Safe to run while captures are stored and deleted, and again: what is right is left alone.
    """
    conn = _conn()
    prefix = Capture.make_primary_key("")
    script = conn.register_script(_BACKFILL)
    pattern = re.sub(r"([*?\[\]\\])", r"\\\1", prefix) + "*"
    seen = written = 0
    keys: list[str] = []

    def flush() -> None:
        nonlocal seen, written
        pipe = conn.pipeline(transaction=False)
        for key in keys:
            pipe.hmget(key, "taken_at", "day_second")
        todo, args = [], []
        for key, (taken_at, stored) in zip(keys, pipe.execute()):
            want = day_second(stored_time(taken_at))
            if want is not None and stored != str(want):
                todo.append(key)
                args += [taken_at, want]
        if todo:
            script(keys=todo, args=args)
        seen += len(keys)
        written += len(todo)
        if progress:
            progress(len(keys))
        keys.clear()

    for key in conn.scan_iter(match=pattern, count=batch, _type="HASH"):
        if PK.match(key[len(prefix):]):  # not the index's own keys, nor other hashes under the prefix
            keys.append(key)
            if len(keys) >= batch:
                flush()
    if keys:
        flush()
    return {"captures": seen, "written": written}
