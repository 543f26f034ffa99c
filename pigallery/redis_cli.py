"""`pigallery redis start|stop|status`: the embedded Redis Stack server."""
from __future__ import annotations

import hashlib
import re
import secrets
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


# A password in an ACL rule: `#<sha256 hex>` or `>cleartext`.
_ACL_PASSWORD = re.compile(r"\s(#[0-9a-f]{64}|>\S+)")


def new_passwords(acl_text: str) -> tuple[str, dict[str, str]]:
    """Give every user that has a password a new random one; return the rules and the passwords.

    Only SHA-256 hashes go into the rules, so the ACL file holds no secret.
    """
    lines, passwords = [], {}
    for line in acl_text.splitlines():
        words = line.split()
        if words[:1] == ["user"] and _ACL_PASSWORD.search(line):
            name = words[1]
            # URL-safe, so it can go into REDIS_URL as it is.
            passwords[name] = secrets.token_urlsafe(24)
            digest = "#" + hashlib.sha256(passwords[name].encode()).hexdigest()
            first = _ACL_PASSWORD.search(line)
            # The new hash takes the first password's place; further ones go.
            line = line[: first.start()] + " " + digest + _ACL_PASSWORD.sub("", line[first.end():])
        lines.append(line)
    return "\n".join(lines) + "\n", passwords


@redis_group.command()
@click.option("--acl", "template", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=Path("deploy/users.acl"), show_default=True, help="ACL file whose rules to keep.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              default=Path(".pigallery/users.acl"), show_default=True, help="ACL file to write.")
@click.option("--env-file", type=click.Path(dir_okay=False, path_type=Path),
              default=Path(".env"), show_default=True, help="Where to store the passwords.")
def passwords(template: Path, out: Path, env_file: Path) -> None:
    """Make new random passwords for the ACL users (replacing the dev ones)."""
    from dotenv import dotenv_values, set_key

    rules, new = new_passwords(template.read_text())
    if not new:
        raise click.ClickException(f"{template} has no user with a password")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(rules)
    for user, password in new.items():
        set_key(env_file, f"PIGALLERY_{user.upper()}_PASSWORD", password)
    if not dotenv_values(env_file).get("PIGALLERY_SECRET_KEY"):
        # Signs the web API's cursors; kept when it exists, so open pages stay valid.
        set_key(env_file, "PIGALLERY_SECRET_KEY", secrets.token_urlsafe(32))
    # docker compose mounts this file instead of the repo's dev one.
    set_key(env_file, "PIGALLERY_ACL_FILE", str(out if out.is_absolute() else f"./{out}"))
    env_file.chmod(0o600)
    click.echo(f"wrote {out} (hashes only) and the passwords of {', '.join(new)} to {env_file}")
    if "capture" in new:
        click.echo(f"REDIS_URL for the Pis: redis://capture:{new['capture']}@<server>:6379/0")


@redis_group.command(context_settings={"ignore_unknown_options": True})
@_server_options
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def cli(settings: Settings, port, data_dir, args) -> None:
    """Run redis-cli against the embedded server (e.g. FT.SEARCH ...)."""
    raise SystemExit(redis_server.cli(_server(settings, port, data_dir), list(args)))
