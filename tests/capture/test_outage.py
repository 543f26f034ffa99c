"""Nothing lost when Redis is away: stop the server mid-run, kill the agent, bring both back."""
from __future__ import annotations

import datetime as dt
import logging
import os
import re
import subprocess
import threading
from pathlib import Path

import pytest

import models
from capture import agent
from capture.cameras import Frame, SyntheticCamera
from capture.spool import Entry, Spool
from capture.triggers import Triggers
from models import Capture
from pigallery import redis_server
from pigallery.capture_cli import CLIENT_OPTIONS
from tests.capture.agent_log import arrival_order, captured_order
from tests.helpers import PIGALLERY, wait_for

def assert_once_in_order(order, stored_pks):
    assert len(set(order)) == len(order)
    assert stored_pks() == sorted(order), "every capture stored exactly once"
    times = [Capture.load(pk).taken_at for pk in order]
    assert times == sorted(times), "capture order is time order"


def test_redis_stopped_mid_run_every_capture_arrives_once_in_order(own_server, key_prefix, tmp_path, caplog, stored_pks):
    models.bind(own_server.url, key_prefix, **CLIENT_OPTIONS)
    spool = Spool(tmp_path / "spool", 10**9)
    camera = SyntheticCamera((320, 240), detail=0.2)
    fire = Triggers(interval=0.1)
    caplog.set_level(logging.INFO, logger="pigallery.capture")

    def lines():
        return [r.getMessage() for r in caplog.records]

    with agent.Saver(spool, "pi-outage") as saver:
        loop = threading.Thread(target=agent.run, args=(camera, fire, saver), kwargs={"count": 40})
        loop.start()
        wait_for(lambda: len(arrival_order(lines())) >= 5, what="first captures")
        redis_server.stop(own_server)
        wait_for(lambda: sum("spooled" in line for line in lines()) >= 8, what="spooling")
        redis_server.start(own_server)
        loop.join(60)
    order = captured_order(lines())
    assert len(order) == 40
    assert sum("spooled" in line for line in lines()) >= 8
    assert arrival_order(lines()) == order, "Redis received the captures in capture order"
    assert len(spool) == 0
    assert_once_in_order(order, stored_pks)


def test_agent_killed_during_outage_loses_nothing(own_server, key_prefix, tmp_path, stored_pks):
    models.bind(own_server.url, key_prefix)  # for the checks; the agents bind in their own process
    spool_dir = tmp_path / "spool"
    env = {**os.environ, "REDIS_URL": own_server.url, "PIGALLERY_KEY_PREFIX": key_prefix,
           "PIGALLERY_SPOOL_DIR": str(spool_dir), "PIGALLERY_DEVICE": "pi-killed"}
    logs = [tmp_path / "run1.log", tmp_path / "run2.log"]

    def start(log: Path, *extra):
        args = [str(PIGALLERY), "capture", "--camera", "synthetic", "--resolution", "320x240", "--interval", "0.1", *extra]
        return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=log.open("w"))

    def text(log: Path) -> list[str]:
        return log.read_text().splitlines() if log.exists() else []

    first = start(logs[0])
    try:
        wait_for(lambda: len(arrival_order(text(logs[0]))) >= 3, what="first agent storing")
        redis_server.stop(own_server)
        wait_for(lambda: len(re.findall("spooled", "\n".join(text(logs[0])))) >= 5, what="first agent spooling")
    finally:
        first.kill()  # SIGKILL: no clean-up, as a power cut or OOM kill would do
        first.wait()
    # What the first agent took: what reached Redis before the outage, then the spool
    # (read from disk: the kill may have cut the log line of the last spooled capture).
    taken = arrival_order(text(logs[0]))
    taken += [name.split("-", 1)[1][:-6] for name in sorted(os.listdir(spool_dir)) if name.endswith(".entry")]
    assert len(taken) >= 8

    second = start(logs[1], "--count", "40")
    try:
        wait_for(lambda: len(re.findall("spooled", "\n".join(text(logs[1])))) >= 3, what="second agent spooling")
        redis_server.start(own_server)
        assert second.wait(60) == 0
    finally:
        second.kill()
    order = taken + captured_order(text(logs[1]))
    assert len(order) == len(taken) + 40
    assert arrival_order(text(logs[0])) + arrival_order(text(logs[1])) == order
    assert not [n for n in os.listdir(spool_dir) if n.endswith(".entry")]
    assert_once_in_order(order, stored_pks)


def test_lost_acknowledgement_does_not_duplicate(store, jpeg, tmp_path, stored_pks):
    from models import images

    image = jpeg((320, 240))
    entry = Entry("01JAAAAAAAAAAAAAAAAAAAAAAA", {"device": "pi", "taken_at": "2026-05-01T10:00:00+00:00",
                                                 "trigger": "interval", "lux": 12.5}, image, images.thumbnail(image))
    agent.write(entry, agent.Lifetimes())  # Redis stored it, but the agent never heard back...
    spool = Spool(tmp_path, 10**9)
    spool.put(entry)  # ...so it spooled it, and drains it again
    assert agent.Drainer(spool, agent.Lifetimes()).drain_one() is True
    assert stored_pks() == [entry.pk]
    assert Capture.read_binary(entry.pk) == image and Capture.load(entry.pk).lux == 12.5


def test_entry_redis_rejects_is_set_aside_and_the_queue_moves_on(store, jpeg, tmp_path, stored_pks, caplog):
    image = jpeg((320, 240))
    spool = Spool(tmp_path, 10**9)
    meta = {"device": "pi", "taken_at": "2026-05-01T10:00:00+00:00", "trigger": "interval"}
    spool.put(Entry("01JBBBBBBBBBBBBBBBBBBBBBBB", {**meta, "trigger": "sneeze"}, image, image))
    spool.put(Entry("01JCCCCCCCCCCCCCCCCCCCCCCC", meta, image, image))
    drainer = agent.Drainer(spool, agent.Lifetimes())
    assert drainer.drain_one() and drainer.drain_one() and drainer.drain_one() is None
    assert stored_pks() == ["01JCCCCCCCCCCCCCCCCCCCCCCC"]
    assert spool.status()["quarantined"] == 1 and "trigger must be one of" in caplog.text


def spooled(pk: str, image: bytes) -> Entry:
    return Entry(pk, {"device": "pi", "taken_at": f"2026-05-01T10:00:{int(pk[-1], 16):02d}+00:00", "trigger": "interval"},
                 image, image)


def test_entry_deleted_while_queued_is_dropped_and_the_queue_moves_on(store, jpeg, tmp_path, stored_pks, caplog):
    image = jpeg((160, 120))
    spool = Spool(tmp_path, 10**9)
    gone = spool.put(spooled("01JDDDDDDDDDDDDDDDDDDDDDD1", image))
    (tmp_path / gone).unlink()  # a person clearing the folder while the agent runs
    spool.put(spooled("01JDDDDDDDDDDDDDDDDDDDDDD2", image))
    with agent.Saver(spool, "pi") as saver:
        wait_for(lambda: stored_pks() == ["01JDDDDDDDDDDDDDDDDDDDDDD2"], timeout=10, what="the entry behind the vanished one")
        # New captures go straight to Redis again, not into a stuck spool.
        pk = saver.save(Frame(image, dt.datetime.now(dt.timezone.utc)), "manual")
    assert stored_pks() == sorted(["01JDDDDDDDDDDDDDDDDDDDDDD2", pk]) and len(spool) == 0
    assert "vanished before it was stored" in caplog.text


def directory_instead_of_file(spool, name, monkeypatch):
    (spool.folder / name).unlink()
    (spool.folder / name).mkdir()  # reading it raises IsADirectoryError, an OSError nobody expects


def write_has_a_bug(spool, name, monkeypatch):
    real = agent.write

    def write(entry, lifetimes):
        if entry.pk.endswith("1"):
            raise KeyError("a bug")
        return real(entry, lifetimes)

    monkeypatch.setattr(agent, "write", write)


@pytest.mark.parametrize("break_entry", [directory_instead_of_file, write_has_a_bug])
def test_unexpected_error_sets_the_entry_aside_and_the_drainer_lives_on(store, jpeg, tmp_path, stored_pks, caplog, monkeypatch,
                                                                        break_entry):
    image = jpeg((160, 120))
    spool = Spool(tmp_path, 10**9)
    bad = spool.put(spooled("01JEEEEEEEEEEEEEEEEEEEEEE1", image))
    spool.put(spooled("01JEEEEEEEEEEEEEEEEEEEEEE2", image))
    break_entry(spool, bad, monkeypatch)
    with agent.Saver(spool, "pi") as saver:
        wait_for(lambda: stored_pks() == ["01JEEEEEEEEEEEEEEEEEEEEEE2"], timeout=10, what="the entry behind the bad one")
        assert saver.drainer.is_alive()
    assert (tmp_path / "bad" / bad).exists() and spool.status()["quarantined"] == 1 and len(spool) == 0
    logged = [r for r in caplog.records if r.exc_info and bad in r.getMessage()]
    assert logged, "the unexpected error is logged with its traceback"
