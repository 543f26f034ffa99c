"""Time-lapses on a real Redis Stack: real videos from real captures, probed back with ffmpeg."""
from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import models
from capture import synthetic
from index import schema
from models import bulk, videos
from pigallery.seed import seed_captures
from search_web import timelapse_encoder as encoder
from search_web import timelapse_frames
from search_web import timelapse_plan as planning
from search_web.params import parse
from search_web.timelapse_params import TimelapseParams

UTC = dt.timezone.utc
END = dt.datetime(2026, 6, 3, tzinfo=UTC)
AUTH = {"Authorization": "Bearer test-token"}
ROOT = Path(__file__).resolve().parents[2]


def seed(count: int, days: float = 1.0, size=(320, 240), devices=("pi-garden", "pi-door")) -> list[models.Capture]:
    stored = seed_captures(count, list(devices), days, size, detail=0.3, progress=False, end=END)
    schema.wait_indexed()
    return stored


def start(client, **body) -> dict:
    reply = client.post("/api/timelapses", json=body, headers=AUTH)
    assert reply.status_code == 202, reply.json
    assert reply.headers["Location"] == reply.json["status_url"]
    return reply.json


def wait(client, job_id: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(f"/api/timelapses/{job_id}").json
        if status["state"] in ("done", "failed"):
            return status
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {status}")


def probe(path: Path) -> dict:
    """What ffmpeg reads back from a video: codec, pixel format, size, duration, and the frames
    counted by decoding every one of them (-f null)."""
    run = subprocess.run([encoder.ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path), "-map", "0:v:0",
                          "-f", "null", "-"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    stream = re.search(r"Stream #0:0.*?: Video: (\w+).*?, (\w+)\(.*?(\d{2,5})x(\d{2,5})", run.stderr)
    duration = re.search(r"Duration: (\d+):(\d+):([\d.]+)", run.stderr)
    frames = re.findall(r"frame=\s*(\d+)", run.stderr)
    h, m, s = duration.groups()
    return {"codec": stream.group(1), "pix_fmt": stream.group(2), "width": int(stream.group(3)),
            "height": int(stream.group(4)), "duration": int(h) * 3600 + int(m) * 60 + float(s),
            "frames": int(frames[-1])}


def fetch_video(client, status: dict, tmp_path: Path) -> Path:
    reply = client.get(status["video_url"])
    assert reply.status_code == 200
    assert reply.mimetype == "video/mp4"
    assert int(reply.headers["Content-Length"]) == len(reply.data) == status["size_bytes"]
    path = tmp_path / f"{status['id']}.mp4"
    path.write_bytes(reply.data)
    return path


def test_a_video_of_real_captures_plays_back_as_asked(client, store, tmp_path):
    seed(30)
    status = wait(client, start(client, fps=10)["id"])
    assert status["state"] == "done", status
    assert (status["frames_total"], status["frames_done"], status["width"], status["height"]) == (30, 30, 320, 240)
    assert status["progress"] == 1 and status["fps"] == 10 and status["duration"] == 3.0
    video = fetch_video(client, status, tmp_path)
    assert probe(video) == {"codec": "h264", "pix_fmt": "yuv420p", "width": 320, "height": 240, "duration": 3.0,
                            "frames": 30}
    data = video.read_bytes()
    assert data[4:8] == b"ftyp" and data.index(b"moov") < data.index(b"mdat")  # +faststart: plays while loading

    # Range requests, so that a browser can seek; a range beyond the end is a 416.
    part = client.get(status["video_url"], headers={"Range": "bytes=100-1099"})
    assert part.status_code == 206 and part.data == data[100:1100]
    assert part.headers["Content-Range"] == f"bytes 100-1099/{len(data)}" and part.headers["Accept-Ranges"] == "bytes"
    tail = client.get(status["video_url"], headers={"Range": "bytes=-500"})
    assert tail.status_code == 206 and tail.data == data[-500:]
    beyond = client.get(status["video_url"], headers={"Range": f"bytes={len(data)}-"})
    assert beyond.status_code == 416 and beyond.headers["Content-Range"] == f"bytes */{len(data)}"
    assert client.get(status["video_url"], headers={"If-None-Match": f'"{status["id"]}.{len(data)}"'}).status_code == 304

    # The video is a binary in Redis with a TTL; DELETE removes it and the job.
    key = videos.video_key(status["id"])
    assert 0 < models.Capture.db().ttl(key) <= 86400
    assert client.delete(f"/api/timelapses/{status['id']}", headers=AUTH).status_code == 204
    assert client.get(f"/api/timelapses/{status['id']}").status_code == 404
    assert not models.Capture.db().exists(key)


def test_size_duration_and_sampling(client, store, tmp_path):
    stored = seed(48, days=2)  # one every hour
    status = wait(client, start(client, every="3h", width=160, duration=2, deflicker=True)["id"])
    assert status["state"] == "done", status
    # Brute force: the first capture of each 3-hour interval from the first capture.
    times = sorted(c.taken_at.timestamp() for c in stored)
    slots = {int((t - times[0]) // (3 * 3600)) for t in times}
    assert status["frames_total"] == len(slots) == 16
    assert probe(fetch_video(client, status, tmp_path)) == {
        "codec": "h264", "pix_fmt": "yuv420p", "width": 160, "height": 120, "duration": 2.0, "frames": 16}
    assert status["fps"] == 8


def test_daily_at_picks_the_capture_nearest_that_time_each_day(client, store):
    """Irregular captures over a week that crosses Berlin's DST change, against a brute-force pick."""
    import random

    rng = random.Random(7)
    image = synthetic.render(END, (64, 48))[0]
    start_day = dt.datetime(2026, 3, 25, tzinfo=UTC)
    rows = [dict(device="pi-garden", trigger="interval", taken_at=start_day + dt.timedelta(seconds=rng.randrange(8 * 86400)))
            for _ in range(120)]
    pks = bulk.store_many(rows, image)
    schema.wait_indexed()
    berlin = ZoneInfo("Europe/Berlin")
    expected = {}
    for pk, row in zip(pks, rows):
        local = row["taken_at"].astimezone(berlin)
        target = dt.datetime.combine(local.date(), dt.time(12, 0), tzinfo=berlin)
        distance = abs((row["taken_at"] - target).total_seconds())
        best = expected.get(local.date())
        if best is None or (distance, row["taken_at"], pk) < best[:3]:
            expected[local.date()] = (distance, row["taken_at"], pk)
    params = parse(TimelapseParams, _args(daily_at="12:00", tz="Europe/Berlin"))
    plan = params.plan()
    picked = [row["id"] for row in planning.select(planning.captures(plan.filters), plan)]
    assert picked == [best[2] for _, best in sorted(expected.items())]
    assert len(picked) in (8, 9)
    # The same through the API: one frame per Berlin day.
    status = wait(client, start(client, daily_at="12:00", tz="Europe/Berlin", fps=4)["id"])
    assert status["state"] == "done" and status["frames_total"] == len(expected), status


def _args(**values):
    from werkzeug.datastructures import MultiDict

    return MultiDict(values)


def test_an_expired_full_image_is_shown_by_its_thumbnail_scaled_up(client, store, tmp_path):
    """Documented choice: a frame whose full-size image expired is its thumbnail, scaled to the output
    size (the video keeps its rhythm), and counted in thumbnail_frames."""
    when = [END - dt.timedelta(minutes=10 * i) for i in range(8)]
    for i, moment in enumerate(when):
        image, meta = synthetic.render(moment, (640, 480), seed=i, detail=0.3)
        models.Capture.create(image, device="pi-garden", taken_at=moment, trigger="interval",
                              image_ttl=1 if i % 3 == 0 else None, **meta)
    schema.wait_indexed()
    time.sleep(1.1)  # three full images expire; their thumbnails (320x240) stay
    status = wait(client, start(client, fps=8)["id"])
    assert status["state"] == "done", status
    assert (status["frames_done"], status["thumbnail_frames"], status["skipped_frames"]) == (8, 3, 0)
    assert probe(fetch_video(client, status, tmp_path))[("frames")] == 8
    assert (status["width"], status["height"]) == (640, 480)
    # A capture gone altogether (deleted after it was selected) is skipped.
    gone = {"id": "01JA0000000000000000000000", "image_expires_at": None}
    assert timelapse_frames.frame_bytes(gone, time.time()) == (None, "missing")


def ffmpeg_children() -> list[int]:
    """Live ffmpeg processes writing a time-lapse, started by this process."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == os.getpid() and b"ffmpeg" in cmdline and b"pigallery-timelapse-" in cmdline:
            found.append(int(entry.name))
    return found


def test_cancel_stops_ffmpeg_and_keeps_nothing(client, store, monkeypatch, tmp_path):
    # A temporary folder of this test's own: other processes on the machine make time-lapses too.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    seed(40)
    # 320x240 frames upscaled to 4K: slow enough to be caught encoding.
    job = start(client, width=3840, height=2160, fps=24)
    deadline = time.monotonic() + 20
    while not (client.get(f"/api/timelapses/{job['id']}").json["frames_done"] and ffmpeg_children()):
        assert time.monotonic() < deadline, "the job never started encoding"
        time.sleep(0.05)
    pids = ffmpeg_children()
    assert client.delete(f"/api/timelapses/{job['id']}", headers=AUTH).status_code == 204
    deadline = time.monotonic() + 5
    while ffmpeg_children():
        assert time.monotonic() < deadline, "ffmpeg still runs"
        time.sleep(0.05)
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split(")")[1][:3]
    time.sleep(0.6)  # past the runner's next progress write
    assert client.get(f"/api/timelapses/{job['id']}").status_code == 404  # no `done`, nor any state at all
    conn = models.Capture.db()
    assert not conn.exists(videos.job_key(job["id"]), videos.video_key(job["id"]), videos.partial_key(job["id"]))
    assert not list(Path(tempfile.gettempdir()).glob("pigallery-timelapse-*"))


def test_two_jobs_take_turns_in_one_nice_single_threaded_ffmpeg_and_the_api_stays_quick(client, store):
    seed(20)
    first = start(client, width=3840, height=2160)
    second = start(client, width=3840, height=2160)
    deadline = time.monotonic() + 20
    while not ffmpeg_children():
        assert time.monotonic() < deadline, "no ffmpeg started"
        time.sleep(0.05)
    assert client.get(f"/api/timelapses/{second['id']}").json["state"] == "queued"
    slowest = 0.0
    for _ in range(10):
        assert len(ffmpeg_children()) == 1  # one encoder per process, whatever is asked
        started = time.perf_counter()
        assert client.get("/api/captures", query_string={"limit": 48}).status_code == 200
        slowest = max(slowest, time.perf_counter() - started)
        time.sleep(0.05)
    assert slowest < 0.5, f"a listing took {slowest:.2f} s while encoding"
    pid = ffmpeg_children()[0]
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    assert int(stat[16]) == encoder.NICE  # field 19 of proc(5): the nice value
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert cmdline.count(b"-threads") == 2 and cmdline[cmdline.index(b"-threads") + 1] == b"1"
    for job in (second, first):
        assert client.delete(f"/api/timelapses/{job['id']}", headers=AUTH).status_code == 204
    deadline = time.monotonic() + 5
    while ffmpeg_children():
        assert time.monotonic() < deadline, "ffmpeg still runs"
        time.sleep(0.05)


def test_a_failed_encode_is_failed_never_done(client, store, monkeypatch):
    seed(5)
    monkeypatch.setattr(encoder, "PRESET", "no-such-preset")  # libx264 refuses to open: ffmpeg exits 1
    status = wait(client, start(client)["id"])
    assert status["state"] == "failed" and "ffmpeg" in status["error"] and status["video_url"] is None
    reply = client.get(f"/api/timelapses/{status['id']}/video")
    assert reply.status_code == 409 and reply.json["state"] == "failed"
    assert not models.Capture.db().exists(videos.video_key(status["id"]), videos.partial_key(status["id"]))


@pytest.mark.parametrize("body, parameter, words", [
    ({"width": 321}, "width", "even"),
    ({"width": 8}, "width", "greater than or equal to 16"),
    ({"height": 5000}, "height", "less than or equal to 3840"),
    ({"width": 3840, "height": 3840}, "width", "8,294,400 pixels"),
    ({"width": 16}, "width", "16x12"),  # the first frame's aspect makes the height 12
    ({"every": "10x"}, "every", "10m, 1h, 1d"),
    ({"every": "400d"}, "every", "366d"),
    ({"daily_at": "24:00"}, "daily_at", "HH:MM"),
    ({"every": "1h", "daily_at": "12:00"}, "daily_at", "not both"),
    ({"fps": 0}, "fps", "greater than or equal to 1"),
    ({"fps": 24, "duration": 10}, "duration", "not both"),
    ({"duration": 4000}, "duration", "3600"),
    ({"tz": "Mars/Olympus"}, "tz", "unknown time zone"),
    ({"device": ["pi-nowhere"]}, "device", "no captures match"),
    ({"from": "2030-01-01", "every": "1h"}, "from", "no captures match"),
    ({"colour": "red"}, "colour", "unknown parameter"),
    ([1, 2], "body", "JSON object"),
])
def test_bad_input_is_a_400_naming_the_parameter(client, store, body, parameter, words):
    seed(3)
    reply = client.post("/api/timelapses", json=body, headers=AUTH)
    assert reply.status_code == 400, reply.json
    assert reply.json["parameter"] == parameter and words in reply.json["message"], reply.json
    assert not list(models.Capture.db().scan_iter(f"{videos.prefix()}:*"))  # no job was made


def test_too_many_frames_is_a_400_saying_how_to_sample(client, store):
    image = synthetic.render(END, (32, 24))[0]
    rows = [dict(device="pi-garden", trigger="interval", taken_at=END - dt.timedelta(minutes=i))
            for i in range(planning.MAX_FRAMES + 1)]
    bulk.store_many(rows, image, batch=5000)
    schema.wait_indexed()
    reply = client.post("/api/timelapses", json={}, headers=AUTH)
    assert reply.status_code == 400 and reply.json["parameter"] == "every", reply.json
    assert "20,001 captures match" in reply.json["message"] and "20,000 frames" in reply.json["message"]
    assert "every=2m would do" in reply.json["message"]
    reply = client.post("/api/timelapses", json={"every": "1m"}, headers=AUTH)
    assert reply.status_code == 400 and "up to 20,001 frames" in reply.json["message"]
    job = start(client, every="2m")  # 10,001 frames at most: accepted
    assert client.delete(f"/api/timelapses/{job['id']}", headers=AUTH).status_code == 204


def test_the_token_is_needed_to_start_and_to_cancel(client, store, app):
    seed(3)
    assert client.post("/api/timelapses", json={}).status_code == 401
    reply = client.post("/api/timelapses", json={}, headers={"Authorization": "Bearer wrong"})
    assert reply.status_code == 401 and reply.headers["WWW-Authenticate"] == "Bearer"
    job = start(client, fps=10)
    assert client.delete(f"/api/timelapses/{job['id']}").status_code == 401
    wait(client, job["id"])
    app.config["API_TOKEN"] = None
    assert client.post("/api/timelapses", json={}, headers=AUTH).status_code == 403
    assert client.delete(f"/api/timelapses/{job['id']}", headers=AUTH).status_code == 403
    assert client.get(f"/api/timelapses/{job['id']}").status_code == 200  # reading needs the id only
    for path in ("/api/timelapses/0123456789abcdef0123456789abcdef", "/api/timelapses/nope/video"):
        assert client.get(path).status_code == 404


def test_storage_is_capped_and_a_busy_server_says_so(client, store, app):
    seed(6)
    done = wait(client, start(client, fps=10)["id"])
    assert done["state"] == "done"
    app.config["TIMELAPSE_MAX_BYTES"] = done["size_bytes"]  # full now
    reply = client.post("/api/timelapses", json={}, headers=AUTH)
    assert reply.status_code == 409 and "storage is full" in reply.json["message"], reply.json
    app.config["TIMELAPSE_MAX_BYTES"] = done["size_bytes"] + 1000  # room, but not for another video this size
    status = wait(client, start(client, fps=10)["id"])
    assert status["state"] == "failed" and "no room" in status["error"]
    app.config["TIMELAPSE_MAX_BYTES"] = 10**9
    app.config["TIMELAPSE_MAX_WAITING"] = 0
    reply = client.post("/api/timelapses", json={}, headers=AUTH)
    assert reply.status_code == 409 and "try again" in reply.json["message"]


def test_a_job_whose_process_died_shows_as_failed(store):
    job_id = videos.new_id()
    videos.create(job_id, {})
    assert videos.read(job_id)["state"] == "queued"
    models.Capture.db().hset(videos.job_key(job_id), "updated_at", time.time() - videos.STALE_AFTER - 1)
    job = videos.read(job_id)
    assert job["state"] == "failed" and "stopped" in job["error"]


def test_the_command_writes_a_video_and_ctrl_c_leaves_nothing(store, redis_url, key_prefix, tmp_path):
    seed(20)
    env = {**os.environ, "REDIS_URL": redis_url, "PIGALLERY_KEY_PREFIX": key_prefix, "PYTHONUNBUFFERED": "1"}
    command = [str(Path(sys.executable).with_name("pigallery")), "timelapse"]
    out = tmp_path / "garden.mp4"
    run = subprocess.run([*command, "--device", "pi-garden", "--fps", "5", "-o", str(out)], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "10 frames at 5 fps" in run.stderr and f"wrote {out}" in run.stdout
    assert probe(out) == {"codec": "h264", "pix_fmt": "yuv420p", "width": 320, "height": 240, "duration": 2.0,
                          "frames": 10}
    bad = subprocess.run([*command, "--width", "33"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--width: must be even" in bad.stderr

    slow = tmp_path / "slow.mp4"
    # Ctrl-C as at a terminal: a runner that started the tests in the background (`cmd &` in a script)
    # passes SIGINT on ignored, and Python then never raises KeyboardInterrupt (the command ran to the end).
    proc = subprocess.Popen([*command, "--width", "3840", "--height", "2160", "-o", str(slow)], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 20
    partial = tmp_path / ".slow.mp4.part.mp4"
    while not partial.exists():
        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert "cancelled" in err and not slow.exists() and not partial.exists()
    stray = subprocess.run(["pgrep", "-f", str(partial)], capture_output=True)
    assert stray.returncode == 1, stray.stdout  # no ffmpeg left writing it
