"""The Capture model: indexed metadata via redis-om, image bytes stored raw beside it."""
from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import re
from contextvars import ContextVar
from typing import Any, Mapping, Optional

from pydantic import ValidationError, ValidationInfo, field_validator
from redis_om import Field, HashModel, NotFoundError

from . import db, images, rollups

log = logging.getLogger(__name__)

# TAG separator for single-value tags: a control character no device name may
# contain, so `a|b` or `a,b` is one exact tag (redis-om's default `|` would split it).
TAG_SEPARATOR = "\x1f"
TRIGGERS = ("interval", "gpio", "motion", "manual", "import")
# How a capture's taken_at is known: an imported file's EXIF date, the capturing Pi's own clock, or an
# imported file's modification time (a guess: the file may have been copied or edited since).
TIME_SOURCES = ("exif", "camera", "file")
# A capture id: a ULID, as redis-om makes primary keys (and safe inside a quoted filter literal).
PK = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
# What of a capture leaves the store, marked on each field (models.wire derives from these marks the
# index's RETURN list and row types, the API's items, the announcement, and their OpenAPI schemas):
# LISTED fields come back from a search; ITEM fields do too and are shown in items as they are. A
# new field the gallery should show is marked ITEM here and nothing else changes. Image bytes are
# never model fields, so never listed.
LISTED = {"wire": "listed"}
ITEM = {"wire": "item"}
# Hash fields that hold raw bytes. They are not model fields on purpose: redis-om
# would base64 them (+33% RAM) and its decoding client cannot read them.
IMAGE_FIELD = "image"
THUMBNAIL_FIELD = "thumbnail"
BINARY_FIELDS = (IMAGE_FIELD, THUMBNAIL_FIELD)
TIME_FIELDS = ("taken_at", "image_expires_at", "expires_at")

# The read side. store() checks what it writes, but the `capture` Redis user (the password every
# Pi holds) may HSET any field of any capture hash directly, so what comes back is checked again
# against this model (Capture.from_stored) before the web serves it. A field fails when:
# the model's own validators refuse it; it is a time that is not finite or outside years 1-9999
# (what datetime, and so the API's ISO times, can hold); a number that is NaN or infinite (JSON
# has no such number) or an integer beyond 64 bits; text longer than MAX_STORED_TEXT characters.
# Then, per field:
# - one with a default (lux, exposure_us, camera_make, image_expires_at, mime_type, ...) is
#   dropped: served as None or its default, since the rest of the capture is still good;
# - a required one (device, taken_at, trigger, width, height, image_size) makes the capture
#   unreadable: it is skipped with a log line (404 by id, left out of listings), since the
#   gallery could not name, place or size it.
# mime_type is never sent as a Content-Type: the image's own bytes decide (search_web.api.sniff).
MAX_STORED_TEXT = 256
MAX_STORED_INT = 2**63
# Set while validating values read back from Redis. Not pydantic's validation context:
# redis-om's HashModel.__init__ validates again without it.
_reading: ContextVar[bool] = ContextVar("reading", default=False)
# The times a capture may have (what datetime, and so the API's ISO times, can hold), in epoch
# seconds: from EARLIEST up to, not including, END (10000-01-01T00:00:00Z). Not 9999-12-31
# 23:59:59.999999 as a bound: that rounds to END itself as a double.
EARLIEST = dt.datetime(1, 1, 1, tzinfo=dt.timezone.utc).timestamp()
END = dt.datetime(9999, 12, 31, tzinfo=dt.timezone.utc).timestamp() + 86400


class InvalidCapture(ValueError):
    """A capture cannot be stored; the message names the problem."""


class UnreadableCapture(NotFoundError):
    """A stored capture whose required fields fail the read-side checks: treated as absent."""


def stored_time(value: Any) -> Optional[dt.datetime]:
    """Return epoch seconds (text or number) as an aware UTC datetime; None unless finite and in years 1-9999."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    if not EARLIEST <= seconds < END:  # NaN compares false: it fails here too
        return None
    try:
        return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)
    except (OverflowError, OSError, ValueError):  # rounded past the edge
        return None


def day_second(when: Optional[dt.datetime]) -> Optional[int]:
    """The UTC second of the day `when` falls in (0-86399): what a capture's day_second holds."""
    if when is None:
        return None
    when = when.astimezone(dt.timezone.utc) if when.tzinfo else when
    return when.hour * 3600 + when.minute * 60 + when.second


# Bulk loads prepare thousands of captures sharing one image: check each bytes object once.
_inspect_bytes = functools.lru_cache(maxsize=2)(images.inspect)


def _inspect(data: bytes) -> images.ImageInfo:
    return _inspect_bytes(data) if isinstance(data, bytes) else images.inspect(data)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def expiry_times(ttl: Optional[int], image_ttl: Optional[int], now: dt.datetime) -> dict:
    """Return the expires_at/image_expires_at fields for these lifetimes (seconds from `now`).

    An image TTL at or beyond the capture's own is moot: the whole hash goes first.
    """
    times = {}
    if ttl:
        times["expires_at"] = now + dt.timedelta(seconds=ttl)
    if image_ttl and (not ttl or image_ttl < ttl):
        times["image_expires_at"] = now + dt.timedelta(seconds=image_ttl)
    return times


class Capture(HashModel, index=True):
    """One picture's metadata. `store()` writes it together with its image bytes."""

    # SORTABLE keeps a copy in the index, so facet GROUPBY/SUM need not read every
    # hash (measured at 100k captures: 5 ms instead of 75 ms per device facet).
    device: str = Field(index=True, case_sensitive=True, separator=TAG_SEPARATOR, sortable=True,
                        json_schema_extra=ITEM, description="The camera's name, as its agent was configured.")
    taken_at: dt.datetime = Field(index=True, sortable=True, json_schema_extra=ITEM,
                                  description="When the picture was taken, in UTC (see time_source).")
    trigger: str = Field(index=True, separator=TAG_SEPARATOR, sortable=True,
                         json_schema_extra={**ITEM, "enum": list(TRIGGERS)}, description="What made the shot.")
    # SORTABLE here too: index.ranges tests a lux or exposure range on each capture the other
    # filters match (FT.AGGREGATE FILTER) when those are few, where the range's own iterator
    # walks every numeric leaf it spans (at 1M captures, 30 days of one Pi and a lux range:
    # 15.6 against 70.3 ms for the count).
    exposure_us: Optional[int] = Field(default=None, index=True, sortable=True, json_schema_extra=ITEM,
                                       description="Exposure time in microseconds.")
    lux: Optional[float] = Field(default=None, index=True, sortable=True, json_schema_extra=ITEM,
                                 description="Estimated illuminance of the scene (lux).")
    analogue_gain: Optional[float] = Field(default=None, index=True, json_schema_extra=ITEM)
    colour_temp_k: Optional[int] = Field(default=None, index=True, json_schema_extra=ITEM,
                                         description="Colour temperature in kelvin.")
    width: int = Field(index=True, json_schema_extra=ITEM, description="Width in pixels as stored (see orientation).")
    height: int = Field(index=True, json_schema_extra=ITEM, description="Height in pixels as stored (see orientation).")
    image_size: int = Field(index=True, sortable=True, json_schema_extra=ITEM,
                            description="Bytes of the full-size image.")
    thumbnail_size: int = Field(default=0, index=True, sortable=True)
    mime_type: str = Field(default="image/jpeg", index=True, separator=TAG_SEPARATOR)
    orientation: int = Field(default=1, index=True, json_schema_extra=ITEM, description=(
        "EXIF orientation 1-8 of the stored image (1: upright as stored). 5-8 turn it by 90 degrees, so the "
        "size as shown is height x width; thumbnails are already upright."))
    # Where the picture came from when known: EXIF Make/Model or the Pi's sensor, and GPS. Case-sensitive
    # tags, so the camera filters match exactly, as the device filter does.
    camera_make: Optional[str] = Field(default=None, index=True, case_sensitive=True, separator=TAG_SEPARATOR,
                                       json_schema_extra=ITEM, description="EXIF Make, or the Pi camera's maker.")
    camera_model: Optional[str] = Field(default=None, index=True, case_sensitive=True, separator=TAG_SEPARATOR,
                                        json_schema_extra=ITEM, description="EXIF Model, or the Pi camera's sensor.")
    latitude: Optional[float] = Field(default=None, index=True, json_schema_extra=ITEM,
                                      description="GPS latitude in degrees (north positive), from EXIF.")
    longitude: Optional[float] = Field(default=None, index=True, json_schema_extra=ITEM,
                                       description="GPS longitude in degrees (east positive), from EXIF.")
    # Not indexed: shown, never searched; a search returns them from the hash all the same (RETURN, LOAD).
    time_source: Optional[str] = Field(default=None, json_schema_extra={**ITEM, "enum": [*TIME_SOURCES, None]},
                                       description=(
        "How taken_at is known: exif (an imported file's EXIF date), camera (the Pi's clock when it shot), file "
        "(an imported file's modification time: a guess); null when unknown (stored before it was recorded)."))
    source_name: Optional[str] = Field(default=None, json_schema_extra=ITEM, description=(
        "An imported file's original name, without its folder; null for a camera's own captures."))
    # When the full-size image field (HPEXPIREAT) and the whole hash (EXPIREAT) go;
    # kept as metadata so listing can tell without a round trip per capture.
    image_expires_at: Optional[dt.datetime] = Field(default=None, index=True, json_schema_extra=LISTED)
    expires_at: Optional[dt.datetime] = None
    # The UTC second of the day of taken_at (0-86399), always derived from it here, so that a
    # time-of-day window (index.windows.time_of_day) is one or two ranges on an indexed field per
    # stretch of constant UTC offset, not an expression evaluated on every capture. Captures
    # stored before it existed lack it until `pigallery index backfill` writes it.
    day_second: Optional[int] = Field(default=None, index=True, validate_default=True)

    class Meta:
        global_key_prefix = db.DEFAULT_KEY_PREFIX
        model_key_prefix = "capture"
        database = db.UNBOUND

    @field_validator("device")
    @classmethod
    def clean_device(cls, v: str) -> str:
        """Return the device name as stored (trimmed); ValueError says what is wrong with it."""
        # RediSearch trims a TAG's edge whitespace when indexing, so " pi" would match
        # "pi" exactly; storing the trimmed name keeps a device equal to its tag.
        v = v.strip()
        if not v:
            raise ValueError("device must not be blank")
        if any(ord(c) < 32 for c in v):
            raise ValueError("device must not contain control characters")
        if len(v) > 128:
            raise ValueError("device must be at most 128 characters")
        return v

    @field_validator("trigger")
    @classmethod
    def _known_trigger(cls, v: str) -> str:
        if v not in TRIGGERS:
            raise ValueError(f"trigger must be one of {', '.join(TRIGGERS)}, got {v!r}")
        return v

    @field_validator("time_source")
    @classmethod
    def _known_time_source(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and v not in TIME_SOURCES:
            raise ValueError(f"time_source must be one of {', '.join(TIME_SOURCES)}, got {v!r}")
        return v

    @field_validator("source_name")
    @classmethod
    def _base_name(cls, v: Optional[str]) -> Optional[str]:
        # A name, not a path: where the file lay may say more than its owner meant to share.
        if v is not None and ("/" in v or any(ord(c) < 32 or ord(c) == 127 for c in v)
                              or not v or len(v) > 255):
            raise ValueError("source_name must be a file name of 1-255 characters, without folders or control "
                             "characters")
        return v

    @field_validator("taken_at", "image_expires_at", "expires_at")
    @classmethod
    def _utc(cls, v: Optional[dt.datetime]) -> Optional[dt.datetime]:
        if v is None:
            return v
        # Naive times are taken as UTC: everything is stored and indexed in UTC.
        return v.replace(tzinfo=dt.timezone.utc) if v.tzinfo is None else v.astimezone(dt.timezone.utc)

    @field_validator("day_second")
    @classmethod
    def _day_second(cls, v: Optional[int], info: ValidationInfo) -> Optional[int]:
        # taken_at is declared, so validated, first: here it is already in UTC (or failed: None).
        return day_second(info.data.get("taken_at"))

    @field_validator("*")
    @classmethod
    def _servable_when_read(cls, v: Any) -> Any:
        """Read back from Redis (from_stored), refuse what the web cannot serve; writes are not affected."""
        if not _reading.get():
            return v
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError("must be a finite number")
        if isinstance(v, int) and abs(v) >= MAX_STORED_INT:
            raise ValueError("must fit in 64 bits")
        if isinstance(v, str) and len(v) > MAX_STORED_TEXT:
            raise ValueError(f"must be at most {MAX_STORED_TEXT} characters")
        return v

    @property
    def image_available(self) -> bool:
        """Whether the full-size image is still stored (not expired by its own TTL)."""
        return self.image_expires_at is None or self.image_expires_at > utcnow()

    def stored_size(self, field: str = IMAGE_FIELD) -> int:
        """Return the byte size of `image` or `thumbnail` as recorded when stored (no bytes read)."""
        if field not in BINARY_FIELDS:
            raise ValueError(f"unknown binary field {field!r}")
        return self.image_size if field == IMAGE_FIELD else self.thumbnail_size

    @classmethod
    def redisearch_schema(cls) -> str:
        # redis-om writes "SORTABLE CASESENSITIVE"; FT.CREATE only accepts the other order.
        return super().redisearch_schema().replace(" SORTABLE CASESENSITIVE", " CASESENSITIVE SORTABLE")

    @classmethod
    def metadata_fields(cls) -> list[str]:
        return list(cls.model_fields)

    @classmethod
    def load(cls, pk: str) -> "Capture":
        """Read one capture's metadata (never its image bytes); NotFoundError if absent."""
        names = cls.metadata_fields()
        values = cls.db().hmget(cls.make_primary_key(pk), names)
        doc = {k: v for k, v in zip(names, values) if v is not None}
        if "taken_at" not in doc:
            raise NotFoundError(pk)
        return cls.from_stored(pk, doc)

    @classmethod
    def from_stored(cls, pk: str, fields: Mapping[str, Any]) -> "Capture":
        """Build capture `pk` from fields read back from Redis, checked as the read side above says.

        `fields` holds a hash's text or an index row's typed values, times in epoch seconds.
        Fields that fail are dropped; UnreadableCapture (a NotFoundError) if a required one does.
        """
        doc, failed = {}, {}
        for name, value in fields.items():
            if name not in cls.model_fields or name == "pk" or value is None:
                continue  # the id is the key's, not whatever the hash's own pk field says
            if name in TIME_FIELDS:
                value = stored_time(value)
                if value is None:
                    failed[name] = "not a time in years 1-9999"
                    continue
            doc[name] = value
        capture = None
        while capture is None:
            reading = _reading.set(True)
            try:
                capture = cls.model_validate({**doc, "pk": pk})
            except ValidationError as exc:
                # Field names and pydantic's reasons only: a value may be 100 kB of anything.
                errors = {str(e["loc"][0]) if e["loc"] else "": e["msg"] for e in exc.errors()}
                for name, reason in errors.items():
                    failed.setdefault(name, reason)
                # A required field, or anything dropping fields cannot mend (the id, the model as a whole).
                if not errors.keys() <= doc.keys() or any(cls.model_fields[name].is_required() for name in errors):
                    log.warning("capture %s skipped, unreadable: %s", pk, "; ".join(f"{n}: {r}" for n, r in failed.items()))
                    raise UnreadableCapture(pk) from None
                for name in errors:
                    del doc[name]  # validated again without it: None or its default
            finally:
                _reading.reset(reading)
        if failed:
            log.warning("capture %s served without %s", pk, "; ".join(f"{n} ({m})" for n, m in failed.items()))
        return capture

    @classmethod
    def exists(cls, pk: str) -> bool:
        """Whether a capture with this id is stored."""
        return bool(cls.db().exists(cls.make_primary_key(pk)))

    @classmethod
    def read_binary(cls, pk: str, field: str = IMAGE_FIELD) -> Optional[bytes]:
        """Return the raw bytes of `image` or `thumbnail`, or None if gone."""
        if field not in BINARY_FIELDS:
            raise ValueError(f"unknown binary field {field!r}")
        return db.raw().hget(cls.make_primary_key(pk), field)

    @classmethod
    def remove(cls, pk: str) -> bool:
        """Delete a capture and its images, and take it out of the counts; return whether it existed."""
        return rollups.delete(cls.make_primary_key(pk), pk)

    @classmethod
    def prepare(
        cls,
        image: bytes,
        *,
        thumbnail: Optional[bytes] = None,
        ttl: Optional[int] = None,
        image_ttl: Optional[int] = None,
        **metadata,
    ) -> tuple["Capture", bytes]:
        """Validate `image` and `metadata`; return the unsaved capture (sizes, TTL times set) and its thumbnail."""
        try:
            info = _inspect(image)
            if thumbnail is None:
                thumbnail = images.thumbnail(image)
            else:
                _inspect(thumbnail)
        except images.InvalidImage as exc:
            raise InvalidCapture(str(exc)) from None
        metadata.setdefault("width", info.width)
        metadata.setdefault("height", info.height)
        metadata.setdefault("mime_type", info.mime_type)
        metadata.setdefault("orientation", info.orientation)
        metadata.update(image_size=len(image), thumbnail_size=len(thumbnail))
        for name, seconds in (("ttl", ttl), ("image_ttl", image_ttl)):
            if seconds is not None and seconds <= 0:
                raise InvalidCapture(f"{name} must be a positive number of seconds, got {seconds}")
        metadata.update(expiry_times(ttl, image_ttl, utcnow()))
        try:
            capture = cls(**metadata)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise InvalidCapture(problems) from None
        return capture, thumbnail

    @classmethod
    def create(
        cls,
        image: bytes,
        *,
        thumbnail: Optional[bytes] = None,
        ttl: Optional[int] = None,
        image_ttl: Optional[int] = None,
        **metadata,
    ) -> "Capture":
        """Validate `image`, build its metadata and store everything atomically."""
        capture, thumbnail = cls.prepare(image, thumbnail=thumbnail, ttl=ttl, image_ttl=image_ttl, **metadata)
        capture.store(image, thumbnail)
        return capture

    def store(self, image: bytes, thumbnail: bytes) -> None:
        """Write metadata, bytes and TTLs in one MULTI/EXEC, so nothing is half-written."""
        with db.raw().pipeline(transaction=True) as pipe:
            self.queue(pipe, image, thumbnail)
            pipe.execute()

    @classmethod
    def check_write_access(cls, ttl: Optional[int] = None, image_ttl: Optional[int] = None) -> None:
        """Raise Redis's refusal (e.g. NoPermissionError) unless this user may store and announce captures.

        store()'s own commands are queued inside MULTI, then discarded: Redis checks the ACL
        as it queues each command, so a missing permission shows without anything written.
        """
        from .events import channel  # events imports this module

        now = utcnow()
        # The TTL commands store() sends for these lifetimes, and only those.
        # A capture id in shape (the ACL admits only those), one no capture has: ULID time 0.
        probe = cls(pk="0" * 26, device="access-check", taken_at=now, trigger="manual", width=1, height=1,
                    image_size=0, **expiry_times(ttl, image_ttl, now))
        pipe = db.raw().pipeline(transaction=False)
        pipe.execute_command("MULTI")
        probe.queue(pipe, b"", b"")
        pipe.execute_command("PUBLISH", channel(), "")
        pipe.execute_command("DISCARD")
        for reply in pipe.execute(raise_on_error=False):
            if isinstance(reply, Exception):
                raise reply
        rollups.check_access()

    def queue(self, pipe, image: bytes, thumbnail: bytes) -> None:
        """Add the commands writing this capture to `pipe` (a MULTI/EXEC pipeline)."""
        key = self.key()
        # EXPIREAT takes whole seconds, and redis-py truncates a datetime: a TTL of 1 s could end at
        # once. Rounded up, a capture lives at least its TTL.
        expires = math.ceil(self.expires_at.timestamp()) if self.expires_at else None
        # Counted (models.rollups) in the same MULTI, before the writes; the schedule of expiries
        # uses the key's own expiry time.
        rollups.count_in(pipe, key, self.pk, self.taken_at.timestamp(), self.device, self.trigger,
                         self.image_size, self.thumbnail_size, expires,
                         tuple(getattr(self, name) for name, _, _ in rollups.BANDED))
        # Saving twice under the same pk (a retried spool entry) rewrites the same
        # hash, so a capture is stored once however often its write is retried.
        self.save(pipeline=pipe)
        pipe.hset(key, mapping={IMAGE_FIELD: image, THUMBNAIL_FIELD: thumbnail})
        if expires is not None:
            pipe.expireat(key, expires)
        else:
            # A retried save of a capture without a TTL under an id that had one: as written now.
            pipe.persist(key)
        if self.image_expires_at:
            pipe.hpexpireat(key, self.image_expires_at, IMAGE_FIELD)
