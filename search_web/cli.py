"""`pigallery serve`: run the web app with Flask's development server."""
from __future__ import annotations

import click

from index import schema
from pigallery.cli import connect
from pigallery.config import Settings

from . import create_app


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--debug", is_flag=True, help="Reload on code changes and show tracebacks.")
@click.pass_obj
def serve(settings: Settings, host: str, port: int, debug: bool) -> None:
    """Serve the gallery and the JSON API (development server; see the README for gunicorn)."""
    # Fail now with one clear line if Redis or its search module is missing, not on the first request.
    connect(settings)
    if not schema.exists():
        # Serve anyway (/healthz says why it is not ready); the index is never made by a request.
        click.echo(f"warning: no search index {schema.name()}: run `pigallery index create`", err=True)
    create_app().run(host=host, port=port, debug=debug, threaded=True)
