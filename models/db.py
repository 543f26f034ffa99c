"""Connections to Redis for the models: one decoding (redis-om), one raw (image bytes).

How the models get their connection: bind() (or connect(), which binds and checks) sets them
for the whole process. redis-om reads a model's client from its class (`Capture._meta.database`,
returned by `Capture.db()`), not from an argument or a context, so the binding is process-global
and the last bind() wins. What that means:
- every entry point binds once before it touches a capture: the commands through connect()
  (pigallery/*), the web app in create_app (search_web/db.py), a test through a fixture;
- one process serves one Redis and key prefix at a time. gunicorn's workers are processes, so
  each binds its own; two Flask apps on different prefixes in one process (tests only) share
  whichever bound last, hence the browser tests' autouse `bound` fixture that binds back;
- a rebind replaces the clients, and closes nothing: a pub/sub subscription taken before it
  keeps its connection (see bind()).
Per-app clients (app.extensions) would need every model call to take a client, which redis-om's
HashModel API (save, get, find) does not.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import redis

_raw: redis.Redis | None = None
# A Redis that hangs (rather than refusing) must become an error, not a stuck worker or
# agent; a URL's own ?socket_timeout=... still wins.
TIMEOUTS = {"socket_connect_timeout": 5, "socket_timeout": 30}
# Connections one client keeps, and how long a command waits for a free one. redis-py's plain
# pool (8.1) refuses the 101st concurrent command ("Too many connections", a 503 from the web app),
# and a gunicorn worker runs 256 threads (Dockerfile): past 100 requests in flight, a command waits
# here instead, as it would for a worker thread.
MAX_CONNECTIONS = 100
POOL_WAIT = 20


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
    from . import om
    from .capture import Capture

    options = {**TIMEOUTS, **client_options}

    # Both clients connect lazily, on their first command. Each gets its own pool
    # rather than Redis.from_url's: a client from from_url closes its pool when it is
    # garbage collected, which would cut a pub/sub subscription taken before a rebind.
    om.bind(Capture, redis.Redis(connection_pool=_pool(url, decode_responses=True, **options)), prefix)
    _raw = redis.Redis(connection_pool=_pool(url, **options))


def _pool(url: str, **options) -> redis.ConnectionPool:
    return redis.BlockingConnectionPool.from_url(url, max_connections=MAX_CONNECTIONS, timeout=POOL_WAIT, **options)


class SearchUnavailable(RuntimeError):
    """Redis answers but cannot search: no search module, or a user without the FT.* commands."""


def connect(url: str, prefix: str = DEFAULT_KEY_PREFIX, *, search: bool = True, **client_options) -> redis.Redis:
    """bind(), then check now that Redis answers, rather than on a command's first real request.

    search=True also checks that RediSearch is loaded and this user may use it (FT._LIST); the
    capture agent passes search=False: its Redis user may write captures but not search.
    Raises redis-py's ConnectionError, TimeoutError or AuthenticationError, or SearchUnavailable.
    """
    bind(url, prefix, **client_options)
    conn = decoding()
    conn.ping()
    if search:
        try:
            conn.execute_command("FT._LIST")
        # NoPermissionError is a ResponseError: it must be caught first.
        except redis.exceptions.NoPermissionError:
            raise SearchUnavailable("the Redis user in REDIS_URL may not use search (FT._LIST refused): "
                                    "this command needs the web or admin user") from None
        except redis.ResponseError:
            raise SearchUnavailable(f"Redis at {redact_url(url)} has no search module: use Redis Stack "
                                    "(`pigallery redis start`, the redis-stack-server image, or Redis Cloud "
                                    "with search)") from None
    return conn


def redact_url(url: str) -> str:
    """Return `url` with any password replaced by ***, for messages and logs."""
    try:
        parts = urlsplit(url)
        if parts.password is not None:
            userinfo, _, host = parts.netloc.rpartition("@")
            url = url.replace(f"//{parts.netloc}", f"//{userinfo.split(':', 1)[0]}:***@{host}", 1)
    except ValueError:  # unparsable: say nothing of it rather than risk the secret
        return "<REDIS_URL (unparsable)>"
    # redis-py also takes ?password=... in the query string.
    return re.sub(r"(?i)([?&]password=)[^&#]*", r"\1***", url)


def raw() -> redis.Redis:
    """Return the binary-safe client; image bytes never go through a decoding one."""
    if _raw is None:
        raise RuntimeError("models are not bound to Redis: call models.bind(url) first")
    return _raw


def decoding() -> redis.Redis:
    """Return the client redis-om uses (responses decoded to str)."""
    from .capture import Capture

    return Capture.db()
