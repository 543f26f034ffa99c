"""Time-lapse frames: a capture's image bytes, upright, optionally deflickered, as ffmpeg takes them.

Frames are upright: a JPEG with an EXIF turn (an imported phone picture) is turned by Pillow
first (the planned output size follows the upright size: timelapse_plan.shown_size).

A capture whose full-size image has expired (PIGALLERY_IMAGE_TTL) is shown by its thumbnail,
scaled up to the output size; a capture deleted while the job runs is skipped. Both are counted.
"""
from __future__ import annotations

import io
from typing import Optional

from PIL import Image, ImageOps, ImageStat

from models import Capture
from models.capture import IMAGE_FIELD, THUMBNAIL_FIELD

try:  # only when already installed: the mean is all it is used for, and ImageStat does as well
    import numpy
except ImportError:  # pragma: no cover - numpy is optional
    numpy = None

JPEG = b"\xff\xd8\xff"
# EXIF orientations that turn the stored picture a quarter (5 and 7 mirror it too).
QUARTER_TURNS = frozenset({5, 6, 7, 8})
EXIF_ORIENTATION = 0x0112
FRAME_QUALITY = 92  # frames Pillow re-encodes (turned, PNG/WebP, deflickered) before H.264 at CRF 23
# Deflicker: each frame's mean brightness is pulled to an exponential running mean over about
# this many frames, by a gain no further than these bounds from 1.
DEFLICKER_WINDOW = 15
DEFLICKER_GAIN = (0.5, 2.0)


def frame_bytes(row: dict, now: float) -> tuple[Optional[bytes], str]:
    """Return a frame's image bytes and where they came from: `image`, `thumbnail` (the full-size
    image expired) or `missing` (the capture is gone)."""
    expires = row.get("image_expires_at")
    if expires is None or expires > now:
        data = Capture.read_binary(row["id"], IMAGE_FIELD)
        if data:
            return data, "image"
    data = Capture.read_binary(row["id"], THUMBNAIL_FIELD)
    return (data, "thumbnail") if data else (None, "missing")


def _open(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    return img


def _orientation(img: Image.Image) -> int:
    """The EXIF orientation of an opened image (headers only: nothing is decoded), 1 if none."""
    value = img.getexif().get(EXIF_ORIENTATION, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def upright_image(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """An opened image as RGB, turned upright per its EXIF orientation; a JPEG decoded at the
    smallest draft scale (1, 1/2, 1/4, 1/8) that still covers `size`.

    Full-size images are stored as taken, EXIF orientation and all (models.images); thumbnails are
    stored upright, without one, so this leaves them as they are."""
    turned = _orientation(img) in QUARTER_TURNS
    img.draft("RGB", size[::-1] if turned else size)  # the decoded size is at least the asked one
    return ImageOps.exif_transpose(img).convert("RGB")


def _jpeg(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, "JPEG", quality=FRAME_QUALITY)  # no EXIF: the pixels are upright as they are
    return out.getvalue()


def upright_jpeg(data: bytes, size: tuple[int, int]) -> bytes:
    """The bytes ffmpeg's mjpeg decoder takes, upright: a JPEG without an EXIF turn as stored (most
    frames: a camera's), others (a turned JPEG, a PNG or WebP) re-encoded upright (a JPEG at its
    draft scale: upright_image). ffmpeg scales them as it does every frame; fitting them to `size`
    here as well measured 120 -> 180 ms for a 2048x1536 JPEG turned into a 1080x1440 video (a
    frame passed on as stored: 0.1 ms).

    ffmpeg is not left to turn frames itself (it runs with -noautorotate): the n9.0 that
    imageio-ffmpeg 0.8.1 bundles applies a JPEG frame's EXIF orientation, older builds ignore it,
    so the video would depend on the ffmpeg bundled for the machine."""
    img = _open(data)
    if data[:3] == JPEG and _orientation(img) == 1:
        return data
    return _jpeg(upright_image(img, size))


def mean_brightness(img: Image.Image) -> float:
    luma = img.convert("L")
    if numpy is not None:
        return float(numpy.asarray(luma).mean())
    return float(ImageStat.Stat(luma).mean[0])


class Deflicker:
    """Exposure normalisation: scale each frame's brightness towards a running mean.

    The camera's auto-exposure steps, and clouds, make consecutive frames jump in brightness;
    the running mean follows slow changes (dawn, dusk) and leaves them in. Frames are decoded at
    about the output size (JPEG draft mode) and re-encoded; the gain is a lookup table (point).
    """

    def __init__(self, size: tuple[int, int], window: int = DEFLICKER_WINDOW):
        self.size, self.alpha, self.mean = size, 2 / (window + 1), None

    def __call__(self, data: bytes) -> bytes:
        img = ImageOps.contain(upright_image(_open(data), self.size), self.size)
        level = mean_brightness(img)
        self.mean = level if self.mean is None else self.mean + self.alpha * (level - self.mean)
        gain = min(max(self.mean / level, DEFLICKER_GAIN[0]), DEFLICKER_GAIN[1]) if level >= 1 else 1.0
        if abs(gain - 1) > 0.005:
            table = [min(255, int(round(v * gain))) for v in range(256)]
            img = img.point(table * 3)
        return _jpeg(img)
