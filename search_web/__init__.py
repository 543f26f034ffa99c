"""The Flask app: JSON search API and the browser gallery."""
from __future__ import annotations

from flask import Flask, Response
from flask_compress import Compress

from pigallery.config import Settings, load_secret_key


class App(Flask):
    """Flask, sending static files as one body so that they get compressed."""

    def send_static_file(self, filename: str) -> Response:
        response = super().send_static_file(filename)
        if response.status_code == 200:
            # werkzeug sends a file as a stream, and COMPRESS_STREAMS=False leaves streams alone;
            # reading it (Bulma's CSS is 678 kB) makes it a body Flask-Compress compresses.
            response.make_sequence()
        return response


def create_app(settings: Settings | None = None, test_config: dict | None = None) -> Flask:
    """Create and configure the app from `settings`, then `test_config` on top (tests only).

    `pigallery serve` passes the settings it built (honouring --env-file); without them, as
    under gunicorn's 'search_web:create_app()', they are read from the environment here, once.
    """
    if settings is not None and not isinstance(settings, Settings):
        # The first argument used to be test_config: a dict here would fail later and obscurely.
        raise TypeError(f"create_app() takes Settings first, got {type(settings).__name__}; pass overrides as test_config=")
    if settings is None:
        settings = Settings.from_env()
    app = App(__name__)
    app.config.from_mapping(
        REDIS_URL=settings.redis_url,
        KEY_PREFIX=settings.key_prefix,
        API_TOKEN=settings.api_token,
        PAGE_SIZE=settings.page_size,
        MAX_PAGE_SIZE=settings.max_page_size,
        SECRET_KEY=settings.secret_key,
        TIMELAPSE_TTL=settings.timelapse_ttl,
        TIMELAPSE_MAX_BYTES=settings.timelapse_max_bytes,
        TIMELAPSE_MAX_WAITING=settings.timelapse_max_waiting,
        # A Server-Sent Events stream holds a worker: heartbeat to notice gone clients,
        # and end after a while so the browser's EventSource reconnects elsewhere.
        EVENTS_HEARTBEAT=15.0,
        EVENTS_MAX_SECONDS=300.0,
        # A compressor holds output back until it has enough, which would stall /api/events:
        # streamed replies go out as they are. Images are not in COMPRESS_MIMETYPES either.
        COMPRESS_STREAMS=False,
    )
    if test_config:
        app.config.update(test_config)
    if not app.config["SECRET_KEY"]:
        # Read (or made) once, here: every worker and restart on this data dir signs alike.
        app.config["SECRET_KEY"] = load_secret_key(settings.data_dir)

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
