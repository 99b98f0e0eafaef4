"""What the HTTP adapters share: one pooled client per provider, JSON and SSE exchanges, and the
mapping of HTTP and transport failures to `UpstreamError`."""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import orjson

from steward.config.models import ProviderConfig
from steward.providers._sse import SSEDecoder
from steward.providers.base import CallInfo, ProviderAdapter, UpstreamError, is_retryable_status

_MAX_ERROR_TEXT = 500
_MAX_CACHED_TIMEOUTS = 64
_USER_AGENT = "steward"


class Skip:
    """Returned by `_decode_event` for events that are not passed on (keep-alives, [DONE])."""


SKIP = Skip()
DONE = Skip()


class HTTPAdapter(ProviderAdapter):
    """Base of the HTTP adapters. Subclasses build URLs and bodies and decode stream events."""

    def __init__(self, name: str, cfg: ProviderConfig, headers: Mapping[str, str]) -> None:
        self.name = name
        self._base_url = (cfg.base_url or "").rstrip("/")
        self._connect_timeout_s = cfg.connect_timeout_s
        self._timeouts: dict[float, httpx.Timeout] = {}
        self._client = httpx.AsyncClient(
            headers={"user-agent": _USER_AGENT, "content-type": "application/json", **headers},
            timeout=self._timeout(cfg.timeout_s),
            limits=httpx.Limits(
                max_connections=cfg.max_connections,
                max_keepalive_connections=cfg.max_connections,
            ),
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    @abstractmethod
    def _decode_event(self, event: str | None, data: str) -> dict[str, Any] | Skip:
        """Turn one SSE event into the dict to yield, SKIP, or DONE; raise on an error event."""

    def _timeout(self, total_s: float) -> httpx.Timeout:
        timeout = self._timeouts.get(total_s)
        if timeout is None:
            if len(self._timeouts) >= _MAX_CACHED_TIMEOUTS:
                self._timeouts.clear()
            timeout = httpx.Timeout(total_s, connect=min(self._connect_timeout_s, total_s))
            self._timeouts[total_s] = timeout
        return timeout

    async def _post_json(self, url: str, payload: dict[str, Any], call: CallInfo) -> dict[str, Any]:
        """POST a JSON body and return the decoded JSON object of a successful answer."""
        try:
            resp = await self._client.post(
                url,
                content=orjson.dumps(payload),
                headers=call.extra_headers or None,
                timeout=self._timeout(call.timeout_s),
            )
        except httpx.RequestError as exc:
            raise self._transport_error(exc, call) from exc
        if resp.status_code >= 400:
            raise error_from_response(resp.status_code, resp.headers, resp.content)
        try:
            data = orjson.loads(resp.content)
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            raise _bad_response(
                f"upstream '{self.name}' answered HTTP {resp.status_code} without a JSON object: "
                f"{_trim(resp.content)!r}"
            )
        return data

    async def _stream_events(
        self, url: str, payload: dict[str, Any], call: CallInfo
    ) -> AsyncIterator[dict[str, Any]]:
        """POST a JSON body and yield the decoded events of the SSE answer.

        Everything happens on the first `__anext__`, so a refused request raises there. The
        response is closed however iteration ends, including `aclose()` by the consumer.
        """
        request = self._client.build_request(
            "POST",
            url,
            content=orjson.dumps(payload),
            headers=call.extra_headers or None,
            timeout=self._timeout(call.timeout_s),
        )
        try:
            resp = await self._client.send(request, stream=True)
        except httpx.RequestError as exc:
            raise self._transport_error(exc, call) from exc
        try:
            await self._check_stream_response(resp)
            decoder = SSEDecoder()
            done = False
            sent = 0
            async for chunk in resp.aiter_bytes():
                for event, data in decoder.feed(chunk):
                    if done:
                        continue  # read on to the end so the connection can be reused
                    item = self._decode_event(event, data)
                    if item is DONE:
                        done = True
                    elif not isinstance(item, Skip):
                        sent += 1
                        yield item
            if not done:
                for event, data in decoder.flush():
                    item = self._decode_event(event, data)
                    if not isinstance(item, Skip):
                        sent += 1
                        yield item
            if sent == 0:
                # Nothing reached the consumer, so trying again is safe.
                raise UpstreamError(
                    502,
                    f"upstream '{self.name}' closed the stream without any event",
                    kind="bad_upstream_response",
                    retryable=True,
                )
        except httpx.RequestError as exc:
            raise self._transport_error(exc, call) from exc
        finally:
            await resp.aclose()

    async def _check_stream_response(self, resp: httpx.Response) -> None:
        """Raise for a refused stream. A JSON or HTML answer to a stream request is an error too
        (other content types are parsed as SSE: some servers label their streams loosely)."""
        if resp.status_code >= 400:
            raise error_from_response(resp.status_code, resp.headers, await resp.aread())
        content_type = resp.headers.get("content-type", "")
        if content_type.startswith(("application/json", "text/html")):
            content = await resp.aread()
            err = error_from_response(502, resp.headers, content)
            if err.body is None or _error_message(err.body) is None:
                err = _bad_response(
                    f"upstream '{self.name}' answered a stream request with {content_type} "
                    f"instead of an event stream: {_trim(content)!r}"
                )
            raise err

    def _transport_error(self, exc: httpx.RequestError, call: CallInfo) -> UpstreamError:
        if isinstance(exc, httpx.PoolTimeout):
            return UpstreamError(
                504,
                f"upstream timed out after {call.timeout_s:g}s waiting for a free connection to "
                f"'{self.name}' (raise max_connections?)",
                kind="timeout",
                retryable=True,
            )
        if isinstance(exc, httpx.ConnectTimeout):
            wait = min(self._connect_timeout_s, call.timeout_s)
            return UpstreamError(
                504,
                f"upstream timed out after {wait:g}s connecting to '{self.name}' at "
                f"{self._base_url}",
                kind="timeout",
                retryable=True,
            )
        if isinstance(exc, httpx.TimeoutException):
            return UpstreamError(
                504,
                f"upstream timed out after {call.timeout_s:g}s ('{self.name}')",
                kind="timeout",
                retryable=True,
            )
        if isinstance(exc, httpx.DecodingError):
            return _bad_response(f"upstream '{self.name}' sent an undecodable body: {exc}")
        detail = str(exc) or type(exc).__name__
        if isinstance(exc, httpx.ConnectError):
            message = f"could not connect to upstream '{self.name}' at {self._base_url}: {detail}"
        else:
            message = f"connection to upstream '{self.name}' failed: {detail}"
        return UpstreamError(502, message, kind="connection_error", retryable=True)


def error_from_response(status: int, headers: httpx.Headers, content: bytes) -> UpstreamError:
    """An UpstreamError for an HTTP error answer: its message comes from the JSON error body
    (`error.message`) when there is one, else from the trimmed text."""
    try:
        body: Any = orjson.loads(content) if content else None
    except orjson.JSONDecodeError:
        body = None
    message = _error_message(body) if body is not None else None
    if message is None:
        message = _trim(content) or f"upstream answered HTTP {status}"
    return UpstreamError(
        status,
        message,
        retryable=is_retryable_status(status),
        retry_after_s=parse_retry_after(headers),
        body=body,
    )


def parse_retry_after(headers: httpx.Headers) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `retry-after` (delta-seconds or an HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        seconds = _finite(ms)
        if seconds is not None:
            return seconds / 1000.0
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _finite(value)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _finite(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return max(0.0, number) if math.isfinite(number) else None


def _error_message(body: Any) -> str | None:
    """The human message of an error body: OpenAI/Anthropic `error.message`, a bare `error`
    string (Ollama), `message` or `detail`; Gemini wraps the object in a list."""
    if isinstance(body, list) and body:
        body = body[0]
    if not isinstance(body, dict):
        return None
    err = body.get("error")
    if isinstance(err, dict):
        body = err
    elif isinstance(err, str) and err:
        return err
    for key in ("message", "detail"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _trim(content: bytes) -> str:
    text = " ".join(content[: _MAX_ERROR_TEXT * 4].decode("utf-8", "replace").split())
    return text if len(text) <= _MAX_ERROR_TEXT else text[: _MAX_ERROR_TEXT - 3] + "..."


def _bad_response(message: str) -> UpstreamError:
    return UpstreamError(502, message, kind="bad_upstream_response", retryable=False)


def decode_json_event(name: str, data: str) -> dict[str, Any]:
    """Decode one event's JSON data; anything but an object is a bad upstream response."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        obj = None
    if not isinstance(obj, dict):
        raise _bad_response(f"upstream '{name}' sent a stream event that is not a JSON object")
    return obj


def stream_error(name: str, obj: dict[str, Any], *, retryable: bool = False) -> UpstreamError:
    """An in-band error event in an otherwise successful stream."""
    message = _error_message(obj) or f"upstream '{name}' reported an error mid-stream"
    return UpstreamError(502, message, kind="stream_error", retryable=retryable, body=obj)
