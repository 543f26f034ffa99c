"""The capture loop: shoot on each trigger, store through the models, spool while Redis is away."""
from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional

import redis
from ulid import ULID

from models import Capture, InvalidCapture, events, images

from .cameras import Camera, CameraExhausted, Frame
from .spool import NO_ROOM, CorruptEntry, Entry, Spool

log = logging.getLogger("pigallery.capture")
# Redis down is expected (Wi-Fi drops, server reboots): "try again later". redis-py
# wraps socket errors in these, so an OSError here is Pillow failing on a bad picture.
UNAVAILABLE = (redis.RedisError,)
# A refused login or command is no outage: waiting will not fix it, a person must
# (wrong or rotated password, ACL user missing a permission). Checked before UNAVAILABLE.
REFUSED = (redis.AuthenticationError, redis.exceptions.NoPermissionError)
REJECTED = (InvalidCapture, images.InvalidImage, OSError)
# While Redis refuses, repeat the error this often (s), so a glance at the log shows it.
REFUSED_REMINDER = 300.0


def refusal(exc: redis.RedisError) -> str:
    """Say which credential problem `exc` is, in words a person can act on."""
    if isinstance(exc, redis.AuthenticationError):
        return f"Redis refused the user name or password in REDIS_URL ({exc})"
    return f"the Redis user in REDIS_URL lacks a permission the capture agent needs ({exc})"


@dataclass(frozen=True)
class Lifetimes:
    """The TTLs every capture gets (seconds; None = keep)."""

    ttl: Optional[int] = None
    image_ttl: Optional[int] = None


def check_device(device: str) -> str:
    """Return `device` if the model accepts it, else raise InvalidCapture saying why.

    Checked once at start: a bad name would otherwise reject every capture.
    """
    try:
        return Capture.clean_device(device)
    except ValueError as exc:
        raise InvalidCapture(f"device {device!r}: {exc}") from None


def write(entry: Entry, lifetimes: Lifetimes) -> Capture:
    """Store one capture through the models, then announce it.

    The pk is fixed when the picture is taken, so writing it again after a lost
    acknowledgement rewrites the same hash: every capture is stored exactly once.
    """
    capture = Capture.create(entry.image, thumbnail=entry.thumbnail, ttl=lifetimes.ttl,
                             image_ttl=lifetimes.image_ttl, pk=entry.pk, **entry.metadata)
    try:
        events.publish(capture)
    except redis.RedisError as exc:
        # The capture is safe; a missed live update only delays it until the next page load.
        log.warning("stored %s but could not announce it: %s", capture.pk, exc)
    return capture


def describe(capture: Capture) -> str:
    lux = f"{capture.lux:.1f}" if capture.lux is not None else "-"
    exposure = f"{capture.exposure_us}us" if capture.exposure_us is not None else "-"
    return (f"stored {capture.pk} {capture.trigger} {capture.width}x{capture.height} "
            f"{capture.image_size / 1024:.0f}KiB lux={lux} exposure={exposure}")


class Drainer(threading.Thread):
    """Writes spooled captures to Redis oldest first, backing off while Redis is away."""

    def __init__(self, spool: Spool, lifetimes: Lifetimes, min_delay: float = 0.5, max_delay: float = 30.0):
        super().__init__(name="spool-drainer", daemon=True)
        self.spool, self.lifetimes = spool, lifetimes
        self.min_delay, self.max_delay = min_delay, max_delay
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.healthy = True
        self.refused_logged = -REFUSED_REMINDER

    def report(self, exc: redis.RedisError) -> None:
        """Log why Redis took nothing: an outage once, a refusal loudly and again every few minutes."""
        if isinstance(exc, REFUSED):
            now = time.monotonic()
            if now - self.refused_logged >= REFUSED_REMINDER:
                self.refused_logged = now
                log.error("CREDENTIALS REFUSED: %s; nothing is stored until it is fixed, %d captures spooled",
                          refusal(exc), len(self.spool))
        elif self.healthy:
            log.warning("Redis unavailable (%s); %d captures spooled, retrying with backoff", exc, len(self.spool))
        self.healthy = False

    def drain_one(self) -> Optional[bool]:
        """Store the oldest entry: True if it left the queue, False to back off, None if empty."""
        name = self.spool.oldest()
        if name is None:
            return None
        try:
            return self._drain(name)
        except Exception as exc:  # noqa: BLE001 - a disk fault or a bug must not stop the drainer
            log.exception("spool: cannot handle %s", name)
            if name in self.spool:  # still queued: set it aside, or the drainer retries it forever
                self.spool.quarantine(name, f"{type(exc).__name__}: {exc}")
            # Back off all the same: the fault may be the disk, not this one entry.
            return False

    def _drain(self, name: str) -> bool:
        try:
            entry = self.spool.read(name)
        except FileNotFoundError:
            # Deleted behind the agent's back (a person clearing the folder): nothing to store.
            # No longer queued means the spool dropped it to make room, and said so.
            if name in self.spool:
                log.warning("spool: %s vanished before it was stored", name)
            self.spool.remove(name)
            return True
        except (CorruptEntry, ValueError) as exc:
            self.spool.quarantine(name, str(exc))
            return True
        try:
            capture = write(entry, self.lifetimes)
        except REJECTED as exc:
            self.spool.quarantine(name, str(exc))
            return True
        except UNAVAILABLE as exc:
            self.report(exc)
            return False
        self.spool.remove(name)
        if not self.healthy:
            log.info("Redis is back; draining the spool")
        self.healthy = True
        self.refused_logged = -REFUSED_REMINDER
        log.info("%s (from spool, %d left)", describe(capture), len(self.spool))
        return True

    def run(self) -> None:
        delay = self.min_delay
        while not self.stopping.is_set():
            done = self.drain_one()
            if done is None:
                self.wake.wait(1.0)
                self.wake.clear()
            elif done:
                delay = self.min_delay
            else:
                # Jitter, so a fleet of Pis does not reconnect in lockstep after an outage.
                self.stopping.wait(delay * random.uniform(0.8, 1.2))
                delay = min(self.max_delay, delay * 2)

    def finish(self, grace: float) -> None:
        """Stop, first draining for up to `grace` seconds while Redis accepts writes."""
        deadline = time.monotonic() + grace
        self.stopping.set()
        self.wake.set()
        self.join()
        while time.monotonic() < deadline and self.drain_one():
            pass


class Saver:
    """The save path: straight to Redis while the spool is empty, otherwise via the spool.

    New captures queue behind spooled ones, so Redis receives them in capture order.
    """

    def __init__(self, spool: Spool, device: str, lifetimes: Lifetimes = Lifetimes()):
        self.spool, self.device, self.lifetimes = spool, device, lifetimes
        self.drainer = Drainer(spool, lifetimes)

    def __enter__(self) -> "Saver":
        self.drainer.start()
        return self

    def __exit__(self, *exc) -> None:
        self.drainer.finish(grace=10.0)
        if len(self.spool):
            log.info("%d captures stay spooled in %s for the next run", len(self.spool), self.spool.folder)

    def entry(self, frame: Frame, trigger: str) -> Entry:
        # The thumbnail is made here on the Pi, so the spool holds everything Redis needs.
        # The time is the Pi's own clock at the shot (a replayed folder's too): time_source says so.
        metadata = {"device": self.device, "taken_at": frame.taken_at.isoformat(), "trigger": trigger,
                    "time_source": "camera", **frame.metadata}
        return Entry(str(ULID()), metadata, frame.image, images.thumbnail(frame.image))

    def save(self, frame: Frame, trigger: str) -> str:
        """Store or spool one frame; return its capture id ("" if skipped or lost)."""
        try:
            entry = self.entry(frame, trigger)
        except (images.InvalidImage, OSError) as exc:
            log.error("camera gave an unusable picture, skipped: %s", exc)
            return ""
        queued = len(self.spool) > 0
        if not queued:
            stored = self.store(entry)
            if stored is not None:
                return stored
        try:
            name = self.spool.put(entry)
        except OSError as exc:
            if queued:
                # Behind spooled captures it would wait its turn, but the spool cannot take
                # it: reaching Redis out of order beats being lost.
                stored = self.store(entry)
                if stored is not None:
                    return stored
            self.spool.record_lost(entry.pk)
            if exc.errno in NO_ROOM:
                why = f"the disk holding the spool {self.spool.folder} is full ({exc.strerror}) " \
                      "and dropping older captures cannot make room; free space on it"
            else:
                why = f"the spool {self.spool.folder} cannot be written ({exc.strerror or exc})"
            log.error("capture %s LOST: Redis cannot take it and %s", entry.pk, why)
            return ""
        log.info("spooled %s as %s (%d waiting)", entry.pk, name, len(self.spool))
        self.drainer.wake.set()
        return entry.pk

    def store(self, entry: Entry) -> Optional[str]:
        """Write straight to Redis: the pk if stored, "" if rejected, None if Redis cannot take it now."""
        try:
            log.info(describe(write(entry, self.lifetimes)))
        except REJECTED as exc:
            log.error("capture rejected, skipped: %s", exc)
            return ""
        except REFUSED as exc:
            self.drainer.report(exc)
            return None
        except UNAVAILABLE as exc:
            if self.drainer.healthy:  # once per outage: with an unwritable spool this repeats every shot
                log.warning("Redis unavailable (%s); spooling", exc)
            self.drainer.healthy = False
            return None
        if not self.drainer.healthy and not len(self.spool):
            log.info("Redis is back")
            self.drainer.healthy = True
        return entry.pk


def run(camera: Camera, next_trigger: Callable[[], Optional[str]], saver: Saver,
        count: Optional[int] = None, stop: Optional[threading.Event] = None) -> int:
    """Capture on each trigger until `count` shots, `stop`, or the triggers end; return shots.

    A camera that fails raises CameraError; one that has run out (a replayed folder) ends the run.
    """
    stop = stop or threading.Event()
    shots = 0
    while not stop.is_set() and (count is None or shots < count):
        try:
            # Motion triggers read the camera's preview, so the camera can run out here too.
            trigger = next_trigger()
            if trigger is None:
                break
            frame = camera.capture()
        except CameraExhausted as exc:
            log.info("%s", exc)
            break
        saver.save(frame, trigger)
        shots += 1
    return shots
