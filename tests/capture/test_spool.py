"""The on-disk spool alone: atomic entries, order, size cap, damage handling."""
from __future__ import annotations

import logging
import os

import pytest

from capture.spool import CorruptEntry, Entry, Spool, SpoolBusy


def entry(i: int, size: int = 1000) -> Entry:
    return Entry(f"PK{i:04d}", {"taken_at": f"2026-01-01T00:00:{i:02d}+00:00", "trigger": "interval"},
                 bytes([i % 256]) * size, b"t" * 10)


def test_round_trip_in_capture_order_across_reopen(tmp_path):
    spool = Spool(tmp_path, 10**9)
    for i in range(5):
        spool.put(entry(i))
    spool.close()
    # A restarted agent appends after what is already there.
    spool = Spool(tmp_path, 10**9)
    spool.put(entry(5))
    seen = []
    while (name := spool.oldest()) is not None:
        got = spool.read(name)
        seen.append(got.pk)
        assert got == entry(int(got.pk[2:]))
        spool.remove(name)
    assert seen == [f"PK{i:04d}" for i in range(6)]
    assert len(spool) == 0 and spool.size == 0


def test_leftover_temp_file_from_a_power_cut_is_discarded(tmp_path, caplog):
    spool = Spool(tmp_path, 10**9)
    spool.put(entry(1))
    torn = entry(2).encode()[:500]
    (tmp_path / ".000000000001-PK0002.entry.tmp").write_bytes(torn)
    assert len(Spool(tmp_path, 10**9, owner=False)) == 1  # --status leaves a running agent's temp files alone
    assert list(tmp_path.glob(".*.tmp"))
    spool.close()
    with caplog.at_level(logging.WARNING):
        spool = Spool(tmp_path, 10**9)
    assert len(spool) == 1 and not list(tmp_path.glob(".*.tmp"))
    assert "write cut short" in caplog.text


def test_cap_drops_oldest_and_logs_it(tmp_path, caplog):
    one = len(entry(0).encode())
    spool = Spool(tmp_path, max_bytes=one * 3)
    with caplog.at_level(logging.WARNING):
        for i in range(5):
            spool.put(entry(i))
    assert [spool.read(n).pk for n in sorted(os.listdir(tmp_path)) if n.endswith(".entry")] == ["PK0002", "PK0003", "PK0004"]
    assert "dropped oldest capture PK0000" in caplog.text and "dropped oldest capture PK0001" in caplog.text
    assert spool.size == one * 3


def test_cap_keeps_the_newest_even_if_alone_too_big(tmp_path):
    spool = Spool(tmp_path, max_bytes=10)
    spool.put(entry(1))
    spool.put(entry(2))
    assert [spool.read(spool.oldest()).pk] == ["PK0002"] and len(spool) == 1


@pytest.mark.parametrize("damage", [
    lambda b: b[:-1],                           # truncated
    lambda b: b[:40] + bytes([b[40] ^ 1]) + b[41:],  # one bit flipped by the SD card
    lambda b: b"garbage" * 10,                  # not an entry at all
    lambda b: b"",
])
def test_damaged_entry_is_detected(tmp_path, damage):
    spool = Spool(tmp_path, 10**9)
    name = spool.put(entry(1))
    path = tmp_path / name
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(CorruptEntry):
        spool.read(name)
    spool.quarantine(name, "test")
    assert spool.oldest() is None and (tmp_path / "bad" / name).exists()
    assert spool.status()["quarantined"] == 1


def test_status_reports_depth_and_times(tmp_path):
    spool = Spool(tmp_path, 10**6)
    for i in range(3):
        spool.put(entry(i))
    info = spool.status()
    assert info["entries"] == 3 and info["bytes"] == spool.size
    assert info["oldest"].startswith("2026-01-01T00:00:00") and info["newest"].startswith("2026-01-01T00:00:02")


def test_one_agent_per_spool(tmp_path):
    with Spool(tmp_path, 10**9):
        with pytest.raises(SpoolBusy, match="another capture agent"):
            Spool(tmp_path, 10**9)
    Spool(tmp_path, 10**9).close()  # free again once the first one closed
