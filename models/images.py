"""Check image bytes and make thumbnails with Pillow."""
from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

THUMBNAIL_SIDE = 320
THUMBNAIL_QUALITY = 80
ACCEPTED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


class InvalidImage(ValueError):
    """The bytes are not an image this gallery can store."""


@dataclass(frozen=True)
class ImageInfo:
    width: int
    height: int
    mime_type: str
    orientation: int


def _open(data: bytes) -> Image.Image:
    if not data:
        raise InvalidImage("image is empty (0 bytes)")
    try:
        img = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise InvalidImage(f"not a recognised image ({len(data)} bytes, starts {data[:4].hex()})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        # A recognised header that breaks while being read ("Truncated File Read").
        raise InvalidImage(f"image cannot be read: {exc}") from None
    except Image.DecompressionBombError as exc:
        # A header claiming more than twice Pillow's limit (179 MP): refused before any decoding.
        raise InvalidImage(f"too many pixels to decode safely: {exc}") from None
    if img.format not in ACCEPTED_FORMATS:
        raise InvalidImage(f"unsupported image format {img.format}; expected JPEG, PNG or WebP")
    return img


def inspect(data: bytes) -> ImageInfo:
    """Decode the image fully (so truncated files are caught) and describe it."""
    img = _open(data)
    try:
        # draft() lets libjpeg decode at reduced scale: a full check of every scan
        # without paying for a full-resolution decode on a Pi.
        size = img.size
        img.draft("RGB", (THUMBNAIL_SIDE, THUMBNAIL_SIDE))
        img.load()
        orientation = int(img.getexif().get(0x0112, 1) or 1)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidImage(f"image cannot be decoded: {exc}") from None
    return ImageInfo(size[0], size[1], ACCEPTED_FORMATS[img.format], orientation if 1 <= orientation <= 8 else 1)


def thumbnail(data: bytes, side: int = THUMBNAIL_SIDE, quality: int = THUMBNAIL_QUALITY) -> bytes:
    """Return a JPEG no larger than side x side, upright per the EXIF orientation."""
    img = _open(data)
    try:
        img.draft("RGB", (side, side))
        img = ImageOps.exif_transpose(img)
        img.thumbnail((side, side))
        out = io.BytesIO()
        img.convert("RGB").save(out, "JPEG", quality=quality, optimize=True)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidImage(f"image cannot be decoded: {exc}") from None
    return out.getvalue()
