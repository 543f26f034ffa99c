"""`pigallery serve`: run the web app with Flask's development server."""
from __future__ import annotations

import json
from http import HTTPStatus

import click
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.serving import WSGIRequestHandler

from index import schema
from models.db import connect
from search_web import create_app
from search_web.errors import MAX_URL_LENGTH

from .config import Settings

# http.server's own limit: a request line (CRLF included) longer than this is answered by it,
# before the app (which refuses URLs over MAX_URL_LENGTH) sees it.
REQUEST_LINE_LIMIT = 65536
NO_BODY = (HTTPStatus.NO_CONTENT, HTTPStatus.RESET_CONTENT, HTTPStatus.NOT_MODIFIED)


class JsonErrorRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler, with the replies http.server makes itself in the API's JSON shape.

    A request it cannot parse is answered before the app sees it: a request line past 64 KiB
    (414), a header line past 64 KiB or more than 100 headers (431), a malformed request line
    (400, 505). http.server writes those in HTML; the app, and gunicorn (gunicorn.conf.py), answer
    every error with {"error": ..., "message": ...}, and so does this.
    """

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        short, long = self.responses.get(code, ("", ""))
        if code == HTTPStatus.REQUEST_URI_TOO_LONG:
            text = (f"the request line is longer than {REQUEST_LINE_LIMIT:,} bytes, the most this server reads; "
                    f"URLs may be at most {MAX_URL_LENGTH} bytes (path and query string)")
        else:
            text = ": ".join(part for part in (message, explain) if part) or long or short
        self.log_error("code %d, message %s", code, message or short)
        self.send_response(code, message)
        self.send_header("Connection", "close")
        body = b""
        if code >= 200 and code not in NO_BODY:
            body = json.dumps({"error": HTTP_STATUS_CODES.get(code, short), "message": text}).encode()
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)


class QuietRequestHandler(JsonErrorRequestHandler):
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
    connect(settings.redis_url, settings.key_prefix)
    if not schema.exists():
        # Serve anyway (/healthz says why it is not ready); the index is never made by a request.
        click.echo(f"warning: no search index {schema.name()}: run `pigallery index create`", err=True)
    # The settings this command was given (--env-file included): the app must not read its own.
    app = create_app(settings)
    app.run(host=host, port=port, debug=debug, threaded=True,
            request_handler=JsonErrorRequestHandler if access_log else QuietRequestHandler)
