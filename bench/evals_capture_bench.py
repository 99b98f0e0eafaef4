"""What evaluation sampling costs a gateway process, measured in-process (no network, so the
figure does not depend on a quiet machine the way the wrk benchmark does):

- the capture stage's on_finish per request, at the given sampling rate (the request path);
- the background work per sampled request: guard redaction of a ~1 KB chat request and its
  answer, and building the eval_sample row (off the request path, same process).

    .venv/bin/python bench/evals_capture_bench.py --rate 0.1 --requests 50000
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from steward.evals.capture import Capture, SampleCapture
from steward.evals.settings import EvaluationSettings
from steward.gateway.context import RequestContext
from steward.guard.runtime import GuardRuntime
from steward.guard.settings import GuardSettings
from steward.identity.snapshot import Principal

QUESTION = (
    "Hello, I am preparing the quarterly review for the support team and I need a short "
    "summary of the main themes in the customer feedback we received this month. "
) * 6
ANSWER = "Here is a summary of the main themes: response times, billing questions. " * 6
PRINCIPAL = Principal("k", "sk-stw-x", "app", None, "t", "app-1", None, None, None, None, None)


class NullSink:
    """Stands in for the spool: the durable write is the spool's cost, measured elsewhere."""

    async def emit(self, *records: object) -> None:
        return None


def context() -> RequestContext:
    ctx = RequestContext(
        request_id=str(uuid.uuid4()),
        endpoint="chat",
        wire="openai",
        started=0.0,
        received_at=datetime.now(UTC),
        headers={},
        body={"model": "bench", "messages": [{"role": "user", "content": QUESTION}]},
        principal=PRINCIPAL,
        model_alias="bench",
    )
    ctx.response = {"id": "x", "choices": [{"message": {"content": ANSWER}}]}
    return ctx


async def main(rate: float, n: int) -> None:
    guard = GuardRuntime(GuardSettings(), Path(tempfile.mkdtemp()))
    settings = EvaluationSettings.model_validate(
        {"sampling": {"default_rate": rate, "queue": n + 1}}
    )
    cap = SampleCapture(settings, guard, NullSink())  # type: ignore[arg-type]
    stage = Capture(cap, lambda: {"app-1": "bench-app"})
    contexts = [context() for _ in range(n)]
    t0 = time.process_time()
    for ctx in contexts:
        await stage.on_finish(ctx)
    on_path = (time.process_time() - t0) / n * 1e6
    queued = cap._queue.qsize()
    print(f"rate {rate}: {queued} of {n} requests sampled ({queued / n:.3%})")
    print(f"request path (capture on_finish): {on_path:.2f} us CPU per request")
    if not queued:
        return
    pending = [cap._queue.get_nowait() for _ in range(min(queued, 2000))]
    cap.row(pending[0])  # warm up the scanner
    t1 = time.process_time()
    rows = [cap.row(p) for p in pending]
    per_sample = (time.process_time() - t1) / len(rows) * 1e6
    print(f"background redaction + row: {per_sample:.0f} us CPU per sampled request")
    print(f"background, averaged over all requests: {per_sample * queued / n:.1f} us CPU")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rate", type=float, default=0.1)
    p.add_argument("--requests", type=int, default=50_000)
    a = p.parse_args()
    asyncio.run(main(a.rate, a.requests))
