"""The notifier: `notify(event, payload)` queues and returns at once; one worker per webhook
POSTs with retries and exponential backoff, and records each outcome as an audit event."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from steward.events.ids import new_id
from steward.notify.formats import Notification, render, sign
from steward.notify.settings import NotificationSettings, WebhookConfig

if TYPE_CHECKING:
    from steward.events.sink import EventSink

log = logging.getLogger("steward.notify")

MAX_DELAY_S = 60.0  # cap on one backoff or Retry-After wait
USER_AGENT = "steward-notifier/1"
OutcomeHook = Callable[[str, str], None]  # (webhook name, sent | failed | dropped)


def subscribed(patterns: list[str], event: str) -> bool:
    """`*` matches every event; `budget.*` every event that starts with `budget.`."""
    return any(
        p in ("*", event) or (p.endswith(".*") and event.startswith(p[:-1])) for p in patterns
    )


def retryable(status: int) -> bool:
    return status in (408, 425, 429) or status >= 500


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


@dataclass(slots=True)
class Delivery:
    """The outcome of delivering one notification to one webhook."""

    ok: bool
    attempts: int
    status: int | None
    error: str | None
    elapsed_ms: float


class _Webhook:
    def __init__(self, config: WebhookConfig, queue_size: int) -> None:
        self.config = config
        self.queue: asyncio.Queue[Notification] = asyncio.Queue(queue_size)
        self.task: asyncio.Task[None] | None = None
        self.host = urlsplit(config.url).hostname or ""


class Notifier:
    """Delivers notifications to the configured webhooks, off the caller's path."""

    def __init__(
        self,
        settings: NotificationSettings,
        sink: EventSink | None,
        *,
        on_outcome: OutcomeHook | None = None,
    ) -> None:
        self._hooks = [_Webhook(w, settings.queue_size) for w in settings.webhooks]
        self._sink = sink
        self._on_outcome = on_outcome
        self._client: httpx.AsyncClient | None = None

    @property
    def webhooks(self) -> list[str]:
        return [h.config.name for h in self._hooks]

    async def notify(self, event_type: str, payload: dict[str, Any]) -> None:
        """Queue `payload` for every webhook subscribed to `event_type` and return at once.
        Never blocks and never raises: a full queue drops the notification (logged and
        counted as steward_notifications_total{outcome="dropped"})."""
        hooks = [h for h in self._hooks if subscribed(h.config.events, event_type)]
        if not hooks:
            return
        note = Notification(new_id(), event_type, datetime.now(UTC), dict(payload))
        for hook in hooks:
            try:
                hook.queue.put_nowait(note)
            except asyncio.QueueFull:
                log.warning(
                    "notification %s (%s) dropped: the queue of webhook %s is full",
                    note.id,
                    event_type,
                    hook.config.name,
                )
                self._outcome(hook.config.name, "dropped")

    async def start(self) -> None:
        if not self._hooks or self._client is not None:
            return
        self._client = httpx.AsyncClient(follow_redirects=False, headers={"user-agent": USER_AGENT})
        for hook in self._hooks:
            hook.task = asyncio.create_task(self._work(hook), name=f"notify-{hook.config.name}")

    async def close(self, timeout_s: float = 5.0) -> None:
        """Give queued notifications up to `timeout_s` to be delivered, then stop; those still
        undelivered are recorded as failed (the audit trail loses nothing)."""
        running = [h for h in self._hooks if h.task is not None]
        if running:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(*(h.queue.join() for h in running)), timeout_s
                )
        for hook in running:
            assert hook.task is not None
            hook.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await hook.task
            hook.task = None
        for hook in self._hooks:
            while not hook.queue.empty():
                note = hook.queue.get_nowait()
                hook.queue.task_done()
                gone = Delivery(False, 0, None, "the gateway stopped before delivery", 0.0)
                await self._record(hook, note, gone)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- delivery ---------------------------------------------------------------------------

    async def _work(self, hook: _Webhook) -> None:
        while True:
            note = await hook.queue.get()
            try:
                result = await self.deliver(hook.config, note)
                await self._record(hook, note, result)
            except asyncio.CancelledError:
                # stopped mid-delivery: recorded as failed, and not lost
                gone = Delivery(False, 0, None, "the gateway stopped during delivery", 0.0)
                await self._record(hook, note, gone)
                hook.queue.task_done()
                raise
            except Exception:
                log.exception("notification %s to %s failed", note.id, hook.config.name)
            hook.queue.task_done()

    async def deliver(self, config: WebhookConfig, note: Notification) -> Delivery:
        """POST one notification, retrying connection errors, timeouts, 408/425/429 and 5xx
        with exponential backoff (a 429's or 503's Retry-After is honoured)."""
        client = self._client
        if client is None:
            raise RuntimeError("the notifier is not started")
        body = render(config.format, note)
        headers = {
            **config.headers,
            "content-type": "application/json",
            "x-steward-event": note.event,
            "x-steward-delivery": note.id,
        }
        if config.secret:
            headers["x-steward-signature"] = sign(config.secret, body)
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        attempt = 0
        while attempt < config.max_attempts:
            attempt += 1
            wait: float | None = None
            try:
                r = await client.post(
                    config.url, content=body, headers=headers, timeout=config.timeout_s
                )
            except httpx.HTTPError as exc:
                status, error = None, f"{type(exc).__name__}: {exc}".rstrip(": ")
            else:
                status = r.status_code
                if 200 <= status < 300:
                    elapsed = (time.perf_counter() - started) * 1000.0
                    return Delivery(True, attempt, status, None, elapsed)
                error = f"HTTP {status}"
                if not retryable(status):
                    break
                wait = _retry_after(r)
            if attempt < config.max_attempts:
                await asyncio.sleep(self.backoff(config, attempt, wait))
        return Delivery(False, attempt, status, error, (time.perf_counter() - started) * 1000.0)

    @staticmethod
    def backoff(config: WebhookConfig, attempt: int, retry_after: float | None = None) -> float:
        """Seconds before attempt `attempt + 1`: backoff_ms doubled per attempt, plus up to 10%
        jitter, at least a Retry-After, at most MAX_DELAY_S."""
        delay = config.backoff_ms / 1000.0 * 2.0 ** (attempt - 1)
        delay *= 1.0 + random.random() * 0.1
        if retry_after is not None:
            delay = max(delay, retry_after)
        return min(delay, MAX_DELAY_S)

    # -- outcomes ---------------------------------------------------------------------------

    def _outcome(self, webhook: str, outcome: str) -> None:
        if self._on_outcome is not None:
            try:
                self._on_outcome(webhook, outcome)
            except Exception:
                log.exception("notification outcome hook failed")

    async def _record(self, hook: _Webhook, note: Notification, result: Delivery) -> None:
        """An audit event per delivery: notification.sent or notification.failed, with the
        attempts and the webhook's name (never its URL path, headers or secret)."""
        self._outcome(hook.config.name, "sent" if result.ok else "failed")
        if result.ok:
            log.info("notification %s delivered to %s", note.id, hook.config.name)
        else:
            log.warning(
                "notification %s (%s) to %s failed after %d attempt(s): %s",
                note.id,
                note.event,
                hook.config.name,
                result.attempts,
                result.error,
            )
        if self._sink is None:
            return
        row = {
            "ts": datetime.now(UTC),
            "actor_type": "system",
            "actor_id": "notifier",
            "action": "notification.sent" if result.ok else "notification.failed",
            "target_type": "webhook",
            "target_id": hook.config.name,
            "outcome": "succeeded" if result.ok else "failed",
            "reason": result.error,
            "request_id": None,
            "details": {
                "event": note.event,
                "notification_id": note.id,
                "attempts": result.attempts,
                "status": result.status,
                "format": hook.config.format,
                "host": hook.host,
                "elapsed_ms": round(result.elapsed_ms, 1),
            },
        }
        try:
            await self._sink.emit(self._sink.audit_record(row))
        except Exception:
            log.exception("could not record the outcome of notification %s", note.id)


__all__ = ["Delivery", "Notifier", "retryable", "subscribed"]
