"""`pigallery capture` end to end on a real Redis Stack: synthetic and folder cameras."""
from __future__ import annotations

import datetime as dt
import io
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

import models
from models import Capture, events


def load_all(pks):
    return sorted((Capture.load(pk) for pk in pks), key=lambda c: c.taken_at)


def test_synthetic_interval_count_stores_plausible_captures(pigallery, stored_pks):
    started = dt.datetime.now(dt.timezone.utc)
    result = pigallery("capture", "--camera", "synthetic", "--interval", 0.2, "--count", 20)
    assert result.exit_code == 0, result.output
    captures = load_all(stored_pks())
    assert len(captures) == 20
    gaps = [(b.taken_at - a.taken_at).total_seconds() for a, b in zip(captures, captures[1:])]
    # A fixed-rate schedule: every gap near 0.2 s, none missed, none doubled.
    assert all(0.1 < g < 0.4 for g in gaps), gaps
    assert started <= captures[0].taken_at <= captures[-1].taken_at <= dt.datetime.now(dt.timezone.utc)
    for c in captures:
        assert (c.device, c.trigger, c.width, c.height, c.mime_type) == ("pi-test", "interval", 1280, 960, "image/jpeg")
        assert 0.5 <= c.lux <= 15000 and 100 <= c.exposure_us <= 66_000
        assert 1.0 <= c.analogue_gain <= 16.0 and 2500 <= c.colour_temp_k <= 6800
        image = Image.open(io.BytesIO(Capture.read_binary(c.pk)))
        image.load()
        assert image.size == (1280, 960) and len(Capture.read_binary(c.pk)) == c.image_size
        thumb = Image.open(io.BytesIO(Capture.read_binary(c.pk, "thumbnail")))
        thumb.load()
        assert thumb.size == (320, 240)
    # Auto-exposure follows the scene: brighter frames get shorter exposures.
    by_lux = sorted(captures, key=lambda c: c.lux)
    assert by_lux[0].exposure_us >= by_lux[-1].exposure_us


def test_once_takes_one_manual_picture_and_announces_it(pigallery, stored_pks):
    # The command rebinds the models; holding the old client keeps its pool (and so the
    # subscriber's connection) from being closed when it is garbage-collected.
    client = models.Capture.db()
    pubsub = events.subscribe()
    try:
        result = pigallery("capture", "--camera", "synthetic", "--resolution", "320x240", "--once")
        assert result.exit_code == 0, result.output
        (pk,) = stored_pks()
        messages = events.listen(pubsub, timeout=0.5)
        message = next(filter(None, (next(messages) for _ in range(10))), None)
    finally:
        pubsub.close()
        client.close()
    capture = Capture.load(pk)
    assert message is not None, "no announcement on the channel"
    assert capture.trigger == "manual" and capture.width == 320
    assert message["id"] == pk and message["device"] == "pi-test" and message["trigger"] == "manual"
    assert dt.datetime.fromisoformat(message["taken_at"].replace("Z", "+00:00")) == capture.taken_at
    assert message["taken_at"].endswith("Z")


def test_folder_camera_replays_in_order_with_exif_exposure(pigallery, stored_pks, samples):
    result = pigallery("capture", "--camera", "folder", "--folder", samples / "gps", "--interval", 0.05, "--count", 3)
    assert result.exit_code == 0, result.output
    captures = load_all(stored_pks())
    # DSCN0010, 0012, 0021 are the first three by name; their ExposureTime is in EXIF.
    assert [c.exposure_us for c in captures] == [13333, 5609, 10449]
    assert all(c.camera_model == "COOLPIX P6000" and c.latitude and 43.4 < c.latitude < 43.5 for c in captures)
    assert Capture.read_binary(captures[0].pk) == (samples / "gps" / "DSCN0010.jpg").read_bytes()


def test_folder_camera_stops_when_replayed(pigallery, stored_pks, samples):
    result = pigallery("capture", "--camera", "folder", "--folder", samples / "hdr", "--interval", 0.01, "--count", 5)
    assert result.exit_code == 0, result.output
    assert len(stored_pks()) == 1


def test_gpio_trigger_through_the_command(pigallery, stored_pks, mock_pins):
    pin = mock_pins.pin(17)

    def press():
        # Wait for the command to claim the pin, then press the button (to ground).
        for _ in range(200):
            if pin.function == "input" and pin.pull == "up":
                break
            threading.Event().wait(0.05)
        pin.drive_low()

    presser = threading.Thread(target=press)
    presser.start()
    result = pigallery("capture", "--camera", "synthetic", "--resolution", "320x240", "--gpio", 17, "--count", 1)
    presser.join()
    assert result.exit_code == 0, result.output
    (pk,) = stored_pks()
    assert Capture.load(pk).trigger == "gpio"


def test_status_shows_spool_depth(pigallery, agent_env):
    result = pigallery("capture", "--status")
    assert result.exit_code == 0, result.output
    assert f"spool: {agent_env['PIGALLERY_SPOOL_DIR']}: 0 captures waiting" in result.output
    assert "reachable" in result.output


@pytest.mark.parametrize("args, code, message", [
    (["--camera", "synthetic", "--resolution", "big"], 2, "WIDTHxHEIGHT"),
    (["--camera", "synthetic", "--resolution", "5x5"], 2, "out of range"),
    (["--camera", "folder"], 1, "needs --folder"),
    (["--camera", "picamera2", "--once"], 1, "apt install python3-picamera2"),
    (["--camera", "synthetic", "--once", "--count", "3"], 2, "--once takes one picture"),
    (["--camera", "synthetic", "--interval", "0"], 2, "--interval"),
    (["--camera", "synthetic", "--once", "--device", "  "], 1, "device must not be blank"),
    (["--camera", "synthetic", "--once", "--device", "a\tb"], 1, "control characters"),
])
def test_bad_input_is_one_clear_line(pigallery, stored_pks, args, code, message):
    result = pigallery("capture", *args)
    assert result.exit_code == code
    assert message in result.output and "Traceback" not in result.output
    assert stored_pks() == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly_after_the_capture_in_flight(agent_env, store, stored_pks, tmp_path, sig):
    log = tmp_path / "agent.log"
    agent = subprocess.Popen([str(Path(sys.executable).parent / "pigallery"), "capture", "--camera", "synthetic",
                              "--resolution", "320x240", "--interval", "0.1"], stderr=log.open("w"))
    try:
        deadline = time.monotonic() + 20
        while log.read_text().count("stored ") < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        agent.send_signal(sig)
        assert agent.wait(15) == 0
    finally:
        agent.kill()
    text = log.read_text()
    assert f"{sig.name}: stopping after the capture in flight" in text and "Traceback" not in text
    announced = re.findall(r"stored (\w{26})", text)
    assert len(announced) >= 3 and stored_pks() == sorted(announced)
    assert "done: %d shots, 0 still spooled" % len(announced) in text


@pytest.mark.parametrize("var, value, message", [
    ("PIGALLERY_CAPTURE_INTERVAL", "0", "PIGALLERY_CAPTURE_INTERVAL must be above 0"),
    ("PIGALLERY_CAPTURE_INTERVAL", "soon", "PIGALLERY_CAPTURE_INTERVAL must be a number"),
    ("PIGALLERY_JPEG_QUALITY", "101", "PIGALLERY_JPEG_QUALITY must be 1..100"),
    ("PIGALLERY_SPOOL_MAX_MB", "0", "PIGALLERY_SPOOL_MAX_MB must be above 0"),
    ("PIGALLERY_CAMERA", "webcam", "unknown camera 'webcam'"),
    ("PIGALLERY_RESOLUTION", "wide", "WIDTHxHEIGHT"),
])
def test_bad_settings_are_one_clear_line(pigallery, monkeypatch, stored_pks, var, value, message):
    monkeypatch.setenv(var, value)
    result = pigallery("capture", "--count", "1")
    assert result.exit_code in (1, 2) and message in result.output, result.output
    assert "Traceback" not in result.output and stored_pks() == []


def test_second_agent_on_the_same_spool_is_refused(pigallery, agent_env, stored_pks):
    from capture.spool import Spool

    with Spool(Path(agent_env["PIGALLERY_SPOOL_DIR"]), 10**6):
        result = pigallery("capture", "--camera", "synthetic", "--once")
        assert "0 captures waiting" in pigallery("capture", "--status").output  # reading is fine
    assert result.exit_code == 1 and "another capture agent is using the spool" in result.output
    assert stored_pks() == []


def test_unusable_frame_is_skipped_and_the_loop_goes_on(pigallery, stored_pks, tmp_path, jpeg):
    folder = tmp_path / "frames"
    folder.mkdir()
    (folder / "1.jpg").write_bytes(jpeg((64, 48)))
    (folder / "2.jpg").write_bytes(b"not a picture")
    (folder / "3.jpg").write_bytes(jpeg((64, 48))[:300])
    (folder / "4.jpg").write_bytes(jpeg((80, 60)))
    result = pigallery("capture", "--camera", "folder", "--folder", folder, "--interval", 0.01, "--count", 4)
    assert result.exit_code == 0, result.output
    assert sorted(Capture.load(pk).width for pk in stored_pks()) == [64, 80]
