"""Synthetic frames with Pillow: a sky that follows the time of day and a moving object."""
from __future__ import annotations

import datetime as dt
import io
import math
import random

from PIL import Image, ImageDraw, ImageFilter


def daylight(when: dt.datetime) -> float:
    """Return 0 (night) .. 1 (noon) for the local solar hour of `when`."""
    hour = when.hour + when.minute / 60 + when.second / 3600
    return max(0.0, math.sin(math.pi * (hour - 6) / 12))


def exposure_for(light: float, rng: random.Random) -> dict:
    """Return plausible auto-exposure results for a scene of brightness `light`."""
    lux = round(0.5 + 12000 * light**2 * rng.uniform(0.85, 1.15), 1)
    # Auto-exposure: longer shutter and more gain as light falls, as a Pi camera does.
    exposure_us = int(min(66_000, max(100, 250_000 / math.sqrt(lux))))
    gain = round(min(16.0, max(1.0, 400 / (lux**0.6))), 2)
    colour_temp_k = int(2800 + 3700 * light + rng.uniform(-150, 150))
    return {"lux": lux, "exposure_us": exposure_us, "analogue_gain": gain, "colour_temp_k": colour_temp_k}


def render(when: dt.datetime, size: tuple[int, int] = (1280, 960), seed: int = 0,
           detail: float = 1.0, quality: int = 85) -> tuple[bytes, dict]:
    """Return JPEG bytes and the metadata a camera would report for the frame at `when`.

    `detail` scales the sensor-like noise, which is what sets the JPEG size.
    """
    rng = random.Random(f"{seed}:{when.timestamp()}")
    light = daylight(when)
    w, h = size
    base = int(20 + 200 * light)
    img = Image.linear_gradient("L").resize(size).point(lambda v: int(base * (0.6 + 0.4 * v / 255)))
    img = Image.merge("RGB", (img.point(lambda v: int(v * 0.8)), img.point(lambda v: int(v * 0.9)), img))
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, int(h * 0.7), w, h], fill=(30 + int(60 * light), 60 + int(90 * light), 30))
    # The object crosses the frame once a minute, so consecutive frames differ.
    phase = (when.timestamp() % 60) / 60
    cx, cy, r = int(w * phase), int(h * 0.55), max(8, h // 10)
    # Its brightness differs from the sky's at every hour, so motion detection (on luma) sees it.
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(200, 40 + int(50 * light), 40))
    if detail > 0:
        noise = Image.effect_noise(size, 40 * detail).convert("RGB")
        img = Image.blend(img, noise, min(0.5, 0.18 * detail)).filter(ImageFilter.SMOOTH_MORE if detail < 0.5 else ImageFilter.DETAIL)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality)
    return out.getvalue(), {**exposure_for(light, rng), "width": w, "height": h}
