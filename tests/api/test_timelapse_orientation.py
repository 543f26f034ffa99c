"""Time-lapse frames are upright: real EXIF samples stored with orientation 3, 6 and 8, imported by
the real importer, encoded by the real ffmpeg, and each decoded frame compared with the sample
turned upright by Pillow (ImageOps.exif_transpose) and with its three other turns.

The samples (exif-samples/orientation) show a waterfall with "top", "left"... written on it; the
portrait ones are stored 600x450 and shown 450x600.
"""
from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import time
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageOps, ImageStat

import models
from capture.importer import Report, content_pk, import_tree
from index import schema
from index.filters import Filters
from search_web import timelapse_encoder as encoder
from search_web import timelapse_plan as planning

TURNS = {"upright": None, "90": Image.Transpose.ROTATE_90, "180": Image.Transpose.ROTATE_180,
         "270": Image.Transpose.ROTATE_270}
# Mean absolute difference (0-255, over RGB) between a decoded frame and the upright sample, both
# scaled to 48 px wide: 2.1-4.0 measured (JPEG, H.264 at CRF 23, scaling), 7.2 deflickered; a wrong
# turn measured 33-90.
UPRIGHT_WITHIN = 12


def import_samples(samples: Path, tmp_path: Path, names: list[str]) -> list[str]:
    """Import copies of `names` through `pigallery import`'s code; oldest first in the order given
    (the orientation samples have no EXIF date, so the file date is the capture's time)."""
    folder = tmp_path / "import"
    folder.mkdir()
    for i, name in enumerate(names):
        copy = folder / f"{i:02d}_{Path(name).name}"
        copy.write_bytes((samples / name).read_bytes())
        os.utime(copy, (1_700_000_000 + 600 * i, 1_700_000_000 + 600 * i))
    report: Report = import_tree(folder, progress=False)
    assert (report.imported, report.skipped) == (len(names), []), report.skipped
    schema.wait_indexed()
    return [content_pk((samples / name).read_bytes()) for name in names]


def encode(tmp_path: Path, **plan) -> tuple[Path, planning.Plan, encoder.Progress]:
    """Make the video the API would (make_plan, then encode); return it, its plan and counts."""
    plan = planning.make_plan(Filters(), fps=4, **plan)
    total = planning.count_frames(plan)
    out = tmp_path / "video.mp4"
    state = encoder.encode(plan, str(out), total, lambda progress: False)
    assert (state.done, state.skipped) == (total, 0)
    return out, plan, state


def decoded_frames(video: Path, folder: Path) -> list[Image.Image]:
    folder.mkdir()
    run = subprocess.run([encoder.ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(video),
                          str(folder / "%03d.png")], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return [Image.open(path).convert("RGB") for path in sorted(folder.glob("*.png"))]


def turn_distances(frame: Image.Image, source: bytes) -> dict[str, float]:
    """How far `frame` is from the source shown upright, and from that turned 90, 180 and 270 degrees.

    Each candidate is fitted into the frame as ffmpeg does (aspect kept, centred on black), so a
    sideways picture letterboxed into an upright frame is compared as such."""
    upright = ImageOps.exif_transpose(Image.open(io.BytesIO(source))).convert("RGB")
    small = (48, round(48 * frame.height / frame.width))
    distances = {}
    for name, turn in TURNS.items():
        candidate = upright if turn is None else upright.transpose(turn)
        fitted = ImageOps.pad(candidate, frame.size, color=(0, 0, 0))
        diff = ImageChops.difference(frame.resize(small), fitted.resize(small))
        distances[name] = sum(ImageStat.Stat(diff).mean) / 3
    return distances


def assert_upright(frame: Image.Image, source: bytes, what: str) -> None:
    distances = turn_distances(frame, source)
    best = min(distances, key=distances.get)
    assert best == "upright" and distances["upright"] < UPRIGHT_WITHIN, (what, distances)


@pytest.mark.parametrize("name, shown", [("orientation/portrait_6.jpg", (450, 600)),
                                         ("orientation/landscape_8.jpg", (600, 450)),
                                         ("orientation/landscape_3.jpg", (600, 450)),
                                         ("orientation/portrait_8.jpg", (450, 600))])
def test_a_turned_capture_is_an_upright_frame_of_its_upright_size(samples, store, tmp_path, name, shown):
    (pk,) = import_samples(samples, tmp_path, [name])
    capture = models.Capture.load(pk)
    turned = capture.orientation in (5, 6, 7, 8)
    assert capture.orientation == int(Path(name).stem[-1])  # the model keeps the EXIF orientation
    assert (capture.width, capture.height) == (shown[::-1] if turned else shown)  # and the size as stored
    video, plan, state = encode(tmp_path)
    assert (plan.width, plan.height) == shown
    (frame,) = decoded_frames(video, tmp_path / "frames")
    assert frame.size == shown
    assert_upright(frame, (samples / name).read_bytes(), name)


def test_turns_that_change_from_frame_to_frame_are_each_undone(samples, store, tmp_path):
    """One video of captures turned each their own way (and one not turned): the size follows the
    first (a portrait), the landscapes are letterboxed upright into it."""
    names = ["orientation/portrait_6.jpg", "orientation/portrait_1.jpg", "orientation/landscape_8.jpg",
             "orientation/portrait_3.jpg", "orientation/landscape_6.jpg", "orientation/portrait_8.jpg"]
    import_samples(samples, tmp_path, names)
    video, plan, state = encode(tmp_path)
    assert (plan.width, plan.height) == (450, 600)
    frames = decoded_frames(video, tmp_path / "frames")
    assert len(frames) == len(names)
    for frame, name in zip(frames, names):
        assert frame.size == (450, 600)
        assert_upright(frame, (samples / name).read_bytes(), name)


def test_deflickered_frames_are_upright_too(samples, store, tmp_path):
    names = ["orientation/portrait_6.jpg", "orientation/portrait_8.jpg", "orientation/landscape_3.jpg"]
    import_samples(samples, tmp_path, names)
    video, plan, state = encode(tmp_path, deflicker=True)
    frames = decoded_frames(video, tmp_path / "frames")
    assert (plan.width, plan.height) == (450, 600) and len(frames) == 3
    for frame, name in zip(frames, names):
        # Deflicker changes the brightness a little: the turn is what is compared.
        assert_upright(frame, (samples / name).read_bytes(), name)


def test_a_thumbnail_frame_of_a_turned_capture_is_upright(samples, store, tmp_path):
    """A capture whose full-size image expired is shown by its thumbnail, which is stored upright
    (models.images.thumbnail): it must not be turned a second time."""
    data = (samples / "orientation/portrait_6.jpg").read_bytes()
    models.Capture.create(data, device="pi-garden", taken_at=dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc),
                          trigger="interval", image_ttl=1)
    schema.wait_indexed()
    time.sleep(1.1)  # the full image expires; its thumbnail (240x320, upright) stays
    video, plan, state = encode(tmp_path)
    (frame,) = decoded_frames(video, tmp_path / "frames")
    assert (plan.width, plan.height) == frame.size == (450, 600) and state.thumbnails == 1
    assert_upright(frame, data, "thumbnail")
