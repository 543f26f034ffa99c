"""REDIS_URL with TLS and credentials (as Redis Cloud gives them) reaches both model clients intact."""
from __future__ import annotations

import os

import pytest
import redis

import models
from models import Capture
from models import db as models_db
from pigallery.config import Settings


@pytest.fixture
def restore_binding():
    """Put the models back as they were: this test binds them to a host that does not exist."""
    meta = Capture._meta
    saved = (meta.database, meta.global_key_prefix, meta.index_name, models_db._raw)
    yield
    meta.database, meta.global_key_prefix, meta.index_name, models_db._raw = saved


@pytest.mark.parametrize("url, username, password, host, port, ssl", [
    ("rediss://capture:s3cret@redis-12345.c1.eu-west-1-2.ec2.cloud.example:12345/0",
     "capture", "s3cret", "redis-12345.c1.eu-west-1-2.ec2.cloud.example", 12345, True),
    # Percent-encoding lets a password hold URL characters.
    ("rediss://web:p%40ss%3Aw%2Frd@db.example:6380/0", "web", "p@ss:w/rd", "db.example", 6380, True),
    ("redis://admin:admin-dev-only@redis:6379/0", "admin", "admin-dev-only", "redis", 6379, False),
])
def test_url_credentials_and_tls_reach_both_clients(monkeypatch, restore_binding, url, username, password, host, port, ssl):
    monkeypatch.setenv("REDIS_URL", url)
    settings = Settings.from_env()
    assert settings.redis_url == url
    models.bind(settings.redis_url, settings.key_prefix)  # connects lazily: nothing is dialled here

    for client in (models_db.decoding(), models_db.raw()):
        pool = client.connection_pool
        kwargs = pool.connection_kwargs
        assert (kwargs["username"], kwargs["password"], kwargs["host"], kwargs["port"]) == (username, password, host, port)
        assert issubclass(pool.connection_class, redis.SSLConnection) is ssl
    assert models_db.decoding().connection_pool.connection_kwargs["decode_responses"] is True
    assert models_db.raw().connection_pool.connection_kwargs.get("decode_responses", False) is False


def test_tls_options_in_the_url_are_kept(restore_binding):
    # Redis Cloud's CA bundle, or a self-signed server, is named in the URL itself.
    models.bind("rediss://capture:pw@db.example:6380/0?ssl_ca_certs=/etc/pigallery/ca.pem&ssl_cert_reqs=required", "pigallery")
    kwargs = models_db.raw().connection_pool.connection_kwargs
    assert kwargs["ssl_ca_certs"] == "/etc/pigallery/ca.pem"
    assert kwargs["ssl_cert_reqs"] == "required"


def test_web_app_keeps_the_tls_url(monkeypatch, restore_binding):
    from pigallery.wsgi import create_app

    url = "rediss://web:s3cret@db.example:6380/0"
    monkeypatch.setenv("REDIS_URL", url)
    app = create_app()  # as gunicorn builds it: settings from the environment
    assert app.config["REDIS_URL"] == url
    assert issubclass(models_db.raw().connection_pool.connection_class, redis.SSLConnection)


def test_dotenv_in_the_working_directory_is_read(tmp_path, monkeypatch):
    # Where `pigallery` runs from (a server's compose folder), not where it is installed.
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("REDIS_URL=rediss://web:from-dotenv@db.example:6380/0\n")
    try:
        assert Settings.from_env().redis_url == "rediss://web:from-dotenv@db.example:6380/0"
    finally:
        # load_dotenv wrote it to os.environ itself; monkeypatch then restores the original.
        os.environ.pop("REDIS_URL", None)
