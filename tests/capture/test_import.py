"""`pigallery import` on the real EXIF samples and on files broken on purpose."""
from __future__ import annotations

import datetime as dt
import io
import struct

import pytest
from PIL import Image

from capture.exif import BrokenExif, camera_name, read_exif
from capture.importer import content_pk, jpeg_files, resolve_time
from models import Capture
from tests.image_helpers import with_app1

UTC = dt.timezone.utc


def by_file(samples, pks):
    """Map each sample's relative path to its stored capture (ids are content hashes)."""
    captures = {pk: Capture.load(pk) for pk in pks}
    return {str(p.relative_to(samples)): captures.get(content_pk(p.read_bytes())) for p in jpeg_files(samples)}


def test_imports_every_sample_with_exif_facts(pigallery, samples, stored_pks):
    result = pigallery("import", samples)
    assert result.exit_code == 0, result.output
    files = list(jpeg_files(samples))
    assert f"imported {len(files)}, already present 0, skipped 0" in result.output
    got = by_file(samples, stored_pks())
    assert all(got.values()) and len(stored_pks()) == len(files)
    canon = got["Canon_40D.jpg"]
    assert canon.taken_at == dt.datetime(2008, 5, 30, 15, 56, 1, tzinfo=UTC)  # PIGALLERY_IMPORT_TZ=UTC
    assert (canon.device, canon.camera_make, canon.exposure_us, canon.trigger) == ("Canon EOS 40D", "Canon", 6250, "import")
    assert got["Pentax_K10D.jpg"].device == "PENTAX K10D"
    assert got["WWL_(Polaroid)_ION230.jpg"].camera_model == "ION230"
    gps = got["gps/DSCN0010.jpg"]
    assert gps.latitude == pytest.approx(43.467448, abs=1e-5) and gps.longitude == pytest.approx(11.885127, abs=1e-5)
    kodak = got["Kodak_CX7530.jpg"]  # south and east: the signs come from the Ref tags
    assert kodak.latitude == pytest.approx(-22.278 / 60, abs=1e-6) and kodak.longitude == pytest.approx(36 + 3.385 / 60, abs=1e-6)
    assert canon.latitude is None  # a GPS block holding only its version: no position
    # No EXIF date (orientation set, XMP-only files): the file's date, and said so.
    for name in ("orientation/landscape_3.jpg", "invalid/image00971.jpg"):
        mtime = dt.datetime.fromtimestamp((samples / name).stat().st_mtime, UTC)
        assert got[name].taken_at == mtime and got[name].device == "unknown"
        assert f"note: {samples / name}: no EXIF date" in result.output
    for name in ("orientation/portrait_6.jpg", "orientation/landscape_8.jpg"):
        thumb = Image.open(io.BytesIO(Capture.read_binary(got[name].pk, "thumbnail")))
        assert (thumb.height > thumb.width) == name.startswith("orientation/portrait"), name


def test_reimport_stores_nothing_twice(pigallery, samples, stored_pks):
    assert pigallery("import", samples / "gps").exit_code == 0
    before = stored_pks()
    result = pigallery("import", samples / "gps", "--device", "other-name")
    assert result.exit_code == 0
    assert "imported 0, already present 9" in result.output and stored_pks() == before


@pytest.fixture
def mixed_folder(tmp_path, jpeg, samples):
    """Good files beside broken ones, nested, with a non-JPEG to ignore."""
    good = jpeg((160, 120))
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "good.jpg").write_bytes(good)
    (tmp_path / "a" / "b" / "camera.JPG").write_bytes((samples / "Nikon_D70.jpg").read_bytes())
    broken = {
        "notes.jpg": b"just some text, not a picture",
        "a/truncated.jpg": good[: len(good) // 2],
        "a/empty.jpeg": b"",
        "a/cut-in-exif.jpg": (samples / "gps" / "DSCN0010.jpg").read_bytes()[:3000],
        "a/b/bad-exif-offset.jpg": with_app1(good, b"Exif\x00\x00II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 500) + bytes(10)),
        "a/b/bad-exif-junk.jpg": with_app1(good, b"Exif\x00\x00" + b"\x13\x37" * 20),
    }
    for name, data in broken.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "readme.txt").write_text("ignored")
    return tmp_path, broken


def test_broken_files_are_reported_and_skipped(pigallery, mixed_folder, stored_pks):
    folder, broken = mixed_folder
    result = pigallery("import", folder)
    assert result.exit_code == 0, result.output
    assert "imported 2, already present 0, skipped 6" in result.output
    for name in broken:
        assert f"skipped: {folder / name}: " in result.output, name
    assert "Traceback" not in result.output and len(stored_pks()) == 2


@pytest.mark.parametrize("args, message", [
    (["/no/such/folder"], "does not exist"),
    (["--timezone", "Mars/Olympus_Mons", "."], "unknown time zone"),
])
def test_bad_arguments(pigallery, args, message):
    result = pigallery("import", *args)
    assert result.exit_code == 2 and message in result.output


@pytest.mark.parametrize("exif_time, zone, expected", [
    (dt.datetime(2024, 7, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))), None, dt.datetime(2024, 7, 1, 10, 0, tzinfo=UTC)),
    (dt.datetime(2024, 7, 1, 12, 0), "Europe/Paris", dt.datetime(2024, 7, 1, 10, 0, tzinfo=UTC)),
    (dt.datetime(2024, 1, 1, 12, 0), "Europe/Paris", dt.datetime(2024, 1, 1, 11, 0, tzinfo=UTC)),
    (dt.datetime(2024, 1, 1, 12, 0), "UTC", dt.datetime(2024, 1, 1, 12, 0, tzinfo=UTC)),
    (None, "Europe/Paris", dt.datetime.fromtimestamp(1_700_000_000, UTC)),
])
def test_resolve_time(exif_time, zone, expected):
    from zoneinfo import ZoneInfo

    assert resolve_time(exif_time, 1_700_000_000, ZoneInfo(zone) if zone else None) == expected


def test_offset_time_original_is_used(jpeg):
    exif = Image.Exif()
    ifd = exif.get_ifd(0x8769)
    ifd[0x9003], ifd[0x9011], ifd[0x829A] = "2023:03:04 05:06:07", "-05:00", 0.002
    out = io.BytesIO()
    Image.open(io.BytesIO(jpeg((64, 48)))).save(out, "JPEG", exif=exif)
    facts = read_exif(out.getvalue())
    assert facts["taken_at"] == dt.datetime(2023, 3, 4, 10, 6, 7, tzinfo=UTC) and facts["exposure_us"] == 2000


@pytest.mark.parametrize("value", ["0000:00:00 00:00:00", "garbage", ""])
def test_unusable_exif_date_falls_back(jpeg, value):
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = value
    out = io.BytesIO()
    Image.open(io.BytesIO(jpeg((64, 48)))).save(out, "JPEG", exif=exif)
    assert read_exif(out.getvalue())["taken_at"] is None


def test_broken_exif_raises(jpeg):
    with pytest.raises(BrokenExif, match="Corrupt EXIF"):
        read_exif(with_app1(jpeg((64, 48)), b"Exif\x00\x00II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 500) + bytes(10)))


@pytest.mark.parametrize("make, model, name", [
    ("Canon", "Canon EOS 40D", "Canon EOS 40D"),
    ("NIKON CORPORATION", "NIKON D70", "NIKON D70"),
    ("FUJIFILM", "FinePix E500", "FUJIFILM FinePix E500"),
    (None, "X", "X"),
    (None, None, None),
])
def test_camera_name(make, model, name):
    assert camera_name(make, model) == name


def test_content_pk_is_stable_and_ulid_shaped(jpeg):
    from ulid import ULID

    a, b = jpeg((64, 48)), jpeg((64, 49))
    assert content_pk(a) == content_pk(bytes(a)) != content_pk(b)
    assert str(ULID.from_str(content_pk(a))) == content_pk(a)


@pytest.fixture
def decodes(monkeypatch):
    """Count the pictures Pillow decodes (ImageFile.load), to see the work an import does."""
    from PIL import ImageFile

    loaded = []
    real = ImageFile.ImageFile.load

    def load(self):
        if self._im is None:  # a first load, not a no-op repeat
            loaded.append(getattr(self, "filename", None) or self.format)
        return real(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    return loaded


def test_import_decodes_only_to_store_and_duplicates_never(pigallery, samples, decodes):
    assert pigallery("import", samples / "gps").exit_code == 0
    # Storing checks the picture and makes its thumbnail (two reduced-scale decodes, in the
    # model); the import itself reads only the EXIF headers.
    assert len(decodes) <= 2 * 9, decodes
    decodes.clear()
    result = pigallery("import", samples / "gps")
    assert "imported 0, already present 9" in result.output
    assert decodes == [], "a file already stored is recognised by its bytes, not decoded"


def test_import_is_not_announced_on_the_live_channel(pigallery, samples, stored_pks):
    from models import events

    client = Capture.db()  # keeps the subscriber's pool alive across the command's rebind
    pubsub = events.subscribe()
    try:
        assert pigallery("import", samples / "gps").exit_code == 0
        assert len(stored_pks()) == 9
        messages = events.listen(pubsub, timeout=0.2)
        heard = [m for m in (next(messages) for _ in range(5)) if m]
    finally:
        pubsub.close()
        client.close()
    assert heard == []
