"""Triggers without Redis: GPIO on gpiozero's MockFactory, motion on synthetic frames, the interval."""
from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from capture.cameras import SyntheticCamera
from capture.triggers import GpioTrigger, MotionDetector, Triggers, TriggerError


class Clock:
    """A hand-moved clock, for the hold-off and motion gap."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.mark.parametrize("active_high, press, release, pull", [
    (False, "drive_low", "drive_high", "up"),    # a button to ground
    (True, "drive_high", "drive_low", "down"),   # a PIR or sound module output
])
def test_gpio_fires_once_per_hold_off(mock_pins, active_high, press, release, pull):
    clock = Clock()
    fire = Triggers()
    fire.add_gpio(17, active_high=active_high, hold_off=1.0, clock=clock)
    pin = mock_pins.pin(17)
    assert pin.pull == pull
    # A sound sensor's burst: three pulses within the hold-off make one picture.
    for t in (0.0, 0.1, 0.5):
        clock.now = t
        getattr(pin, press)()
        getattr(pin, release)()
    clock.now = 1.2
    getattr(pin, press)()
    assert [fire.events.get_nowait() for _ in range(fire.events.qsize())] == ["gpio", "gpio"]
    fire.close()
    assert pin.function == "input" and fire.sources[0].device.closed


def test_gpio_event_wakes_the_wait(mock_pins):
    fire = Triggers(interval=3600)
    fire.add_gpio(4)
    assert fire() == "interval"  # the first interval shot is at once
    threading.Timer(0.2, mock_pins.pin(4).drive_low).start()
    started = time.monotonic()
    assert fire() == "gpio" and time.monotonic() - started < 2
    fire.close()


def test_gpio_without_pins_is_a_clear_error(monkeypatch):
    from gpiozero import Device

    monkeypatch.setattr(Device, "pin_factory", None)
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "no-such-factory")
    with pytest.raises(TriggerError, match="cannot use GPIO pin 17"):
        GpioTrigger(17, None)


def test_motion_on_synthetic_frames():
    when = [dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.timezone.utc)]
    camera = SyntheticCamera(clock=lambda: when[0])
    detector = MotionDetector(threshold=0.01, min_gap=5.0)
    assert not detector.check(camera.preview(), 0.0)
    assert not detector.check(camera.preview(), 1.0) and detector.changed == 0  # a still scene
    when[0] += dt.timedelta(seconds=6)  # the object crosses a tenth of the frame
    assert detector.check(camera.preview(), 2.0) and detector.changed > 0.01
    when[0] += dt.timedelta(seconds=6)
    assert not detector.check(camera.preview(), 3.0)  # moving, but within the minimum gap
    when[0] += dt.timedelta(seconds=6)
    assert detector.check(camera.preview(), 7.5)


def test_motion_through_triggers():
    when = [dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.timezone.utc)]
    camera = SyntheticCamera(clock=lambda: when[0])
    fire = Triggers(motion=MotionDetector(min_gap=0), preview=camera.preview, motion_poll=0.01)
    threading.Timer(0.3, lambda: when.__setitem__(0, when[0] + dt.timedelta(seconds=10))).start()
    started = time.monotonic()
    assert fire() == "motion" and 0.25 < time.monotonic() - started < 3


def test_interval_is_fixed_rate_and_stop_ends_the_wait():
    fire = Triggers(interval=0.1)
    started = time.monotonic()
    assert [fire() for _ in range(5)] == ["interval"] * 5
    assert 0.35 < time.monotonic() - started < 1.0
    fire.next_due += 3600
    threading.Timer(0.1, fire.stop).start()
    started = time.monotonic()
    assert fire() is None and time.monotonic() - started < 1


def test_interval_skips_missed_shots_instead_of_bursting(caplog):
    clock = Clock()
    fire = Triggers(interval=1.0, clock=clock)
    assert fire() == "interval"
    clock.now = 5.5  # a slow capture (or a suspended Pi) missed four slots
    assert fire() == "interval" and fire.next_due == 6.0
    assert "skipped 4 interval shots" in caplog.text


def test_once_is_one_manual_shot():
    fire = Triggers(interval=0.01, once=True)
    assert fire() == "manual" and fire() is None
