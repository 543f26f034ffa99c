"""Time-lapse API: start a job from any search filters, follow it, cancel it, play its video.

Starting and cancelling need the API token (encoding costs CPU: an open endpoint would let
anyone load the server); a job's status and video are read by its id, 128 random bits.
"""
from __future__ import annotations

import datetime as dt
import time

import redis
from flask import Blueprint, current_app, request, url_for
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.wsgi import wrap_file

from models import videos
from models.wire import iso

from . import timelapse_jobs as jobs
from .errors import error_response
from .params import BadParameter, parse
from .security import token_refusal
from .timelapse_params import TimelapseParams, as_args

bp = Blueprint("timelapse", __name__, url_prefix="/api")

MAX_BODY = 64 * 1024  # a few filters and options; anything near this is not a real request


def setting(name: str) -> int:
    """A time-lapse setting, as create_app took it from Settings (PIGALLERY_TIMELAPSE_*)."""
    return int(current_app.config[name])


@bp.errorhandler(redis.exceptions.NoPermissionError)
def no_permission(exc):
    return error_response(503, "the Redis user of the web app may not keep time-lapses (keys <prefix>:timelapse*): "
                               "see the README's Time-lapses section")


def status(job: dict) -> dict:
    """A job as the API shows it."""
    total, done = job.get("frames_total"), job.get("frames_done", 0)
    finished = job["state"] in videos.FINISHED
    return {
        "id": job["id"],
        "state": job["state"],
        "frames_done": done,
        "frames_total": total,
        "thumbnail_frames": job.get("thumbnail_frames", 0),
        "skipped_frames": job.get("skipped_frames", 0),
        "progress": 1.0 if job["state"] == "done" else (round(min(1.0, done / total), 4) if total else 0.0),
        "eta_seconds": None if finished or job.get("eta_seconds") is None else round(job["eta_seconds"], 1),
        "width": job.get("width"),
        "height": job.get("height"),
        "fps": job.get("fps"),
        "duration": job.get("duration"),
        "size_bytes": job.get("size_bytes"),
        "created_at": iso(job.get("created_at")),
        "started_at": iso(job.get("started_at")),
        "finished_at": iso(job.get("finished_at")),
        "expires_at": iso(job.get("expires_at")),
        "error": job.get("error"),
        "params": job.get("params", {}),
        "status_url": url_for("timelapse.get_timelapse", job_id=job["id"]),
        "video_url": url_for("timelapse.video", job_id=job["id"]) if job["state"] == "done" else None,
    }


def load(job_id: str) -> dict:
    job = videos.read(job_id)
    if job is None:
        raise JobNotFound(job_id)
    return job


class JobNotFound(LookupError):
    pass


@bp.errorhandler(JobNotFound)
def not_found(exc: JobNotFound):
    return error_response(404, f"no time-lapse with id {exc.args[0]!r} (finished ones expire)", id=exc.args[0])


@bp.post("/timelapses")
def create_timelapse():
    """Start a time-lapse of the captures matching the filters; 202 with its status."""
    answer = token_refusal("time-lapses are")
    if answer is not None:
        return answer
    if (request.content_length or 0) > MAX_BODY:
        return error_response(413, f"the body may be at most {MAX_BODY:,} bytes")
    body = request.get_json(silent=True) if request.get_data() else {}
    if body is None:
        raise BadParameter("body", "the body must be JSON (Content-Type: application/json)")
    params = parse(TimelapseParams, as_args(body))
    max_bytes = setting("TIMELAPSE_MAX_BYTES")
    used, count, soonest = videos.usage()
    if used >= max_bytes:
        wait = f"; the soonest expires at {iso(soonest)}" if soonest else ""
        return error_response(409, f"time-lapse storage is full: {count} videos hold {used:,} of {max_bytes:,} bytes"
                                   f"{wait}; delete one (DELETE /api/timelapses/<id>) or wait", used_bytes=used,
                              max_bytes=max_bytes)
    plan = params.plan()
    job_id = videos.new_id()
    videos.create(job_id, params.described(), width=plan.width, height=plan.height)
    job = jobs.Job(job_id, plan, ttl=setting("TIMELAPSE_TTL"), max_bytes=max_bytes)
    try:
        jobs.runner(setting("TIMELAPSE_MAX_WAITING")).submit(job)
    except jobs.Busy as exc:
        videos.delete(job_id)
        return error_response(409, str(exc))
    reply = status(load(job_id))
    return reply, 202, {"Location": reply["status_url"]}


@bp.get("/timelapses/<job_id>")
def get_timelapse(job_id: str):
    """A job's state, progress (frames done of total, ETA) and, once done, its video's URL."""
    return status(load(job_id))


@bp.delete("/timelapses/<job_id>")
def delete_timelapse(job_id: str):
    """Cancel a job (its ffmpeg stops within a second; nothing is kept) or delete a finished one's video."""
    answer = token_refusal("time-lapses are")
    if answer is not None:
        return answer
    if not videos.JOB_ID.match(job_id) or not videos.delete(job_id):
        raise JobNotFound(job_id)
    return "", 204


@bp.get("/timelapses/<job_id>/video")
def video(job_id: str):
    """The MP4 (video/mp4), with Range requests so that players can seek."""
    job = load(job_id)
    if job["state"] != "done":
        detail = f": {job['error']}" if job.get("error") else ""
        return error_response(409, f"the time-lapse is {job['state']}{detail}; it has no video", state=job["state"])
    size = videos.video_size(job_id)
    if not size:
        return error_response(410, "the video has expired or was deleted")
    download = request.args.get("download") not in (None, "", "0", "false")
    stream = wrap_file(request.environ, videos.VideoReader(job_id, size), buffer_size=256 * 1024)
    response = current_app.response_class(stream, mimetype="video/mp4", direct_passthrough=True)
    response.headers["Content-Length"] = str(size)
    response.set_etag(f"{job_id}.{size}")
    response.cache_control.private = True
    response.cache_control.max_age = max(0, int(job.get("expires_at", time.time()) - time.time()))
    taken = dt.datetime.fromtimestamp(job.get("created_at", time.time()), dt.timezone.utc)
    name = f"timelapse-{taken:%Y%m%d-%H%M%S}.mp4"
    response.headers["Content-Disposition"] = f'{"attachment" if download else "inline"}; filename="{name}"'
    try:
        response.make_conditional(request, accept_ranges=True, complete_length=size)
    except RequestedRangeNotSatisfiable:
        stream.close()
        reply = error_response(416, f"the range asked for is not within the video's {size} bytes")
        reply.headers["Content-Range"] = f"bytes */{size}"
        reply.headers["Accept-Ranges"] = "bytes"
        return reply
    return response
