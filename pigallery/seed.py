"""`pigallery seed`: fill Redis with synthetic captures from several devices over several days."""
from __future__ import annotations

import datetime as dt

import click
from tqdm import tqdm

from capture import cameras, synthetic
from index import schema
from models import Capture
from models.db import connect
from pigallery.config import Settings


def _size(ctx, param, value: str) -> tuple[int, int]:
    try:
        return cameras.parse_size(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def seed_captures(count: int, devices: list[str], days: float, size: tuple[int, int],
                  detail: float = 1.0, progress: bool = True, end: dt.datetime | None = None) -> list[Capture]:
    """Store `count` synthetic captures spread evenly over the last `days`, round-robin by device."""
    end = end or dt.datetime.now(dt.timezone.utc)
    step = dt.timedelta(days=days) / max(1, count)
    stored = []
    for i in tqdm(range(count), desc="seeding", unit="capture", disable=None if progress else True):
        when = end - step * (count - 1 - i)
        image, meta = synthetic.render(when, size, seed=i, detail=detail)
        # As a Pi's agent stores them: the time is the (synthetic) camera's own clock.
        stored.append(Capture.create(image, device=devices[i % len(devices)], taken_at=when, trigger="interval",
                                     time_source="camera", **meta))
    return stored


@click.command()
@click.option("--count", default=24, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--device", "devices", multiple=True, default=("pi-garden", "pi-door"), show_default=True)
@click.option("--days", default=3.0, show_default=True, type=click.FloatRange(0, 3650))
@click.option("--size", default="1280x960", show_default=True, help="Frame size WIDTHxHEIGHT.",
              callback=_size)
@click.option("--detail", default=1.0, show_default=True, type=click.FloatRange(0, 3), help="Noise level; sets JPEG size.")
@click.option("--if-empty", is_flag=True, help="Do nothing when captures are already stored (re-running a demo).")
@click.pass_obj
def seed(settings: Settings, count, devices, days, size, detail, if_empty) -> None:
    """Store synthetic captures (for demos and benchmarks)."""
    connect(settings.redis_url, settings.key_prefix)
    schema.migrate()
    stored_already = schema.wait_indexed().get("num_docs", 0)
    if if_empty and stored_already:
        click.echo(f"{stored_already} captures already stored; not seeding more")
        return
    stored = seed_captures(count, list(devices), days, size, detail)
    total = sum(c.image_size for c in stored)
    click.echo(f"stored {len(stored)} captures ({total / 1e6:.1f} MB of JPEG) from {', '.join(devices)}")
