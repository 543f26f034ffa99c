"""Time-lapse encoding: stream a plan's frames into ffmpeg, which writes an H.264 MP4 file.

Each frame's JPEG goes from Redis straight into ffmpeg's stdin (image2pipe, mjpeg), so encoding
never holds more than one frame's bytes; ffmpeg scales it to the output size (letterboxed), and
encodes H.264 (libx264, yuv420p, +faststart) into a file. ffmpeg is the binary bundled by
imageio-ffmpeg, at nice 10 with one thread, so a job never takes more than one core from the
web app.
"""
from __future__ import annotations

import dataclasses
import os
import subprocess
import tempfile
import time
from fractions import Fraction
from itertools import islice
from typing import Callable, Optional

from PIL import Image

from .timelapse_frames import Deflicker, frame_bytes, upright_jpeg
from .timelapse_plan import Plan, captures, select

NICE = 10
CRF, PRESET = 23, "veryfast"
# A ceiling on the bit rate (libx264's VBV), per pixel of each frame: noisy frames (night shots at
# high gain) would otherwise take ~0.6 bits a pixel at CRF 23. 0.12 is what 1080p streams get.
MAX_BITS_PER_PIXEL = 0.12


class TimelapseError(RuntimeError):
    """The job cannot finish; the message says why (shown as the job's `error`)."""


class Cancelled(Exception):
    """The job was cancelled: deleted while it ran (DELETE), or stopped by its caller."""


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
            "-noautorotate", "-f", "image2pipe", "-framerate", f"{fps.numerator}/{fps.denominator}", "-c:v", "mjpeg", "-i", "pipe:0",
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
                        data = deflicker(data) if deflicker else upright_jpeg(data, (plan.width, plan.height))
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
