"""A stand-in for picamera2 + libcamera with the calls the agent uses, strict about their order.

It mirrors picamera2's documented API (Picamera2 as a context manager, dict configurations,
captured_request() releasing the request, CompletedRequest.save/get_metadata,
capture_buffer of a YUV420 lores stream) so the adapter is tested honestly on x86.
"""
from __future__ import annotations

import contextlib
import enum
import time
import types

from PIL import Image


class AfModeEnum(enum.IntEnum):
    Manual = 0
    Auto = 1
    Continuous = 2


class CompletedRequest:
    def __init__(self, camera: "Picamera2"):
        self.camera = camera
        self.released = False

    def save(self, name, file_output, format=None):
        assert not self.released and name == "main" and format in ("jpeg", "jpg")
        size = self.camera.config["main"]["size"]
        quality = self.camera.options.get("quality", 90)
        self.camera.saved_quality = quality
        Image.new("RGB", size, self.camera.scene).save(file_output, "JPEG", quality=quality)

    def get_metadata(self):
        assert not self.released
        return dict(self.camera.metadata)

    def release(self):
        self.released = True


class Picamera2:
    instances: list = []
    has_autofocus = True
    # Method name -> exception it raises, as libcamera does when the camera misbehaves,
    # after that method first succeeded `succeed_first` times.
    failures: dict = {}
    succeed_first = 0

    def __init__(self, camera_num=0):
        self.camera_properties = {"Model": "imx708", "PixelArraySize": (4608, 2592)}
        self.sensor_resolution = (4608, 2592)
        self.camera_controls = {"ExposureTime": (1, 66666, None)}
        if self.has_autofocus:
            self.camera_controls["AfMode"] = (0, 2, 0)
        self.options = {}
        self.config = None
        self.started = self.closed = False
        self.controls, self.calls, self.requests = {}, [], []
        self.scene = (90, 120, 200)
        self.lores_luma = 0
        self.metadata = {"ExposureTime": 4321, "Lux": 812.345, "AnalogueGain": 2.3456,
                         "ColourTemperature": 5123.7, "SensorTimestamp": time.clock_gettime_ns(time.CLOCK_BOOTTIME) - 300_000_000}
        Picamera2.instances.append(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def create_still_configuration(self, main=None, lores=None, buffer_count=1, **kw):
        config = {"use_case": "still", "main": {"format": "BGR888", "size": self.sensor_resolution, **(main or {})},
                  "buffer_count": buffer_count}
        if lores is not None:
            config["lores"] = {"format": "YUV420", **lores}
        return config

    def _fail(self, method):
        if method in self.failures and self.calls.count(method) >= self.succeed_first:
            raise self.failures[method]

    def configure(self, config):
        self._fail("configure")
        assert not self.started, "configure() while running"
        self.config = config
        self.calls.append("configure")

    def set_controls(self, controls):
        self._fail("set_controls")
        for name in controls:
            assert name in self.camera_controls, f"camera has no control {name}"
        self.controls.update(controls)
        self.calls.append("set_controls")

    def start(self):
        self._fail("start")
        assert self.config is not None, "start() before configure()"
        self.started = True
        self.calls.append("start")

    def close(self):
        self.started, self.closed = False, True
        self.calls.append("close")

    def autofocus_cycle(self):
        assert self.started and "AfMode" in self.camera_controls
        self.calls.append("autofocus_cycle")
        return True

    @contextlib.contextmanager
    def captured_request(self, wait=None, flush=None):
        assert self.started, "capture before start()"
        self._fail("captured_request")
        request = CompletedRequest(self)
        self.requests.append(request)
        self.calls.append("captured_request")
        try:
            yield request
        finally:
            request.release()

    def stream_configuration(self, name="main"):
        stream = dict(self.config[name])
        width = stream["size"][0]
        stream["stride"] = (width + 63) // 64 * 64  # the ISP pads rows, as on a Pi 5
        return stream

    def capture_buffer(self, name="main"):
        assert self.started and name == "lores" and "lores" in self.config
        width, height = self.config["lores"]["size"]
        stride = self.stream_configuration("lores")["stride"]
        row = bytes([self.lores_luma]) * width + b"\xee" * (stride - width)  # padding must be ignored
        return memoryview(row * height + b"\x80" * (stride * height // 2))


def modules() -> dict:
    """The sys.modules entries: {"picamera2": ..., "libcamera": ...}."""
    picamera2 = types.ModuleType("picamera2")
    picamera2.Picamera2 = Picamera2
    libcamera = types.ModuleType("libcamera")
    libcamera.controls = types.SimpleNamespace(AfModeEnum=AfModeEnum)
    return {"picamera2": picamera2, "libcamera": libcamera}
