"""Time-lapse API: start a job from any search filters, follow it, cancel it, play its video.

Starting and cancelling need the API token (encoding costs CPU: an open endpoint would let
anyone load the server); a job's status and video are read by its id, 128 random bits.
"""
from __future__ import annotations

import datetime as dt
import json
import time
from typing import Optional

import redis
from flask import Blueprint, current_app, request, url_for
from pydantic import Field, field_validator
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.wsgi import wrap_file

from models import videos
from models.wire import iso

from . import timelapse_jobs as jobs
from . import timelapse_plan as planning
from .errors import error_response
from .security import token_refusal
from .params import BadParameter, FilterParams, parse
from .values import Number, Zone

bp = Blueprint("timelapse", __name__, url_prefix="/api")

MAX_BODY = 64 * 1024  # a few filters and options; anything near this is not a real request
EVERY = f"^{planning.EVERY.pattern}$"
DAILY_AT = f"^{planning.DAILY_AT.pattern}$"
# What the job's own parameters are; the rest of TimelapseParams are search filters.
OPTIONS = ("every", "daily_at", "tz", "fps", "duration", "width", "height", "deflicker")


class TimelapseParams(FilterParams):
    """Body of POST /api/timelapses: the search filters of /api/captures, and how to make the video."""

    every: Optional[str] = Field(None, json_schema_extra={"pattern": EVERY}, description=(
        "One frame per interval: a whole number and s, m, h or d (10m, 1h, 1d), at most 366d; the first capture "
        "of each interval, counted from the first matching capture. Not with daily_at."))
    daily_at: Optional[str] = Field(None, json_schema_extra={"pattern": DAILY_AT}, description=(
        "One frame per day: the capture nearest this local time (HH:MM) on each calendar day in `tz`. "
        "Not with every."))
    # One zone for the day of daily_at and for the time-of-day filters, if any (FilterParams may have tz too).
    tz: Optional[Zone] = Field(None, description=(
        "IANA time zone daily_at's days and time (and the time-of-day filters) are read in; UTC when absent."))
    fps: Optional[Number] = Field(None, ge=planning.FPS_MIN, le=planning.FPS_MAX, description=(
        f"Frames per second ({planning.DEFAULT_FPS} when neither fps nor duration is given). Not with duration."))
    duration: Optional[Number] = Field(None, gt=0, le=planning.MAX_DURATION, description=(
        f"Target length in seconds: the frame rate is frames / duration, kept within {planning.FPS_MIN}-"
        f"{planning.FPS_MAX} fps. Not with fps."))
    width: Optional[int] = Field(None, ge=planning.MIN_SIDE, le=planning.MAX_SIDE, json_schema_extra={"multipleOf": 2},
                                 description=("Video width in pixels, even. Default: from the first frame, its "
                                              f"longer side at most {planning.DEFAULT_MAX_SIDE}; with only one of "
                                              "width and height, the other follows the first frame's aspect. "
                                              "Frames of another shape are letterboxed."))
    height: Optional[int] = Field(None, ge=planning.MIN_SIDE, le=planning.MAX_SIDE, json_schema_extra={"multipleOf": 2},
                                  description=f"Video height in pixels, even. At most {planning.MAX_PIXELS:,} pixels "
                                              "in all.")
    deflicker: bool = Field(False, description="Scale each frame's brightness towards a running mean (exposure "
                                               "normalisation); costs a decode and re-encode per frame.")

    @field_validator("every")
    @classmethod
    def _every(cls, value: Optional[str]) -> Optional[str]:
        if value is not None:
            planning.parse_every(value)  # its ValueError says what is wrong
        return value

    @field_validator("daily_at")
    @classmethod
    def _daily_at(cls, value: Optional[str]) -> Optional[str]:
        if value is not None:
            planning.parse_daily_at(value)
        return value

    @field_validator("width", "height")
    @classmethod
    def _even(cls, value: Optional[int]) -> Optional[int]:
        if value is not None and value % 2:
            raise ValueError(f"must be even (H.264 in yuv420p needs even sides), got {value}")
        return value

    def check(self) -> None:
        super().check()
        if self.every and self.daily_at:
            raise BadParameter("daily_at", "give every or daily_at, not both")
        if self.fps is not None and self.duration is not None:
            raise BadParameter("duration", "give fps or duration, not both")

    def given_filters(self) -> list[str]:
        """The names of the filters set, as the API spells them."""
        return [field.alias or name for name, field in FilterParams.model_fields.items()
                if name in self.model_fields_set and name not in OPTIONS
                and getattr(self, name) not in (None, [], ())]

    def plan(self) -> planning.Plan:
        """Check the request against the captures; BadParameter names what is wrong."""
        given = self.given_filters()
        return planning.make_plan(self.filters(), every=self.every, daily_at=self.daily_at, tz=self.tz, fps=self.fps,
                                 duration=self.duration, width=self.width, height=self.height,
                                 deflicker=self.deflicker, no_match_parameter=given[0] if given else "from")

    def described(self) -> dict:
        """The request as given, for the job's status."""
        return self.model_dump(by_alias=True, exclude_defaults=True)  # made JSON by models.videos


def request_schema() -> dict:
    """The JSON Schema of the body: TimelapseParams', where a repeatable filter may also be one value."""
    schema = TimelapseParams.model_json_schema(by_alias=True)
    schema.pop("title", None)
    for prop in schema["properties"].values():
        prop.pop("title", None)
        if prop.get("type") == "array":
            items = prop.pop("items")
            prop.pop("type")
            prop["anyOf"] = [{"type": "array", "items": items}, items]
    return schema


def fits(value, schema: dict) -> bool:
    """Whether a JSON value has a type `schema` allows (the types only: pydantic checks the rest)."""
    if "anyOf" in schema:
        return any(fits(value, option) for option in schema["anyOf"])
    kinds = schema.get("type")
    if kinds is None:
        return True
    for kind in kinds if isinstance(kinds, list) else [kinds]:
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if (kind == "null" and value is None or kind == "string" and isinstance(value, str)
                or kind == "boolean" and isinstance(value, bool) or kind == "number" and number
                or kind == "integer" and number and float(value).is_integer()
                or kind == "array" and isinstance(value, list) and all(fits(v, schema.get("items", {})) for v in value)):
            return True
    return False


_properties: Optional[dict] = None


def as_args(body) -> MultiDict:
    """A JSON object as parse() takes query arguments, once its values have the types the OpenAPI
    document states (JSON has them, unlike a query string): a list is a repeated parameter, null is absent."""
    global _properties
    if _properties is None:
        _properties = request_schema()["properties"]
    if not isinstance(body, dict):
        raise BadParameter("body", "the body must be a JSON object of parameters, such as {\"every\": \"1h\"}")
    pairs = []
    for name, value in body.items():
        prop = _properties.get(name)
        if prop is not None and not fits(value, prop):
            raise BadParameter(name, f"{name}: {json.dumps(value)[:80]} is not of the type this parameter takes "
                                     "(see /api/openapi.json)")
        for item in value if isinstance(value, list) else [value]:
            if item is not None:
                pairs.append((name, item))
    return MultiDict(pairs)


def setting(name: str) -> int:
    """A time-lapse setting, as create_app took it from Settings (PIGALLERY_TIMELAPSE_*)."""
    return int(current_app.config[name])


@bp.errorhandler(BadParameter)
def bad_parameter(exc: BadParameter):
    return error_response(400, str(exc), parameter=exc.parameter)


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
