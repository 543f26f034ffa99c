"""One small camera interface and the backends that need no hardware: synthetic and folder."""
from __future__ import annotations

import datetime as dt
import io
import itertools
import logging
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Optional

from PIL import Image

from . import synthetic

JPEG_SUFFIXES = {".jpg", ".jpeg", ".jpe"}
# Motion detection compares frames this small: enough to see a person, cheap on a Pi Zero.
PREVIEW_SIZE = (160, 120)
CAMERAS = ("picamera2", "synthetic", "folder")
log = logging.getLogger("pigallery.capture")


class CameraError(RuntimeError):
    """The camera cannot be opened or fails; the message says why."""


class CameraExhausted(CameraError):
    """The camera has nothing more to give (a replayed folder's end): a normal stop."""


def jpeg_files(root: Path) -> Iterator[Path]:
    """Yield JPEG files under `root` in a stable order, not following symlinked folders."""
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            if Path(name).suffix.lower() in JPEG_SUFFIXES:
                yield Path(folder) / name


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class Frame:
    """One captured picture: JPEG bytes, when it was taken, and what the camera reported."""

    image: bytes
    taken_at: dt.datetime
    metadata: dict = field(default_factory=dict)


class Camera:
    """Base class: open with `with`, then `capture()` stills and `preview()` low-res frames."""

    def __enter__(self) -> "Camera":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        pass

    def capture(self) -> Frame:
        raise NotImplementedError

    def preview(self) -> Image.Image:
        """Return a small greyscale view of the scene now, for motion detection."""
        raise NotImplementedError


class SyntheticCamera(Camera):
    """Frames rendered with Pillow for the current time (or `clock()`), for demos and tests."""

    def __init__(self, size: tuple[int, int] = (1280, 960), quality: int = 90, detail: float = 1.0,
                 clock: Callable[[], dt.datetime] = utcnow, seed: int = 0):
        self.size, self.quality, self.detail, self.clock = size, quality, detail, clock
        self._seed = itertools.count(seed)

    def capture(self) -> Frame:
        when = self.clock()
        image, meta = synthetic.render(when, self.size, seed=next(self._seed), detail=self.detail, quality=self.quality)
        return Frame(image, when, {**meta, "camera_make": "pigallery", "camera_model": "synthetic"})

    def preview(self) -> Image.Image:
        # No noise: a still synthetic scene must compare equal, or motion fires forever.
        image, _ = synthetic.render(self.clock(), PREVIEW_SIZE, detail=0, quality=75)
        return Image.open(io.BytesIO(image)).convert("L")


class FolderCamera(Camera):
    """Replays the JPEGs under a folder in name order, one per shot (`loop` to start again)."""

    def __init__(self, folder: Path, loop: bool = False, clock: Callable[[], dt.datetime] = utcnow):
        self.paths = [p for p in jpeg_files(folder) if p.is_file()]
        if not self.paths:
            raise CameraError(f"no JPEG files under {folder}")
        self.loop, self.clock, self.index = loop, clock, 0

    def _next_path(self) -> Path:
        if self.index >= len(self.paths):
            if not self.loop:
                raise CameraExhausted(f"folder camera: all {len(self.paths)} pictures replayed")
            self.index = 0
        return self.paths[self.index]

    @staticmethod
    def _read(path: Path) -> bytes:
        """The file's bytes; OSError if it is not a regular file (any more) or cannot be read."""
        # O_NONBLOCK: a FIFO put in a picture's place must not hang the agent waiting for a writer.
        with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise OSError("not a regular file")
            return f.read()

    def capture(self) -> Frame:
        from .exif import BrokenExif, read_exif

        # A file that cannot be read (removed, replaced, not ours, a failing card) is passed
        # over like an unusable picture, rather than stopping the agent.
        for _ in self.paths:
            path = self._next_path()
            self.index += 1
            try:
                data = self._read(path)
                break
            except OSError as exc:
                log.warning("folder camera: skipping %s: %s", path, exc)
        else:
            raise CameraError(f"folder camera: no readable picture left among the {len(self.paths)} files")
        try:
            # The replayed file stands in for a shot taken now; its exposure data still applies.
            facts = read_exif(data)
        except BrokenExif:
            facts = {}  # the picture itself is judged when it is stored
        keep = ("exposure_us", "camera_make", "camera_model", "latitude", "longitude")
        return Frame(data, self.clock(), {k: facts[k] for k in keep if facts.get(k) is not None})

    def preview(self) -> Image.Image:
        # An unreadable picture is passed over, as a shot of it would be skipped when stored.
        for _ in self.paths:
            path = self._next_path()
            try:
                with Image.open(io.BytesIO(self._read(path))) as img:
                    img.draft("L", PREVIEW_SIZE)
                    return img.convert("L").resize(PREVIEW_SIZE)
            except (OSError, ValueError, Image.DecompressionBombError) as exc:
                log.warning("folder camera: skipping %s: %s", path, exc)
                self.index += 1
        raise CameraError(f"folder camera: no readable picture left among the {len(self.paths)} files")


def parse_size(value: str) -> Optional[tuple[int, int]]:
    """Parse WIDTHxHEIGHT ("" means the camera's default); ValueError names the problem."""
    if not value:
        return None
    try:
        w, h = (int(p) for p in value.lower().split("x"))
    except ValueError:
        raise ValueError(f"resolution must be WIDTHxHEIGHT such as 2304x1296, got {value!r}") from None
    if not (16 <= w <= 16000 and 16 <= h <= 16000):
        raise ValueError(f"resolution {value!r} is out of range (16..16000 per side)")
    return w, h


def open_camera(kind: str, *, resolution: Optional[tuple[int, int]] = None, quality: int = 90,
                folder: Optional[Path] = None, loop: bool = False, autofocus: str = "continuous") -> Camera:
    """Build the camera backend `kind`; CameraError says what is missing."""
    if kind == "synthetic":
        return SyntheticCamera(resolution or (1280, 960), quality)
    if kind == "folder":
        if folder is None:
            raise CameraError("the folder camera needs --folder DIR")
        return FolderCamera(folder, loop)
    if kind == "picamera2":
        from .picam import PiCamera

        return PiCamera(resolution, quality, autofocus)
    raise CameraError(f"unknown camera {kind!r}; choose one of {', '.join(CAMERAS)}")
