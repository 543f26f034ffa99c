"""`pigallery serve`: run the web app with Flask's development server."""
from __future__ import annotations

import click
from werkzeug.serving import WSGIRequestHandler

from index import schema
from pigallery.cli import connect
from pigallery.config import Settings

from . import create_app


class QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler without a log line per request (a gallery page fetches ~50 thumbnails).

    5xx lines are kept: a 503 for Redis being away is answered without a traceback, so its
    request line is the only sign of it in the terminal. Startup lines and werkzeug's own
    errors go through other methods and are untouched.
    """

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if str(code).startswith("5"):
            super().log_request(code, size)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--debug", is_flag=True, help="Reload on code changes and show tracebacks.")
@click.option("--access-log/--no-access-log", default=True, show_default=True,
              help="Log a line per request; without it, errors and 5xx replies are still logged.")
@click.pass_obj
def serve(settings: Settings, host: str, port: int, debug: bool, access_log: bool) -> None:
    """Serve the gallery and JSON API on Flask's development server.

    For production, run it under gunicorn as the README shows.
    """
    # Fail now with one clear line if Redis or its search module is missing, not on the first request.
    connect(settings)
    if not schema.exists():
        # Serve anyway (/healthz says why it is not ready); the index is never made by a request.
        click.echo(f"warning: no search index {schema.name()}: run `pigallery index create`", err=True)
    # The settings this command was given (--env-file included): the app must not read its own.
    app = create_app(settings)
    app.run(host=host, port=port, debug=debug, threaded=True,
            request_handler=None if access_log else QuietRequestHandler)
