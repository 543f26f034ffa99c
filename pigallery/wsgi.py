"""The gunicorn entry point: `gunicorn -c gunicorn.conf.py ... 'pigallery.wsgi:create_app()'`.

Each worker reads the settings here, once (PIGALLERY_ENV_FILE, else ./.env, under the
environment), and gives them to the app, which reads no environment itself: the same path
`pigallery serve` takes, so both serve the same settings.
"""
from __future__ import annotations

from flask import Flask

import search_web

from .config import Settings


def create_app(env_file: str | None = None) -> Flask:
    return search_web.create_app(Settings.from_env(env_file))
