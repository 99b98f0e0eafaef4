"""The SLO scheduler runs on one replica at a time: two `steward slo worker` processes on the
same store, only one ticks; when it dies, the other takes over (PostgreSQL advisory lock, or a
file lock beside a SQLite database)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from steward.store.db import make_engine, session_factory, upgrade
from steward.store.models_slo import SloRun


def _worker(config: Path, tmp: Path, name: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "STEWARD_DATA_DIR": str(tmp / "data")}
    argv = [
        sys.executable,
        "-m",
        "steward",
        "slo",
        "worker",
        "--interval",
        "0.2",
        "-c",
        str(config),
    ]
    with (tmp / f"{name}.log").open("wb") as log:  # the child keeps its own descriptor
        return subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)


def _runs(url: str) -> list[tuple[str, datetime]]:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            rows = s.execute(select(SloRun.holder, SloRun.started_at).order_by(SloRun.started_at))
            return [(h, t) for h, t in rows]
    finally:
        engine.dispose()


def _wait_for(predicate: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.2)


def test_one_replica_at_a_time(store_url: str, tmp_path: Path) -> None:
    upgrade(store_url)
    config = tmp_path / "steward.yaml"
    config.write_text(f"database_url: {store_url}\nslo_worker:\n  interval_s: 0.2\n")
    a = _worker(config, tmp_path, "a")
    b = _worker(config, tmp_path, "b")
    try:
        logs = [tmp_path / "a.log", tmp_path / "b.log"]
        _wait_for(lambda: all("SLO worker" in p.read_text() for p in logs), 60)
        _wait_for(lambda: len(_runs(store_url)) >= 10, 60)
        time.sleep(1.0)  # both processes are up and competing by now
        first = _runs(store_url)
        holders = {h for h, _ in first}
        assert len(first) >= 10, (tmp_path / "a.log").read_text()
        assert len(holders) == 1, holders
        leader_pid = int(next(iter(holders)).rsplit(":", 1)[1])
        assert leader_pid in (a.pid, b.pid)
        leader, other = (a, b) if leader_pid == a.pid else (b, a)
        assert other.poll() is None, "the standby replica must still be running"
        leader.send_signal(signal.SIGKILL)  # no clean release: the session/file just goes away
        leader.wait(10)
        cut = len(first)
        _wait_for(lambda: bool({h for h, _ in _runs(store_url)[cut:]} - holders), 30)
        new_holders = {h for h, _ in _runs(store_url)[cut:]} - holders
        assert len(new_holders) == 1, new_holders
        assert next(iter(new_holders)).endswith(f":{other.pid}")
    finally:
        for p in (a, b):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(10)
