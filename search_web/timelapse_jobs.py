"""Time-lapse jobs of the web app: one runner thread per process, a bounded queue.

A job counts its frames (timelapse_plan), encodes them into a temporary file
(timelapse_encoder), which is then copied into Redis in chunks (models.videos), writing its
progress to Redis as it goes.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import queue
import tempfile
import threading
import time
from typing import Callable, Optional

from models import videos

from .timelapse_encoder import Cancelled, Progress, TimelapseError, encode
from .timelapse_plan import MAX_FRAMES, Plan, count_frames

log = logging.getLogger(__name__)

# A Redis string holds at most 512 MB (proto-max-bulk-len): no video may be larger than this.
MAX_VIDEO_BYTES = 500 * 1024 * 1024
COPY_CHUNK = 1 << 20


class Busy(RuntimeError):
    """This process already has as many jobs waiting as it takes."""


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
