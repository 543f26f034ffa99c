"""`pigallery redis start|stop|status`: the embedded Redis Stack server."""
from __future__ import annotations

from pathlib import Path

import click

from . import redis_server
from .config import Settings


def _server_options(f):
    f = click.option("--port", type=int, default=None, help="Port on 127.0.0.1 (default 6399 or PIGALLERY_REDIS_PORT).")(f)
    f = click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="Folder for data and logs (default ./.pigallery).")(f)
    return f


def _server(settings: Settings, port, data_dir, acl=None) -> redis_server.Server:
    return redis_server.Server(
        port=port or settings.redis_port, data_dir=data_dir or settings.data_dir, aclfile=acl
    )


@click.group("redis")
def redis_group() -> None:
    """Run a local Redis Stack (Redis 7.4 + RediSearch) without Docker."""


@redis_group.command()
@_server_options
@click.option("--acl", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Users ACL file to apply.")
@click.pass_obj
def start(settings: Settings, port, data_dir, acl) -> None:
    """Start the server (AOF on) and print the REDIS_URL to use."""
    url = redis_server.start(_server(settings, port, data_dir, acl))
    click.echo(f"Redis Stack is ready.\nREDIS_URL={url}")


@redis_group.command()
@_server_options
@click.pass_obj
def stop(settings: Settings, port, data_dir) -> None:
    """Shut the server down cleanly, flushing the AOF."""
    if redis_server.stop(_server(settings, port, data_dir)):
        click.echo("Redis Stack stopped.")
    else:
        click.echo("Redis Stack was not running.")


@redis_group.command()
@_server_options
@click.pass_obj
def status(settings: Settings, port, data_dir) -> None:
    """Say whether the server runs, where, and what it holds."""
    info = redis_server.status(_server(settings, port, data_dir))
    for key, value in info.items():
        click.echo(f"{key:>12}: {value}")
    if not info["running"]:
        raise SystemExit(3)


@redis_group.command(context_settings={"ignore_unknown_options": True})
@_server_options
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def cli(settings: Settings, port, data_dir, args) -> None:
    """Run redis-cli against the embedded server (e.g. FT.SEARCH ...)."""
    raise SystemExit(redis_server.cli(_server(settings, port, data_dir), list(args)))
