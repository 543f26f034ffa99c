"""`pigallery timelapse`: make an MP4 time-lapse of the captures matching any search filters.

The options are generated from the API's own parameters (search_web.timelapse_params.TimelapseParams:
the filters of /api/captures plus every, daily_at, fps, ...), so a filter added to the API is an
option here too, checked the same way. The video is encoded here, in the foreground, with a
progress bar; Ctrl-C stops ffmpeg and leaves no file behind.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Optional, get_args, get_origin

import click
from tqdm import tqdm
from werkzeug.datastructures import MultiDict

from models.db import connect
from pigallery.config import Settings
from search_web import timelapse_encoder as encoder
from search_web import timelapse_plan as planning
from search_web.params import BadParameter, parse
from search_web.timelapse_params import TimelapseParams


def _is_flag(annotation) -> bool:
    return annotation is bool or bool in get_args(annotation) and type(None) not in get_args(annotation)


def _options(command):
    """Add one option per API parameter: --from, --device (repeatable), --every, --daily-at, ..."""
    for name, field in reversed(list(TimelapseParams.model_fields.items())):
        api_name = field.alias or name
        flag = f"--{api_name.replace('_', '-')}"
        help_text = (field.description or "").replace("%", "%%")
        if _is_flag(field.annotation):
            option = click.option(flag, f"p_{name}", is_flag=True, default=False, help=help_text)
        else:
            repeat = get_origin(field.annotation) is list
            option = click.option(flag, f"p_{name}", multiple=repeat, default=None, metavar="VALUE",
                                  help=help_text + (" Repeat for several." if repeat and "repeat" not in help_text else ""))
        command = option(command)
    return command


def _args(values: dict) -> MultiDict:
    """The given options as the API's parameters (what parse() reads)."""
    pairs = []
    for name, field in TimelapseParams.model_fields.items():
        value = values.get(f"p_{name}")
        if value is None or value == () or value is False:
            continue
        for item in value if isinstance(value, tuple) else [value]:
            pairs.append((field.alias or name, item))
    return MultiDict(pairs)


@click.command(context_settings={"max_content_width": 100}, short_help="An MP4 time-lapse of the matching captures.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True, path_type=Path), default=None,
              help="MP4 file to write (default: timelapse-<UTC time>.mp4 here); an existing file is replaced.")
@_options
@click.pass_obj
def timelapse(settings: Settings, output: Optional[Path], **values) -> None:
    """Make an H.264 MP4 time-lapse of the captures matching the filters.

    \b
    pigallery timelapse --device pi-garden --every 10m --fps 24
    pigallery timelapse --from 2026-06-01 --to 2026-06-30 --daily-at 12:00 --tz Europe/Berlin --duration 20

    One frame per interval (--every 10m, 1h, 1d) or the frame nearest a time each day (--daily-at), at most
    20,000 frames. A capture whose full-size image expired is shown by its thumbnail, scaled up.
    """
    connect(settings.redis_url, settings.key_prefix)
    try:
        params = parse(TimelapseParams, _args(values))
        plan = params.plan()
    except BadParameter as exc:
        message = str(exc).removeprefix(f"{exc.parameter}: ")
        raise click.UsageError(f"--{exc.parameter.replace('_', '-')}: {message}") from None
    output = output or Path(f"timelapse-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}.mp4")
    partial = output.with_name(f".{output.name}.part.mp4")
    click.echo(f"selecting frames (at most {plan.bound:,})…", err=True)
    try:
        total = min(planning.count_frames(plan), planning.MAX_FRAMES)
    except KeyboardInterrupt:
        click.echo("cancelled", err=True)
        raise SystemExit(130) from None
    if not total:
        raise click.ClickException("no captures match these filters")
    fps = plan.frame_rate(total)
    click.echo(f"{total:,} frames at {float(fps):g} fps ({float(total / fps):.1f} s), {plan.width}x{plan.height}"
               f"{', deflickered' if plan.deflicker else ''} -> {output}", err=True)
    bar = tqdm(total=total, unit="frame", desc="encoding", disable=None)

    def progress(state: encoder.Progress) -> bool:
        bar.n = state.done + state.skipped
        bar.set_postfix_str(f"{state.thumbnails} thumbnails" if state.thumbnails else "", refresh=False)
        bar.update(0)
        return False

    try:
        state = encoder.encode(plan, str(partial), total, progress)
    except KeyboardInterrupt:
        bar.close()
        _remove(partial)
        click.echo("cancelled: ffmpeg stopped, nothing written", err=True)
        raise SystemExit(130) from None
    except encoder.TimelapseError as exc:
        bar.close()
        _remove(partial)
        raise click.ClickException(str(exc)) from None
    bar.close()
    os.replace(partial, output)
    notes = [f"{state.thumbnails} shown by their thumbnail (full image expired)"] if state.thumbnails else []
    notes += [f"{state.skipped} skipped (gone)"] if state.skipped else []
    click.echo(f"wrote {output} ({output.stat().st_size / 1e6:.1f} MB, {state.done} frames, "
               f"{float(state.done / fps):.1f} s){'; ' + ', '.join(notes) if notes else ''}")


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
