"""Wire the models to the app's Redis."""
from __future__ import annotations

from flask import Flask

import models


def init_app(app: Flask) -> None:
    """Bind the models to REDIS_URL; the client connects on first use, not here.

    The binding is the process's, not this app's: models/db.py says why and what follows.
    """
    models.bind(app.config["REDIS_URL"], app.config["KEY_PREFIX"])
