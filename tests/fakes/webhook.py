"""A fake webhook receiver: records every POST and answers with programmable statuses, served
for real on loopback (the outside world for the notifier's tests)."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import orjson

from tests.fakes._serve import Receive, Scope, Send, ThreadedServer, headers_of, read_body, respond


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() on arrival

    def json(self) -> Any:
        return orjson.loads(self.body)


class WebhookApp:
    """Answers each request with the next scripted reply (status, headers), then 200."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[WebhookRequest] = []
        self._script: deque[tuple[int, dict[str, str]]] = deque()
        self._arrived = threading.Condition(self._lock)

    def reply(self, *statuses: int, headers: dict[str, str] | None = None) -> None:
        """The next requests get these statuses (with these headers), in order."""
        with self._lock:
            self._script.extend((s, dict(headers or {})) for s in statuses)

    @property
    def requests(self) -> list[WebhookRequest]:
        with self._lock:
            return list(self._requests)

    def wait_for(self, n: int, timeout_s: float = 10.0) -> list[WebhookRequest]:
        """Block until at least n requests arrived; returns them all."""
        deadline = time.monotonic() + timeout_s
        with self._arrived:
            while len(self._requests) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self._requests)} webhook requests, wanted {n}")
                self._arrived.wait(left)
            return list(self._requests)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        with self._arrived:
            self._requests.append(
                WebhookRequest(scope["path"], headers_of(scope), body, time.monotonic())
            )
            status, headers = self._script.popleft() if self._script else (200, {})
            self._arrived.notify_all()
        await respond(
            send, status, b'{"ok":true}' if status < 300 else b"{}", "application/json", headers
        )


class FakeWebhook(ThreadedServer):
    """`with FakeWebhook() as hook:` ... `hook.url`, `hook.app.reply(503, 503)`."""

    def __init__(self, port: int = 0) -> None:
        self.receiver = WebhookApp()
        super().__init__(self.receiver, name="fake-webhook", port=port)

    @property
    def url(self) -> str:
        return f"{self.base_url}/hook"

    def start(self, timeout_s: float = 10.0) -> FakeWebhook:
        super().start(timeout_s)
        return self

    def __enter__(self) -> FakeWebhook:
        return self.start()
