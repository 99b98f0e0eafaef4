"""A worker process for the two-process lock test: evaluates for a while, then prints how many
samples it evaluated. Usage: python -m tests.unit.evals._worker_proc URL DATA_DIR SECONDS"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from steward.evals.evaluators import build_evaluators
from steward.evals.lock import JobLock
from steward.evals.settings import EvaluationSettings
from steward.evals.worker import JOB, EvalWorker
from steward.store.db import make_engine, session_factory


async def main(url: str, data_dir: str, seconds: float) -> None:
    settings = EvaluationSettings.model_validate({"worker": {"batch": 5, "interval_s": 0.05}})
    engine = make_engine(url)
    worker = EvalWorker(
        session_factory(engine),
        settings,
        build_evaluators(settings, "http://127.0.0.1:1"),
        JobLock(engine, JOB, Path(data_dir)),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await asyncio.sleep(seconds)
    stop.set()
    await task
    engine.dispose()
    print(worker.evaluated, flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
