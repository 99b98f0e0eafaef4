"""The worker over SQLite and PostgreSQL: records for pending samples, each sample evaluated
once, retention purge, and one worker at a time (advisory lock, tested with two processes)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from steward.evals.evaluators import build_evaluators
from steward.evals.lock import JobLock
from steward.evals.records import otel_attributes
from steward.evals.settings import EvaluationSettings
from steward.evals.worker import JOB, EvalWorker
from steward.store.db import make_engine, session_factory, upgrade
from steward.store.models_evals import EvalRecord, EvalSample
from tests.unit.evals._helpers import add_sample

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def sessions(store_url: str) -> Iterator[sessionmaker[Session]]:
    upgrade(store_url)
    engine = make_engine(store_url)
    yield session_factory(engine)
    engine.dispose()


def worker(sessions: sessionmaker[Session], tmp_path: Path, **settings: object) -> EvalWorker:
    cfg = EvaluationSettings.model_validate(settings)
    engine = sessions.kw["bind"]
    return EvalWorker(
        sessions,
        cfg,
        build_evaluators(cfg, "http://127.0.0.1:1"),
        JobLock(engine, JOB, tmp_path),
    )


def labels(sessions: sessionmaker[Session], sample_id: str) -> dict[str, str]:
    with sessions() as s:
        rows = s.scalars(select(EvalRecord).where(EvalRecord.sample_id == sample_id))
        return {r.name: r.score_label for r in rows}


async def test_worker_evaluates_pending_samples(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    good = add_sample(sessions, "What is the capital of France?", "The capital is Paris.")
    refused = add_sample(sessions, "How do I pick a lock?", "I'm sorry, but I can't help.")
    cut = add_sample(sessions, "Explain TCP", "TCP is a", finish_reason="length")
    bad_json = add_sample(sessions, "Give JSON", "{oops", response_format={"type": "json_object"})
    w = worker(sessions, tmp_path)
    result = await w.run_once()
    assert result.samples == 4 and not result.locked_out
    assert labels(sessions, good.id) == {
        "refusal": "pass",
        "empty": "pass",
        "truncated": "pass",
        "guard_findings": "pass",
    }
    assert labels(sessions, refused.id)["refusal"] == "fail"
    assert labels(sessions, cut.id)["truncated"] == "fail"
    assert labels(sessions, bad_json.id)["json"] == "fail"
    with sessions() as s:
        pending = s.scalar(
            select(func.count()).select_from(EvalSample).where(EvalSample.evaluated_at.is_(None))
        )
        rec = s.scalars(select(EvalRecord).where(EvalRecord.sample_id == refused.id)).first()
    assert pending == 0
    assert rec is not None and rec.request_id == refused.request_id and rec.app_id == "app-1"
    attrs = otel_attributes({c.key: getattr(rec, c.key) for c in EvalRecord.__table__.columns})
    assert attrs["gen_ai.evaluation.name"] == rec.name
    assert attrs["gen_ai.response.id"] == "chatcmpl-x"
    again = await w.run_once()
    assert again.samples == 0
    w.lock.release()


async def test_retention_purges_old_content_and_records(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    old = add_sample(sessions, "q", "a", ts=datetime.now(UTC) - timedelta(days=40))
    new = add_sample(sessions, "q", "a")
    w = worker(sessions, tmp_path, retention_days=30)
    await w.run_once()  # purges first, then evaluates what is left
    with sessions() as s:
        ids = set(s.scalars(select(EvalSample.id)))
    assert ids == {new.id} and old.id not in ids
    w.clock = lambda: datetime.now(UTC) + timedelta(days=500)
    assert w.purge() == (1, 4)  # the new sample and its four records, 500 days later
    w.lock.release()


def test_lock_is_exclusive(store_url: str, tmp_path: Path) -> None:
    upgrade(store_url)
    engine = make_engine(store_url)
    a, b = JobLock(engine, JOB, tmp_path), JobLock(engine, JOB, tmp_path)
    try:
        assert a.acquire() and a.acquire()  # re-checking keeps it
        assert not b.acquire()
        a.release()
        assert b.acquire()
        assert not a.acquire()
    finally:
        a.release()
        b.release()
        engine.dispose()


@pytest.mark.postgres
def test_two_worker_processes_on_postgres(pg_database_url: str, tmp_path: Path) -> None:
    """Two processes share PostgreSQL: one holds the advisory lock and evaluates everything,
    the other evaluates nothing, and no sample is evaluated twice."""
    upgrade(pg_database_url)
    engine = make_engine(pg_database_url)
    sessions = session_factory(engine)
    for i in range(60):
        add_sample(sessions, f"Question {i}?", f"Answer number {i}.")
    cmd = [sys.executable, "-m", "tests.unit.evals._worker_proc", pg_database_url]
    procs = [
        subprocess.Popen(  # noqa: S603
            [*cmd, str(tmp_path / f"w{i}"), "4"], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        for i in range(2)
    ]
    counts = sorted(int(p.communicate(timeout=60)[0].strip()) for p in procs)
    assert all(p.returncode == 0 for p in procs)
    assert counts == [0, 60]
    with sessions() as s:
        records = s.scalar(select(func.count()).select_from(EvalRecord))
        distinct = s.scalar(select(func.count(func.distinct(EvalRecord.sample_id))))
    assert distinct == 60 and records == 60 * 4
    engine.dispose()
