"""`pigallery capture` end to end on a real Redis Stack: synthetic and folder cameras."""
from __future__ import annotations

import datetime as dt
import io
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

import models
from capture.cameras import SyntheticCamera
from models import Capture, events


def load_all(pks):
    return sorted((Capture.load(pk) for pk in pks), key=lambda c: c.taken_at)


@pytest.fixture
def frames(monkeypatch):
    """Record every frame the synthetic camera hands the agent (the hardware side, spied on)."""
    taken = []
    real = SyntheticCamera.capture

    def capture(self):
        taken.append(real(self))
        return taken[-1]

    monkeypatch.setattr(SyntheticCamera, "capture", capture)
    return taken


def test_synthetic_interval_count_stores_what_the_camera_reported(pigallery, stored_pks, frames):
    started = dt.datetime.now(dt.timezone.utc)
    result = pigallery("capture", "--camera", "synthetic", "--interval", 0.2, "--count", 20)
    assert result.exit_code == 0, result.output
    captures = load_all(stored_pks())
    assert len(captures) == 20
    offsets = [(c.taken_at - captures[0].taken_at).total_seconds() for c in captures]
    # A fixed-rate schedule: shot k never comes before k intervals (no burst after a slow
    # shot), and a busy machine skips slots rather than drifting (test_triggers has the exact rule).
    assert all(offset >= k * 0.2 - 0.05 for k, offset in enumerate(offsets)), offsets
    assert offsets[-1] < 19 * 0.2 + 2.0, offsets
    assert started <= captures[0].taken_at <= captures[-1].taken_at <= dt.datetime.now(dt.timezone.utc)
    by_image = {frame.image: frame for frame in frames}
    assert len(frames) == len(by_image) == 20
    for c in captures:
        data = Capture.read_binary(c.pk)
        frame = by_image[data]  # KeyError: stored bytes the camera never gave
        # Each capture keeps exactly what the camera reported for that frame, and when.
        assert {name: getattr(c, name) for name in frame.metadata} == frame.metadata
        assert abs((c.taken_at - frame.taken_at).total_seconds()) < 0.001
        assert (c.device, c.trigger, c.mime_type, c.image_size) == ("pi-test", "interval", "image/jpeg", len(data))
        image = Image.open(io.BytesIO(data))
        image.load()
        assert image.size == (c.width, c.height) == (1280, 960)
        thumb = Image.open(io.BytesIO(Capture.read_binary(c.pk, "thumbnail")))
        thumb.load()
        assert thumb.size == (320, 240) and c.thumbnail_size == len(Capture.read_binary(c.pk, "thumbnail"))


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


def test_second_ctrl_c_while_the_spool_drains_is_no_traceback(agent_env, tmp_path):
    # A Redis that accepts connections but never answers (hung, or a dead NAT mapping): every
    # write waits for the timeout, so shutting down, which tries the spool once more, takes a while.
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(16)
        url = f"redis://127.0.0.1:{hung.getsockname()[1]}/0?socket_timeout=0.5&socket_connect_timeout=0.5"
        log = tmp_path / "agent.log"
        agent = subprocess.Popen([str(Path(sys.executable).parent / "pigallery"), "capture", "--camera", "synthetic",
                                  "--resolution", "160x120", "--interval", "0.1"],
                                 env={**os.environ, "REDIS_URL": url}, stderr=log.open("w"))
        try:
            deadline = time.monotonic() + 60
            while log.read_text().count("spooled ") < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            agent.send_signal(signal.SIGINT)
            while "done:" not in log.read_text() and "Traceback" not in log.read_text() and time.monotonic() < deadline:
                # Ctrl-C again and again while the agent shuts down.
                agent.send_signal(signal.SIGINT)
                time.sleep(0.2)
            assert agent.wait(30) == 0, log.read_text()
        finally:
            agent.kill()
    text = log.read_text()
    assert text.count("SIGINT: stopping after the capture in flight") >= 2, text
    assert "Traceback" not in text and "KeyboardInterrupt" not in text
    spooled = len(re.findall(r"spooled (\w{26})", text))
    assert f"done: {spooled} shots, {spooled} still spooled" in text
    assert len(list(Path(agent_env["PIGALLERY_SPOOL_DIR"]).glob("*.entry"))) == spooled


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


@pytest.mark.parametrize("files, extra, code, message, stored", [
    # Motion previews the next file: the broken one is passed over, the end of the folder is a normal stop.
    (["good", "broken", "good"], [], 0, "folder camera: all 3 pictures replayed", 2),
    (["broken", "broken"], ["--loop"], 1, "folder camera: no readable picture left among the 2 files", 0),
])
def test_folder_camera_with_motion_ends_with_a_message(pigallery, stored_pks, tmp_path, jpeg, caplog, files, extra, code,
                                                       message, stored):
    caplog.set_level(logging.INFO, logger="pigallery.capture")
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, kind in enumerate(files):
        (folder / f"{i}.jpg").write_bytes(jpeg((64 + 16 * i, 48)) if kind == "good" else b"not a picture")
    result = pigallery("capture", "--camera", "folder", "--folder", folder, "--motion", "--interval", 0.05,
                       "--count", 10, *extra)
    assert result.exit_code == code, result.output
    assert message in result.output + caplog.text and "Traceback" not in result.output
    assert len(stored_pks()) == stored
    assert f"skipping {folder / '1.jpg'}" in caplog.text
