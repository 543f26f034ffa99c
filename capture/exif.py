"""Read the EXIF facts a gallery wants (time, exposure, camera, GPS) with Pillow."""
from __future__ import annotations

import datetime as dt
import io
import warnings
from typing import Optional

from PIL import ExifTags, Image, UnidentifiedImageError

TAGS = ExifTags.Base
GPS = ExifTags.GPS
# (time tag, its offset tag): the shutter time first, then when it was digitised.
TIME_TAGS = ((TAGS.DateTimeOriginal, TAGS.OffsetTimeOriginal), (TAGS.DateTimeDigitized, TAGS.OffsetTimeDigitized))


class BrokenExif(ValueError):
    """The EXIF block exists but cannot be parsed; the message says how."""


def _text(value) -> Optional[str]:
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not isinstance(value, str):
        return None
    # Cameras pad with spaces and NULs ("ION230\x00F", "PENTAX K10D        ").
    value = value.split("\x00", 1)[0].strip()
    return value or None


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

    Missing facts are None. BrokenExif if the EXIF block is present but corrupt.
    """
    with warnings.catch_warnings(record=True) as caught:
        # Pillow reports a corrupt EXIF block with a warning (at open or later), not an exception.
        warnings.simplefilter("always")
        try:
            img = Image.open(io.BytesIO(data))
        except (UnidentifiedImageError, OSError) as exc:
            raise BrokenExif(f"not an image: {exc}") from None
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
    except (TypeError, ValueError, ZeroDivisionError):
        exposure_us = None
    lat, lon = _gps(gps)
    return {
        "taken_at": taken_at,
        "exposure_us": exposure_us if exposure_us and exposure_us > 0 else None,
        "camera_make": _text(exif.get(TAGS.Make)),
        "camera_model": _text(exif.get(TAGS.Model)),
        "latitude": lat,
        "longitude": lon,
    }
