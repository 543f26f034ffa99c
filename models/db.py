"""Connections to Redis for the models: one decoding (redis-om), one raw (image bytes)."""
from __future__ import annotations

import redis

_raw: redis.Redis | None = None
# A Redis that hangs (rather than refusing) must become an error, not a stuck worker or
# agent; a URL's own ?socket_timeout=... still wins.
TIMEOUTS = {"socket_connect_timeout": 5, "socket_timeout": 30}


class Unbound:
    """Stands in for a client until bind(): redis-om would otherwise build one for localhost:6379."""

    def __bool__(self) -> bool:
        return True  # redis-om replaces a falsy Meta.database with its own client

    def __getattr__(self, name):
        raise RuntimeError("models are not bound to Redis: call models.bind(url) first")


UNBOUND = Unbound()


# Keys are `<prefix>:capture:<id>`; PIGALLERY_KEY_PREFIX changes it (pigallery.config).
DEFAULT_KEY_PREFIX = "pigallery"


def bind(url: str, prefix: str = DEFAULT_KEY_PREFIX, **client_options) -> None:
    """Point the models at the Redis behind `url`, under key prefix `prefix`.

    `client_options` (redis-py's, e.g. socket_timeout=10) override TIMEOUTS; the URL's query wins over both.
    """
    global _raw
    from .capture import Capture

    options = {**TIMEOUTS, **client_options}

    # Both clients connect lazily, on their first command. Each gets its own pool
    # rather than Redis.from_url's: a client from from_url closes its pool when it is
    # garbage collected, which would cut a pub/sub subscription taken before a rebind.
    Capture._meta.database = redis.Redis(connection_pool=redis.ConnectionPool.from_url(url, decode_responses=True, **options))
    Capture._meta.global_key_prefix = prefix
    Capture._meta.index_name = f"{prefix}:{Capture._meta.model_key_prefix}:index"
    _raw = redis.Redis(connection_pool=redis.ConnectionPool.from_url(url, **options))


def raw() -> redis.Redis:
    """Return the binary-safe client; image bytes never go through a decoding one."""
    if _raw is None:
        raise RuntimeError("models are not bound to Redis: call models.bind(url) first")
    return _raw


def decoding() -> redis.Redis:
    """Return the client redis-om uses (responses decoded to str)."""
    from .capture import Capture

    return Capture.db()
