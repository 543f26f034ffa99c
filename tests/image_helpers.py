"""Image bytes for tests that a camera or Pillow would never write."""
from __future__ import annotations

import struct


def claiming(jpeg: bytes, width: int, height: int) -> bytes:
    """`jpeg` with its frame header (SOF) claiming width x height: a lie Pillow does not write."""
    at = 2
    while jpeg[at + 1] not in (0xC0, 0xC1, 0xC2):  # walk the marker segments to the frame header
        at += 2 + struct.unpack(">H", jpeg[at + 2:at + 4])[0]
    return jpeg[:at + 5] + struct.pack(">HH", height, width) + jpeg[at + 9:]


def with_app1(jpeg: bytes, payload: bytes) -> bytes:
    """`jpeg` with an APP1 segment holding `payload` (EXIF as a camera never writes it) after its SOI."""
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return jpeg[:2] + segment + jpeg[2:]
