"""`pigallery redis start|stop|status|cli|passwords`: the embedded Redis Stack server."""
from __future__ import annotations

import hashlib
import re
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import click

from . import redis_server
from .config import DEFAULT_PORT, Settings


def _server_options(f):
    f = click.option("--port", type=click.IntRange(1, 65535), default=None,
                     help="Port (default: PIGALLERY_REDIS_PORT, else the server running from the data dir, else 6399).")(f)
    f = click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="Folder for data and logs (default: PIGALLERY_DATA_DIR, else ./.pigallery).")(f)
    return f


def _server(settings: Settings, port, data_dir, **kw) -> redis_server.Server:
    """The server to start: the port asked for, else the configured one, else the default."""
    return redis_server.Server(port=port or settings.redis_port or DEFAULT_PORT,
                               data_dir=data_dir or settings.data_dir, **kw)


def _found(settings: Settings, port, data_dir) -> redis_server.Server:
    """The server to stop, inspect or talk to: when no port is given, the one running from the data dir."""
    data_dir = data_dir or settings.data_dir
    if port or settings.redis_port:
        return _server(settings, port, data_dir)
    live = redis_server.running(data_dir)
    if len(live) > 1:
        ports = ", ".join(str(s.port) for s in live)
        raise click.ClickException(f"several embedded servers run from {data_dir} (ports {ports}): say which with --port")
    return live[0] if live else _server(settings, None, data_dir)


@click.group("redis")
def redis_group() -> None:
    """Run a local Redis Stack without Docker."""


@redis_group.command()
@_server_options
@click.option("--acl", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Users ACL file to apply (needed for any --bind but loopback).")
@click.option("--bind", default=redis_server.LOOPBACK, show_default=True,
              help="IP address to listen on, e.g. the LAN address for Pis to write to; not loopback only with --acl.")
@click.pass_obj
def start(settings: Settings, port, data_dir, acl, bind) -> None:
    """Start the server with AOF on and print the REDIS_URL to use."""
    server = _server(settings, port, data_dir, aclfile=acl, bind=bind)
    url = redis_server.start(server)
    click.echo(f"Redis Stack is ready (data in {server.db_dir}).\nREDIS_URL={url}")
    if bind != redis_server.LOOPBACK:
        click.echo(f"Listening on {bind} too: Pis use redis://capture:<password>@<this machine's address>:{server.port}/0")


@redis_group.command()
@_server_options
@click.pass_obj
def stop(settings: Settings, port, data_dir) -> None:
    """Shut the server down cleanly, flushing the AOF."""
    server = _found(settings, port, data_dir)
    if redis_server.stop(server):
        click.echo(f"Redis Stack on port {server.port} stopped.")
    else:
        click.echo(f"Redis Stack was not running (no server in {server.data_dir}).")


@redis_group.command()
@_server_options
@click.pass_obj
def status(settings: Settings, port, data_dir) -> None:
    """Say whether the server runs, where, and what it holds."""
    info = redis_server.status(_found(settings, port, data_dir))
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
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="ACL file to write (default: users.acl in the data dir: PIGALLERY_DATA_DIR, else ./.pigallery).")
@click.option("--env-file", type=click.Path(dir_okay=False, path_type=Path),
              default=Path(".env"), show_default=True, help="Where to store the passwords.")
@click.pass_obj
def passwords(settings: Settings, template: Path, out: Path | None, env_file: Path) -> None:
    """Make new random passwords for the ACL users.

    They replace the development passwords in the ACL file; the ACL file keeps only their hashes.
    """
    from dotenv import dotenv_values, set_key

    out = out or settings.data_dir / "users.acl"
    rules, new = new_passwords(template.read_text())
    if not new:
        raise click.ClickException(f"{template} has no user with a password")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(rules)
    except OSError as exc:  # e.g. the image's data dir, not writable by the --user compose runs it as
        raise click.ClickException(f"cannot write {out}: {exc.strerror}; pass --out or set PIGALLERY_DATA_DIR") from None
    for user, password in new.items():
        set_key(env_file, f"PIGALLERY_{user.upper()}_PASSWORD", password)
    if not dotenv_values(env_file).get("PIGALLERY_SECRET_KEY"):
        # Signs the web API's cursors; kept when it exists, so open pages stay valid.
        set_key(env_file, "PIGALLERY_SECRET_KEY", secrets.token_urlsafe(32))
    # docker compose mounts this file instead of the repo's dev one. Relative to the .env's folder
    # when inside it, so the folder can move (and compose, run there, finds it).
    try:
        acl_file = f"./{out.resolve().relative_to(env_file.resolve().parent)}"
    except ValueError:
        acl_file = str(out.resolve())
    set_key(env_file, "PIGALLERY_ACL_FILE", acl_file)
    env_file.chmod(0o600)
    click.echo(f"wrote {out} (hashes only) and the passwords of {', '.join(new)} to {env_file}")
    if "capture" in new:
        # The port REDIS_URL names: the embedded server's (PIGALLERY_REDIS_PORT, else 6399) unless
        # REDIS_URL is set, as in the compose services (6379).
        try:
            port = urlsplit(settings.redis_url).port or 6379
        except ValueError:  # a port redis-py would refuse too: say so where it shows
            port = "<port>"
        click.echo(f"REDIS_URL for the Pis: redis://capture:{new['capture']}@<server>:{port}/0")


@redis_group.command(context_settings={"ignore_unknown_options": True})
@_server_options
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def cli(settings: Settings, port, data_dir, args) -> None:
    """Run the bundled redis-cli against the embedded server.

    For example: pigallery redis cli FT.SEARCH pigallery:capture:index '*' LIMIT 0 3
    """
    raise SystemExit(redis_server.cli(_found(settings, port, data_dir), list(args)))
