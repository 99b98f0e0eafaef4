"""Evaluation inside a gateway process: the capture stage's queue when sampling is on, and the
worker when `evaluation.worker.in_process` is set (then each process runs one, and the job lock
lets one of them evaluate at a time)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from steward.evals.capture import Capture, SampleCapture
from steward.evals.sampling import OVERRIDES_SECTION
from steward.gateway.stages.base import Stage

if TYPE_CHECKING:
    from steward.evals.worker import EvalWorker
    from steward.gateway.state import Gateway

log = logging.getLogger("steward.evals")
_NONE: dict[str, float] = {}


class EvalRuntime:
    """What a gateway process runs for evaluation; nothing at all when it is not configured."""

    def __init__(self, gw: Gateway) -> None:
        self._gw = gw
        self.settings = gw.config.evaluation
        # always built (cheap), so remediation can raise a rate at run time
        self.capture = SampleCapture(self.settings, gw.guard, gw.sink)
        self.worker: EvalWorker | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def stages(self) -> tuple[Stage, ...]:
        """The capture stage for `build_pipeline`. With no rate configured or raised it costs
        a status check and two dictionary lookups per request."""
        snapshots = self._gw.snapshots
        return (
            Capture(
                self.capture,
                lambda: snapshots.current.names,
                lambda: snapshots.current.sections.get(OVERRIDES_SECTION) or _NONE,
            ),
        )

    async def start(self) -> None:
        """Start the in-process worker when configured."""
        if not self.settings.worker.in_process:
            return
        from steward.evals.worker import make_worker

        gw = self._gw
        self.worker = make_worker(gw.runtime, gw.sessions, gw.telemetry)
        self._stop.clear()
        self._task = asyncio.create_task(self.worker.run(self._stop), name="eval-worker")

    async def close(self) -> None:
        """Stop the worker, then record the samples still queued (before the spool closes)."""
        if self._task is not None:
            self._stop.set()
            await self._task
            self._task = None
        await self.capture.close()
