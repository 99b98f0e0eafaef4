"""SIGKILL a writer in the middle of a load: every acknowledged event reaches the store once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from sqlalchemy import Engine

from steward.events import Shipper
from steward.events.spool import list_segments
from tests.unit.events._rows import audit_ids, usage_ids

WRITER = Path(__file__).with_name("_crash_writer.py")


def run_and_kill(spool_dir: Path, mode: str, ack: Path, after_s: float) -> None:
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), str(spool_dir), mode, str(ack)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while not (ack.exists() and ack.stat().st_size > 0):
            if proc.poll() is not None or time.monotonic() > deadline:
                _, err = proc.communicate(timeout=5)
                pytest.fail(f"writer did not start: {err.decode()}")
            time.sleep(0.01)
        time.sleep(after_s)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.parametrize("mode", ["fsync", "write"])
async def test_sigkill_loses_no_acknowledged_event(
    tmp_path: Path, engine: Engine, mode: str
) -> None:
    spool_dir, ack = tmp_path / "spool", tmp_path / "acked.txt"
    run_and_kill(spool_dir, mode, ack, after_s=0.5)
    acked = ack.read_bytes().split(b"\n")[:-1]  # drop a cut last line
    acked_ids = {x.decode() for x in acked}
    assert len(acked_ids) == len(acked) > 100
    assert len(list_segments(spool_dir)) > 1  # it rotated under load

    shipper = Shipper(spool_dir, engine, interval_s=0.05, batch=500)  # a restarted process
    assert await shipper.flush(30)

    stored = usage_ids(engine) + audit_ids(engine)
    assert len(stored) == len(set(stored))
    missing = acked_ids - set(stored)
    assert not missing, f"{len(missing)} acknowledged events lost"
    assert len(stored) >= len(acked_ids)
    assert list_segments(spool_dir) == []
    # Only a write the kill cut short may be dead-lettered, never an acknowledged event.
    if shipper.dead_lettered:
        for line in shipper.dead_letter_path.read_bytes().splitlines():
            entry = orjson.loads(line)
            assert entry["reason"].startswith("torn tail")
            assert not any(i.encode() in entry["line"].encode() for i in acked_ids)
