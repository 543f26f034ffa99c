"""A real Redis Stack started with the repo's ACL file, and the dev credentials for it."""
from __future__ import annotations

import pytest
import redis

from tests.deploy.stack import ACL_FILE, DEV_PASSWORDS
from tests.helpers import embedded


@pytest.fixture(scope="session")
def acl_server(tmp_path_factory):
    """An embedded Redis Stack that enforces deploy/users.acl."""
    with embedded(tmp_path_factory.mktemp("acl"), aclfile=ACL_FILE) as server:
        yield server


@pytest.fixture(scope="session")
def url_as(acl_server):
    """Return the acl_server URL logged in as one of the ACL users."""

    def url(user: str, password: str | None = None) -> str:
        return f"redis://{user}:{password or DEV_PASSWORDS[user]}@127.0.0.1:{acl_server.port}/0"

    return url


@pytest.fixture
def admin(url_as):
    """An admin client; clears the ACL log first so a test sees only its own denials."""
    conn = redis.Redis.from_url(url_as("admin"))
    conn.acl_log_reset()
    yield conn
    conn.close()
