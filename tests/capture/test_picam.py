"""The picamera2 backend against a strict fake picamera2/libcamera (the hardware is mocked, Redis is not)."""
from __future__ import annotations

import datetime as dt
import io
import sys
import time

import fake_picamera2
import pytest
from PIL import Image

from capture import cameras, picam
from models import Capture


@pytest.fixture
def fake_camera(monkeypatch):
    """Install the fake modules and skip the settle delay; yield the Picamera2 class."""
    for name, module in fake_picamera2.modules().items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(picam, "SETTLE_SECONDS", 0)
    monkeypatch.setattr(fake_picamera2.Picamera2, "instances", [])
    monkeypatch.setattr(fake_picamera2.Picamera2, "failures", {})
    return fake_picamera2.Picamera2


def test_missing_picamera2_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)  # what an x86 laptop has
    with pytest.raises(cameras.CameraError, match="apt install python3-picamera2.*system-site-packages"):
        cameras.open_camera("picamera2")


def test_configures_captures_and_releases(fake_camera):
    with cameras.open_camera("picamera2", resolution=(640, 480), quality=77) as cam:
        frame = cam.capture()
        (fake,) = fake_camera.instances
        assert fake.config["main"]["size"] == (640, 480)
        assert fake.config["lores"] == {"format": "YUV420", "size": cameras.PREVIEW_SIZE}
        assert fake.calls[:3] == ["configure", "set_controls", "start"]
        assert fake.controls == {"AfMode": fake_picamera2.AfModeEnum.Continuous}
    assert fake.closed and all(r.released for r in fake.requests)
    assert fake.saved_quality == 77
    assert Image.open(io.BytesIO(frame.image)).size == (640, 480)
    assert frame.metadata == {"exposure_us": 4321, "lux": 812.3, "analogue_gain": 2.35, "colour_temp_k": 5123,
                              "camera_make": "Raspberry Pi", "camera_model": "imx708"}
    # SensorTimestamp was 0.3 s before the capture: taken_at says so, in UTC.
    age = (dt.datetime.now(dt.timezone.utc) - frame.taken_at).total_seconds()
    assert 0.25 < age < 2 and frame.taken_at.tzinfo is dt.timezone.utc


def test_default_resolution_is_the_sensor(fake_camera):
    with cameras.open_camera("picamera2") as cam:
        assert cam.picam2.config["main"]["size"] == (4608, 2592)


@pytest.mark.parametrize("autofocus, has_af, controls, cycles", [
    ("continuous", True, {"AfMode": fake_picamera2.AfModeEnum.Continuous}, 0),
    ("cycle", True, {}, 2),
    ("off", True, {}, 0),
    ("continuous", False, {}, 0),  # a fixed-focus module (Camera Module 2, HQ)
    ("cycle", False, {}, 0),
])
def test_autofocus_modes(fake_camera, monkeypatch, autofocus, has_af, controls, cycles):
    monkeypatch.setattr(fake_camera, "has_autofocus", has_af)
    with cameras.open_camera("picamera2", resolution=(320, 240), autofocus=autofocus) as cam:
        cam.capture()
        cam.capture()
        assert cam.picam2.controls == controls
        assert cam.picam2.calls.count("autofocus_cycle") == cycles
        if cycles:  # focus first, then shoot
            assert cam.picam2.calls.index("autofocus_cycle") < cam.picam2.calls.index("captured_request")


def test_preview_is_the_luma_plane_without_row_padding(fake_camera):
    with cameras.open_camera("picamera2", resolution=(320, 240)) as cam:
        cam.picam2.lores_luma = 42
        image = cam.preview()
    assert image.mode == "L" and image.size == cameras.PREVIEW_SIZE
    assert image.getextrema() == (42, 42)


def test_motion_on_the_lores_stream(fake_camera):
    from capture.triggers import MotionDetector

    detector = MotionDetector(threshold=0.02, min_gap=0)
    with cameras.open_camera("picamera2", resolution=(320, 240)) as cam:
        assert not detector.check(cam.preview(), 0)  # first frame: nothing to compare with
        assert not detector.check(cam.preview(), 1)
        cam.picam2.lores_luma = 200  # the lights went on
        assert detector.check(cam.preview(), 2)


@pytest.mark.parametrize("stamp_age, expect_age", [(0.5, 0.5), (None, 0.0), (-3, 0.0), (3600, 0.0)])
def test_taken_at_from_sensor_timestamp(stamp_age, expect_age):
    now = dt.datetime(2026, 1, 1, 12, tzinfo=dt.timezone.utc)
    metadata = {} if stamp_age is None else {"SensorTimestamp": picam._boottime_ns() - int(stamp_age * 1e9)}
    assert abs((now - picam.taken_at(metadata, now)).total_seconds() - expect_age) < 0.05


def test_capture_command_with_picamera2(pigallery, fake_camera, stored_pks):
    before = time.time()
    result = pigallery("capture", "--camera", "picamera2", "--resolution", "800x600", "--quality", "70", "--once")
    assert result.exit_code == 0, result.output
    (pk,) = stored_pks()
    capture = Capture.load(pk)
    assert (capture.width, capture.height, capture.exposure_us, capture.lux) == (800, 600, 4321, 812.3)
    assert (capture.camera_model, capture.trigger, capture.device) == ("imx708", "manual", "pi-test")
    assert before - 1 < capture.taken_at.timestamp() < time.time()
    assert fake_camera.instances[0].closed and fake_camera.instances[0].saved_quality == 70


@pytest.mark.parametrize("method, error", [
    ("configure", RuntimeError("Failed to configure camera")),
    ("set_controls", RuntimeError("Failed to set controls")),
    ("start", RuntimeError("Camera did not start")),
    ("start", TimeoutError("Camera frontend has timed out!")),
])
def test_start_failure_closes_the_camera_and_says_why(fake_camera, monkeypatch, method, error):
    monkeypatch.setattr(fake_camera, "failures", {method: error})
    with pytest.raises(cameras.CameraError, match=f"cannot start the camera: {error}"):
        cameras.open_camera("picamera2", resolution=(320, 240))
    (fake,) = fake_camera.instances
    assert fake.closed, "a camera left open stays locked for every other process"


def test_start_failure_through_the_command_is_one_line(pigallery, fake_camera, monkeypatch, stored_pks):
    monkeypatch.setattr(fake_camera, "failures", {"start": RuntimeError("Camera did not start")})
    result = pigallery("capture", "--camera", "picamera2", "--once")
    assert result.exit_code == 1 and "cannot start the camera: Camera did not start" in result.output
    assert "Traceback" not in result.output and fake_camera.instances[0].closed and stored_pks() == []


def test_camera_failing_mid_run_stops_with_a_message_and_keeps_earlier_shots(pigallery, fake_camera, monkeypatch, stored_pks):
    monkeypatch.setattr(fake_camera, "failures", {"captured_request": RuntimeError("Camera frontend has timed out")})
    monkeypatch.setattr(fake_camera, "succeed_first", 2)
    result = pigallery("capture", "--camera", "picamera2", "--resolution", "320x240", "--interval", 0.01, "--count", 5)
    assert result.exit_code == 1
    assert "the camera failed to take a picture: Camera frontend has timed out" in result.output
    assert "Traceback" not in result.output and fake_camera.instances[0].closed
    assert len(stored_pks()) == 2
