"""The RediSearch index over captures, derived from the Capture model by redis-om."""
from __future__ import annotations

import hashlib
import time
from typing import Callable, Optional

import redis
from redis_om import Migrator
from redis_om.model.migrations.schema.legacy_migrator import schema_hash_key, schema_text_key

from models import Capture


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
