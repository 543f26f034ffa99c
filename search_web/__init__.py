"""The Flask app: JSON search API and the browser gallery.

The app reads no environment and imports nothing above it (tests/test_layers.py): the command
(`pigallery serve`) and the gunicorn factory (`pigallery.wsgi:create_app()`) read the settings
once and pass them in.
"""
from __future__ import annotations

import secrets

from flask import Flask, Response
from flask_compress import Compress

from models.db import DEFAULT_KEY_PREFIX

from .secret_key import load_secret_key

# The app's own defaults (flaskr's create_app pattern); a setting left unset (None) keeps them.
DEFAULTS = {
    "KEY_PREFIX": DEFAULT_KEY_PREFIX,
    "API_TOKEN": None,
    "SECRET_KEY": None,
    "PAGE_SIZE": 48,
    "MAX_PAGE_SIZE": 200,
    # Time-lapses: seconds a finished video is kept, bytes all videos may take together, and
    # jobs that may wait per web process.
    "TIMELAPSE_TTL": 86400,
    "TIMELAPSE_MAX_BYTES": 512 * 1024 * 1024,
    "TIMELAPSE_MAX_WAITING": 3,
    # A Server-Sent Events stream holds a worker: heartbeat to notice gone clients,
    # and end after a while so the browser's EventSource reconnects elsewhere.
    "EVENTS_HEARTBEAT": 15.0,
    "EVENTS_MAX_SECONDS": 300.0,
    # A compressor holds output back until it has enough, which would stall /api/events:
    # streamed replies go out as they are. Images are not in COMPRESS_MIMETYPES either.
    "COMPRESS_STREAMS": False,
}
# Which attribute of the settings object (pigallery.config.Settings) sets which config key.
FROM_SETTINGS = {
    "redis_url": "REDIS_URL",
    "key_prefix": "KEY_PREFIX",
    "api_token": "API_TOKEN",
    "page_size": "PAGE_SIZE",
    "max_page_size": "MAX_PAGE_SIZE",
    "secret_key": "SECRET_KEY",
    "timelapse_ttl": "TIMELAPSE_TTL",
    "timelapse_max_bytes": "TIMELAPSE_MAX_BYTES",
    "timelapse_max_waiting": "TIMELAPSE_MAX_WAITING",
}
# Signs cursors of apps built without settings (tests, scripts), made per process, not a constant
# in the code: apps of one test process accept each other's cursors, as workers on one data dir do.
_PROCESS_KEY = secrets.token_urlsafe(32)


class App(Flask):
    """Flask, sending static files as one body so that they get compressed."""

    def send_static_file(self, filename: str) -> Response:
        response = super().send_static_file(filename)
        if response.status_code == 200:
            # werkzeug sends a file as a stream, and COMPRESS_STREAMS=False leaves streams alone;
            # reading it (Bulma's CSS is 678 kB) makes it a body Flask-Compress compresses.
            response.make_sequence()
        return response


def create_app(settings=None, test_config: dict | None = None) -> Flask:
    """Create and configure the app from `settings`, then `test_config` on top (tests only).

    `settings` is a pigallery.config.Settings, or any object with the attributes FROM_SETTINGS
    names. Without it (tests, scripts), `test_config` must give REDIS_URL; the rest keep DEFAULTS.
    """
    if settings is not None and not all(hasattr(settings, name) for name in (*FROM_SETTINGS, "data_dir")):
        # The first argument used to be test_config: a dict here would fail later and obscurely.
        raise TypeError(f"create_app() takes Settings first, got {type(settings).__name__}; pass overrides as test_config=")
    app = App(__name__)
    app.config.from_mapping(DEFAULTS)
    for name, key in FROM_SETTINGS.items() if settings is not None else ():
        if getattr(settings, name) is not None:
            app.config[key] = getattr(settings, name)
    if test_config:
        app.config.update(test_config)
    if not app.config.get("REDIS_URL"):
        raise TypeError("create_app() needs settings, or test_config with REDIS_URL; under gunicorn use "
                        "'pigallery.wsgi:create_app()', which reads them")
    if not app.config["SECRET_KEY"]:
        # Read (or made) once, here: every worker and restart on this data dir signs alike.
        app.config["SECRET_KEY"] = load_secret_key(settings.data_dir) if settings is not None else _PROCESS_KEY

    from . import db, errors, security

    db.init_app(app)
    errors.init_app(app)
    security.init_app(app)  # the security headers, on every reply
    # One per app: Compress keeps the settings of the app it was last given on itself.
    Compress().init_app(app)

    from . import api, events, gallery, health
    from . import export

    app.register_blueprint(api.bp)
    app.register_blueprint(export.bp)  # GET /api/export.zip
    app.register_blueprint(events.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(gallery.bp)
    from .timelapse import bp as timelapse_bp
    app.register_blueprint(timelapse_bp)  # /api/timelapses
    return app
