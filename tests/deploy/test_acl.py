"""deploy/users.acl on a real Redis Stack: each user can do its job and nothing more."""
from __future__ import annotations

import datetime as dt
import re

import pytest
import redis

import models
from index import schema
from models import Capture, NotFoundError, events
from models.capture import IMAGE_FIELD, THUMBNAIL_FIELD
from pigallery import redis_server
from tests.deploy.stack import ACL_FILE, PREFIX

CHANNEL = f"{PREFIX}:captures:new"
KEY = f"{PREFIX}:capture:01J0000000000000000000000"
INDEX = f"{PREFIX}:capture:index"
OTHER_KEY = "other:capture:1"
ROLLUPS = f"{PREFIX}:rollup:"
ROLLUP_COUNT = f"{ROLLUPS}count"


@pytest.fixture
def index(url_as, admin):
    """The capture index on the ACL server, made by the admin user as in production."""
    models.bind(url_as("admin"), PREFIX)
    schema.migrate()
    yield
    models.bind(url_as("admin"), PREFIX)
    schema.drop(delete_documents=True)


@pytest.fixture
def stored(url_as, index, jpeg):
    """Two captures written by the capture user (with TTLs), as the Pi writes them."""
    models.bind(url_as("capture"), PREFIX)
    now = dt.datetime.now(dt.timezone.utc)
    return [
        Capture.create(jpeg(when=now), device=f"pi-{i}", taken_at=now - dt.timedelta(minutes=i),
                       trigger="interval", ttl=3600, image_ttl=600)
        for i in range(2)
    ]


def denials(admin, user: str) -> list[str]:
    """Commands, keys or channels the server refused `user` since the log was reset."""
    return [entry["object"] for entry in admin.acl_log() if entry["username"] == user]


# What each user must not do: read images, search, list, delete, write elsewhere, administer.
REFUSED = {
    "capture": [
        ("FLUSHALL",),
        ("FLUSHDB",),
        ("KEYS", "*"),
        ("SCAN", "0"),
        ("FT.SEARCH", INDEX, "*"),
        ("FT.AGGREGATE", INDEX, "*"),
        ("FT._LIST",),
        ("FT.DROPINDEX", INDEX),
        ("HGET", KEY, IMAGE_FIELD),
        ("HGETALL", KEY),
        ("HMGET", KEY, "device"),
        ("DEL", KEY),
        ("UNLINK", KEY),
        ("HDEL", KEY, IMAGE_FIELD),
        ("RENAME", KEY, f"{KEY}x"),
        ("CONFIG", "GET", "*"),
        ("ACL", "LIST"),
        ("INFO", "keyspace"),
        ("SUBSCRIBE", CHANNEL),
        ("PUBLISH", "other:channel", "x"),
        ("HSET", OTHER_KEY, "device", "x"),
        ("SET", f"{PREFIX}:capture:x", "1"),
        # Only capture ids: a key name the gallery would have to page past is refused at the door.
        ("HSET", f"{PREFIX}:capture:<script>window.pwned=1</script>", "device", "x"),
        ("HSET", f"{PREFIX}:capture:{'u' * 26}", "device", "x"),
        ("EVAL", "return 1", "0"),
        # The rollups (models.rollups) are written by its scripts only: no reads, no deletes.
        ("GET", ROLLUP_COUNT),
        ("DEL", ROLLUP_COUNT),
        ("TS.RANGE", f"{ROLLUPS}all", "-", "+"),
        ("ZRANGEBYSCORE", f"{ROLLUPS}expiring", "-inf", "+inf"),
        ("HGET", f"{PREFIX}:rollup", "x"),
    ],
    "web": [
        ("HSET", KEY, "device", "x"),
        ("HDEL", KEY, IMAGE_FIELD),
        ("EXPIRE", KEY, "1"),
        ("HPEXPIREAT", KEY, "1", "FIELDS", "1", IMAGE_FIELD),
        ("SET", f"{PREFIX}:capture:x", "1"),
        ("FLUSHALL",),
        ("KEYS", "*"),
        ("SCAN", "0"),
        ("FT.CREATE", f"{PREFIX}:capture:x", "SCHEMA", "a", "TEXT"),
        ("FT.DROPINDEX", INDEX),
        ("FT.ALTER", INDEX, "SCHEMA", "ADD", "b", "TEXT"),
        ("FT.SEARCH", "other:index", "*"),
        ("HGET", OTHER_KEY, "device"),
        ("DEL", OTHER_KEY),
        ("PUBLISH", CHANNEL, "x"),
        ("CONFIG", "SET", "appendonly", "no"),
        ("ACL", "LIST"),
        ("SHUTDOWN",),
        ("DEL", ROLLUP_COUNT),
        ("SET", ROLLUP_COUNT, "0"),
        ("TS.DEL", f"{ROLLUPS}all", "-", "+"),
    ],
}


@pytest.mark.parametrize("user, command", [(user, cmd) for user, cmds in REFUSED.items() for cmd in cmds])
def test_user_is_refused(url_as, admin, user, command):
    conn = redis.Redis.from_url(url_as(user))
    with pytest.raises(redis.exceptions.NoPermissionError):
        conn.execute_command(*command)
    assert denials(admin, user)


@pytest.mark.parametrize("script, keys", [
    ("return redis.call('FLUSHALL')", []),
    ("return redis.call('HSET', KEYS[1], 'device', 'x')", [KEY]),
])
def test_web_scripts_are_held_to_the_web_users_acl(url_as, script, keys):
    # EVAL is the time-lapse store's (a selector on pigallery:timelapse*): a script runs with
    # the user's own permissions, so it reaches nothing the user may not.
    conn = redis.Redis.from_url(url_as("web"))
    with pytest.raises(redis.ResponseError, match="ACL failure in script|No permissions to access a key"):
        conn.eval(script, len(keys), *keys)


@pytest.mark.parametrize("url", [
    "redis://127.0.0.1:{port}/0",  # the default user, off
    "redis://web:wrong@127.0.0.1:{port}/0",
    "redis://nobody:x@127.0.0.1:{port}/0",
])
def test_unknown_or_default_login_is_refused(acl_server, url):
    with pytest.raises(redis.AuthenticationError):
        redis.Redis.from_url(url.format(port=acl_server.port)).ping()


def announced(pubsub, n: int) -> list[dict]:
    """Collect `n` "new capture" messages (giving up after a few quiet seconds)."""
    got, quiet = [], 0
    for message in events.listen(pubsub, timeout=0.5):
        if message is None:
            quiet += 1
        else:
            got.append(message)
        if len(got) == n or quiet > 6:
            return got
    return got


@pytest.fixture
def listener(url_as):
    """A subscription to the "new capture" channel as the web user, as /api/events has."""
    models.bind(url_as("web"), PREFIX)
    # Held, because a client that is garbage collected closes its pool, pubsub included,
    # and the test rebinds the models as the capture user next.
    web = models.db.decoding()
    pubsub = events.subscribe()
    yield pubsub
    pubsub.close()
    web.close()


def test_capture_user_stores_and_announces_a_capture(url_as, admin, index, listener, jpeg):
    models.bind(url_as("capture"), PREFIX)
    image = jpeg(size=(1280, 960))
    taken = dt.datetime.now(dt.timezone.utc)
    capture = Capture.create(image, device="pi-door", taken_at=taken, trigger="motion", ttl=3600, image_ttl=600)

    assert events.publish(capture) == 1
    assert [m["id"] for m in announced(listener, 1)] == [capture.pk]
    stored = admin.hgetall(capture.key())
    assert stored[IMAGE_FIELD.encode()] == image
    assert stored[b"device"] == b"pi-door" and stored[b"trigger"] == b"motion"
    assert len(stored[THUMBNAIL_FIELD.encode()]) == capture.thumbnail_size > 0
    assert 3500 < admin.ttl(capture.key()) <= 3601  # EXPIREAT rounded up to its whole second
    assert 0 < admin.httl(capture.key(), IMAGE_FIELD)[0] <= 600
    # Nothing the save does was refused and silently swallowed (redis-om's INFO probe included).
    assert denials(admin, "capture") == []


def test_capture_agent_runs_as_the_capture_user(url_as, admin, index, listener, tmp_path):
    from capture.agent import Lifetimes, Saver, run
    from capture.cameras import SyntheticCamera
    from capture.spool import Spool

    models.bind(url_as("capture"), PREFIX)
    spool = Spool(tmp_path / "spool", max_bytes=100_000_000)
    with Saver(spool, "pi-garden", Lifetimes(ttl=3600, image_ttl=600)) as saver:
        shots = run(SyntheticCamera(size=(640, 480)), lambda: "interval", saver, count=3)

    assert shots == 3
    assert len(spool) == 0  # a refused command would have sent them to the spool
    ids = [m["id"] for m in announced(listener, 3)]
    assert len(ids) == 3
    for pk in ids:
        assert admin.hget(f"{PREFIX}:capture:{pk}", "device") == b"pi-garden"
        assert admin.hstrlen(f"{PREFIX}:capture:{pk}", IMAGE_FIELD) > 0
    assert denials(admin, "capture") == []


def test_capture_user_rewrites_its_capture_idempotently(url_as, admin, stored, jpeg):
    # A spooled capture retried after a lost acknowledgement: same pk, same hash, once.
    first = stored[0]
    again = Capture.create(jpeg(when=first.taken_at), pk=first.pk, device=first.device,
                           taken_at=first.taken_at, trigger="interval", ttl=3600)
    assert again.key() == first.key()
    captures = {k.decode() for k in admin.keys(f"{PREFIX}:capture:*") if b":index:" not in k}
    assert captures == {c.key() for c in stored}
    assert denials(admin, "capture") == []


def test_web_user_searches_reads_and_deletes(url_as, admin, stored):
    from index import query
    from index.filters import Filters

    models.bind(url_as("web"), PREFIX)
    assert schema.info()["num_docs"] == 2
    page = query.page(Filters(devices=("pi-1",)), limit=10)
    assert [item["id"] for item in page.items] == [stored[1].pk]
    assert query.count(Filters()) == 2

    loaded = Capture.load(stored[0].pk)
    assert loaded.device == stored[0].device and loaded.image_size == stored[0].image_size
    assert len(Capture.read_binary(stored[0].pk, IMAGE_FIELD)) == stored[0].image_size
    assert len(Capture.read_binary(stored[0].pk, THUMBNAIL_FIELD)) == stored[0].thumbnail_size
    projected = Capture.find(Capture.device == "pi-0").only("pk", "device").all()
    assert [c.pk for c in projected] == [stored[0].pk]

    assert Capture.remove(stored[0].pk) is True
    with pytest.raises(NotFoundError):
        Capture.load(stored[0].pk)
    assert admin.exists(stored[0].key()) == 0 and admin.exists(stored[1].key()) == 1
    assert denials(admin, "web") == []


def test_web_user_computes_facets_and_stats(url_as, admin, stored):
    from index import facets
    from index.filters import Filters

    models.bind(url_as("web"), PREFIX)
    got = facets.facets(Filters())
    assert sorted((d["device"], d["count"]) for d in got["devices"]) == [("pi-0", 1), ("pi-1", 1)]
    assert facets.stats()["total"] == 2
    assert denials(admin, "web") == []


def test_stop_works_when_the_default_user_is_off(tmp_path):
    # SHUTDOWN is refused without credentials; stop() must still end the server.
    from tests.helpers import embedded

    ctx = embedded(tmp_path, aclfile=ACL_FILE)
    server = ctx.__enter__()
    assert redis_server.running_pid(server)
    assert redis_server.stop(server, timeout=10)
    assert redis_server.running_pid(server) is None


def test_web_app_serves_everything_as_the_web_user(url_as, admin, stored):
    from search_web import create_app

    app = create_app(test_config={"TESTING": True, "REDIS_URL": url_as("web"), "KEY_PREFIX": PREFIX, "API_TOKEN": "t0ken"})
    client = app.test_client()
    first, second = stored
    assert client.get("/healthz").status_code == 200
    listing = client.get("/api/captures?limit=1")
    assert listing.status_code == 200 and listing.json["total"] == 2
    assert client.get(listing.json["items"][0]["image_url"]).status_code == 200
    assert client.get(f"/api/captures/{second.pk}/thumbnail").data == admin.hget(second.key(), THUMBNAIL_FIELD)
    assert client.get("/api/facets").status_code == 200
    assert client.get("/api/stats").json["total"] == 2
    assert client.delete(f"/api/captures/{first.pk}", headers={"Authorization": "Bearer t0ken"}).status_code == 204
    assert admin.exists(first.key()) == 0
    assert denials(admin, "web") == []


def test_capture_command_runs_as_the_capture_user(url_as, admin, index, tmp_path):
    from click.testing import CliRunner

    from pigallery.cli import main

    env = {"REDIS_URL": url_as("capture"), "PIGALLERY_KEY_PREFIX": PREFIX,
           "PIGALLERY_DATA_DIR": str(tmp_path), "PIGALLERY_DEVICE": "sim-1"}
    result = CliRunner().invoke(main, ["capture", "--camera", "synthetic", "--interval", "0.05", "--count", "2"], env=env)
    assert result.exit_code == 0, result.output
    keys = [k for k in admin.keys(f"{PREFIX}:capture:*") if b":index:" not in k]
    assert [admin.hget(k, "device") for k in keys] == [b"sim-1", b"sim-1"]
    assert denials(admin, "capture") == []


@pytest.mark.parametrize("user, exit_code, says", [
    ("admin", 0, "created"),
    # redis-om's Migrator swallows the refused FT.CREATE; the command must not claim success.
    ("web", 1, "may lack FT.CREATE"),
    ("capture", 1, "may not use search"),
])
def test_only_admin_creates_the_index(url_as, admin, user, exit_code, says):
    from click.testing import CliRunner

    from pigallery.cli import main

    models.bind(url_as("admin"), PREFIX)
    schema.drop()
    env = {"REDIS_URL": url_as(user), "PIGALLERY_KEY_PREFIX": PREFIX}
    result = CliRunner().invoke(main, ["index", "create"], env=env)
    assert (result.exit_code, says in result.output) == (exit_code, True), result.output
    assert "Traceback" not in result.output
    models.bind(url_as("admin"), PREFIX)
    assert schema.exists() is (exit_code == 0)
    schema.drop()


@pytest.mark.parametrize("args", [["index", "drop"], ["index", "rebuild"], ["seed", "--count", "1", "--size", "32x32"]])
def test_refused_admin_work_is_a_clear_error_and_changes_nothing(url_as, admin, args):
    from click.testing import CliRunner

    from pigallery.cli import main

    models.bind(url_as("admin"), PREFIX)
    schema.migrate()
    env = {"REDIS_URL": url_as("web"), "PIGALLERY_KEY_PREFIX": PREFIX}
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert "web-dev-only" not in result.output  # the password is redacted
    models.bind(url_as("admin"), PREFIX)
    assert schema.exists() and schema.info()["up_to_date"]
    schema.drop()


def counted(admin) -> int:
    """The rollups' capture count (other tests on this session server leave theirs: compare before/after)."""
    return int(admin.get(ROLLUP_COUNT) or 0)


@pytest.mark.parametrize("ttl, image_ttl", [(None, None), (3600, None), (3600, 600)])
def test_capture_users_write_check_passes_with_the_count_script(url_as, admin, ttl, image_ttl):
    models.bind(url_as("capture"), PREFIX)
    Capture.check_write_access(ttl=ttl, image_ttl=image_ttl)
    assert denials(admin, "capture") == []


def test_write_check_names_a_count_command_the_user_lacks(url_as, admin):
    """Inside MULTI only EVALSHA is checked; without the check a capture would be stored uncounted."""
    rules = next(line for line in ACL_FILE.read_text().splitlines() if line.startswith("user capture "))
    rules = re.sub(r"#[0-9a-f]{64}", ">counting-check", rules).replace(" +ts.add", "").split()[2:]
    admin.acl_setuser("no-ts-add", reset=True)
    admin.execute_command("ACL", "SETUSER", "no-ts-add", *rules)
    try:
        models.bind(url_as("no-ts-add", "counting-check"), PREFIX)
        with pytest.raises(redis.exceptions.NoPermissionError, match="TS.ADD on pigallery:rollup:all"):
            Capture.check_write_access()
    finally:
        admin.acl_deluser("no-ts-add")


def test_captures_stored_by_the_capture_user_are_counted(url_as, admin, index, jpeg):
    before = counted(admin)
    models.bind(url_as("capture"), PREFIX)
    now = dt.datetime.now(dt.timezone.utc)
    first = Capture.create(jpeg(when=now), device="pi-count", taken_at=now, trigger="motion", ttl=3600)
    Capture.create(jpeg(when=now), device="pi-count", taken_at=now, trigger="interval")
    assert counted(admin) == before + 2
    # A retried save, as the spool sends it, counts once.
    Capture.create(jpeg(when=now), pk=first.pk, device="pi-count", taken_at=now, trigger="motion", ttl=3600)
    assert counted(admin) == before + 2
    assert admin.zscore(f"{ROLLUPS}expiring", first.pk) == admin.pexpiretime(first.key())
    assert denials(admin, "capture") == []


def test_web_user_deletes_settles_and_reads_rollups(url_as, admin, index, jpeg):
    from models import rollups

    models.bind(url_as("capture"), PREFIX)
    now = dt.datetime.now(dt.timezone.utc)
    doomed = Capture.create(jpeg(when=now), device="pi-web", taken_at=now, trigger="gpio")
    brief = Capture.create(jpeg(when=now), device="pi-web", taken_at=now, trigger="gpio", ttl=1)
    before = counted(admin)

    models.bind(url_as("web"), PREFIX)
    assert Capture.remove(doomed.pk) is True and Capture.remove(doomed.pk) is False
    assert counted(admin) == before - 1
    deadline = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=5)
    settled = 0
    while settled == 0 and dt.datetime.now(dt.timezone.utc) < deadline:
        settled = rollups.settle(Capture.make_primary_key(""))
    assert settled >= 1 and counted(admin) == before - 2
    assert admin.zscore(f"{ROLLUPS}expiring", brief.pk) is None
    # What index.rollups reads, as the web user.
    web = models.db.raw()
    series = rollups.series_name("pi-web", "gpio")
    assert series.encode() in web.smembers(f"{ROLLUPS}series")
    assert web.execute_command("TS.RANGE", series, "-", "+") and web.execute_command("TS.REVRANGE", series, "-", "+")
    assert web.hgetall(f"{ROLLUPS}bytes") and int(web.get(ROLLUP_COUNT)) == before - 2
    assert web.time()
    assert denials(admin, "web") == []


def test_capture_user_cannot_read_a_captures_image(url_as, admin, stored):
    conn = redis.Redis.from_url(url_as("capture"))
    with pytest.raises(redis.exceptions.NoPermissionError):
        conn.hmget(stored[0].key(), IMAGE_FIELD)


def test_capture_user_reads_nothing_else_of_a_stored_capture(url_as, admin, stored):
    conn = redis.Redis.from_url(url_as("capture"))
    key = stored[0].key()  # a real capture id: the key pattern admits it
    for command in (("HGET", key, IMAGE_FIELD), ("HGETALL", key), ("HSTRLEN", key, IMAGE_FIELD), ("DEL", key),
                    ("HDEL", key, "device"), ("PEXPIRETIME", key), ("DUMP", key)):
        with pytest.raises(redis.exceptions.NoPermissionError):
            conn.execute_command(*command)
    assert admin.exists(key)
