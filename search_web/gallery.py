"""The browser gallery: one page; everything it shows comes from the JSON API."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template

from models.capture import TRIGGERS

from .export import MAX_IDS

bp = Blueprint("gallery", __name__)


@bp.get("/")
def index():
    """Render the gallery shell; the page fills itself from /api with JavaScript."""
    return render_template(
        "gallery.html",
        # Only whether a token exists reaches the page, never the token itself:
        # the viewer types it when deleting and the page keeps it for the tab.
        delete_enabled=bool(current_app.config.get("API_TOKEN")),
        page_size=current_app.config["PAGE_SIZE"],
        triggers=TRIGGERS,
        # A selection downloads as /api/export.zip?id=…: at most this many ids fit one URL.
        max_ids=MAX_IDS,
    )
