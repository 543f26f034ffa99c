"""What fires a shot: a fixed interval, a GPIO input (button, PIR, sound sensor), or motion."""
from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Callable, Optional

from PIL import Image, ImageChops, ImageFilter, ImageStat

log = logging.getLogger("pigallery.capture")


class TriggerError(RuntimeError):
    """A trigger cannot be set up (no gpiozero, no GPIO pins); the message says why."""


class GpioTrigger:
    """Queues "gpio" when the input on `pin` becomes active, at most once per `hold_off` seconds.

    `bounce` is gpiozero's edge debounce; the hold-off also swallows the burst of pulses
    a sound sensor or PIR gives for one event, so one clap is one picture.
    """

    def __init__(self, pin: int, events: queue.Queue, *, active_high: bool = False,
                 bounce: float = 0.05, hold_off: float = 1.0, clock: Callable[[], float] = time.monotonic):
        try:
            from gpiozero import DigitalInputDevice
            from gpiozero.exc import GPIOZeroError
        except ImportError:
            raise TriggerError("--gpio needs gpiozero: pip install 'pigallery[pi]'") from None
        try:
            # A button to ground needs the pull-up; a PIR or sound module drives the line high.
            self.device = DigitalInputDevice(pin, pull_up=not active_high, bounce_time=bounce or None)
        except (GPIOZeroError, OSError, ValueError) as exc:
            raise TriggerError(f"cannot use GPIO pin {pin}: {exc}") from None
        self.events, self.hold_off, self.clock = events, hold_off, clock
        self.last = float("-inf")
        self.device.when_activated = self._fired

    def _fired(self) -> None:
        now = self.clock()
        if now - self.last < self.hold_off:
            return
        self.last = now
        self.events.put("gpio")

    def close(self) -> None:
        self.device.close()


class MotionDetector:
    """Says whether enough of a small greyscale frame changed since the previous one."""

    def __init__(self, threshold: float = 0.02, min_gap: float = 5.0, pixel_delta: int = 25):
        # threshold: fraction of pixels that must change; pixel_delta: how much a pixel
        # must change (0-255) to count, well above sensor noise after the blur below.
        self.threshold, self.min_gap, self.pixel_delta = threshold, min_gap, pixel_delta
        self.previous: Optional[Image.Image] = None
        self.last = float("-inf")
        self.changed = 0.0

    def check(self, frame: Image.Image, now: float) -> bool:
        """Feed the next preview frame; True when it shows motion and the gap has passed."""
        frame = frame.convert("L").filter(ImageFilter.BoxBlur(1))
        previous, self.previous = self.previous, frame
        if previous is None or previous.size != frame.size:
            return False
        mask = ImageChops.difference(previous, frame).point(lambda v: 255 if v > self.pixel_delta else 0)
        self.changed = ImageStat.Stat(mask).mean[0] / 255
        if self.changed >= self.threshold and now - self.last >= self.min_gap:
            self.last = now
            return True
        return False


class Triggers:
    """Callable returning the next trigger's name, blocking until one fires; None once stopped."""

    def __init__(self, *, interval: Optional[float] = None, motion: Optional[MotionDetector] = None,
                 preview: Optional[Callable[[], Image.Image]] = None, motion_poll: float = 0.2,
                 once: bool = False, clock: Callable[[], float] = time.monotonic):
        self.interval, self.motion, self.preview, self.motion_poll = interval, motion, preview, motion_poll
        self.once, self.clock = once, clock
        self.events: queue.Queue = queue.Queue()
        self.stopped = threading.Event()
        self.next_due = clock()
        self.sources: list = []

    def add_gpio(self, pin: int, **kw) -> None:
        self.sources.append(GpioTrigger(pin, self.events, **kw))

    def stop(self) -> None:
        """Make the pending and every later call return None (safe from a signal handler)."""
        self.stopped.set()
        self.events.put(None)

    def close(self) -> None:
        for source in self.sources:
            source.close()

    def _due_interval(self, now: float) -> bool:
        if self.interval is None or now < self.next_due:
            return False
        missed = int((now - self.next_due) // self.interval)
        if missed:
            log.warning("running behind: skipped %d interval shots", missed)
        self.next_due += (missed + 1) * self.interval
        return True

    def __call__(self) -> Optional[str]:
        if self.once:
            self.once, self.interval, self.motion = False, None, None
            self.stop()
            return "manual"
        while not self.stopped.is_set():
            now = self.clock()
            if self._due_interval(now):
                return "interval"
            if self.motion and self.motion.check(self.preview(), now):
                log.info("motion: %.1f%% of the frame changed", self.motion.changed * 100)
                return "motion"
            waits = [1.0]
            if self.interval is not None:
                waits.append(self.next_due - now)
            if self.motion:
                waits.append(self.motion_poll)
            try:
                event = self.events.get(timeout=max(0.0, min(waits)))
            except queue.Empty:
                continue
            if event is not None and not self.stopped.is_set():
                return event
        return None
