"""models.rollups, the write side: the counts every write keeps equal a brute-force count of the hashes.

Each test stores through the model (Capture.create, models.bulk.store_many, Capture.remove),
then recounts what is really stored (every live capture hash, read with HMGET) and compares it
with what the rollup keys hold: `count`, every series' samples per quarter hour, `bytes`, and the
expiry schedule. A quarter whose captures all left keeps a 0 sample (TS.ADD cannot delete one),
so samples are compared without their zeros.
"""
from __future__ import annotations

import datetime as dt
import random
import subprocess
import time
from collections import Counter

from click.testing import CliRunner
from ulid import ULID

import models
from index import rollups as index_rollups
from models import Capture, db, rollups
from models.bulk import store_many
from models.capture import TRIGGERS
from pigallery.cli import main
from tests.helpers import VENDOR, free_port, port_open, wait_for, write_hash

UTC = dt.timezone.utc
# Devices with the separators a series name holds (`:`) and the tag separators a device may contain.
DEVICES = ("pi-a", "pi b", "pi:c|x,y")
# Edges of what the model stores: the first and last seconds of years 1-9999, and 1970 itself.
EDGES = (dt.datetime(1, 1, 1, tzinfo=UTC), dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
         dt.datetime(1970, 1, 1, tzinfo=UTC), dt.datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC))


# Values at and beside the bands' edges, none, negative, tiny and past the last edge.
LUX = (None, 0.0, 1e-7, 0.999, 1.0, 4.5, 5.0, 99.99, 100.0, 19999.9, 20000.0, 99999.99, 1e5, 3.4e16, -5.0)
EXPOSURE = (None, 0, 9, 10, 99, 100, 19999, 20000, 66_000, 10_000_000, 30_000_000)
FIELDS = tuple(name for name, _, _ in rollups.BANDED)


def captures() -> dict[str, dict]:
    """Every live capture hash: id -> the fields the rollups count."""
    conn, prefix = db.raw(), Capture.make_primary_key("")
    found = {}
    for key in conn.scan_iter(match=prefix + "*", _type="HASH", count=1000):
        t, device, trigger, image, thumbnail, *banded = conn.hmget(key, "taken_at", "device", "trigger", "image_size",
                                                                   "thumbnail_size", *FIELDS)
        found[key.decode()[len(prefix):]] = {"t": float(t), "device": device.decode(), "trigger": trigger.decode(),
                                             "image": int(image), "thumbnail": int(thumbnail),
                                             **{name: None if value is None else value.decode()
                                                for name, value in zip(FIELDS, banded)}}
    return found


def band_of(field: str, stored: str | None) -> str | None:
    """The band of a stored banded field, by its definition: how many edges are at or below it."""
    if stored is None:
        return rollups.NO_VALUE
    value = float(stored)
    edges = next(edges for name, _, edges in rollups.BANDED if name == field)
    return None if value != value else str(sum(value >= edge for edge in edges))


def expected(live: dict[str, dict]) -> dict:
    """What the rollups must hold for these captures, counted by brute force."""
    series: dict[str, Counter] = {}
    banded = Counter()
    for c in live.values():
        bands = {field: band_of(field, c[field]) for field in FIELDS}
        banded.update(field for field, band in bands.items() if band is not None)
        for size, prefix in rollups.LEVELS:  # every level counts every capture, in its own bucket
            when = rollups.stamp(c["t"], size)
            names = [rollups.base() + "all", rollups.series_name(c["device"], c["trigger"])]
            for field, band in bands.items():
                if band is not None:
                    names += [rollups.banded_name(field, c["device"], c["trigger"], band),
                              rollups.band_name(field, band)]
            for name in names:
                series.setdefault(rollups.at_level(name, prefix), Counter())[when] += 1
    return {"count": len(live), **{f"{field}-count": banded[field] for field in FIELDS}, "series": series,
            "bytes": {"image": sum(c["image"] for c in live.values()),
                      "thumbnail": sum(c["thumbnail"] for c in live.values())}}


def held() -> dict:
    """What the rollup keys hold, in expected()'s shape (zero samples and empty series left out)."""
    conn, base = db.raw(), rollups.base()
    series = {}
    listed = {n.decode() for field in ("", *(f"{name}-" for name in FIELDS))
              for n in conn.smembers(base + field + "series")}
    # Every band's own series, as stored.
    listed |= {name for name in rollups.names() for _, p, _ in rollups.BANDED if name.startswith(f"{base}{p}b:")}
    names = {rollups.at_level(name, prefix) for name in listed | {base + "all"} for _, prefix in rollups.LEVELS}
    for name in names:
        samples = Counter({int(ts): int(float(v)) for ts, v in conn.execute_command("TS.RANGE", name, "-", "+")
                           if float(v) != 0})
        if samples:
            series[name] = samples
    image_bytes = conn.hgetall(base + "bytes")
    return {"count": int(conn.get(base + "count") or 0),
            **{f"{field}-count": int(conn.get(f"{base}{field}-count") or 0) for field in FIELDS}, "series": series,
            "bytes": {k: int(image_bytes.get(k.encode(), 0)) for k in ("image", "thumbnail")}}


def schedule() -> tuple[dict[str, int], dict[str, tuple]]:
    """The expiry schedule: id -> when (ms), and id -> what each counted capture was counted as."""
    conn, base = db.raw(), rollups.base()
    expiring = {pk.decode(): int(score) for pk, score in conn.zrange(base + "expiring", 0, -1, withscores=True)}
    counted = {}
    for pk, info in conn.hgetall(base + "counted").items():
        mark, t, image, thumbnail, trigger, device = info.decode().split("\x1f")
        counted[pk.decode()] = (float(t), int(image), int(thumbnail), trigger, device, mark)
    return expiring, counted


def assert_true_to_the_hashes() -> dict[str, dict]:
    live = captures()
    assert held() == expected(live)
    assert rollups.counted() == len(live)
    return live


def test_counts_follow_stores_rewrites_deletes_and_expiries(store, jpeg):
    rng = random.Random(11)
    image = jpeg((64, 48))
    start = dt.datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # a DST night somewhere: quarters are UTC's
    rows = [{"device": rng.choice(DEVICES), "trigger": rng.choice(TRIGGERS), "lux": rng.choice(LUX),
             "exposure_us": rng.choice(EXPOSURE),
             "taken_at": EDGES[i] if i < len(EDGES) else start + dt.timedelta(seconds=rng.randrange(0, 3 * 86400)),
             **({"ttl": 3} if i % 5 == 1 else {"ttl": 3600} if i % 7 == 2 else {})} for i in range(120)]
    pks = store_many(rows, image, batch=50)
    singles = [Capture.create(image, device=rng.choice(DEVICES), trigger="manual", taken_at=start, ttl=ttl)
               for ttl in (None, 3, 3600)]
    assert_true_to_the_hashes()

    # A retried save counts once; one saved again under its id with another device and time moves.
    for i in range(0, 120, 9):
        Capture.create(image, pk=pks[i], **{k: v for k, v in rows[i].items()})
    moved = {**{k: v for k, v in rows[3].items() if k != "ttl"}, "device": "pi-moved", "lux": 123.0,
             "taken_at": rows[3]["taken_at"] + dt.timedelta(hours=5)}
    Capture.create(image, pk=pks[3], **moved)
    live = assert_true_to_the_hashes()
    assert live[pks[3]]["device"] == "pi-moved"

    # Deleted once: the second delete finds nothing and takes nothing out again.
    for pk in pks[10:40:3] + [singles[1].pk]:
        assert Capture.remove(pk) is True
        assert Capture.remove(pk) is False
    assert_true_to_the_hashes()

    short = {pk for pk, row in zip(pks, rows) if row.get("ttl") == 3} | {singles[1].pk}
    wait_for(lambda: not any(Capture.exists(pk) for pk in short), timeout=10, what="the 3 s TTLs to pass")
    time.sleep(0.01)  # a schedule entry is due once its millisecond has passed
    settled = rollups.settle(Capture.make_primary_key(""))
    removed = set(pks[10:40:3]) | {singles[1].pk}
    assert settled == len(short - removed)  # those deleted first were unscheduled by the delete
    assert rollups.settle(Capture.make_primary_key("")) == 0  # exactly once
    live = assert_true_to_the_hashes()

    expiring, counted = schedule()
    with_ttl = {pk for pk in live if db.raw().pexpiretime(Capture.make_primary_key(pk)) > 0}
    assert set(expiring) == with_ttl and not short & set(expiring) and set(counted) == set(live)
    for pk, fields in live.items():  # counted as stored
        marks = ",".join(band_of(field, fields[field]) for field in FIELDS)
        assert counted[pk][3:] == (fields["trigger"], fields["device"], "b" + marks)
    for pk in with_ttl:
        assert expiring[pk] == db.raw().pexpiretime(Capture.make_primary_key(pk))


def test_recount_gives_what_the_writes_kept(store, jpeg):
    rng = random.Random(12)
    image = jpeg((64, 48))
    rows = [{"device": rng.choice(DEVICES), "trigger": rng.choice(TRIGGERS), "lux": rng.choice(LUX),
             "exposure_us": rng.choice(EXPOSURE),
             "taken_at": dt.datetime(2020, 1, 1, tzinfo=UTC) + dt.timedelta(minutes=rng.randrange(0, 10**6)),
             **({"ttl": 3600} if i % 4 == 0 else {})} for i in range(150)]
    pks = store_many(rows, image)
    for pk in pks[::5]:
        Capture.remove(pk)
    before, schedule_before = held(), schedule()
    batches = []
    assert rollups.recount_all(batches.append, batch=40) == 120
    assert sum(batches) == 120 and max(batches) == 40  # progress told of each batch looked at
    assert held() == before and schedule() == schedule_before
    assert_true_to_the_hashes()


def test_hashes_written_around_the_model_are_counted_only_by_a_recount(store, jpeg):
    image = jpeg((64, 48))
    Capture.create(image, device="pi-a", trigger="motion", taken_at=dt.datetime(2026, 1, 1, tzinfo=UTC))
    when = dt.datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    prefix = Capture._meta.global_key_prefix
    good, bad = str(ULID()), {}
    write_hash(db.raw(), prefix, good, image, {"device": "pi-hostile"}, when)
    for name, fields in {"nan": {"taken_at": "nan"}, "inf": {"taken_at": "inf"}, "words": {"taken_at": "soon"},
                         "past-9999": {"taken_at": repr(float(rollups.END))}}.items():
        bad[name] = str(ULID())
        write_hash(db.raw(), prefix, bad[name], image, fields, when)
    no_device = str(ULID())
    write_hash(db.raw(), prefix, no_device, image, {}, when)
    db.raw().hdel(Capture.make_primary_key(no_device), "device")
    # A lux RediSearch does not read as a number (it leaves the hash out, measured): in no lux band,
    # in the exposure band for none.
    write_hash(db.raw(), prefix, str(ULID()), image, {"device": "pi-nan", "lux": "nan"}, when)

    assert rollups.counted() == 1  # HSET says nothing to the rollups
    assert rollups.recount_all() == 3
    assert held()["series"][rollups.series_name("pi-hostile", "interval")] == Counter({rollups.stamp(when.timestamp()): 1})
    assert held()["count"] == 3 and held()["bytes"]["image"] == 3 * len(image)
    assert held()["lux-count"] == 2 and not [name for name in held()["series"] if "pi-nan" in name and ":l:" in name]
    assert held()["exposure_us-count"] == 3


def test_rollups_from_before_the_lux_bands_serve_all_else_until_recounted(store, jpeg, redis_url, key_prefix):
    """An upgrade: rollups a version without bands wrote keep answering what they can, lux and exposure
    ranges come from RediSearch, and `pigallery index create` counts the bands."""
    from index import schema
    from index.filters import Filters

    image = jpeg((64, 48))
    rows = [{"device": "pi-a", "trigger": "interval", "lux": 10.0 * i, "exposure_us": 1000 * i,
             "taken_at": dt.datetime(2026, 1, 1, tzinfo=UTC) + dt.timedelta(minutes=7 * i)} for i in range(25)]
    pks = store_many(rows, image)
    conn, base = db.raw(), rollups.base()
    banded = tuple(f"{p}{kind}" for _, p, _ in rollups.BANDED for kind in (":", "b:"))
    for name in rollups.names():  # what that version left: no bands, and `counted` without them
        rest = name[len(base):].removeprefix("h:").removeprefix("d:")
        if rest.startswith(banded) or rest.removesuffix("-series").removesuffix("-count") in FIELDS:
            conn.delete(name)
    for pk, info in conn.hgetall(base + "counted").items():
        conn.hset(base + "counted", pk, info.split(b"\x1f", 1)[1])
    schema.wait_indexed()
    dim, quick = Filters(lux_min=0, lux_max=100), Filters(exposure_max=10_000)
    assert index_rollups.tally(Filters()).total == 25
    assert index_rollups.tally(dim) is None and index_rollups.tally(quick) is None
    assert Capture.remove(pks[0]) is True  # counted before the bands: leaves the counts it is in
    assert index_rollups.tally(Filters()).total == 24 and rollups.counted("lux") is None
    result = invoke("index", "create", REDIS_URL=redis_url, PIGALLERY_KEY_PREFIX=key_prefix)
    assert result.exit_code == 0 and "rollups: 24 captures counted" in result.output, result.output
    assert index_rollups.tally(dim).total == 10  # 10 to 100 lux: the bands up to 100, and 100 itself
    assert index_rollups.tally(quick).total == 10  # 1 to 10 ms: below 10,000 us, and 10,000 itself
    assert_true_to_the_hashes()


def settle_until(n: int, what: str) -> None:
    """Settle until `n` more captures were due (their expiry seconds may differ: several calls)."""
    done = []
    wait_for(lambda: sum(done) == n if done.append(rollups.settle(Capture.make_primary_key(""))) is None else 0,
             timeout=5, what=what)
    assert sum(done) == n


def test_settle_follows_a_ttl_moved_after_storing(store, jpeg):
    image = jpeg((64, 48))
    when = dt.datetime(2026, 5, 5, 5, 5, tzinfo=UTC)
    kept, later = (Capture.create(image, device="pi-a", trigger="gpio", taken_at=when, ttl=1) for _ in range(2))
    conn = db.raw()
    conn.persist(kept.key())
    conn.pexpire(later.key(), 2500)
    settle_until(2, "both to fall due")
    expiring, _ = schedule()
    # The persisted one stays counted and leaves the schedule; the other waits for its new time.
    assert expiring == {later.pk: conn.pexpiretime(later.key())}
    assert rollups.counted() == 2
    wait_for(lambda: not Capture.exists(later.pk), timeout=5, what="the moved TTL to pass")
    settle_until(1, "the moved TTL to fall due")
    expiring, counted = schedule()
    assert expiring == {} and set(counted) == {kept.pk}
    assert_true_to_the_hashes()


def test_a_ttl_dropped_on_a_rewrite_is_dropped_from_the_key(store, jpeg):
    image = jpeg((64, 48))
    when = dt.datetime(2026, 5, 5, 5, 5, tzinfo=UTC)
    first = Capture.create(image, device="pi-a", trigger="gpio", taken_at=when, ttl=1)
    Capture.create(image, pk=first.pk, device="pi-a", trigger="gpio", taken_at=when)
    assert db.raw().pttl(first.key()) == -1  # the second write has no TTL, and the key keeps none
    time.sleep(1.2)
    rollups.settle(Capture.make_primary_key(""))
    assert Capture.exists(first.pk) and len(assert_true_to_the_hashes()) == 1


def invoke(*args, **env):
    return CliRunner().invoke(main, list(args), env=env)


def test_index_rollups_command_counts_everything_again(store, jpeg, redis_url, key_prefix):
    image = jpeg((64, 48))
    rows = [{"device": "pi-a", "trigger": "interval", "taken_at": dt.datetime(2026, 1, 1, tzinfo=UTC)
             + dt.timedelta(minutes=7 * i)} for i in range(25)]
    store_many(rows, image)
    kept = held()
    rollups.clear()
    assert rollups.counted() is None
    result = invoke("index", "rollups", REDIS_URL=redis_url, PIGALLERY_KEY_PREFIX=key_prefix)
    assert result.exit_code == 0, result.output
    assert "rollups: 25 captures counted" in result.output
    assert held() == kept

    # `index create` counts only when the rollups are missing.
    result = invoke("index", "create", REDIS_URL=redis_url, PIGALLERY_KEY_PREFIX=key_prefix)
    assert result.exit_code == 0 and "rollups" not in result.output, result.output
    rollups.clear()
    result = invoke("index", "create", REDIS_URL=redis_url, PIGALLERY_KEY_PREFIX=key_prefix)
    assert result.exit_code == 0 and "rollups: 25 captures counted" in result.output, result.output
    assert held() == kept

    # Captures deleted with the index take their counts with them.
    result = CliRunner().invoke(main, ["index", "drop", "--delete-documents"], input="y\n",
                                env={"REDIS_URL": redis_url, "PIGALLERY_KEY_PREFIX": key_prefix})
    assert result.exit_code == 0 and "and its captures" in result.output, result.output
    assert captures() == {} and rollups.names() == []


def test_index_rollups_command_without_redis_is_a_clear_error():
    result = invoke("index", "rollups", REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    assert result.exit_code == 1
    assert "cannot reach Redis" in result.output and "Traceback" not in result.output


def test_without_timeseries_captures_are_stored_uncounted_and_answers_come_from_search(tmp_path, jpeg, key_prefix):
    """A Redis with search but no RedisTimeSeries (`TS.ADD` unknown): writes still succeed, whole, and
    facets, stats and totals are RediSearch's (the rollups' count differs from the index's)."""
    from index import facets, query, schema
    from index.filters import Filters
    from pigallery import redis_server

    server = redis_server.Server(port=free_port(), data_dir=tmp_path, vendor=VENDOR)
    bindir, modules = redis_server.stack_paths()
    proc = subprocess.Popen([str(bindir / "redis-server"), "--port", str(server.port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", str(tmp_path),
                             "--loadmodule", str(modules / "redisearch.so")],
                            env=redis_server.tool_env(server), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = server.url
        wait_for(lambda: port_open(server.port), timeout=20, what="redis-server without TimeSeries")
        models.bind(url, key_prefix)
        schema.migrate()
        Capture.check_write_access(ttl=60)  # TS.ADD unknown: no counting, and nothing to refuse
        image = jpeg((64, 48))
        when = dt.datetime(2026, 4, 1, 12, tzinfo=UTC)
        stored = [Capture.create(image, device=device, trigger="gpio", taken_at=when + dt.timedelta(minutes=i), ttl=ttl)
                  for i, (device, ttl) in enumerate([("pi-a", None), ("pi-b", 60), ("pi-a", None)])]
        store_many([{"device": "pi-b", "trigger": "motion", "taken_at": when}], image)
        assert all(Capture.exists(c.pk) for c in stored) and rollups.counted() is None
        assert Capture.remove(stored[0].pk) is True
        schema.wait_indexed()
        assert index_rollups.tally(Filters()) is None  # out of step: RediSearch answers
        answer = facets.facets(Filters())
        assert answer["total"] == 3 and answer["devices"] == [{"device": "pi-b", "count": 2}, {"device": "pi-a", "count": 1}]
        assert facets.stats()["total"] == 3 and query.page(Filters(), 2).total == 3
    finally:
        proc.terminate()
        proc.wait(timeout=10)
