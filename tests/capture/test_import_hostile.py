"""`pigallery import` over hostile files, every one made here: bombs, special files, extreme EXIF.

Pillow writes the pictures and their EXIF; raw bytes are crafted by hand only for what Pillow
will not write (a frame header claiming pixels that are not there, an absurd tag count).
"""
from __future__ import annotations

import datetime as dt
import io
import os
import random
import re
import struct
import subprocess
from pathlib import Path

import pytest
from PIL import ExifTags, Image, TiffImagePlugin

import capture.importer as importer
from capture.exif import BrokenExif, read_exif
from capture.importer import content_pk
from models import Capture
from tests.helpers import PIGALLERY
from tests.image_helpers import claiming, with_app1

UTC = dt.timezone.utc
TAGS = ExifTags.Base
# A hang (a FIFO read, /dev/zero read to the end) fails the test instead of stalling the run.
IMPORT_TIMEOUT = 120


def small_jpeg() -> bytes:
    """An 8x8 JPEG of about 630 bytes."""
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, "JPEG", quality=50)
    return out.getvalue()


def with_exif(jpeg: bytes, ifd0: dict | None = None, exif_ifd: dict | None = None) -> bytes:
    """`jpeg` saved again by Pillow with these IFD0 and Exif IFD tags."""
    exif = Image.Exif()
    exif.update(ifd0 or {})
    exif.get_ifd(ExifTags.IFD.Exif).update(exif_ifd or {})
    out = io.BytesIO()
    Image.open(io.BytesIO(jpeg)).save(out, "JPEG", exif=exif)
    return out.getvalue()


def dated(jpeg: bytes, when: str, offset: str | None = None) -> bytes:
    """`jpeg` with this EXIF DateTimeOriginal, and OffsetTimeOriginal if given."""
    return with_exif(jpeg, exif_ifd={TAGS.DateTimeOriginal: when, **({TAGS.OffsetTimeOriginal: offset} if offset else {})})


def exposed(jpeg: bytes, exposure) -> bytes:
    return with_exif(jpeg, exif_ifd={TAGS.ExposureTime: exposure})


def named(jpeg: bytes, make, model) -> bytes:
    """`jpeg` with this EXIF Make and Model (bytes are written as they are: Pillow writes str as ASCII)."""
    return with_exif(jpeg, {TAGS.Make: make, TAGS.Model: model})


def huge_count(jpeg: bytes, model: bytes = b"") -> bytes:
    """`jpeg` with an EXIF Make tag claiming 4 GB of text (Pillow writes only real counts), and `model` (<= 3 bytes)."""
    entries = [struct.pack("<HHII", TAGS.Make, 2, 0xFFFFFFFF, 8 + 2 + 2 * 12 + 4)]  # ASCII, 2**32-1 bytes, after the IFD
    if model:
        entries.append(struct.pack("<HHI", TAGS.Model, 2, len(model) + 1) + model.ljust(4, b"\x00"))  # inline value
    ifd = struct.pack("<IH", 8, len(entries)) + b"".join(entries).ljust(2 * 12, b"\x00") + struct.pack("<I", 0)
    return with_app1(jpeg, b"Exif\x00\x00II*\x00" + ifd + b"Cam\x00")


def saved_as(jpeg: bytes, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(jpeg)).save(out, fmt, **options)
    return out.getvalue()


def flat_png(size: tuple[int, int]) -> bytes:
    """A real (not forged) bomb: a one-colour picture compresses about 8000:1 as a 1-bit PNG."""
    out = io.BytesIO()
    Image.new("1", size).save(out, "PNG")
    return out.getvalue()


def import_folder(folder: Path) -> subprocess.CompletedProcess:
    """Run the installed `pigallery import FOLDER` (the test's REDIS_URL and key prefix), bounded in time."""
    return subprocess.run([str(PIGALLERY), "import", str(folder)], capture_output=True, text=True,
                          timeout=IMPORT_TIMEOUT, stdin=subprocess.DEVNULL, cwd=folder.parent)


def reasons(output: str) -> dict[str, str]:
    """Map each skipped file's name to its one-line reason."""
    return {Path(m[0]).name: m[1] for m in re.findall(r"^skipped: (.+?\.jpg): (.*)$", output, re.M)}


# 1. Decompression bombs -------------------------------------------------------------------

@pytest.mark.parametrize("width, height, reason", [
    (60000, 60000, "too many pixels to decode safely: Image size (3600000000 pixels) exceeds limit"),
    (65535, 65535, "too many pixels to decode safely: Image size (4294836225 pixels) exceeds limit"),
    # Within Pillow's hard limit (it only warns), but some 630 bytes cannot hold 144 megapixels.
    (12000, 12000, "claims 12000x12000 pixels but holds only {size} bytes"),
])
def test_read_exif_refuses_a_bomb_without_decoding(width, height, reason):
    tiny = small_jpeg()
    assert len(tiny) < 1000
    with pytest.raises(BrokenExif) as info:
        read_exif(claiming(tiny, width, height))
    assert str(info.value).startswith(reason.format(size=len(tiny)))


def test_a_real_picture_over_pillows_warning_is_not_refused():
    # 90.25 megapixels, just over Pillow's warning; flat grey, so as small as a JPEG this size gets.
    out = io.BytesIO()
    Image.new("L", (9500, 9500), 128).save(out, "JPEG", quality=90)
    assert read_exif(out.getvalue())["camera_make"] is None


def test_bombs_are_skipped_and_the_import_goes_on(pigallery, samples, tmp_path, stored_pks):
    tiny = small_jpeg()
    for name, data in {"a-60000.jpg": claiming(tiny, 60000, 60000), "b-65535.jpg": claiming(tiny, 65535, 65535),
                       "c-12000.jpg": claiming(tiny, 12000, 12000), "d-flat.jpg": flat_png((12000, 12000)),
                       "e-good.jpg": (samples / "Canon_40D.jpg").read_bytes()}.items():
        (tmp_path / name).write_bytes(data)
    result = pigallery("import", tmp_path)
    assert result.exit_code == 0, result.output
    assert "imported 1, already present 0, skipped 4" in result.output
    skipped = reasons(result.output)
    assert skipped["a-60000.jpg"].startswith("too many pixels to decode safely")
    assert skipped["b-65535.jpg"].startswith("too many pixels to decode safely")
    assert skipped["c-12000.jpg"] == f"claims 12000x12000 pixels but holds only {len(tiny)} bytes"
    assert re.fullmatch(r"claims 12000x12000 pixels but holds only \d+ bytes", skipped["d-flat.jpg"])
    assert stored_pks() == [content_pk((samples / "Canon_40D.jpg").read_bytes())]


# 2. Files that are not regular files, or too big --------------------------------------------

@pytest.fixture
def special_files(tmp_path, samples):
    """A folder of paths named .jpg that must not be read, beside one good picture and a link to another."""
    folder = tmp_path / "special"
    folder.mkdir()
    (folder / "good.jpg").write_bytes((samples / "Nikon_D70.jpg").read_bytes())
    elsewhere = tmp_path / "elsewhere.jpg"
    elsewhere.write_bytes((samples / "Canon_40D.jpg").read_bytes())
    (folder / "link-to-good.jpg").symlink_to(elsewhere)  # a link to a regular file is followed
    os.mkfifo(folder / "fifo.jpg")
    (folder / "zero.jpg").symlink_to("/dev/zero")
    (folder / "loop-a.jpg").symlink_to(folder / "loop-b.jpg")
    (folder / "loop-b.jpg").symlink_to(folder / "loop-a.jpg")
    (folder / "self.jpg").symlink_to(folder / "self.jpg")
    (folder / "dangling.jpg").symlink_to(tmp_path / "gone.jpg")
    return folder


def test_special_files_are_reported_not_read(agent_env, store, special_files, stored_pks):
    result = import_folder(special_files)
    assert result.returncode == 0, result.stderr
    assert "imported 2, already present 0, skipped 6" in result.stdout
    skipped = reasons(result.stderr)
    assert skipped == {
        "fifo.jpg": "not a regular file: a FIFO (named pipe)",
        "zero.jpg": "not a regular file: a character device (symlink to /dev/zero)",
        "loop-a.jpg": "symlink loop (too many levels of symbolic links)",
        "loop-b.jpg": "symlink loop (too many levels of symbolic links)",
        "self.jpg": "symlink loop (too many levels of symbolic links)",
        "dangling.jpg": f"dangling symlink to {special_files.parent / 'gone.jpg'}",
    }
    assert "Traceback" not in result.stderr and len(stored_pks()) == 2


def test_a_file_over_the_size_limit_is_not_read(pigallery, tmp_path, stored_pks):
    path = tmp_path / "oversize.jpg"
    with path.open("wb") as f:
        f.truncate(importer.MAX_FILE_BYTES + 1)  # sparse: takes no disk, and is never read
    result = pigallery("import", tmp_path)
    assert result.exit_code == 0, result.output
    assert f"skipped: {path}: 134,217,729 bytes, over the 128 MiB limit for a picture" in result.output
    assert stored_pks() == []


# 3. EXIF times that leave the years 1-9999 in UTC ------------------------------------------

@pytest.mark.parametrize("when, offset", [("0001:01:01 00:00:00", "+01:00"), ("9999:12:31 23:59:59", "-01:00")])
def test_out_of_range_exif_time_falls_back_to_the_file_date(pigallery, jpeg, tmp_path, stored_pks, when, offset):
    path = tmp_path / "clock.jpg"
    path.write_bytes(dated(jpeg((64, 48)), when, offset))
    os.utime(path, (1_700_000_000, 1_700_000_000))
    result = pigallery("import", tmp_path)
    assert result.exit_code == 0, result.output
    assert "imported 1, already present 0, skipped 0, time from file date 1" in result.output
    exif_time = read_exif(path.read_bytes())["taken_at"]
    assert f"note: {path}: EXIF date {exif_time} falls outside the years 1-9999 in UTC" in result.output
    assert Capture.load(stored_pks()[0]).taken_at == dt.datetime.fromtimestamp(1_700_000_000, UTC)


# Malformed EXIF values in a good picture: the picture is imported, the nonsense dropped -------

def test_malformed_exif_values_are_dropped_not_fatal(jpeg):
    base = jpeg((64, 48))
    assert read_exif(exposed(base, float("inf")))["exposure_us"] is None  # a DOUBLE may hold inf
    assert read_exif(exposed(base, TiffImagePlugin.IFDRational(1, 0)))["exposure_us"] is None
    facts = read_exif(named(base, "Ünïcødé Cåmera".encode(), "モデル 1".encode()))  # UTF-8 in ASCII tags
    assert (facts["camera_make"], facts["camera_model"]) == ("Ünïcødé Cåmera", "モデル 1")
    facts = read_exif(named(base, "Evil\nCam\x1f\x07", ("\u202e" + "X" * 300).encode()))
    assert (facts["camera_make"], facts["camera_model"]) == ("Evil Cam", "X" * 60)


# 4. The whole hostile corpus in one import ------------------------------------------------

def hostile_corpus(folder: Path, samples: Path, jpeg) -> dict[str, str]:
    """Write the corpus into `folder`; return each name's expected outcome.

    "imported", "note: TEXT" (imported, with a note on its time starting TEXT), or
    "skipped: TEXT" where TEXT starts the reason ("" for any reason).
    """
    base = jpeg((160, 120))
    tiny = small_jpeg()
    rng = random.Random(12)
    big = io.BytesIO()
    Image.new("L", (9500, 9500), 128).save(big, "JPEG", quality=90)  # over Pillow's warning, genuine
    files: dict[str, tuple[bytes, str]] = {
        # Good pictures.
        "good-canon.jpg": ((samples / "Canon_40D.jpg").read_bytes(), "imported"),
        "good-gps.jpg": ((samples / "gps" / "DSCN0010.jpg").read_bytes(), "imported"),
        "good-nikon.jpg": ((samples / "Nikon_D70.jpg").read_bytes(), "imported"),
        "good-90mp.jpg": (big.getvalue(), "imported"),
        # Other formats named .jpg: the model stores PNG and WebP as what they are.
        "png-data.jpg": (saved_as(base, "PNG"), "imported"),
        "webp-data.jpg": (saved_as(base, "WEBP"), "imported"),
        "gif-data.jpg": (saved_as(base, "GIF"), "skipped: unsupported image format GIF"),
        # Decompression bombs, forged and real.
        "bomb-60000.jpg": (claiming(tiny, 60000, 60000), "skipped: too many pixels to decode safely"),
        "bomb-65535.jpg": (claiming(tiny, 65535, 65535), "skipped: too many pixels to decode safely"),
        "bomb-12000-tiny.jpg": (claiming(tiny, 12000, 12000),
                                f"skipped: claims 12000x12000 pixels but holds only {len(tiny)} bytes"),
        "bomb-flat-png.jpg": (flat_png((12000, 12000)), "skipped: claims 12000x12000 pixels"),
        # Broken bytes behind a JPEG signature.
        "empty.jpg": (b"", "skipped: image is empty"),
        "truncated.jpg": (base[: len(base) // 2], "skipped: "),
        **{f"random-{i}.jpg": (b"\xff\xd8\xff" + rng.randbytes(rng.randrange(10, 4000)), "skipped: ") for i in range(5)},
        "random-after-headers.jpg": (base[:400] + rng.randbytes(2000), "skipped: "),
        # Extreme and malformed EXIF in good pictures.
        "year-1-plus-1h.jpg": (dated(base, "0001:01:01 00:00:00", "+01:00"),
                               "note: EXIF date 0001-01-01 00:00:00+01:00 falls outside the years 1-9999"),
        "year-9999-minus-1h.jpg": (dated(base, "9999:12:31 23:59:59", "-01:00"),
                                   "note: EXIF date 9999-12-31 23:59:59-01:00 falls outside the years 1-9999"),
        "date-nonsense.jpg": (dated(base, "2021:13:45 99:99:99"), "note: no EXIF date"),
        "offset-nonsense.jpg": (dated(base, "2021:01:02 03:04:05", "+99:99"), "imported"),
        "exposure-1-over-0.jpg": (exposed(base, TiffImagePlugin.IFDRational(1, 0)), "imported"),
        "exposure-inf.jpg": (exposed(base, float("inf")), "imported"),
        "unicode-make.jpg": (named(base, "Ünïcødé Cåmera".encode(), "モデル 1".encode()), "imported"),
        "control-make.jpg": (named(base, "Evil\nCam\x1f", ("\u202e" + "X" * 200).encode()), "imported"),
        "huge-count.jpg": (huge_count(base), "skipped: EXIF block present but holds no readable tags"),
        "huge-count-beside-a-good-tag.jpg": (huge_count(base, b"XY"), "imported"),  # Pillow drops the bad tag alone
    }
    for name, (data, _) in files.items():
        (folder / name).write_bytes(data)
    # Paths named like pictures that are no regular file: reading them would hang or never end.
    os.mkfifo(folder / "fifo.jpg")
    (folder / "zero.jpg").symlink_to("/dev/zero")
    (folder / "loop-a.jpg").symlink_to(folder / "loop-b.jpg")
    (folder / "loop-b.jpg").symlink_to(folder / "loop-a.jpg")
    with (folder / "oversize.jpg").open("wb") as f:
        f.truncate(importer.MAX_FILE_BYTES + 1)
    expected = {name: outcome for name, (_, outcome) in files.items()}
    expected.update({"fifo.jpg": "skipped: not a regular file: a FIFO",
                     "zero.jpg": "skipped: not a regular file: a character device",
                     "loop-a.jpg": "skipped: symlink loop", "loop-b.jpg": "skipped: symlink loop",
                     "oversize.jpg": f"skipped: {importer.MAX_FILE_BYTES + 1:,} bytes, over the"})
    return expected


def test_hostile_corpus_imports_the_good_and_names_the_bad(agent_env, store, samples, jpeg, tmp_path, stored_pks):
    folder = tmp_path / "hostile"
    folder.mkdir()
    expected = hostile_corpus(folder, samples, jpeg)
    result = import_folder(folder)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Traceback" not in output and "Warning" not in output, output
    skipped = reasons(result.stderr)
    notes = dict(re.findall(r"^note: .*/(.+?\.jpg): (.*)$", result.stderr, re.M))
    for name, outcome in expected.items():
        kind, _, text = outcome.partition(": ")
        if kind == "skipped":
            assert name in skipped and skipped[name].startswith(text), (name, skipped.get(name))
            assert "\n" not in skipped[name]
        else:
            assert name not in skipped, (name, skipped[name])
            assert Capture.exists(content_pk((folder / name).read_bytes())), name
            assert notes.get(name, "").startswith(text), (name, notes.get(name))
    imported = [n for n, o in expected.items() if not o.startswith("skipped")]
    assert set(notes) <= set(imported), "a note on the time of a file that was not stored"
    assert result.stdout.strip() == (f"imported {len(imported)}, already present 0, "
                                     f"skipped {len(expected) - len(imported)}, time from file date {len(notes)}")
    assert len(stored_pks()) == len(imported)
    stored = {name: Capture.load(content_pk((folder / name).read_bytes())) for name in imported}
    assert (stored["png-data.jpg"].mime_type, stored["webp-data.jpg"].mime_type) == ("image/png", "image/webp")
    assert (stored["good-90mp.jpg"].width, stored["good-90mp.jpg"].height) == (9500, 9500)
    assert stored["exposure-1-over-0.jpg"].exposure_us is None and stored["exposure-inf.jpg"].exposure_us is None
    assert stored["unicode-make.jpg"].device == "Ünïcødé Cåmera モデル 1"
    assert stored["control-make.jpg"].device == "Evil Cam " + "X" * 60
    assert stored["huge-count-beside-a-good-tag.jpg"].device == "XY"
    assert stored["offset-nonsense.jpg"].taken_at == dt.datetime(2021, 1, 2, 3, 4, 5, tzinfo=UTC)  # PIGALLERY_IMPORT_TZ
    # Nothing half-written: every stored capture has its picture and thumbnail.
    assert all(Capture.read_binary(c.pk) and Capture.read_binary(c.pk, "thumbnail") for c in stored.values())
