"""Settings read once from the environment (and an optional .env file).

The top layer's: the commands and the gunicorn factory (pigallery/wsgi.py) read them and hand
the values down; no module below pigallery/ imports this one (tests/test_layers.py).
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from models.db import DEFAULT_KEY_PREFIX

DEFAULT_PORT = 6399  # not 6379, so a system Redis keeps its port


def _number(name: str, default, kind: type = int):
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return kind(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a {'whole ' if kind is int else ''}number, got {raw!r}") from None


# Each setting's environment variable. Its default is the field's own, written once, in Settings
# (the web app's, in search_web.DEFAULTS); a variable that is unset or empty keeps it.
# REDIS_URL's default follows the port.
ENVIRONMENT = {
    "key_prefix": "PIGALLERY_KEY_PREFIX",
    "data_dir": "PIGALLERY_DATA_DIR",
    "redis_port": "PIGALLERY_REDIS_PORT",
    "device": "PIGALLERY_DEVICE",
    "capture_ttl": "PIGALLERY_CAPTURE_TTL",
    "image_ttl": "PIGALLERY_IMAGE_TTL",
    "api_token": "PIGALLERY_API_TOKEN",
    "page_size": "PIGALLERY_PAGE_SIZE",
    "max_page_size": "PIGALLERY_MAX_PAGE_SIZE",
    "secret_key": "PIGALLERY_SECRET_KEY",
    "camera": "PIGALLERY_CAMERA",
    "capture_interval": "PIGALLERY_CAPTURE_INTERVAL",
    "jpeg_quality": "PIGALLERY_JPEG_QUALITY",
    "resolution": "PIGALLERY_RESOLUTION",
    "spool_dir": "PIGALLERY_SPOOL_DIR",
    "spool_max_mb": "PIGALLERY_SPOOL_MAX_MB",
    "import_timezone": "PIGALLERY_IMPORT_TZ",
    "timelapse_ttl": "PIGALLERY_TIMELAPSE_TTL",
    "timelapse_max_bytes": "PIGALLERY_TIMELAPSE_MAX_BYTES",
    "timelapse_max_waiting": "PIGALLERY_TIMELAPSE_MAX_WAITING",
}


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with the defaults a household install wants."""

    redis_url: str = f"redis://127.0.0.1:{DEFAULT_PORT}/0"
    key_prefix: str = DEFAULT_KEY_PREFIX
    # Relative paths are relative to the directory the command was started in; they are made
    # absolute once, here: apt, redis-server and the spool run in other working directories
    # (a relative data dir once made apt read no sources list and fetch nothing).
    data_dir: Path = Path(".pigallery")
    # Port of the embedded server; None when not configured (then DEFAULT_PORT, or the
    # server already running in data_dir for `pigallery redis stop|status|cli`).
    redis_port: int | None = None
    device: str = field(default_factory=socket.gethostname)
    # Whole capture lifetime and the shorter lifetime of its full-size image (seconds).
    capture_ttl: int | None = None
    image_ttl: int | None = None
    # The web app's settings: None keeps the app's own default (search_web.DEFAULTS), so each
    # default is written once, beside the code that uses it.
    api_token: str | None = None
    page_size: int | None = None
    max_page_size: int | None = None
    # Signs API cursors so an edited one is refused; any value shared by all workers. Unset,
    # the web app makes a random one and keeps it in the data dir (search_web/secret_key.py).
    secret_key: str | None = None
    # Capture agent: camera backend, shot interval (s), JPEG quality, WIDTHxHEIGHT
    # ("" = the sensor's full size), the offline spool and its cap in MB.
    camera: str = "picamera2"
    capture_interval: float = 60.0
    jpeg_quality: int = 90
    resolution: str = ""
    spool_dir: Path | None = None
    spool_max_mb: int = 1024
    # IANA zone for imported photos whose EXIF time has no offset ("" = this machine's zone).
    import_timezone: str = ""
    # Time-lapses (web app; None: its default): seconds a finished video is kept, bytes all
    # videos may take together, and jobs that may wait per web process.
    timelapse_ttl: int | None = None
    timelapse_max_bytes: int | None = None
    timelapse_max_waiting: int | None = None

    def __post_init__(self):
        # Frozen: fields are set through object.__setattr__, and only here.
        object.__setattr__(self, "data_dir", Path(self.data_dir).expanduser().resolve())
        if self.spool_dir is not None:
            object.__setattr__(self, "spool_dir", Path(self.spool_dir).expanduser().resolve())

    @property
    def spool_path(self) -> Path:
        return self.spool_dir or self.data_dir / "spool"

    @classmethod
    def from_env(cls, env_file: str | os.PathLike | None = None) -> "Settings":
        """Build settings from PIGALLERY_* variables, REDIS_URL and a dotenv file.

        The file is `env_file`, else $PIGALLERY_ENV_FILE, else the nearest .env; variables
        already in the environment win over the file's.
        """
        from dotenv import find_dotenv, load_dotenv

        env_file = env_file or os.environ.get("PIGALLERY_ENV_FILE")
        if env_file:
            # Opened here, so a missing or unreadable file is an error, not silently skipped.
            try:
                with open(env_file, encoding="utf-8") as stream:
                    load_dotenv(stream=stream, override=False)
            except (OSError, UnicodeDecodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) else "not a text file"
                raise SystemExit(f"cannot read the settings file {env_file} (--env-file / PIGALLERY_ENV_FILE): {reason}") from None
        else:
            # usecwd: by default python-dotenv looks beside this module, which is
            # site-packages once pigallery is installed without -e.
            load_dotenv(find_dotenv(usecwd=True), override=False)
        values = {}
        for name, variable in ENVIRONMENT.items():
            raw = os.environ.get(variable, "")
            if not raw.strip():
                continue  # unset or empty: the field's own default
            kind = cls.__dataclass_fields__[name].type
            if "int" in kind or "float" in kind:
                values[name] = _number(variable, None, float if "float" in kind else int)
            else:
                values[name] = Path(raw) if "Path" in kind else raw
        port = values.get("redis_port")
        values["redis_url"] = os.environ.get("REDIS_URL") or f"redis://127.0.0.1:{port or DEFAULT_PORT}/0"
        return cls(**values)
