"""Where a capture's time and file came from: time_source and source_name (issue #13)."""
from __future__ import annotations

import os
import shutil

from capture.importer import content_pk
from models import Capture, events


def test_import_says_where_each_time_came_from_and_keeps_the_file_name(pigallery, samples, tmp_path):
    folder = tmp_path / "holiday" / "day 1"
    folder.mkdir(parents=True)
    shutil.copy(samples / "Canon_40D.jpg", folder / "IMG_0001.jpg")
    shutil.copy(samples / "orientation" / "landscape_3.jpg", folder / "scan.jpg")  # no EXIF date
    result = pigallery("import", tmp_path)
    assert result.exit_code == 0, result.output
    canon = Capture.load(content_pk((folder / "IMG_0001.jpg").read_bytes()))
    scan = Capture.load(content_pk((folder / "scan.jpg").read_bytes()))
    # The name without its folders (they may say more than the owner meant to share).
    assert (canon.time_source, canon.source_name) == ("exif", "IMG_0001.jpg")
    assert (scan.time_source, scan.source_name) == ("file", "scan.jpg")


def test_a_file_name_no_utf8_can_hold_is_stored_readable(pigallery, samples, tmp_path):
    odd = os.fsdecode(b"caf\xe9\nphoto.jpg")  # Latin-1 bytes and a newline: both valid on Linux
    shutil.copy(samples / "Canon_40D.jpg", tmp_path / odd)
    result = pigallery("import", tmp_path)
    assert result.exit_code == 0 and "imported 1" in result.output, result.output
    stored = Capture.load(content_pk((samples / "Canon_40D.jpg").read_bytes()))
    assert stored.source_name == "caf\ufffd\ufffdphoto.jpg"


def test_a_cameras_capture_says_its_time_is_the_cameras(pigallery, stored_pks):
    result = pigallery("capture", "--camera", "synthetic", "--resolution", "320x240", "--once")
    assert result.exit_code == 0, result.output
    (pk,) = stored_pks()
    capture = Capture.load(pk)
    assert (capture.time_source, capture.source_name) == ("camera", None)
    assert events.message(capture)["time_source"] == "camera"
