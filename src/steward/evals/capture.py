"""capture: the pipeline stage that keeps sampled requests for evaluation.

For an unsampled request it costs a hash of the request id and a compare. A sampled, successful
chat request's messages and answer are handed to a bounded in-memory queue; a background task
redacts them with the guard's detectors (PII, secrets... never stored in clear) and appends an
`eval_sample` event through the spool, so the request never waits for that work. A sample is
best-effort: when the queue is full it is dropped and counted, never the request delayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from steward.evals.content import answer_text, chunk_text, request_messages, response_format
from steward.evals.redact import HasScanner, Redactor
from steward.evals.sampling import Sampler
from steward.evals.settings import EvaluationSettings
from steward.events.ids import new_id
from steward.events.sink import EventSink
from steward.gateway.context import RequestContext
from steward.gateway.stages.base import Stage

log = logging.getLogger("steward.evals")

KIND = "eval_sample"
_CHAT = frozenset({"chat", "messages"})


def sample_record(row: dict[str, Any]) -> dict[str, Any]:
    """An `eval_sample` spool record (the shipper writes it to eval_samples)."""
    return {"kind": KIND, "row": row}


@dataclass(slots=True)
class Pending:
    """What a sampled request leaves for the background redaction: its row without content,
    and its content already cut to `sampling.max_chars` (so the queue's memory is bounded and
    the request context is not kept alive)."""

    row: dict[str, Any]
    messages: list[dict[str, str]]
    answer: str
    acted: dict[str, int]


class Capture(Stage):
    """Keeps sampled, successful chat requests for evaluation (after record, before observe)."""

    name = "capture"

    def __init__(
        self,
        capture: SampleCapture,
        names: Callable[[], Mapping[str, str]],
        raised: Callable[[], Mapping[str, float]] = dict,
    ) -> None:
        self._capture = capture
        self._sampler = capture.sampler
        self._names = names
        self._raised = raised
        self._streams: dict[str, list[str] | None] = {}  # request id -> text so far (sampled)
        self._ids: dict[str, str | None] = {}  # request id -> the streamed response's id

    def _sampled(self, ctx: RequestContext) -> bool:
        p = ctx.principal
        return self._sampler.sampled(
            ctx.request_id, p.app_id if p else None, ctx.model_alias, self._names(), self._raised()
        )

    def on_chunk(self, ctx: RequestContext, event: dict[str, Any]) -> list[dict[str, Any]]:
        rid = ctx.request_id
        try:
            parts = self._streams[rid]
        except KeyError:
            parts = [] if ctx.endpoint in _CHAT and self._sampled(ctx) else None
            self._streams[rid] = parts
        if parts is not None:
            if not parts and rid not in self._ids:
                self._ids[rid] = _event_id(event)
            text = chunk_text(event, ctx.wire)
            if text:
                parts.append(text)
        return [event]

    async def on_finish(self, ctx: RequestContext) -> None:
        parts = self._streams.pop(ctx.request_id, None) if ctx.stream else None
        stream_id = self._ids.pop(ctx.request_id, None) if ctx.stream else None
        if ctx.status != 200 or ctx.error is not None or ctx.endpoint not in _CHAT:
            return
        if ctx.stream:
            if parts is not None:
                self._capture.offer(ctx, "".join(parts), stream_id)
        elif self._sampled(ctx):
            answer = answer_text(ctx.response, ctx.wire)
            self._capture.offer(ctx, answer, None)


def guard_acted(ctx: RequestContext) -> dict[str, int]:
    """Entity -> how often the guard stage acted on it in the answer (masked or not before
    the client saw it)."""
    acted: dict[str, int] = {}
    for key, entry in getattr(ctx.guard, "findings", {}).items():
        if key[0] == "output" and isinstance(key[2], str) and key[2] != "DETECTOR_ERROR":
            acted[key[2]] = acted.get(key[2], 0) + int(entry[0])
    return acted


def answer_findings(acted: Mapping[str, int], scanned: Mapping[str, int]) -> dict[str, int]:
    """Entity -> count in the answer: what the guard acted on and what a scan of the final
    answer still finds, the larger of the two per entity, so nothing is counted twice."""
    return {e: max(scanned.get(e, 0), acted.get(e, 0)) for e in {*scanned, *acted}}


def clip_messages(messages: list[dict[str, str]], budget: int) -> list[dict[str, str]]:
    """The most recent messages whose text fits in `budget` characters in all (the oldest one
    kept is cut to what is left), in their order."""
    out: list[dict[str, str]] = []
    for msg in reversed(messages):
        if budget <= 0:
            break
        text = msg["content"][:budget]
        budget -= len(text)
        out.append({"role": msg["role"], "content": text})
    out.reverse()
    return out


def _event_id(event: dict[str, Any]) -> str | None:
    """The response id a stream's first events carry (OpenAI chunk id, Anthropic message id)."""
    rid = event.get("id")
    if rid is None and isinstance(event.get("message"), dict):
        rid = event["message"].get("id")
    return rid if isinstance(rid, str) else None


class SampleCapture:
    """The queue of sampled requests and the task that redacts and records them."""

    def __init__(self, settings: EvaluationSettings, guard: HasScanner, sink: EventSink) -> None:
        self.settings = settings
        self.sampler = Sampler(settings.sampling)
        self.redactor = Redactor(guard, settings.redact_classes)
        self._sink = sink
        self._max = settings.sampling.max_chars
        self._queue: asyncio.Queue[Pending] = asyncio.Queue(settings.sampling.queue)
        self._task: asyncio.Task[None] | None = None
        self.captured = 0
        self.dropped = 0

    def offer(self, ctx: RequestContext, answer: str, response_id: str | None) -> None:
        """Queue a sampled request (never blocks; dropped and counted when the queue is full)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="eval-capture")
        if self._queue.full():
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("evaluation sample queue full: %d samples dropped", self.dropped)
            return
        self._queue.put_nowait(self.take(ctx, answer, response_id))

    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                await self._sink.emit(sample_record(self.row(item)))
                self.captured += 1
            except Exception:
                log.exception("could not record evaluation sample %s", item.row["request_id"])
            finally:
                self._queue.task_done()

    def take(self, ctx: RequestContext, answer: str, response_id: str | None) -> Pending:
        """What to keep of a sampled request (on the request path: no scanning here)."""
        resp = ctx.response or {}
        rid = response_id or resp.get("id")
        p, u, dep = ctx.principal, ctx.usage, ctx.deployment
        row = {
            "ts": ctx.received_at,
            "request_id": ctx.request_id,
            "response_id": rid if isinstance(rid, str) else None,
            "endpoint": ctx.endpoint,
            "stream": ctx.stream,
            "key_id": p.key_id if p else None,
            "team_id": p.team_id if p else None,
            "app_id": p.app_id if p else None,
            "agent_id": p.agent_id if p else None,
            "model": ctx.model_alias,
            "provider": dep.provider_name if dep else None,
            "upstream_model": dep.model.target if dep else None,
            "finish_reason": ctx.finish_reason,
            "response_format": response_format(ctx.body),
            "latency_ms": round(ctx.latency_ms, 3),
            "ttft_ms": round(ctx.ttft_ms, 3) if ctx.ttft_ms is not None else None,
            "input_tokens": u.input_tokens if u else 0,
            "output_tokens": u.output_tokens if u else 0,
            "evaluated_at": None,
        }
        messages = clip_messages(request_messages(ctx.body, ctx.wire), self._max)
        return Pending(row, messages, answer[: self._max], guard_acted(ctx))

    def row(self, item: Pending) -> dict[str, Any]:
        """The eval_samples row of a sampled request, its content redacted (background)."""
        redactions = 0
        messages = []
        for msg in item.messages:
            r = self.redactor.redact(msg["content"])
            redactions += r.redacted
            messages.append({"role": msg["role"], "content": r.text})
        answer = self.redactor.redact(item.answer)
        return {
            "id": new_id(),
            **item.row,
            "messages": messages,
            "answer": answer.text,
            "redactions": redactions + answer.redacted,
            "answer_findings": answer_findings(item.acted, answer.findings) or None,
        }

    async def close(self, timeout_s: float = 5.0) -> None:
        """Record what is queued (up to `timeout_s`), then stop the task."""
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), timeout_s)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
