"""The `pigallery` command: one entry point, subcommands loaded only when used."""
from __future__ import annotations

import importlib
from pathlib import Path

import click
import redis

from models.db import redact_url

from .config import Settings

# name -> "module:attribute". Loaded lazily so a Pi without Flask can still capture.
# Every command module lives here, in the top layer: capture/, index/ and search_web/ are
# libraries that never import pigallery (tests/test_layers.py), and connecting to Redis is
# models.db.connect().
COMMANDS = {
    "redis": "pigallery.redis_cli:redis_group",
    "index": "pigallery.index_cli:index_group",
    "seed": "pigallery.seed:seed",
    "capture": "pigallery.capture_cli:capture",
    "import": "pigallery.capture_cli:import_command",
    "serve": "pigallery.serve_cli:serve",
    "timelapse": "pigallery.timelapse:timelapse",
}


def unavailable(name: str, exc: ImportError) -> click.Command:
    """Stand in for a subcommand whose extra is not installed (a Pi has no Flask).

    A command rather than an error, so `pigallery --help` still lists the rest.
    """
    import re
    from importlib import metadata

    package = (exc.name or "").partition(".")[0]
    if not isinstance(exc, ModuleNotFoundError) or not package:
        # The package is there but broken or of another version: "not installed" would mislead.
        message = f"`pigallery {name}` cannot be loaded: {exc}"
        summary = "Cannot be loaded; run it to see why."
    else:
        # The extras come from the installed package's metadata, so they cannot drift from
        # pyproject.toml; import and distribution names agree once normalised (PEP 503).
        def normal(text: str) -> str:
            return re.sub(r"[-_.]+", "-", text).lower()

        try:
            requires = metadata.requires("pigallery") or []
        except metadata.PackageNotFoundError:  # run from a checkout that was never installed
            requires = []
        extra = None
        for line in requires:  # such as: Flask==3.1.3; extra == "web"
            found = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)[^;]*;.*\bextra\s*==\s*[\"']([^\"']+)", line)
            if found and normal(found.group(1)) == normal(package):
                extra = found.group(2)
                break
        if extra:
            message = (f"`pigallery {name}` needs {package}, which is not installed: pip install 'pigallery[{extra}]' "
                       f"(in a checkout: pip install -e '.[{extra}]')")
            summary = f"Not installed: needs pigallery[{extra}]."
        else:
            message = (f"`pigallery {name}` needs a package that is not installed ({package}); "
                       "see the README for the extras to install")
            summary = f"Not installed: needs {package}."

    def fail():
        raise click.ClickException(message)

    # short_help, so `pigallery --help` never shortens a long package name to "...".
    return click.Command(name, callback=fail, help=message, short_help=summary, add_help_option=False,
                         context_settings={"ignore_unknown_options": True, "allow_extra_args": True})


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use (click's documented recipe)."""

    def list_commands(self, ctx):
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx, cmd_name):
        if cmd_name in COMMANDS:
            module, _, attr = COMMANDS[cmd_name].partition(":")
            try:
                return getattr(importlib.import_module(module), attr)
            except ImportError as exc:
                return unavailable(cmd_name, exc)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx):
        # Expected failures become one clear line and exit code 1, never a traceback.
        from redis_om import MigrationError

        from index.schema import IndexNotCreated
        from models import InvalidCapture
        from models.db import SearchUnavailable
        from .redis_server import RedisStackError

        where = redact_url(ctx.obj.redis_url) if ctx.obj else "REDIS_URL"
        try:
            return super().invoke(ctx)
        except (RedisStackError, InvalidCapture, MigrationError, IndexNotCreated, SearchUnavailable,
                TimeoutError) as exc:
            raise click.ClickException(str(exc)) from None
        # AuthenticationError is a ConnectionError: it must be caught first.
        except redis.AuthenticationError as exc:
            raise click.ClickException(f"Redis refused the credentials in REDIS_URL: {exc}") from None
        except redis.exceptions.NoPermissionError as exc:
            raise click.ClickException(f"the Redis user in REDIS_URL lacks a permission this command needs: {exc}") from None
        except redis.ConnectionError as exc:
            raise click.ClickException(
                f"cannot reach Redis at {where}: {exc}. "
                "Start one with `pigallery redis start` or set REDIS_URL."
            ) from None
        except redis.TimeoutError as exc:
            raise click.ClickException(f"Redis at {where} did not answer in time: {exc}") from None
        except redis.ResponseError as exc:
            # Out of memory, a read-only replica, a refused schema: Redis's own words say which.
            raise click.ClickException(f"Redis at {where} refused the command: {exc}") from None


@click.group(cls=LazyGroup)
@click.option("--env-file", type=click.Path(dir_okay=False, path_type=Path), envvar="PIGALLERY_ENV_FILE",
              help="Read settings from this dotenv file instead of ./.env (variables already set win).")
@click.pass_context
def main(ctx: click.Context, env_file: Path | None) -> None:
    """Store Raspberry Pi camera captures in Redis Stack and search them.

    A command whose optional extra (web, server or pi) is not installed says which to install.
    """
    ctx.obj = Settings.from_env(env_file)
