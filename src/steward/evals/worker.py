"""The evaluation worker: reads sampled requests the shipper wrote (eval_samples rows not yet
evaluated), runs the configured evaluators, writes their records and marks the samples done in
one transaction, and purges content past the retention. One replica at a time holds the job
lock (PostgreSQL advisory lock, or a file lock on SQLite); the others wait their turn."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from steward.evals.content import last_user_text
from steward.evals.evaluators import (
    Evaluator,
    Outcome,
    Subject,
    Verdict,
    build_evaluators,
    close_evaluators,
)
from steward.evals.lock import JobLock
from steward.evals.records import export, insert_records, record_row
from steward.evals.settings import EvaluationSettings
from steward.store.models import App
from steward.store.models_evals import EvalRecord, EvalSample

if TYPE_CHECKING:
    from steward.config.settings import Runtime
    from steward.observability.tracing import Telemetry

log = logging.getLogger("steward.evals")

JOB = "eval-worker"
PURGE_EVERY_S = 3600.0
_CONCURRENCY = 8  # samples evaluated at once (judge calls overlap)


def subject_of(sample: EvalSample) -> Subject:
    """What the evaluators see of a sample."""
    messages = list(sample.messages or [])
    return Subject(
        question=last_user_text(messages),
        answer=sample.answer or "",
        messages=messages,
        finish_reason=sample.finish_reason,
        response_format=sample.response_format,
        latency_ms=sample.latency_ms,
        answer_findings=sample.answer_findings,
        model=sample.model,
        app_id=sample.app_id,
    )


async def judge_subject(
    evaluators: list[Evaluator], subject: Subject, app_name: str | None
) -> list[Outcome]:
    """Every applicable evaluator's labelled outcome for one subject; an evaluator that raises
    gives an `error` outcome instead of stopping the others."""
    out = []
    for ev in evaluators:
        if not ev.applies(subject, app_name):
            continue
        try:
            verdict = await ev.evaluate(subject)
        except Exception as exc:
            log.exception("evaluator %s failed", ev.name)
            verdict = Verdict(None, f"evaluator failed: {type(exc).__name__}: {exc}"[:500])
        if verdict is not None:
            out.append(ev.label(verdict))
    return out


@dataclass
class PassResult:
    """What one pass did."""

    samples: int = 0
    records: int = 0
    locked_out: bool = False


class EvalWorker:
    """Evaluates pending samples in batches while it holds the job lock."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: EvaluationSettings,
        evaluators: list[Evaluator],
        lock: JobLock,
        *,
        telemetry: Telemetry | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.evaluators = evaluators
        self.lock = lock
        self.telemetry = telemetry
        self.clock = clock
        self._last_purge = 0.0
        self.evaluated = 0

    # -- store access (worker threads) ------------------------------------------------------

    def _pending(self, limit: int) -> tuple[list[EvalSample], dict[str, str]]:
        with self.sessions() as s:
            rows = list(
                s.scalars(
                    select(EvalSample)
                    .where(EvalSample.evaluated_at.is_(None))
                    .order_by(EvalSample.ts, EvalSample.id)
                    .limit(limit)
                )
            )
            names: dict[str, str] = {}
            app_ids = {r.app_id for r in rows if r.app_id}
            if app_ids:
                found = s.execute(select(App.id, App.name).where(App.id.in_(app_ids)))
                names = {str(row[0]): str(row[1]) for row in found}
            return rows, names

    def _commit(self, ids: list[str], rows: list[dict[str, Any]], now: datetime) -> None:
        with self.sessions.begin() as s:
            conn = s.connection()
            insert_records(conn, rows)
            s.execute(
                update(EvalSample)
                .where(EvalSample.id.in_(ids), EvalSample.evaluated_at.is_(None))
                .values(evaluated_at=now)
            )

    def purge(self) -> tuple[int, int]:
        """Delete sampled content past `retention_days` and records past
        `records_retention_days`; returns (samples, records) deleted. Blocking."""
        now = self.clock()
        content_cutoff = now - timedelta(days=self.settings.retention_days)
        records_cutoff = now - timedelta(days=self.settings.records_retention_days)
        with self.sessions.begin() as s:
            samples = s.execute(delete(EvalSample).where(EvalSample.ts < content_cutoff))
            records = s.execute(delete(EvalRecord).where(EvalRecord.ts < records_cutoff))
        n_samples = int(getattr(samples, "rowcount", 0) or 0)
        n_records = int(getattr(records, "rowcount", 0) or 0)
        if n_samples or n_records:
            log.info("evaluation retention: purged %d samples and %d records", n_samples, n_records)
        return n_samples, n_records

    # -- one pass ---------------------------------------------------------------------------

    async def run_once(self) -> PassResult:
        """Take (or confirm) the lock, then evaluate one batch of pending samples."""
        if not await asyncio.to_thread(self.lock.acquire):
            return PassResult(locked_out=True)
        if time.monotonic() - self._last_purge > PURGE_EVERY_S or not self._last_purge:
            await asyncio.to_thread(self.purge)
            self._last_purge = time.monotonic()
        samples, names = await asyncio.to_thread(self._pending, self.settings.worker.batch)
        if not samples:
            return PassResult()
        gate = asyncio.Semaphore(_CONCURRENCY)

        async def one(sample: EvalSample) -> list[dict[str, Any]]:
            async with gate:
                outcomes = await judge_subject(
                    self.evaluators, subject_of(sample), names.get(sample.app_id or "")
                )
            now = self.clock()
            return [
                record_row(
                    o,
                    subject_key=f"sample:{sample.id}",
                    ts=now,
                    request_id=sample.request_id,
                    response_id=sample.response_id,
                    sample_id=sample.id,
                    sample_ts=sample.ts,
                    app_id=sample.app_id,
                    team_id=sample.team_id,
                    model=sample.model,
                )
                for o in outcomes
            ]

        per_sample = await asyncio.gather(*(one(s) for s in samples))
        rows = [r for rows in per_sample for r in rows]
        await asyncio.to_thread(self._commit, [s.id for s in samples], rows, self.clock())
        export(self.telemetry, rows)
        self.evaluated += len(samples)
        return PassResult(samples=len(samples), records=len(rows))

    async def run(self, stop: asyncio.Event) -> None:
        """Evaluate until `stop` is set: straight on while batches are full, otherwise every
        `worker.interval_s`. Store errors are logged and retried at the next pass."""
        interval = self.settings.worker.interval_s
        try:
            while not stop.is_set():
                delay = interval
                try:
                    result = await self.run_once()
                    if result.samples >= self.settings.worker.batch:
                        delay = 0.0
                except Exception:
                    log.exception("evaluation pass failed; retrying in %.1f s", interval)
                    await asyncio.to_thread(self.lock.release)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
        finally:
            await asyncio.to_thread(self.lock.release)
            await close_evaluators(self.evaluators)


def judge_url(server_host: str, server_port: int) -> str:
    """The gateway's own URL, the judge's default base URL."""
    host = "127.0.0.1" if server_host in ("0.0.0.0", "::", "") else server_host  # noqa: S104
    return f"http://{host}:{server_port}"


def make_worker(
    runtime: Runtime,
    sessions: sessionmaker[Session],
    telemetry: Telemetry | None = None,
) -> EvalWorker:
    """A worker for a runtime: its evaluators (unavailable ones skipped with a logged reason),
    the job lock (advisory lock on PostgreSQL, a file in the data directory on SQLite)."""
    config = runtime.config
    settings = config.evaluation
    evaluators = build_evaluators(settings, judge_url(config.server.host, config.server.port))
    engine = sessions.kw["bind"]
    lock = JobLock(engine, JOB, runtime.data_dir)
    return EvalWorker(sessions, settings, evaluators, lock, telemetry=telemetry)
