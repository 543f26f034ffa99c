"""`pigallery capture` and `pigallery import`: the Pi-side commands."""
from __future__ import annotations

import contextlib
import logging
import signal
from pathlib import Path

import click
import redis

import models
from capture import agent, cameras, picam, triggers
from capture.spool import Spool, SpoolBusy
from models.db import connect, redact_url

from .config import Settings

log = logging.getLogger("pigallery.capture")
# A Redis that hangs must fail sooner than the models' default, so the shot goes to the
# spool instead of waiting; a URL's own ?socket_timeout=... still wins.
CLIENT_OPTIONS = {"socket_timeout": 10}


def lifetimes(settings: Settings) -> agent.Lifetimes:
    return agent.Lifetimes(settings.capture_ttl, settings.image_ttl)


def probe(settings: Settings) -> None:
    """Bind the models for writing and check this Redis user may store captures.

    Raises agent.REFUSED errors, or ConnectionError/TimeoutError while Redis is away.
    """
    # search=False: the agent's Redis user may write captures but not search.
    connect(settings.redis_url, settings.key_prefix, search=False, **CLIENT_OPTIONS)
    models.Capture.check_write_access(settings.capture_ttl, settings.image_ttl)


def bind(settings: Settings) -> bool:
    """Bind the models for writing; return whether Redis answered (it may come back later).

    Refused credentials stop the agent here with a ClickException: spooling cannot help.
    """
    try:
        probe(settings)
    except agent.REFUSED as exc:
        raise click.ClickException(f"{agent.refusal(exc)}; fix REDIS_URL or the user's ACL rules "
                                   "(see deploy/users.acl)") from None
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        log.warning("Redis unreachable at %s (%s): captures are spooled until it returns", redact_url(settings.redis_url), exc)
        return False
    except redis.ResponseError as exc:  # e.g. HPEXPIREAT unknown: older than Redis 7.4
        raise click.ClickException(f"Redis at {redact_url(settings.redis_url)} cannot store captures ({exc}): "
                                   "it must be Redis 7.4 or later") from None
    return True


def open_spool(settings: Settings, owner: bool = True) -> Spool:
    try:
        return Spool(settings.spool_path, settings.spool_max_mb * 1_000_000, owner=owner)
    except SpoolBusy as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot use the spool folder {settings.spool_path}: {exc}") from None


@contextlib.contextmanager
def stop_on_signals(stop):
    """Make Ctrl-C and SIGTERM finish the capture in flight, then stop."""
    def handler(signum, _frame):
        log.info("%s: stopping after the capture in flight", signal.Signals(signum).name)
        stop()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def redis_state(settings: Settings) -> tuple[bool, str]:
    """Return whether Redis takes this agent's captures, and a word or two saying so."""
    try:
        probe(settings)
    except agent.REFUSED as exc:
        return False, f"REFUSED: {agent.refusal(exc)}"
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        return False, f"UNREACHABLE ({exc})"
    except redis.ResponseError as exc:
        return False, f"UNUSABLE ({exc})"
    return True, "reachable, writes allowed"


UNWRITABLE_HINT = ("pictures taken while Redis is away are lost; remount the disk read-write (the kernel makes "
                   "a failing SD card read-only: see dmesg) or give the folder to the agent's user")


def print_status(settings: Settings) -> None:
    """Print Redis's state and the spool's; exit 3 unless Redis takes captures, 4 if the spool
    cannot be written (a health check)."""
    info = open_spool(settings, owner=False).status()
    ok, state = redis_state(settings)
    click.echo(f"redis: {redact_url(settings.redis_url)} {state}")
    click.echo(f"spool: {info['folder']}: {info['entries']} captures waiting, "
               f"{info['bytes'] / 1e6:.1f} of {info['max_bytes'] / 1e6:.0f} MB")
    for key in ("oldest", "newest"):
        if key in info:
            click.echo(f"  {key}: {info[key]}")
    if info["quarantined"]:
        click.echo(f"  {info['quarantined']} unusable entries set aside in {info['folder']}/bad")
    free = info["free_bytes"]
    if free is not None and not info["unwritable"] and free < info["max_bytes"] - info["bytes"]:
        click.echo(f"  only {free / 1e6:.1f} MB free on its disk: the disk fills before the cap, "
                   "then the oldest waiting pictures are dropped to make room")
    if info["counters_problem"]:
        click.echo(f"  dropped/lost pictures unknown: {info['counters_problem']}")
    else:
        # Every run's counts, as the agent keeps them in the spool folder.
        since = f" since {info['since']}" if info.get("since") else ""
        lasts = [f"last {what} {info[f'last_{what}']}" for what in ("dropped", "lost") if info.get(f"last_{what}")]
        click.echo(f"  {info['dropped']} dropped to make room, {info['lost']} lost{since}"
                   + (f" ({', '.join(lasts)})" if lasts else ""))
    if info["unwritable"]:
        click.echo(f"spool: {info['folder']} is NOT WRITABLE ({info['unwritable']}): {UNWRITABLE_HINT}")
    if not ok:
        raise SystemExit(3)
    if info["unwritable"]:
        raise SystemExit(4)


@click.command()
@click.option("--camera", type=click.Choice(cameras.CAMERAS), help="Camera backend [default: PIGALLERY_CAMERA or picamera2].")
@click.option("--folder", type=click.Path(exists=True, file_okay=False, path_type=Path), help="Folder to replay (--camera folder).")
@click.option("--loop", is_flag=True, help="Replay the folder again when it runs out.")
@click.option("--interval", type=click.FloatRange(min=0.01), help="Shoot every SECONDS [default when no other trigger: PIGALLERY_CAPTURE_INTERVAL].")
@click.option("--gpio", type=click.IntRange(0, 53), help="Shoot when this GPIO (BCM number) becomes active.")
@click.option("--gpio-active", type=click.Choice(["low", "high"]), default="low", show_default=True,
              help="low: button to ground (pull-up); high: PIR or sound module output.")
@click.option("--gpio-hold-off", type=click.FloatRange(min=0), default=1.0, show_default=True, help="Ignore repeats for SECONDS.")
@click.option("--motion", is_flag=True, help="Shoot when the low-resolution preview changes.")
@click.option("--motion-threshold", type=click.FloatRange(0.0001, 1), default=0.02, show_default=True, help="Fraction of pixels that must change.")
@click.option("--motion-gap", type=click.FloatRange(min=0), default=5.0, show_default=True, help="Minimum SECONDS between motion shots.")
@click.option("--count", type=click.IntRange(min=1), help="Stop after N shots.")
@click.option("--once", is_flag=True, help="Take one picture now and exit.")
@click.option("--status", is_flag=True, help="Show the spool depth and whether Redis takes captures; exit 3 if it does not.")
@click.option("--resolution", help="WIDTHxHEIGHT [default: PIGALLERY_RESOLUTION or the sensor's].")
@click.option("--quality", type=click.IntRange(1, 100), help="JPEG quality [default: PIGALLERY_JPEG_QUALITY].")
@click.option("--autofocus", type=click.Choice(picam.AUTOFOCUS), default="continuous", show_default=True)
@click.option("--device", help="Device name [default: PIGALLERY_DEVICE or the hostname].")
@click.pass_obj
def capture(settings: Settings, camera, folder, loop, interval, gpio, gpio_active, gpio_hold_off, motion,
            motion_threshold, motion_gap, count, once, status, resolution, quality, autofocus, device) -> None:
    """Take pictures on a timer, GPIO or motion into Redis.

    Triggers may be combined; without one, it shoots every PIGALLERY_CAPTURE_INTERVAL seconds.
    While Redis cannot be reached, captures wait in a spool on disk.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if status:
        return print_status(settings)
    try:
        size = cameras.parse_size(resolution if resolution is not None else settings.resolution)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--resolution") from None
    if once and (interval or gpio is not None or motion or count):
        raise click.UsageError("--once takes one picture: do not combine it with triggers or --count")
    if not (once or interval or gpio is not None or motion):
        interval = settings.capture_interval
    quality = quality or settings.jpeg_quality
    # Values from the environment get the same checks click gives the options.
    for ok, problem in ((interval is None or interval > 0, f"PIGALLERY_CAPTURE_INTERVAL must be above 0, got {interval}"),
                        (1 <= quality <= 100, f"PIGALLERY_JPEG_QUALITY must be 1..100, got {quality}"),
                        (settings.spool_max_mb > 0, f"PIGALLERY_SPOOL_MAX_MB must be above 0, got {settings.spool_max_mb}")):
        if not ok:
            raise click.ClickException(problem)
    device = agent.check_device(device or settings.device)
    bind(settings)
    spool = open_spool(settings)
    if spool.unwritable:
        # Carry on: while Redis is up every picture still gets there; stopping would lose them all.
        log.error("SPOOL NOT WRITABLE: %s (%s): capturing straight to Redis; %s", spool.folder, spool.unwritable,
                  UNWRITABLE_HINT)
    try:
        cam = cameras.open_camera(camera or settings.camera, resolution=size, quality=quality,
                                  folder=folder, loop=loop, autofocus=autofocus)
    except cameras.CameraError as exc:
        spool.close()
        raise click.ClickException(str(exc)) from None
    detector = triggers.MotionDetector(motion_threshold, motion_gap) if motion else None
    fire = triggers.Triggers(interval=interval, motion=detector, preview=cam.preview, once=once)
    # The handlers stay until the spool is drained and the camera closed, so a second
    # Ctrl-C during that shutdown is one more "stop", not a KeyboardInterrupt traceback.
    with stop_on_signals(fire.stop), spool, cam, contextlib.closing(fire), \
            agent.Saver(spool, device, lifetimes(settings)) as saver:
        try:
            if gpio is not None:
                fire.add_gpio(gpio, active_high=gpio_active == "high", hold_off=gpio_hold_off)
            log.info("capturing with %s as %s (spool: %d waiting)", type(cam).__name__, device, len(spool))
            shots = agent.run(cam, fire, saver, count=count)
        except (triggers.TriggerError, cameras.CameraError) as exc:
            raise click.ClickException(str(exc)) from None
    # Dropped and lost pictures are said even when 0, so an owner reading the log knows none were.
    log.log(logging.WARNING if spool.dropped or spool.lost else logging.INFO,
            "done: %d shots, %d still spooled, %d dropped to make room, %d lost",
            shots, len(spool), spool.dropped, spool.lost)


@click.command("import")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--device", help="Device name for every file [default: the EXIF camera make and model].")
@click.option("--timezone", "zone_name", help="IANA zone of EXIF times without an offset [default: PIGALLERY_IMPORT_TZ or this machine's].")
@click.pass_obj
def import_command(settings: Settings, folder: Path, device, zone_name) -> None:
    """Import the JPEGs under FOLDER and its subfolders.

    Each file is stored once, so importing a folder again adds only what is new.
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from capture.importer import import_tree

    zone_name = zone_name or settings.import_timezone
    try:
        zone = ZoneInfo(zone_name) if zone_name else None
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(f"unknown time zone {zone_name!r}; use an IANA name such as Europe/Paris",
                                 param_hint="--timezone") from None
    if device is not None:
        agent.check_device(device)
    connect(settings.redis_url, settings.key_prefix, search=False, **CLIENT_OPTIONS)
    report = import_tree(folder, device, zone)
    click.echo(report.summary())
