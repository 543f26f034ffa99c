"""The Raspberry Pi camera through picamera2 (libcamera), imported only when used."""
from __future__ import annotations

import contextlib
import datetime as dt
import io
import time
from typing import Optional

from PIL import Image

from .cameras import PREVIEW_SIZE, Camera, CameraError, Frame, utcnow

MISSING = (
    "picamera2 is not installed. On Raspberry Pi OS: `sudo apt install python3-picamera2`, "
    "then create the venv with `python3 -m venv --system-site-packages` (see README)"
)
AUTOFOCUS = ("continuous", "cycle", "off")
# Auto exposure and white balance converge over the first frames after start(); a
# picture taken at once would come out dark and tinted.
SETTLE_SECONDS = 2.0
# What picamera2/libcamera raise when the camera misbehaves: RuntimeError for most failures,
# TimeoutError (an OSError) when no frame comes, ValueError for a configuration it refuses.
FAILURES = (RuntimeError, OSError, ValueError)


def _boottime_ns() -> int:
    # libcamera stamps frames with the kernel's boot-based clock, not the wall clock.
    clock = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)
    return time.clock_gettime_ns(clock)


def taken_at(metadata: dict, now: Optional[dt.datetime] = None) -> dt.datetime:
    """Return the wall-clock time the frame was exposed, from its SensorTimestamp."""
    now = now or utcnow()
    stamp = metadata.get("SensorTimestamp")
    if isinstance(stamp, int):
        age = (_boottime_ns() - stamp) / 1e9
        if 0 <= age < 10:  # anything else is a clock we do not understand: use now
            return now - dt.timedelta(seconds=age)
    return now


def to_model(metadata: dict) -> dict:
    """Map picamera2 request metadata to Capture fields (missing ones are left out)."""
    out = {}
    if metadata.get("ExposureTime") is not None:
        out["exposure_us"] = int(metadata["ExposureTime"])
    if metadata.get("Lux") is not None:
        out["lux"] = round(float(metadata["Lux"]), 1)
    if metadata.get("AnalogueGain") is not None:
        out["analogue_gain"] = round(float(metadata["AnalogueGain"]), 2)
    if metadata.get("ColourTemperature") is not None:
        out["colour_temp_k"] = int(metadata["ColourTemperature"])
    return out


class PiCamera(Camera):
    """Full-resolution JPEG stills plus a small YUV stream for motion detection."""

    def __init__(self, resolution: Optional[tuple[int, int]] = None, quality: int = 90,
                 autofocus: str = "continuous", settle: float | None = None):
        try:
            from picamera2 import Picamera2
        except ImportError:
            raise CameraError(MISSING) from None
        if autofocus not in AUTOFOCUS:
            raise CameraError(f"autofocus must be one of {', '.join(AUTOFOCUS)}, got {autofocus!r}")
        self._stack = contextlib.ExitStack()
        try:
            self.picam2 = self._stack.enter_context(Picamera2())
        except (RuntimeError, IndexError, OSError) as exc:
            raise CameraError(f"cannot open the camera (is it connected and enabled?): {exc}") from None
        try:
            self._start(resolution, quality, autofocus)
        except FAILURES as exc:
            self._stack.close()  # the camera stays locked for every other process until closed
            raise CameraError(f"cannot start the camera: {exc}") from None
        time.sleep(SETTLE_SECONDS if settle is None else settle)

    def _start(self, resolution: Optional[tuple[int, int]], quality: int, autofocus: str) -> None:
        self.size = resolution or tuple(self.picam2.sensor_resolution)
        config = self.picam2.create_still_configuration(
            main={"size": self.size}, lores={"size": PREVIEW_SIZE, "format": "YUV420"}, buffer_count=2)
        self.picam2.configure(config)
        self.picam2.options["quality"] = quality
        self.model = str(self.picam2.camera_properties.get("Model", "unknown"))
        # Only Camera Module 3 (and other AF lenses) expose AfMode; fixed-focus ones do not.
        self.autofocus = autofocus if "AfMode" in self.picam2.camera_controls else "off"
        if self.autofocus == "continuous":
            from libcamera import controls

            self.picam2.set_controls({"AfMode": controls.AfModeEnum.Continuous})
        self.picam2.start()

    def close(self) -> None:
        self._stack.close()

    def capture(self) -> Frame:
        buf = io.BytesIO()
        try:
            if self.autofocus == "cycle":
                self.picam2.autofocus_cycle()
            # The request context releases the buffer back to the camera even if saving fails.
            with self.picam2.captured_request() as request:
                request.save("main", buf, format="jpeg")
                metadata = request.get_metadata()
        except FAILURES as exc:
            raise CameraError(f"the camera failed to take a picture: {exc}") from None
        # width/height come from the JPEG itself when stored: the ISP may align the size.
        meta = {**to_model(metadata), "camera_make": "Raspberry Pi", "camera_model": self.model}
        return Frame(buf.getvalue(), taken_at(metadata), meta)

    def preview(self) -> Image.Image:
        width, height = PREVIEW_SIZE
        try:
            stride = self.picam2.stream_configuration("lores").get("stride") or width
            # YUV420: the first height rows are the luma plane, all motion detection needs.
            luma = bytes(self.picam2.capture_buffer("lores")[: stride * height])
        except FAILURES as exc:
            raise CameraError(f"the camera failed to give a preview frame: {exc}") from None
        return Image.frombytes("L", (width, height), luma, "raw", "L", stride)
