"""Time-lapse encoding: pick frames through the index, stream their JPEGs into ffmpeg, and run
the web app's jobs one at a time in a background thread.

Frames are chosen by walking keyset pages (index.query.page, oldest first), so a job never holds
more than one page of metadata and one frame's bytes. Each frame's JPEG goes from Redis straight
into ffmpeg's stdin (image2pipe, mjpeg); ffmpeg scales it to the output size (letterboxed), and
encodes H.264 (libx264, yuv420p, +faststart) into a temporary file, which is then copied into
Redis in chunks (models.videos). ffmpeg is the binary bundled by imageio-ffmpeg, at nice 10 with
one thread, so a job never takes more than one core from the web app.

A capture whose full-size image has expired (PIGALLERY_IMAGE_TTL) is shown by its thumbnail,
scaled up to the output size; a capture deleted while the job runs is skipped. Both are counted.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import io
import logging
import math
import os
import queue
import re
import subprocess
import tempfile
import threading
import time
from fractions import Fraction
from itertools import islice
from typing import Callable, Iterator, Optional

from PIL import Image, ImageOps, ImageStat

from index import query
from index.query import Filters, Position
from models import Capture, videos
from models.capture import IMAGE_FIELD, THUMBNAIL_FIELD, stored_time

from .params import BadParameter

try:  # only when already installed: the mean is all it is used for, and ImageStat does as well
    import numpy
except ImportError:  # pragma: no cover - numpy is optional
    numpy = None

log = logging.getLogger(__name__)

UTC = dt.timezone.utc
# The most frames one video may have: 20,000 frames are 13.9 minutes at 24 fps. More matching
# captures are sampled with `every` (or `daily_at`).
MAX_FRAMES = 20_000
# Output size: the first frame's, scaled down so that its longer side is at most DEFAULT_MAX_SIDE.
DEFAULT_MAX_SIDE = 1920
MIN_SIDE, MAX_SIDE = 16, 3840
MAX_PIXELS = 3840 * 2160  # 4K UHD: within H.264 level 5.1
FPS_MIN, FPS_MAX, DEFAULT_FPS = 1, 60, 24
MAX_DURATION = 3600
EVERY_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_EVERY = 366 * 86400
# As the OpenAPI document states them (JSON Schema patterns), ASCII digits only.
EVERY = re.compile(r"[1-9][0-9]{0,5}[smhd]", re.ASCII)
DAILY_AT = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]", re.ASCII)
PAGE_SIZE = 500
NICE = 10
CRF, PRESET = 23, "veryfast"
# A ceiling on the bit rate (libx264's VBV), per pixel of each frame: noisy frames (night shots at
# high gain) would otherwise take ~0.6 bits a pixel at CRF 23. 0.12 is what 1080p streams get.
MAX_BITS_PER_PIXEL = 0.12
# A Redis string holds at most 512 MB (proto-max-bulk-len): no video may be larger than this.
MAX_VIDEO_BYTES = 500 * 1024 * 1024
COPY_CHUNK = 1 << 20
JPEG = b"\xff\xd8\xff"
# Deflicker: each frame's mean brightness is pulled to an exponential running mean over about
# this many frames, by a gain no further than these bounds from 1.
DEFLICKER_WINDOW = 15
DEFLICKER_GAIN = (0.5, 2.0)


class TimelapseError(RuntimeError):
    """The job cannot finish; the message says why (shown as the job's `error`)."""


class Cancelled(Exception):
    """The job was cancelled: deleted while it ran (DELETE), or stopped by its caller."""


class Busy(RuntimeError):
    """This process already has as many jobs waiting as it takes."""


def parse_every(text: str) -> float:
    """Return the seconds of an interval such as 10m, 1h or 1d."""
    if not EVERY.fullmatch(text):
        raise ValueError(f"must be a whole number and a unit s, m, h or d (10m, 1h, 1d), got {text!r}")
    seconds = int(text[:-1]) * EVERY_UNITS[text[-1]]
    if seconds > MAX_EVERY:
        raise ValueError(f"may be at most 366d, got {text!r}")
    return float(seconds)


def parse_daily_at(text: str) -> tuple[int, int]:
    """Return (hour, minute) of HH:MM."""
    if not DAILY_AT.fullmatch(text):
        raise ValueError(f"must be a time HH:MM from 00:00 to 23:59, such as 12:00, got {text!r}")
    return int(text[:2]), int(text[3:])


def interval_text(seconds: float) -> str:
    """The shortest `every` of whole units at least `seconds` long (for messages)."""
    for unit, size in (("m", 60), ("h", 3600), ("d", 86400)):
        count = math.ceil(seconds / size)
        if count < {"m": 120, "h": 48, "d": 10**9}[unit]:
            return f"{count}{unit}"
    return f"{math.ceil(seconds / 86400)}d"


@dataclasses.dataclass(frozen=True)
class Plan:
    """A checked time-lapse request: which captures, sampled how, encoded how."""

    filters: Filters
    width: int
    height: int
    bound: int  # at most this many frames (the exact count comes from the selection walk)
    every: Optional[float] = None
    daily_at: Optional[tuple[int, int]] = None
    tz: dt.tzinfo = UTC
    fps: Optional[Fraction] = None
    duration: Optional[float] = None
    deflicker: bool = False

    def frame_rate(self, frames: int) -> Fraction:
        """Frames per second: as asked, or what makes `frames` last `duration` (within 1-60 fps)."""
        if self.fps is not None:
            return self.fps
        if self.duration is not None:
            rate = (Fraction(frames) / Fraction(self.duration)).limit_denominator(1000)
            return min(max(rate, Fraction(FPS_MIN)), Fraction(FPS_MAX))
        return Fraction(DEFAULT_FPS)


def _even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)


def output_size(first: tuple[int, int], width: Optional[int], height: Optional[int],
                max_side: int = DEFAULT_MAX_SIDE) -> tuple[int, int]:
    """The video's size: as given; a missing side from the first frame's aspect; else the first
    frame's size with its longer side at most `max_side`. BadParameter names a size that cannot be."""
    w0, h0 = first if first[0] > 0 and first[1] > 0 else (1280, 960)
    if width and height:
        size = (width, height)
    elif width:
        size = (width, _even(width * h0 / w0))
    elif height:
        size = (_even(height * w0 / h0), height)
    else:
        scale = min(1.0, max_side / max(w0, h0))
        size = (max(MIN_SIDE, _even(w0 * scale)), max(MIN_SIDE, _even(h0 * scale)))
    named = "width" if width or not height else "height"
    for side in size:
        if not MIN_SIDE <= side <= MAX_SIDE:
            raise BadParameter(named, f"{named}: the video would be {size[0]}x{size[1]}; each side must be "
                                      f"{MIN_SIDE} to {MAX_SIDE} pixels (give width and height)")
    if size[0] * size[1] > MAX_PIXELS:
        raise BadParameter(named, f"{named}: {size[0]}x{size[1]} is more than {MAX_PIXELS:,} pixels (4K UHD), "
                                  "the most this server encodes")
    return size


def local_day(seconds: float, tz: dt.tzinfo) -> dt.date:
    return dt.datetime.fromtimestamp(seconds, tz).date()


def make_plan(filters: Filters, *, every: Optional[str] = None, daily_at: Optional[str] = None,
              tz: Optional[dt.tzinfo] = None, fps: Optional[float] = None, duration: Optional[float] = None,
              width: Optional[int] = None, height: Optional[int] = None, deflicker: bool = False,
              no_match_parameter: str = "from") -> Plan:
    """Check a request against the captures it selects (two one-row queries); BadParameter if it
    selects nothing, would have more than MAX_FRAMES frames, or cannot be encoded at its size."""
    step = parse_every(every) if every else None
    at = parse_daily_at(daily_at) if daily_at else None
    zone = tz or UTC
    oldest = query.page(filters, 1, newest_first=False)
    if not oldest.total or not oldest.items:
        raise BadParameter(no_match_parameter, "no captures match these filters: there is nothing to make a "
                                               "time-lapse of")
    newest = query.page(filters, 1, newest_first=True)
    first, last = oldest.items[0], (newest.items or oldest.items)[0]
    span = max(0.0, last["taken_at"] - first["taken_at"]) if math.isfinite(last["taken_at"] - first["taken_at"]) else math.inf
    bound = oldest.total
    if step:
        bound = min(bound, math.floor(span / step) + 1) if math.isfinite(span) else bound
    elif at:
        try:
            bound = min(bound, (local_day(last["taken_at"], zone) - local_day(first["taken_at"], zone)).days + 1)
        except (OverflowError, OSError, ValueError):
            pass
    if bound > MAX_FRAMES:
        hint = f" (every={interval_text(span / (MAX_FRAMES - 1))} would do)" if math.isfinite(span) and span else ""
        name = "every" if step or not at else "daily_at"
        what = f"{oldest.total:,} captures match" if not (step or at) else f"this would take up to {bound:,} frames"
        raise BadParameter(name, f"{name}: {what}; a time-lapse has at most {MAX_FRAMES:,} frames: narrow the "
                                 f"filters or sample with a longer every{hint}")
    size = output_size((first.get("width") or 0, first.get("height") or 0), width, height)
    return Plan(filters=filters, width=size[0], height=size[1], bound=bound, every=step, daily_at=at, tz=zone,
                fps=Fraction(fps).limit_denominator(1000) if fps is not None else None, duration=duration,
                deflicker=deflicker)


# Selection: oldest first, one keyset page at a time.

def captures(filters: Filters, check: Callable[[], None] = lambda: None) -> Iterator[dict]:
    """Yield every matching capture's metadata row, oldest first; `check` runs before each page
    (it raises Cancelled to stop)."""
    after: Optional[Position] = None
    while True:
        check()
        page = query.page(filters, PAGE_SIZE, after, newest_first=False)
        for row in page.items:
            # A hand-written hash may hold an id or time no capture has: such a row is no frame.
            if query.PK.match(row["id"]) and stored_time(row["taken_at"]) is not None:
                yield row
        if page.next is None:
            return
        after = page.next


def select(rows: Iterator[dict], plan: Plan) -> Iterator[dict]:
    """The frames of the time-lapse, from rows in time order.

    every: the first capture of each interval, intervals counted from the first capture.
    daily_at: per calendar day in `tz`, the capture nearest that day's HH:MM (the earlier on a tie).
    """
    if plan.every:
        start, last_slot = None, None
        for row in rows:
            start = row["taken_at"] if start is None else start
            slot = math.floor((row["taken_at"] - start) / plan.every)
            if slot != last_slot:
                last_slot = slot
                yield row
    elif plan.daily_at:
        day, best, best_distance, target = None, None, math.inf, 0.0
        for row in rows:
            when = dt.datetime.fromtimestamp(row["taken_at"], plan.tz)
            if when.date() != day:
                if best is not None:
                    yield best
                day, best, best_distance = when.date(), None, math.inf
                target = dt.datetime.combine(day, dt.time(*plan.daily_at), tzinfo=plan.tz).timestamp()
            distance = abs(row["taken_at"] - target)
            if distance < best_distance:
                best, best_distance = row, distance
        if best is not None:
            yield best
    else:
        yield from rows


def count_frames(plan: Plan, check: Callable[[], None] = lambda: None) -> int:
    """How many frames the plan selects (a metadata walk, no image bytes)."""
    return sum(1 for _ in select(captures(plan.filters, check), plan))


# Frames.

def frame_bytes(row: dict, now: float) -> tuple[Optional[bytes], str]:
    """Return a frame's image bytes and where they came from: `image`, `thumbnail` (the full-size
    image expired) or `missing` (the capture is gone)."""
    expires = row.get("image_expires_at")
    if expires is None or expires > now:
        data = Capture.read_binary(row["id"], IMAGE_FIELD)
        if data:
            return data, "image"
    data = Capture.read_binary(row["id"], THUMBNAIL_FIELD)
    return (data, "thumbnail") if data else (None, "missing")


def _open(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    return img


def as_jpeg(data: bytes) -> bytes:
    """The bytes ffmpeg's mjpeg decoder takes: JPEG as stored; PNG or WebP captures re-encoded."""
    if data[:3] == JPEG:
        return data
    out = io.BytesIO()
    ImageOps.exif_transpose(_open(data)).convert("RGB").save(out, "JPEG", quality=92)
    return out.getvalue()


def mean_brightness(img: Image.Image) -> float:
    luma = img.convert("L")
    if numpy is not None:
        return float(numpy.asarray(luma).mean())
    return float(ImageStat.Stat(luma).mean[0])


class Deflicker:
    """Exposure normalisation: scale each frame's brightness towards a running mean.

    The camera's auto-exposure steps, and clouds, make consecutive frames jump in brightness;
    the running mean follows slow changes (dawn, dusk) and leaves them in. Frames are decoded at
    about the output size (JPEG draft mode) and re-encoded; the gain is a lookup table (point).
    """

    def __init__(self, size: tuple[int, int], window: int = DEFLICKER_WINDOW):
        self.size, self.alpha, self.mean = size, 2 / (window + 1), None

    def __call__(self, data: bytes) -> bytes:
        img = _open(data)
        img.draft("RGB", self.size)
        img = ImageOps.contain(img.convert("RGB"), self.size)
        level = mean_brightness(img)
        self.mean = level if self.mean is None else self.mean + self.alpha * (level - self.mean)
        gain = min(max(self.mean / level, DEFLICKER_GAIN[0]), DEFLICKER_GAIN[1]) if level >= 1 else 1.0
        if abs(gain - 1) > 0.005:
            table = [min(255, int(round(v * gain))) for v in range(256)]
            img = img.point(table * 3)
        out = io.BytesIO()
        img.save(out, "JPEG", quality=92)
        return out.getvalue()


# ffmpeg.

def ffmpeg_exe() -> str:
    """The ffmpeg binary bundled by imageio-ffmpeg (never a system one)."""
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except ImportError:
        raise TimelapseError("imageio-ffmpeg is not installed: pip install 'pigallery[web]'") from None
    except RuntimeError as exc:  # a platform its wheel has no binary for (see the README)
        raise TimelapseError(f"imageio-ffmpeg has no ffmpeg for this machine: {exc}") from None


def ffmpeg_command(plan: Plan, fps: Fraction, output: str) -> list[str]:
    w, h = plan.width, plan.height
    maxrate = max(100_000, round(w * h * float(fps) * MAX_BITS_PER_PIXEL))  # bits per second
    # Fit inside the output size (up or down, aspect kept), centre on black, limited-range yuv420p.
    vf = (f"scale={w}:{h}:force_original_aspect_ratio=decrease:force_divisible_by=2:out_range=tv,"
          f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,setsar=1,format=yuv420p")
    return [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-threads", "1",
            "-f", "image2pipe", "-framerate", f"{fps.numerator}/{fps.denominator}", "-c:v", "mjpeg", "-i", "pipe:0",
            "-vf", vf, "-filter_threads", "1",
            "-c:v", "libx264", "-preset", PRESET, "-crf", str(CRF), "-maxrate", str(maxrate),
            "-bufsize", str(2 * maxrate), "-pix_fmt", "yuv420p", "-threads", "1",
            "-movflags", "+faststart", "-an", "-y", output]


@dataclasses.dataclass
class Progress:
    done: int = 0
    total: int = 0
    thumbnails: int = 0
    skipped: int = 0
    started: float = dataclasses.field(default_factory=time.monotonic)

    @property
    def eta(self) -> Optional[float]:
        if not self.done:
            return None
        return (time.monotonic() - self.started) / self.done * max(0, self.total - self.done - self.skipped)


def encode(plan: Plan, output: str, total: int, progress: Callable[[Progress], bool],
           max_bytes: Optional[int] = None) -> Progress:
    """Encode the plan's first `total` frames into the MP4 file `output`.

    `progress` is called after each frame and while ffmpeg finishes; it returns True to cancel.
    Raises Cancelled, or TimelapseError when ffmpeg fails or the video would exceed `max_bytes`;
    ffmpeg is stopped either way (and on KeyboardInterrupt). Returns the final counts.
    """
    fps = plan.frame_rate(total)
    state = Progress(total=total)
    deflicker = Deflicker((plan.width, plan.height)) if plan.deflicker else None
    with tempfile.TemporaryFile() as errors:
        # Its own session: Ctrl-C in a terminal reaches this process, which stops ffmpeg itself.
        proc = subprocess.Popen(ffmpeg_command(plan, fps, output), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=errors, start_new_session=True)
        try:
            os.setpriority(os.PRIO_PROCESS, proc.pid, NICE)
        except (OSError, AttributeError):  # not permitted, or not a POSIX system
            pass
        finished = False

        def failure(what: str) -> TimelapseError:
            proc.wait()
            errors.seek(0)
            tail = errors.read().decode("utf-8", "replace").strip().splitlines()[-3:]
            return TimelapseError(f"{what}: {' / '.join(tail) or f'ffmpeg exited with {proc.returncode}'}")

        try:
            now = time.time()
            for row in islice(select(captures(plan.filters), plan), total):
                data, source = frame_bytes(row, now)
                if data is None:
                    state.skipped += 1
                else:
                    try:
                        data = deflicker(data) if deflicker else as_jpeg(data)
                    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
                        data = None
                        state.skipped += 1
                if data is not None:
                    try:
                        proc.stdin.write(data)
                    except BrokenPipeError:
                        raise failure("ffmpeg stopped") from None
                    state.done += 1
                    state.thumbnails += source == "thumbnail"
                if progress(state):
                    raise Cancelled()
                if max_bytes is not None and state.done % 16 == 0 and _size(output) > max_bytes:
                    raise TimelapseError(f"the video grew past {max_bytes:,} bytes, the most that may be stored: "
                                         "choose a smaller size or fewer frames")
            if not state.done:
                raise TimelapseError("none of the selected captures could be read (deleted meanwhile?)")
            try:
                proc.stdin.close()
            except BrokenPipeError:
                pass
            while True:  # x264 flushes its lookahead, then +faststart rewrites the file
                try:
                    proc.wait(timeout=1.0)
                    break
                except subprocess.TimeoutExpired:
                    if progress(state):
                        raise Cancelled() from None
            if proc.returncode != 0:
                raise failure(f"ffmpeg failed (exit {proc.returncode})")
            finished = True
        finally:
            if not finished and proc.poll() is None:
                proc.kill()
                proc.wait()
    if max_bytes is not None and os.path.getsize(output) > max_bytes:
        raise TimelapseError(f"the video is {os.path.getsize(output):,} bytes, more than the {max_bytes:,} that "
                             "may be stored: choose a smaller size or fewer frames")
    return state


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:  # not written yet
        return 0


# Jobs of the web app: one runner thread per process, a bounded queue.

@dataclasses.dataclass(frozen=True)
class Job:
    id: str
    plan: Plan
    ttl: int  # seconds the finished video is kept
    max_bytes: int  # all stored videos together


def run(job: Job, on_heartbeat: Callable[[], None] = lambda: None) -> None:
    """Run one job to `done` or `failed` (or until it is deleted: cancelled), writing its progress to Redis."""
    last_write = [0.0]

    def keep_going(force: bool = False, **fields) -> None:
        """Write progress at most twice a second; raise Cancelled once the job was deleted."""
        now = time.monotonic()
        if not force and not fields.get("state") and now - last_write[0] < 0.5:
            return
        last_write[0] = now
        exists = videos.update(job.id, **fields)
        on_heartbeat()
        if not exists:
            raise Cancelled()

    output = None
    try:
        keep_going(force=True)  # a job deleted while it waited stops here
        keep_going(state="selecting", started_at=time.time())
        total = count_frames(job.plan, check=lambda: keep_going())
        if not total:
            raise TimelapseError("no captures match any more (deleted since the job was accepted)")
        total = min(total, MAX_FRAMES)
        fps = job.plan.frame_rate(total)
        keep_going(state="encoding", frames_total=total, fps=float(fps), duration=float(total / fps))
        fd, output = tempfile.mkstemp(prefix="pigallery-timelapse-", suffix=".mp4")
        os.close(fd)

        def on_progress(state: Progress) -> bool:
            keep_going(frames_done=state.done, thumbnail_frames=state.thumbnails, skipped_frames=state.skipped,
                       eta_seconds=state.eta)
            return False

        state = encode(job.plan, output, total, on_progress, max_bytes=min(job.max_bytes, MAX_VIDEO_BYTES))
        size = os.path.getsize(output)
        used, _, soonest = videos.usage()
        if used + size > job.max_bytes:
            raise TimelapseError(f"no room to keep the video: stored time-lapses hold {used:,} of {job.max_bytes:,} "
                                 f"bytes and this one is {size:,}; older ones expire, or delete one")
        keep_going(state="storing", frames_done=state.done, thumbnail_frames=state.thumbnails,
                   skipped_frames=state.skipped, eta_seconds=0, duration=float(state.done / fps), size_bytes=size)
        with open(output, "rb") as video:
            while chunk := video.read(COPY_CHUNK):
                videos.append_partial(job.id, chunk)
        if not videos.finish(job.id, job.ttl, size_bytes=size, frames_done=state.done):
            raise Cancelled()
        log.info("time-lapse %s done: %d frames, %d bytes", job.id, state.done, size)
    except Cancelled:
        videos.discard_partial(job.id)
        log.info("time-lapse %s cancelled", job.id)
    except TimelapseError as exc:
        videos.discard_partial(job.id)
        videos.update(job.id, state="failed", error=str(exc), finished_at=time.time())
        log.warning("time-lapse %s failed: %s", job.id, exc)
    except Exception as exc:  # noqa: BLE001 - the job must end in a state, whatever broke
        log.exception("time-lapse %s failed", job.id)
        try:
            videos.discard_partial(job.id)
            videos.update(job.id, state="failed", error=f"internal error: {type(exc).__name__}", finished_at=time.time())
        except Exception:  # noqa: BLE001 - Redis itself is away: the heartbeat check reports it later
            pass
    finally:
        if output:
            try:
                os.unlink(output)
            except OSError:
                pass


class Runner:
    """One daemon thread encoding this process's jobs in turn; at most `max_waiting` wait."""

    def __init__(self, max_waiting: int):
        self.max_waiting = max_waiting
        self.jobs: queue.Queue[Job] = queue.Queue()
        self.waiting: list[str] = []
        self.lock = threading.Lock()
        self.last_heartbeat = 0.0
        self.thread = threading.Thread(target=self._loop, name="timelapse-runner", daemon=True)
        self.thread.start()

    def submit(self, job: Job) -> None:
        with self.lock:
            if len(self.waiting) >= self.max_waiting:
                raise Busy(f"{len(self.waiting)} time-lapses already wait for this server process; "
                           "try again when one has finished")
            self.waiting.append(job.id)
        self.jobs.put(job)

    def _heartbeat(self) -> None:
        """Tell Redis the waiting jobs are still held (a job of a dead process shows as failed)."""
        if time.monotonic() - self.last_heartbeat < videos.HEARTBEAT:
            return
        self.last_heartbeat = time.monotonic()
        with self.lock:
            waiting = list(self.waiting)
        videos.heartbeat(waiting)

    def _loop(self) -> None:
        while True:
            job = self.jobs.get()
            with self.lock:
                self.waiting.remove(job.id)
            try:
                run(job, self._heartbeat)
            except Exception:  # noqa: BLE001 - never let the thread die
                log.exception("time-lapse runner")


_runner: Optional[Runner] = None
_runner_pid: Optional[int] = None
_runner_lock = threading.Lock()


def runner(max_waiting: int) -> Runner:
    """This process's runner, started on first use (after a fork, e.g. in each gunicorn worker)."""
    global _runner, _runner_pid
    with _runner_lock:
        if _runner is None or _runner_pid != os.getpid() or not _runner.thread.is_alive():
            _runner, _runner_pid = Runner(max_waiting), os.getpid()
        _runner.max_waiting = max_waiting
        return _runner
