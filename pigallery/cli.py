"""The `pigallery` command: one entry point, subcommands loaded only when used."""
from __future__ import annotations

import importlib

import click
import redis

from .config import Settings

# name -> "module:attribute". Loaded lazily so a Pi without Flask can still capture.
COMMANDS = {
    "redis": "pigallery.redis_cli:redis_group",
    "index": "index.cli:index_group",
    "seed": "pigallery.seed:seed",
    "capture": "capture.cli:capture",
    "import": "capture.cli:import_command",
    "serve": "search_web.cli:serve",
}


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
                raise click.ClickException(
                    f"`pigallery {cmd_name}` needs a package that is not installed ({exc.name}); "
                    "see the README for the extras to install"
                ) from None
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx):
        # Expected failures become one clear line and exit code 1, never a traceback.
        from redis_om import MigrationError

        from models import InvalidCapture
        from .redis_server import RedisStackError

        try:
            return super().invoke(ctx)
        except (RedisStackError, InvalidCapture, MigrationError) as exc:
            raise click.ClickException(str(exc)) from None
        except redis.ConnectionError as exc:
            raise click.ClickException(
                f"cannot reach Redis at {ctx.obj.redis_url if ctx.obj else 'REDIS_URL'}: {exc}. "
                "Start one with `pigallery redis start` or set REDIS_URL."
            ) from None
        except redis.AuthenticationError as exc:
            raise click.ClickException(f"Redis refused the credentials in REDIS_URL: {exc}") from None


def connect(settings: Settings, need_search: bool = True) -> None:
    """Bind the models to the configured Redis and check it answers (with search loaded).

    The capture agent passes need_search=False: its Redis user may write but not search.
    """
    import models

    models.bind(settings.redis_url, settings.key_prefix)
    conn = models.Capture.db()
    conn.ping()
    if not need_search:
        return
    try:
        conn.execute_command("FT._LIST")
    except redis.exceptions.NoPermissionError:
        raise click.ClickException(
            "the Redis user in REDIS_URL may not use search (FT._LIST refused): "
            "this command needs the web or admin user"
        ) from None
    except redis.ResponseError:
        raise click.ClickException(
            f"Redis at {settings.redis_url} has no search module: use Redis Stack "
            "(`pigallery redis start`, the redis-stack-server image, or Redis Cloud with search)"
        ) from None


@click.group(cls=LazyGroup)
@click.pass_context
def main(ctx: click.Context) -> None:
    """Store Raspberry Pi camera captures in Redis Stack and search them."""
    ctx.obj = Settings.from_env()
