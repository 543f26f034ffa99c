"""How a capture is stored in Redis: the Capture model, raw binary fields and TTLs."""
from redis_om import NotFoundError

from .capture import BINARY_FIELDS, TRIGGERS, Capture, InvalidCapture
from .db import SearchUnavailable, bind, connect
from .images import InvalidImage

__all__ = ["BINARY_FIELDS", "TRIGGERS", "Capture", "InvalidCapture", "InvalidImage", "NotFoundError",
           "SearchUnavailable", "bind", "connect"]
