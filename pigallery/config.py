"""Settings read once from the environment (and an optional .env file)."""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PORT = 6399  # not 6379, so a system Redis keeps its port


def _int(name: str, default: int | None) -> int | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, got {raw!r}") from None


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with the defaults a household install wants."""

    redis_url: str = f"redis://127.0.0.1:{DEFAULT_PORT}/0"
    key_prefix: str = "pigallery"
    data_dir: Path = Path(".pigallery")
    redis_port: int = DEFAULT_PORT
    device: str = field(default_factory=socket.gethostname)
    # Whole capture lifetime and the shorter lifetime of its full-size image (seconds).
    capture_ttl: int | None = None
    image_ttl: int | None = None
    api_token: str | None = None
    page_size: int = 48
    max_page_size: int = 200

    @classmethod
    def from_env(cls) -> "Settings":
        """Build settings from PIGALLERY_* variables, REDIS_URL and a .env file."""
        try:
            from dotenv import load_dotenv
        except ImportError:  # pragma: no cover - python-dotenv is a core dependency
            pass
        else:
            load_dotenv(override=False)
        env = os.environ.get
        port = _int("PIGALLERY_REDIS_PORT", DEFAULT_PORT)
        return cls(
            redis_url=env("REDIS_URL") or f"redis://127.0.0.1:{port}/0",
            key_prefix=env("PIGALLERY_KEY_PREFIX", "pigallery"),
            data_dir=Path(env("PIGALLERY_DATA_DIR", ".pigallery")),
            redis_port=port,
            device=env("PIGALLERY_DEVICE") or socket.gethostname(),
            capture_ttl=_int("PIGALLERY_CAPTURE_TTL", None),
            image_ttl=_int("PIGALLERY_IMAGE_TTL", None),
            api_token=env("PIGALLERY_API_TOKEN") or None,
            page_size=_int("PIGALLERY_PAGE_SIZE", 48),
            max_page_size=_int("PIGALLERY_MAX_PAGE_SIZE", 200),
        )
