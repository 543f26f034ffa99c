"""Read the EXIF facts a gallery wants (time, exposure, camera, GPS) with Pillow."""
from __future__ import annotations

import datetime as dt
import io
import unicodedata
import warnings
from typing import Optional

from PIL import ExifTags, Image, UnidentifiedImageError

TAGS = ExifTags.Base
GPS = ExifTags.GPS
# (time tag, its offset tag): the shutter time first, then when it was digitised.
TIME_TAGS = ((TAGS.DateTimeOriginal, TAGS.OffsetTimeOriginal), (TAGS.DateTimeDigitized, TAGS.OffsetTimeDigitized))
# A picture above Pillow's own size warning (Image.MAX_IMAGE_PIXELS, about 89 megapixels)
# must hold at least this many bytes per megapixel. Huffman-coded JPEG cannot go below about
# 4 KB per megapixel even for a flat grey frame with optimised tables (12 KB with the standard
# tables cameras use), so fewer bytes mean a header claiming pixels the file does not hold, or
# a flat picture costing hundreds of MB to decode from a few KB: a decompression bomb either way.
MIN_BYTES_PER_MEGAPIXEL = 1000
# Real Make and Model strings stay under 40 characters; longer is junk. 60 each keeps the
# device name built from both ("Make Model") within the model's 128 characters.
NAME_MAX = 60


class BrokenExif(ValueError):
    """The EXIF block exists but cannot be parsed; the message says how."""


class ImageBomb(BrokenExif):
    """The picture claims more pixels than is safe to decode, or than its bytes can hold.

    A BrokenExif, so every caller that skips an unreadable file skips this one too.
    """


def _text(value) -> Optional[str]:
    if isinstance(value, str):
        try:
            value = value.encode("latin-1")  # Pillow decodes EXIF ASCII as Latin-1: undo that
        except UnicodeEncodeError:
            value = value.encode("utf-8")  # not Latin-1, so already decoded right
    if not isinstance(value, bytes):
        return None
    # Cameras pad with spaces and NULs ("ION230\x00F", "PENTAX K10D        ").
    value = value.split(b"\x00", 1)[0]
    try:
        text = value.decode("utf-8")  # EXIF says ASCII, but phones and editors write UTF-8
    except UnicodeDecodeError:
        text = value.decode("latin-1")
    # Control and format characters (newlines, the tag separator, bidi overrides) have no
    # place in a name or a date; the model would refuse a device name holding them.
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Cf") else c for c in text).strip()
    return text or None


def _name(value) -> Optional[str]:
    text = _text(value)
    return text[:NAME_MAX].rstrip() if text else None


def _check_size(img: Image.Image, nbytes: int) -> None:
    """Raise ImageBomb if `img` is over Pillow's size warning yet holds too few bytes for it."""
    (width, height), limit = img.size, Image.MAX_IMAGE_PIXELS
    # Below Pillow's warning a decode costs what Pillow deems acceptable, whatever the file holds.
    if limit and width * height > limit and nbytes < width * height * MIN_BYTES_PER_MEGAPIXEL / 1e6:
        raise ImageBomb(f"claims {width}x{height} pixels but holds only {nbytes} bytes")


def _offset(value) -> Optional[dt.timezone]:
    text = _text(value)
    if not text:
        return None
    try:
        return dt.datetime.strptime(text, "%z").tzinfo
    except ValueError:
        return None


def _datetime(value) -> Optional[dt.datetime]:
    text = _text(value)
    if not text:
        return None
    try:
        # "0000:00:00 00:00:00" (clock never set) fails here too, as it should.
        return dt.datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None


def _degrees(dms, ref) -> Optional[float]:
    try:
        d, m, s = (float(x) for x in dms)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = d + m / 60 + s / 3600
    return -value if _text(ref) in ("S", "W") else value


def _gps(ifd) -> tuple[Optional[float], Optional[float]]:
    lat = _degrees(ifd.get(GPS.GPSLatitude), ifd.get(GPS.GPSLatitudeRef))
    lon = _degrees(ifd.get(GPS.GPSLongitude), ifd.get(GPS.GPSLongitudeRef))
    # A receiver without a fix writes zeros or nonsense: keep only a real position.
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat, lon) == (0, 0):
        return None, None
    return round(lat, 7), round(lon, 7)


def camera_name(make: Optional[str], model: Optional[str]) -> Optional[str]:
    """Return "Make Model" without repeating the make ("Canon Canon EOS 40D")."""
    if make and model and model.lower().startswith(make.split()[0].lower()):
        return model
    return " ".join(p for p in (make, model) if p) or None


def read_exif(data: bytes) -> dict:
    """Return taken_at (naive or aware), exposure_us, camera_make/model, latitude/longitude.

    Missing facts are None. BrokenExif if the EXIF block is present but corrupt, ImageBomb
    (a BrokenExif) if the picture claims too many pixels; nothing is decoded either way.
    """
    with warnings.catch_warnings(record=True) as caught:
        # Pillow reports a corrupt EXIF block with a warning (at open or later), not an exception;
        # its DecompressionBombWarning is recorded here too, and judged by _check_size.
        warnings.simplefilter("always")
        try:
            img = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError as exc:
            raise ImageBomb(f"too many pixels to decode safely: {exc}") from None
        except (UnidentifiedImageError, OSError) as exc:
            raise BrokenExif(f"not an image: {exc}") from None
        _check_size(img, len(data))
        try:
            exif = img.getexif()
            main = exif.get_ifd(ExifTags.IFD.Exif)
            gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        except Exception as exc:  # noqa: BLE001 - any parser failure means the same thing here
            raise BrokenExif(f"EXIF cannot be parsed: {exc}") from None
    corrupt = [str(w.message) for w in caught if "corrupt exif" in str(w.message).lower()]
    if corrupt:
        raise BrokenExif(corrupt[0].strip())
    raw = img.info.get("exif") or b""
    if raw[:6] == b"Exif\x00\x00" and len(raw) > 14 and not len(exif):
        raise BrokenExif("EXIF block present but holds no readable tags")
    taken_at = None
    for time_tag, offset_tag in TIME_TAGS:
        taken_at = _datetime(main.get(time_tag))
        if taken_at:
            tz = _offset(main.get(offset_tag))
            taken_at = taken_at.replace(tzinfo=tz) if tz else taken_at
            break
    exposure = main.get(TAGS.ExposureTime)
    try:
        exposure_us = int(round(float(exposure) * 1e6)) if exposure else None
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):  # 1/0 reads as NaN, a DOUBLE can be inf
        exposure_us = None
    lat, lon = _gps(gps)
    return {
        "taken_at": taken_at,
        "exposure_us": exposure_us if exposure_us and exposure_us > 0 else None,
        "camera_make": _name(exif.get(TAGS.Make)),
        "camera_model": _name(exif.get(TAGS.Model)),
        "latitude": lat,
        "longitude": lon,
    }
