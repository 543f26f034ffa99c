"""The spool's disk misbehaving: full (ENOSPC), read-only, and pictures the folder camera may not read.

Real filesystems, no mocks: a 1 MB tmpfs fills up for real, `mount -o remount,ro` makes a
spool read-only even for root (who ignores chmod). Where mounting is not permitted the
mount tests are skipped, saying so.
"""
from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import subprocess
import threading
from pathlib import Path

import pytest

from capture import agent
from capture.cameras import CameraError, CameraExhausted, FolderCamera
from capture.spool import Entry, Spool
from tests.helpers import PIGALLERY, free_port

SPOOLED = re.compile(r"spooled (\w{26}) as ")
LOST = re.compile(r"capture (\w{26}) LOST")


def mount(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["mount", *args], capture_output=True, text=True)


@contextlib.contextmanager
def tmpfs(path: Path, size: str = "1m"):
    """A real filesystem of `size` at `path`, unmounted afterwards whatever happens."""
    path.mkdir(parents=True, exist_ok=True)
    done = mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path))
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}): a full disk needs a small filesystem")
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(path)], check=True)


def read_only(path: Path) -> None:
    done = mount("-o", "remount,ro", str(path))
    assert done.returncode == 0, done.stderr


def entry(i: int, size: int) -> Entry:
    return Entry(f"PK{i:04d}", {"taken_at": f"2026-01-01T00:00:{i:02d}+00:00", "trigger": "interval"},
                 bytes([i % 256]) * size, b"t" * 10)


def queued(folder: Path) -> list[str]:
    """Capture ids of the entries waiting in `folder`, oldest first."""
    return [n.split("-", 1)[1][:-6] for n in sorted(os.listdir(folder)) if n.endswith(".entry")]


def pigallery_process(spool: Path, redis_url: str, *args) -> subprocess.CompletedProcess:
    """Run `pigallery ARGS` in its own process, as the service would (the log is in stderr)."""
    env = {**os.environ, "REDIS_URL": redis_url, "PIGALLERY_KEY_PREFIX": "faults", "PIGALLERY_SPOOL_DIR": str(spool),
           "PIGALLERY_DEVICE": "pi-faults"}
    return subprocess.run([str(PIGALLERY), *map(str, args)], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def dead_redis() -> str:
    """A URL nothing listens on: Redis is away for the whole test."""
    return f"redis://127.0.0.1:{free_port()}/0"


# --- 8: a full disk ---------------------------------------------------------------------------

def test_full_disk_drops_the_oldest_keeps_the_newest_and_says_so(tmp_path, dead_redis):
    spool = tmp_path / "spool"
    with tmpfs(spool, "1m"):
        # 1280x960 synthetic shots are ~480 KB: two fit on the 1 MB disk, far below the MB cap.
        run = pigallery_process(spool, dead_redis, "capture", "--camera", "synthetic", "--count", 8, "--interval", 0.2)
        log = run.stderr
        assert run.returncode == 0, log
        taken = SPOOLED.findall(log)
        assert len(taken) == 8, "every picture gets into the spool, pushing out the oldest"
        kept = queued(spool)
        assert 1 <= len(kept) < 8 and kept == taken[-len(kept):], "the newest pictures are kept"
        dropped = 8 - len(kept)
        assert log.count("dropped oldest capture") == dropped and "No space left on device" in log
        assert f"done: 8 shots, {len(kept)} still spooled, {dropped} dropped to make room, 0 lost" in log
        assert "Traceback" not in log
        # No half-written entry is left to be drained, and what is there is whole.
        assert not list(spool.glob(".*.tmp"))
        reader = Spool(spool, 10**9, owner=False)
        assert [reader.read(n).pk for n in sorted(os.listdir(spool)) if n.endswith(".entry")] == kept

        # Another process (the health check) sees what was dropped.
        status = pigallery_process(spool, dead_redis, "capture", "--status")
        assert status.returncode == 3, status.stdout  # Redis is away
        assert f"{dropped} dropped to make room, 0 lost" in status.stdout


def test_picture_that_cannot_fit_even_in_an_empty_spool_is_counted_lost(tmp_path, dead_redis):
    disk = tmp_path / "disk"
    with tmpfs(disk, "1m"):
        # Something else (logs, another program) filled the disk: ~300 KB stay free.
        (disk / "other-program.log").write_bytes(b"x" * 700_000)
        spool = disk / "spool"
        run = pigallery_process(spool, dead_redis, "capture", "--camera", "synthetic", "--count", 3, "--interval", 0.1)
        log = run.stderr
        assert run.returncode == 0, log
        assert len(set(LOST.findall(log))) == 3 and queued(spool) == []
        assert "done: 3 shots, 0 still spooled, 0 dropped to make room, 3 lost" in log
        assert not list(spool.glob(".*.tmp"))
        status = pigallery_process(spool, dead_redis, "capture", "--status")
        assert "0 dropped to make room, 3 lost" in status.stdout, status.stdout


def test_disk_full_drops_oldest_and_retries_then_counts_persist(tmp_path, caplog):
    with tmpfs(tmp_path / "disk", "1m") as disk:
        spool = Spool(disk, max_bytes=10**9)  # the cap is far away: the disk fills first
        with caplog.at_level(logging.WARNING):
            for i in range(4):
                spool.put(entry(i, 300_000))
        assert queued(disk) == ["PK0001", "PK0002", "PK0003"]
        assert "dropped oldest capture PK0000" in caplog.text and "No space left on device" in caplog.text
        assert spool.dropped == 1 and spool.lost == 0 and not list(disk.glob(".*.tmp"))
        spool.record_lost("PK0009")
        spool.close()
        # Counted in the folder, so --status in another process and the next run see it.
        info = Spool(disk, 10**9, owner=False).status()
        assert (info["dropped"], info["lost"]) == (1, 1) and info["last_lost"] and info["since"]
        again = Spool(disk, 10**9)
        again.put(entry(5, 300_000))
        assert again.status()["dropped"] == 2 and again.dropped == 1  # totals go on; this run's count starts at 0
        again.close()


def test_damaged_counters_are_reported_then_started_again(tmp_path, caplog):
    (tmp_path / "counters.json").write_bytes(b'{"dropped": 4, "lo')  # torn by a power cut
    assert "counters.json is unreadable" in Spool(tmp_path, 10**9, owner=False).status()["counters_problem"]
    with caplog.at_level(logging.WARNING):
        Spool(tmp_path, 10**9).close()
    assert "counts start again from 0" in caplog.text
    info = Spool(tmp_path, 10**9, owner=False).status()
    assert info["counters_problem"] is None and (info["dropped"], info["lost"]) == (0, 0)


def test_no_pointless_drops_when_even_an_empty_spool_has_no_room(tmp_path):
    with tmpfs(tmp_path / "disk", "1m") as disk:
        folder = disk / "spool"
        spool = Spool(folder, max_bytes=10**9)
        spool.put(entry(1, 10_000))
        (disk / "filler").write_bytes(b"x" * 600_000)
        with pytest.raises(OSError) as raised:
            spool.put(entry(2, 500_000))
        assert raised.value.errno == errno.ENOSPC
        # Dropping PK0001 could not have made room for 500 KB: it stays.
        assert queued(folder) == ["PK0001"] and spool.dropped == 0
        assert not list(folder.glob(".*.tmp"))
        spool.close()


# --- 9: a read-only spool ---------------------------------------------------------------------

@pytest.mark.parametrize("missing", [False, True], ids=["folder-read-only", "folder-missing-on-read-only-disk"])
def test_status_fails_when_the_spool_cannot_be_written(pigallery, agent_env, tmp_path, monkeypatch, missing):
    with tmpfs(tmp_path / "disk", "1m") as disk:
        spool = disk / "spool"
        if not missing:
            Spool(spool, 10**6).close()  # as a previous run of the agent left it
        read_only(disk)
        monkeypatch.setenv("PIGALLERY_SPOOL_DIR", str(spool))
        result = pigallery("capture", "--status")
        assert result.exit_code == 4, result.output
        assert "reachable, writes allowed" in result.output  # Redis is fine: the spool alone is the problem
        (line,) = [line for line in result.output.splitlines() if "NOT WRITABLE" in line]
        assert str(spool) in line and "Read-only file system" in line, line


def test_status_is_fine_with_a_writable_spool_and_leaves_no_probe(pigallery, agent_env):
    result = pigallery("capture", "--status")
    assert result.exit_code == 0 and "NOT WRITABLE" not in result.output, result.output
    folder = Path(agent_env["PIGALLERY_SPOOL_DIR"])
    assert not folder.exists() or not list(folder.glob(".*"))


def test_agent_with_a_read_only_spool_stores_straight_to_redis(pigallery, agent_env, tmp_path, monkeypatch, jpeg,
                                                                stored_pks, caplog):
    from models import images

    caplog.set_level(logging.INFO, logger="pigallery.capture")
    with tmpfs(tmp_path / "disk", "1m") as disk:
        spool = disk / "spool"
        image = jpeg((160, 120))
        with Spool(spool, 10**6) as before:  # one picture waited from an earlier outage
            before.put(Entry("01JFFFFFFFFFFFFFFFFFFFFFF1", {"device": "pi", "taken_at": "2026-05-01T10:00:00+00:00",
                                                             "trigger": "interval"}, image, images.thumbnail(image)))
        read_only(disk)
        monkeypatch.setenv("PIGALLERY_SPOOL_DIR", str(spool))
        result = pigallery("capture", "--camera", "synthetic", "--resolution", "320x240", "--count", 3,
                               "--interval", 0.05)
        assert result.exit_code == 0, result.output + caplog.text
        # The three new pictures and the waiting one all reached Redis; the file cannot be deleted.
        assert len(stored_pks()) == 4 and "01JFFFFFFFFFFFFFFFFFFFFFF1" in stored_pks()
        assert "SPOOL NOT WRITABLE" in caplog.text and "Read-only file system" in caplog.text
        assert "LOST" not in caplog.text and "Traceback" not in result.output


def test_read_only_spool_and_redis_away_every_picture_is_logged_lost(tmp_path, dead_redis):
    with tmpfs(tmp_path / "disk", "1m") as disk:
        spool = disk / "spool"
        Spool(spool, 10**6).close()
        read_only(disk)
        run = pigallery_process(spool, dead_redis, "capture", "--camera", "synthetic", "--resolution", "160x120",
                        "--count", 2, "--interval", 0.05)
        assert run.returncode == 0, run.stderr
        assert len(set(LOST.findall(run.stderr))) == 2 and "Read-only file system" in run.stderr
        assert "done: 2 shots, 0 still spooled, 0 dropped to make room, 2 lost" in run.stderr


# --- 10: a picture the folder camera may not read ---------------------------------------------

def test_unreadable_picture_in_the_folder_is_skipped(pigallery, stored_pks, tmp_path, jpeg, caplog):
    caplog.set_level(logging.INFO, logger="pigallery.capture")
    folder = tmp_path / "frames"
    folder.mkdir()
    (folder / "1.jpg").write_bytes(jpeg((64, 48)))
    # A regular file even root cannot read (open works, read says EIO): a dying SD card's sector.
    (folder / "2.jpg").symlink_to("/proc/self/mem")
    (folder / "3.jpg").write_bytes(jpeg((80, 60)))
    result = pigallery("capture", "--camera", "folder", "--folder", folder, "--interval", 0.01, "--count", 3)
    assert result.exit_code == 0, result.output
    assert f"folder camera: skipping {folder / '2.jpg'}" in caplog.text and "Input/output error" in caplog.text
    assert len(stored_pks()) == 2


def swap_for_directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


def swap_for_fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)  # opened plainly, reading it waits for a writer forever


def delete(path: Path) -> None:
    path.unlink()


@pytest.mark.parametrize("spoil", [swap_for_directory, swap_for_fifo, delete])
def test_folder_camera_skips_a_file_gone_bad_since_it_started(tmp_path, jpeg, caplog, spoil):
    for i in range(3):
        (tmp_path / f"{i}.jpg").write_bytes(jpeg((64 + 16 * i, 48)))
    camera = FolderCamera(tmp_path)
    spoil(tmp_path / "1.jpg")
    got = []
    worker = threading.Thread(target=lambda: got.extend([camera.capture(), camera.capture()]), daemon=True)
    worker.start()
    worker.join(10)
    if worker.is_alive():
        # Release the reader stuck on the FIFO, so the test ends.
        os.close(os.open(tmp_path / "1.jpg", os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("the folder camera hung on a file that is not a picture")
    assert [frame.image for frame in got] == [(tmp_path / n).read_bytes() for n in ("0.jpg", "2.jpg")]
    assert f"folder camera: skipping {tmp_path / '1.jpg'}" in caplog.text
    with pytest.raises(CameraExhausted):
        camera.capture()


def test_folder_camera_looping_over_nothing_readable_stops_with_one_line(tmp_path, jpeg):
    (tmp_path / "a.jpg").write_bytes(jpeg((64, 48)))
    camera = FolderCamera(tmp_path, loop=True)
    swap_for_directory(tmp_path / "a.jpg")
    with pytest.raises(CameraError, match="no readable picture left"):
        camera.capture()


def test_saver_falls_back_to_redis_when_the_spool_refuses(store, jpeg, tmp_path, stored_pks):
    """Behind spooled captures a new one normally queues; if the spool cannot take it, Redis gets it."""
    import datetime as dt

    from capture.cameras import Frame

    with tmpfs(tmp_path / "disk", "1m") as disk:
        image = jpeg((160, 120))
        with Spool(disk, 10**6) as spool:
            spool.put(agent.Saver(spool, "pi").entry(Frame(image, dt.datetime.now(dt.timezone.utc)), "interval"))
        read_only(disk)  # the kernel does this to an SD card it found errors on
        with Spool(disk, 10**6) as spool:
            assert "Read-only file system" in spool.unwritable
            # The drainer is not started: the spooled capture stays queued in front.
            saver = agent.Saver(spool, "pi")
            pk = saver.save(Frame(image, dt.datetime.now(dt.timezone.utc)), "manual")
            assert pk and stored_pks() == [pk] and spool.lost == 0 and len(spool) == 1
