"""A fake upstream model server: the outside world for tests, served for real on loopback.

It speaks OpenAI (`POST /v1/chat/completions`, `POST /v1/embeddings`, `GET /v1/models`) and
Anthropic (`POST /v1/messages`), streamed and not, with deterministic echo answers, tool calls
when tools are offered (and the last message is not a tool result) and realistic usage.

Behaviour is chosen by the requested model name; prefixes compose left to right
(`flaky-2-slow-100-cached`):

- `fail-<status>`: always answers that status with an error body in the API's format
  (`retry-after: 0` on 429).
- `flaky-<n>-<rest>`: 503 for the first n attempts per (`x-test-key` header, model), then `<rest>`.
- `slow-<ms>[-<rest>]`: sleeps before answering.
- `hang`: never answers (until the client goes away).
- `garbage`: 200 with a body that is not JSON (nor an event stream).
- `stream-error`: streams a few chunks, then an in-band error event.
- `stream-abort`: streams a few chunks, then drops the connection mid-body.
- `stream-stall`: streams a few chunks, then sends nothing more.
- containing `cached`: part of the prompt is reported as a cache read; `cache-write`: as a cache
  write (Anthropic); `reasoning`: reasoning tokens in the OpenAI usage.

Run standalone: `python -m tests.fakes.upstream --port 8401 [--api-key KEY]`; it prints
`fake upstream listening on http://127.0.0.1:PORT` once it accepts connections.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import logging
import re
import socket
import struct
import sys
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import orjson
import uvicorn

from tests.fakes._answers import CREATED, Answer, Api, count_tokens, embedding_vector

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

STREAM_ERROR_AFTER = 2  # content chunks before stream-error/-abort/-stall misbehave
_FAIL = re.compile(r"fail-(\d{3})(?:-.*)?")
_FLAKY = re.compile(r"flaky-(\d+)-(.*)")
_SLOW = re.compile(r"slow-(\d+)(?:-(.*))?")

_OPENAI_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}
_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
_MODELS = ("fake-gpt", "fake-gpt-cached", "fake-embed", "fake-claude", "fake-claude-cached")


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the fake received it. Header names are lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any  # the decoded JSON body, or None (no or invalid JSON)


class _Abort(Exception):
    """Raised mid-response so that the server drops the connection (stream-abort)."""


class _Exchange:
    """One request and the means to answer it."""

    def __init__(self, scope: Scope, receive: Receive, send: Send, body: Any, seq: int) -> None:
        self.receive = receive
        self._send = send
        self.body = body
        self.seq = seq
        self.headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]
        }
        self.request_id = f"fake{seq:08d}"

    async def json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        payload = orjson.dumps(obj)
        await self.start(
            status, "application/json", {"content-length": str(len(payload)), **(headers or {})}
        )
        await self._send({"type": "http.response.body", "body": payload})

    async def start(
        self, status: int, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        raw = [
            (b"content-type", content_type.encode()),
            (b"x-request-id", f"req_{self.request_id}".encode()),
            (b"request-id", f"req_{self.request_id}".encode()),
        ]
        raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
        await self._send({"type": "http.response.start", "status": status, "headers": raw})

    async def chunk(self, data: bytes) -> None:
        await self._send({"type": "http.response.body", "body": data, "more_body": True})

    async def end(self) -> None:
        await self._send({"type": "http.response.body", "body": b""})

    async def wait_disconnect(self) -> None:
        while (await self.receive())["type"] != "http.disconnect":
            pass


class UpstreamApp:
    """The ASGI app. Thread-safe request log and flaky counters; no module-level state."""

    def __init__(self, api_key: str | None = None) -> None:
        self.api_key = api_key
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._attempts: dict[tuple[str | None, str], int] = {}
        self._ids = itertools.count(1)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._attempts.clear()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        raw = await _read_body(receive)
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = None
        ex = _Exchange(scope, receive, send, body, next(self._ids))
        method, path = scope["method"], scope["path"]
        with self._lock:
            self._requests.append(RecordedRequest(method, path, dict(ex.headers), body))
        route = (method, path.rstrip("/"))
        if route == ("POST", "/v1/chat/completions"):
            await self._chat(ex, "openai")
        elif route == ("POST", "/v1/messages"):
            await self._chat(ex, "anthropic")
        elif route == ("POST", "/v1/embeddings"):
            await self._embeddings(ex)
        elif route == ("GET", "/v1/models"):
            await self._models(ex)
        else:
            api: Api = "anthropic" if path == "/v1/messages" else "openai"
            await _error(ex, api, 404, f"no route for {method} {path}")

    # ------------------------------------------------------------------ shared behaviour

    def _authorized(self, ex: _Exchange, api: Api) -> bool:
        if self.api_key is None:
            return True
        bearer = ex.headers.get("authorization") == f"Bearer {self.api_key}"
        if api == "anthropic":  # recent Anthropic SDKs send a Bearer token instead of x-api-key
            return bearer or ex.headers.get("x-api-key") == self.api_key
        return bearer

    async def _preflight(self, ex: _Exchange, api: Api) -> str | None:
        """Check auth and the body, then apply the model-name behaviours. Returns the remaining
        model name to answer for, or None when the request has been answered already."""
        if not self._authorized(ex, api):
            what = "x-api-key" if api == "anthropic" else "API key"
            await _error(ex, api, 401, f"invalid {what}")
            return None
        if api == "anthropic" and "anthropic-version" not in ex.headers:
            await _error(ex, api, 400, "anthropic-version: header is required")
            return None
        if not isinstance(ex.body, dict):
            await _error(ex, api, 400, "the request body is not a JSON object")
            return None
        model = ex.body.get("model")
        if not isinstance(model, str) or not model:
            await _error(ex, api, 400, "'model' is required")
            return None
        return await self._behave(ex, api, model)

    async def _behave(self, ex: _Exchange, api: Api, model: str) -> str | None:
        name = model
        while True:
            if m := _FAIL.fullmatch(name):
                status = int(m.group(1))
                headers = {"retry-after": "0"} if status == 429 else None
                await _error(ex, api, status, f"simulated failure ({name})", headers)
                return None
            if m := _FLAKY.fullmatch(name):
                key = (ex.headers.get("x-test-key"), model)
                with self._lock:
                    attempt = self._attempts[key] = self._attempts.get(key, 0) + 1
                if attempt <= int(m.group(1)):
                    await _error(ex, api, 503, f"simulated flaky failure {attempt}/{m.group(1)}")
                    return None
                name = m.group(2)
                continue
            if m := _SLOW.fullmatch(name):
                try:
                    await asyncio.wait_for(ex.wait_disconnect(), int(m.group(1)) / 1000)
                    return None  # the client gave up first
                except TimeoutError:
                    name = m.group(2) or ""
                    continue
            if name == "hang" or name.startswith("hang-"):
                await ex.wait_disconnect()
                return None
            if name == "garbage":
                await ex.start(200, "text/html; charset=utf-8")
                await ex.chunk(b"<html>this is not JSON</html>")
                await ex.end()
                return None
            return name

    # ------------------------------------------------------------------ endpoints

    async def _chat(self, ex: _Exchange, api: Api) -> None:
        rest = await self._preflight(ex, api)
        if rest is None:
            return
        body: dict[str, Any] = ex.body
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            await _error(ex, api, 400, "'messages' must be a non-empty array")
            return
        if api == "anthropic" and not isinstance(body.get("max_tokens"), int):
            await _error(ex, api, 400, "max_tokens: Field required")
            return
        answer = Answer.plan(body, api, ex.seq)
        if api == "openai":
            if body.get("stream"):
                await _openai_stream(ex, answer, rest)
            else:
                await ex.json(200, answer.openai_completion())
        elif body.get("stream"):
            await _anthropic_stream(ex, answer, rest)
        else:
            await ex.json(200, answer.anthropic_message())

    async def _embeddings(self, ex: _Exchange) -> None:
        if await self._preflight(ex, "openai") is None:
            return
        body: dict[str, Any] = ex.body
        raw = body.get("input")
        if raw is None or raw == [] or raw == "":
            await _error(ex, "openai", 400, "'input' must be a non-empty string or array")
            return
        # A string, a list of strings, one token array or a list of token arrays.
        inputs = raw if isinstance(raw, list) and not isinstance(raw[0], int) else [raw]
        dims = body.get("dimensions") or 8
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        tokens = 0
        for i, item in enumerate(inputs):
            text = item if isinstance(item, str) else orjson.dumps(item).decode()
            tokens += len(item) if isinstance(item, list) else count_tokens(text)
            vector = embedding_vector(text, int(dims))
            value: Any = (
                base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
                if as_base64
                else vector
            )
            data.append({"object": "embedding", "index": i, "embedding": value})
        await ex.json(
            200,
            {
                "object": "list",
                "data": data,
                "model": body["model"],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )

    async def _models(self, ex: _Exchange) -> None:
        api: Api = "anthropic" if "anthropic-version" in ex.headers else "openai"
        if not self._authorized(ex, api):
            await _error(ex, api, 401, "invalid API key")
            return
        if api == "anthropic":
            data = [
                {"type": "model", "id": m, "display_name": m, "created_at": "2024-01-01T00:00:00Z"}
                for m in _MODELS
            ]
            await ex.json(
                200,
                {"data": data, "has_more": False, "first_id": _MODELS[0], "last_id": _MODELS[-1]},
            )
            return
        models = [
            {"id": m, "object": "model", "created": CREATED, "owned_by": "fake"} for m in _MODELS
        ]
        await ex.json(200, {"object": "list", "data": models})


async def _openai_stream(ex: _Exchange, answer: Answer, behaviour: str) -> None:
    options = ex.body.get("stream_options")
    usage = isinstance(options, dict) and bool(options.get("include_usage"))
    await ex.start(200, "text/event-stream; charset=utf-8", {"cache-control": "no-cache"})
    deltas = answer.openai_deltas()
    cut = STREAM_ERROR_AFTER + 1  # the role chunk, then content
    for delta in deltas[:cut]:
        await ex.chunk(_data(answer.openai_chunk(delta, usage=usage)))
    if await _misbehave(ex, "openai", behaviour):
        return
    for delta in deltas[cut:]:
        await ex.chunk(_data(answer.openai_chunk(delta, usage=usage)))
    await ex.chunk(_data(answer.openai_chunk({}, answer.finish_reason(), usage=usage)))
    if usage:
        last = {**answer.openai_chunk({}), "choices": [], "usage": answer.openai_usage()}
        await ex.chunk(_data(last))
    await ex.chunk(b"data: [DONE]\n\n")
    await ex.end()


async def _anthropic_stream(ex: _Exchange, answer: Answer, behaviour: str) -> None:
    await ex.start(200, "text/event-stream; charset=utf-8", {"cache-control": "no-cache"})
    message = answer.anthropic_message(streaming=True)
    await ex.chunk(_event("message_start", {"type": "message_start", "message": message}))
    block, deltas = answer.anthropic_deltas()
    await ex.chunk(
        _event(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": block},
        )
    )
    await ex.chunk(_event("ping", {"type": "ping"}))
    for i, delta in enumerate(deltas):
        if i == STREAM_ERROR_AFTER and await _misbehave(ex, "anthropic", behaviour):
            return
        await ex.chunk(
            _event(
                "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
            )
        )
    if len(deltas) <= STREAM_ERROR_AFTER and await _misbehave(ex, "anthropic", behaviour):
        return
    await ex.chunk(_event("content_block_stop", {"type": "content_block_stop", "index": 0}))
    delta = {"stop_reason": answer.stop_reason(), "stop_sequence": None}
    usage = {"output_tokens": answer.completion_tokens}
    await ex.chunk(
        _event("message_delta", {"type": "message_delta", "delta": delta, "usage": usage})
    )
    await ex.chunk(_event("message_stop", {"type": "message_stop"}))
    await ex.end()


async def _misbehave(ex: _Exchange, api: Api, behaviour: str) -> bool:
    """Apply stream-error / -abort / -stall at this point of a stream; True if it ended it."""
    if behaviour.startswith("stream-error"):
        if api == "openai":
            err = {
                "message": "The server had an error while processing your request.",
                "type": "server_error",
                "param": None,
                "code": None,
            }
            await ex.chunk(_data({"error": err}))
        else:
            err = {"type": "overloaded_error", "message": "Overloaded"}
            await ex.chunk(_event("error", {"type": "error", "error": err}))
        await ex.end()
        return True
    if behaviour.startswith("stream-abort"):
        raise _Abort("simulated connection drop")
    if behaviour.startswith("stream-stall"):
        await ex.wait_disconnect()
        return True
    return False


# ---------------------------------------------------------------------- helpers


async def _error(
    ex: _Exchange, api: Api, status: int, message: str, headers: dict[str, str] | None = None
) -> None:
    if api == "anthropic":
        kind = _ANTHROPIC_ERROR_TYPES.get(
            status, "api_error" if status >= 500 else "invalid_request_error"
        )
        body: dict[str, Any] = {
            "type": "error",
            "error": {"type": kind, "message": message},
            "request_id": f"req_{ex.request_id}",
        }
    else:
        kind, code = _OPENAI_ERROR_TYPES.get(
            status, ("server_error" if status >= 500 else "invalid_request_error", None)
        )
        body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    await ex.json(status, body, headers)


def _data(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def _event(name: str, obj: Any) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(obj) + b"\n\n"


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


# ---------------------------------------------------------------------- serving


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)  # connections queue until the server accepts them
    return sock


def _quiet_aborts(record: logging.LogRecord) -> bool:
    """Drop the traceback uvicorn logs for a deliberate stream-abort."""
    return not (record.exc_info and isinstance(record.exc_info[1], _Abort))


def _server(app: UpstreamApp) -> uvicorn.Server:
    logging.getLogger("uvicorn.error").addFilter(_quiet_aborts)  # idempotent
    config = uvicorn.Config(
        app,
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    return uvicorn.Server(config)


class FakeUpstream:
    """Runs the fake on 127.0.0.1 (a free port by default) in a background thread.

    Use as a context manager, or `start()` / `stop()`. OpenAI clients use `base_url + "/v1"`;
    Anthropic clients use `base_url`.
    """

    def __init__(self, api_key: str | None = None, *, host: str = "127.0.0.1", port: int = 0):
        self.app = UpstreamApp(api_key)
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.base_url}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.app.requests

    def reset(self) -> None:
        self.app.reset()

    def start(self, timeout_s: float = 10.0) -> FakeUpstream:
        if self._thread is not None:
            raise RuntimeError("FakeUpstream is already running")
        self._sock = _listen(self.host, self.port)
        self.port = self._sock.getsockname()[1]
        self._server = _server(self.app)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._sock]},
            name=f"fake-upstream-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"fake upstream did not start on {self.base_url}")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._sock is not None:
            self._sock.close()
        self._server = self._thread = self._sock = None

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--api-key", default=None, help="require this key (Bearer / x-api-key)")
    args = parser.parse_args(argv)
    sock = _listen(args.host, args.port)
    host, port = sock.getsockname()[:2]
    print(f"fake upstream listening on http://{host}:{port}", flush=True)
    try:
        _server(UpstreamApp(args.api_key)).run(sockets=[sock])
    finally:
        sock.close()


if __name__ == "__main__":
    main(sys.argv[1:])
