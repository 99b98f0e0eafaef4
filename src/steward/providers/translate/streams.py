"""Streams: Anthropic Messages events <-> OpenAI `chat.completion.chunk`s, one event at a time.

Each translator is a small state machine fed with decoded SSE data dicts; `finish()` closes the
stream (idempotently) when the upstream ends, emitting whatever the client still expects.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from steward.providers.base import Usage
from steward.providers.translate._util import as_dict
from steward.providers.translate.errors import UpstreamStreamError
from steward.providers.translate.responses import (
    finish_reason_from_anthropic,
    stop_reason_from_openai,
)
from steward.providers.translate.usage import (
    merge_anthropic_usage,
    usage_from_anthropic,
    usage_from_openai,
    usage_to_anthropic,
    usage_to_openai,
)

Event = dict[str, Any]


def _stream_error(error: Any, default: str) -> UpstreamStreamError:
    err = error if isinstance(error, dict) else {}
    message, kind = err.get("message"), err.get("type")
    return UpstreamStreamError(
        message if isinstance(message, str) and message else default,
        kind=kind if isinstance(kind, str) and kind else "api_error",
    )


class MessagesToChatStream:
    """Anthropic stream events in, OpenAI `chat.completion.chunk` dicts out."""

    def __init__(self, model: str, response_id: str, include_usage: bool) -> None:
        self.model = model
        self.response_id = response_id
        self.include_usage = include_usage
        self.created = int(time.time())
        self.usage: Usage | None = None
        self._raw_usage: dict[str, Any] = {}
        self._role_sent = False
        self._tool_index: dict[int, int] = {}  # Anthropic block index -> OpenAI tool_calls index
        self._finish_reason: str | None = None
        self._finish_sent = False
        self._usage_sent = False
        self._handlers: dict[str, Callable[[Event], list[Event]]] = {
            "message_start": self._on_message_start,
            "content_block_start": self._on_block_start,
            "content_block_delta": self._on_block_delta,
            "message_delta": self._on_message_delta,
            "message_stop": lambda _event: self.finish(),
        }

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """Translate one Anthropic event; raises UpstreamStreamError on an `error` event."""
        kind = event.get("type")
        if kind == "error":
            raise _stream_error(event.get("error"), "the upstream stream reported an error")
        handler = self._handlers.get(kind) if isinstance(kind, str) else None
        return handler(event) if handler else []  # ping, content_block_stop, unknown: nothing

    def finish(self) -> list[dict[str, Any]]:
        """The finish chunk (if not yet sent) and, when asked for, the usage-only chunk."""
        out: list[Event] = []
        if not self._finish_sent:
            self._finish_sent = True
            out.append(self._chunk({}, self._finish_reason or "stop"))
        if self.include_usage and not self._usage_sent:
            self._usage_sent = True
            out.append(self._envelope([], usage_to_openai(self.usage or Usage())))
        return out

    def _envelope(self, choices: list[Event], usage: dict[str, Any] | None) -> Event:
        chunk: Event = {
            "id": self.response_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }
        if self.include_usage:
            chunk["usage"] = usage  # OpenAI sends null on every chunk but the last
        return chunk

    def _chunk(self, delta: Event, finish_reason: str | None = None) -> Event:
        if not self._role_sent:
            self._role_sent = True
            delta = {"role": "assistant", **delta}
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return self._envelope([choice], None)

    def _update_usage(self, raw: Any) -> None:
        self._raw_usage = merge_anthropic_usage(self._raw_usage, raw)
        self.usage = usage_from_anthropic(self._raw_usage)

    def _on_message_start(self, event: Event) -> list[Event]:
        message = as_dict(event.get("message"))
        self._update_usage(message.get("usage"))
        return [self._chunk({"content": ""})] if not self._role_sent else []

    def _on_block_start(self, event: Event) -> list[Event]:
        block = as_dict(event.get("content_block"))
        if block.get("type") == "text" and block.get("text"):
            return [self._chunk({"content": block["text"]})]
        if block.get("type") != "tool_use":
            return []  # thinking and server-tool blocks have no chat equivalent
        tool_index = len(self._tool_index)
        self._tool_index[event.get("index", -1)] = tool_index
        initial = block.get("input")
        call = {
            "index": tool_index,
            "id": block.get("id"),
            "type": "function",
            "function": {
                "name": block.get("name"),
                "arguments": json.dumps(initial, ensure_ascii=False) if initial else "",
            },
        }
        return [self._chunk({"tool_calls": [call]})]

    def _on_block_delta(self, event: Event) -> list[Event]:
        delta = as_dict(event.get("delta"))
        kind = delta.get("type")
        if kind == "text_delta" and delta.get("text"):
            return [self._chunk({"content": delta["text"]})]
        tool_index = self._tool_index.get(event.get("index", -1))
        if kind == "input_json_delta" and delta.get("partial_json") and tool_index is not None:
            call = {"index": tool_index, "function": {"arguments": delta["partial_json"]}}
            return [self._chunk({"tool_calls": [call]})]
        return []

    def _on_message_delta(self, event: Event) -> list[Event]:
        self._update_usage(event.get("usage"))
        delta = as_dict(event.get("delta"))
        if delta.get("stop_reason"):
            self._finish_reason = finish_reason_from_anthropic(delta["stop_reason"])
        if self._finish_sent or not self._finish_reason:
            return []
        self._finish_sent = True
        return [self._chunk({}, self._finish_reason)]


class ChatToMessagesStream:
    """OpenAI chunks in, Anthropic stream events (each with "type") out.

    Usage arrives in OpenAI's last chunk, after the finish chunk, so `message_delta` (stop reason
    and usage) and `message_stop` are emitted by `finish()`.
    """

    def __init__(self, model: str, response_id: str) -> None:
        self.model = model
        self.response_id = response_id
        self.usage: Usage | None = None
        self._started = False
        self._done = False
        self._open: tuple[str, int] | None = None  # ("text", 0) or ("tool", OpenAI tool index)
        self._next_index = 0
        self._finish_reason: str | None = None
        self._has_tools = False

    def feed(self, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        """Translate one OpenAI chunk; raises UpstreamStreamError on an in-stream error object."""
        if "error" in chunk and not chunk.get("choices"):
            raise _stream_error(chunk.get("error"), "the upstream stream reported an error")
        if self._done:
            return []
        if isinstance(chunk.get("usage"), dict):
            self.usage = usage_from_openai(chunk["usage"])
        out = self._start()
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue  # Anthropic has a single answer; extra choices cannot be expressed
            delta = as_dict(choice.get("delta"))
            out.extend(self._text(delta))
            out.extend(self._tools(delta.get("tool_calls")))
            if choice.get("finish_reason"):
                self._finish_reason = choice["finish_reason"]
        return out

    def finish(self) -> list[dict[str, Any]]:
        """Close the open block and emit `message_delta` (stop reason, usage) and `message_stop`."""
        if self._done:
            return []
        out = self._start() + self._close()
        self._done = True
        usage = usage_to_anthropic(self.usage) if self.usage else {"output_tokens": 0}
        stop_reason = stop_reason_from_openai(self._finish_reason, self._has_tools)
        out.append(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": usage,
            }
        )
        out.append({"type": "message_stop"})
        return out

    def _start(self) -> list[Event]:
        if self._started:
            return []
        self._started = True
        usage = usage_to_anthropic(self.usage) if self.usage else {}
        usage = {**usage, "input_tokens": usage.get("input_tokens", 0), "output_tokens": 0}
        message: Event = {
            "id": self.response_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        }
        return [{"type": "message_start", "message": message}]

    def _close(self) -> list[Event]:
        if self._open is None:
            return []
        self._open = None
        return [{"type": "content_block_stop", "index": self._next_index - 1}]

    def _open_block(self, key: tuple[str, int], block: Event) -> list[Event]:
        out = self._close()
        out.append(
            {"type": "content_block_start", "index": self._next_index, "content_block": block}
        )
        self._open = key
        self._next_index += 1
        return out

    def _text(self, delta: Event) -> list[Event]:
        text = "".join(
            v for v in (delta.get("content"), delta.get("refusal")) if isinstance(v, str)
        )
        if not text:
            return []
        out = (
            []
            if self._open == ("text", 0)
            else self._open_block(("text", 0), {"type": "text", "text": ""})
        )
        text_delta = {"type": "text_delta", "text": text}
        out.append(
            {"type": "content_block_delta", "index": self._next_index - 1, "delta": text_delta}
        )
        return out

    def _tools(self, calls: Any) -> list[Event]:
        out: list[Event] = []
        for pos, call in enumerate(calls if isinstance(calls, list) else []):
            if not isinstance(call, dict):
                continue
            key = ("tool", call.get("index", pos))
            fn = as_dict(call.get("function"))
            if self._open != key:
                self._has_tools = True
                block: Event = {
                    "type": "tool_use",
                    "id": call.get("id") or f"toolu_{uuid.uuid4().hex[:24]}",
                    "name": fn.get("name") or "",
                    "input": {},
                }
                out.extend(self._open_block(key, block))
            arguments = fn.get("arguments")
            if isinstance(arguments, str) and arguments:
                json_delta = {"type": "input_json_delta", "partial_json": arguments}
                index = self._next_index - 1
                out.append({"type": "content_block_delta", "index": index, "delta": json_delta})
        return out
