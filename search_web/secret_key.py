"""The key the API signs its page cursors with, when PIGALLERY_SECRET_KEY is not set.

A web concern: only the app signs cursors, so the key is made and read here, below the command.
"""
from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

SECRET_KEY_FILE = "secret_key"  # in the data dir


def load_secret_key(data_dir: Path) -> str:
    """Return the key kept in `data_dir`/secret_key, first making a random one (mode 0600) if there is none.

    A constant in the code would let anyone forge cursors. The new key is written under a
    temporary name and hard-linked into place; link() refuses to replace a file, so when
    gunicorn's workers start together one key wins for all, and none reads a half-written file.
    """
    path = Path(data_dir) / SECRET_KEY_FILE
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            # mkstemp makes the file readable by this user only.
            fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{SECRET_KEY_FILE}.")
            try:
                with os.fdopen(fd, "w", encoding="ascii") as out:
                    out.write(secrets.token_urlsafe(32) + "\n")
                    out.flush()
                    os.fsync(out.fileno())
                try:
                    os.link(temporary, path)
                except FileExistsError:
                    pass  # another worker got there first: its key is the one
            finally:
                os.unlink(temporary)
        key = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not a key this program made"
        raise SystemExit(f"cannot keep the API's cursor key in {path}: {reason}; set PIGALLERY_SECRET_KEY "
                         "or make the data directory (PIGALLERY_DATA_DIR) writable") from None
    if not key:
        raise SystemExit(f"{path} is empty: delete it to have a new cursor key made, or set PIGALLERY_SECRET_KEY")
    return key
