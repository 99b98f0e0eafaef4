"""Tool calls in Anthropic Messages answers: find the `tool_use` blocks of `content[]`, replace
denied ones by a `text` block at the same position (so block indices stay dense), and, in streams,
hold a `tool_use` block's events from its `content_block_start` to its `content_block_stop`
(reassembling `input_json_delta` fragments), then release the block or its replacement."""

from __future__ import annotations

from typing import Any

from steward.gateway.stages._tool_calls_model import (
    DENIED_FIELD,
    Denial,
    ToolCall,
    entries,
    parse_arguments,
)

Denied = list[tuple[ToolCall, Denial]]
_TOOL_USE = "tool_use"
_BLOCK_EVENTS = frozenset({"content_block_start", "content_block_delta", "content_block_stop"})


def _read_block(block: dict[str, Any], i: int, raw_json: str | None) -> ToolCall:
    loc = f"content[{i}]"
    key = (i,)
    call_id = block.get("id") if isinstance(block.get("id"), str) else None
    name = block.get("name")
    if not isinstance(name, str) or not name:
        return ToolCall.malformed(call_id, "", "the tool_use block has no name", loc, key)
    if raw_json:  # streamed: the input is the concatenated input_json_delta fragments
        call = ToolCall.from_json_text(call_id, name, raw_json, loc, key)
        call.kind = _TOOL_USE
        return call
    value = block.get("input")
    if isinstance(value, str):
        args, error = parse_arguments(value)
        return ToolCall(call_id, name, args, value, loc, error, key=key, kind=_TOOL_USE)
    if value is None:
        value = {}
    if not isinstance(value, dict):
        why = f"the tool input must be an object, not {type(value).__name__}"
        return ToolCall(call_id, name, None, None, loc, why, key=key, kind=_TOOL_USE)
    return ToolCall(call_id, name, value, None, loc, key=key, kind=_TOOL_USE)


def calls(message: dict[str, Any]) -> list[ToolCall]:
    """Every `tool_use` block of a Messages answer, in order."""
    content = message.get("content")
    if not isinstance(content, list):
        return []
    return [
        _read_block(block, i, None)
        for i, block in enumerate(content)
        if isinstance(block, dict) and block.get("type") == _TOOL_USE
    ]


def _text_block(call: ToolCall, denial: Denial) -> dict[str, Any]:
    return {"type": "text", "text": denial.text(call)}


def withhold(message: dict[str, Any], denied: Denied) -> None:
    """Replace each denied `tool_use` block by a text block saying why, list the denials in
    `steward_denied_tool_calls`, and end the turn (`end_turn`) if no tool call is left."""
    content = message["content"]
    for call, denial in denied:
        content[call.key[0]] = _text_block(call, denial)
    message[DENIED_FIELD] = entries(denied)
    left = any(isinstance(b, dict) and b.get("type") == _TOOL_USE for b in content)
    if not left and message.get("stop_reason") == _TOOL_USE:
        message["stop_reason"] = "end_turn"


class AnthropicStream:
    """Holds each streamed `tool_use` block until it is complete; remembers the denials for the
    closing `message_delta`."""

    def __init__(self) -> None:
        self._held: list[dict[str, Any]] | None = None
        self._index = -1
        self._block: dict[str, Any] = {}
        self._json: list[str] = []
        self.allowed = 0
        self.denied: Denied = []

    def feed(self, event: dict[str, Any]) -> tuple[list[dict[str, Any]], ToolCall | None]:
        """Events to send now, and the call whose block this event completed (its events are
        held until `release`)."""
        kind = event.get("type")
        if self._held is None:
            if kind == "content_block_start":
                block = event.get("content_block")
                if isinstance(block, dict) and block.get("type") == _TOOL_USE:
                    self._held = [event]
                    self._index = event.get("index", 0)
                    self._block = block
                    self._json = []
                    return [], None
            return [event], None
        if kind == "ping":
            return [event], None
        self._held.append(event)
        if kind not in _BLOCK_EVENTS or event.get("index") != self._index:
            return [], None  # not this block's: kept behind it, fed again on release
        if kind == "content_block_delta":
            delta = event.get("delta")
            if isinstance(delta, dict) and delta.get("type") == "input_json_delta":
                part = delta.get("partial_json")
                if isinstance(part, str):
                    self._json.append(part)
            return [], None
        if kind == "content_block_stop":
            return [], _read_block(self._block, self._index, "".join(self._json))
        return [], None

    def release(
        self, call: ToolCall, denial: Denial | None
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The held block's events if the call is allowed, else a text block in its place; and
        the other events that arrived while it was held, to be fed again in order."""
        held, self._held = self._held or [], None
        idx = self._index
        mine = [e for e in held if e.get("type") in _BLOCK_EVENTS and e.get("index") == idx]
        backlog = [
            e for e in held if not (e.get("type") in _BLOCK_EVENTS and e.get("index") == idx)
        ]
        if denial is None:
            self.allowed += 1
            return mine, backlog
        self.denied.append((call, denial))
        text = {"type": "text_delta", "text": denial.text(call)}
        return [
            {
                "type": "content_block_start",
                "index": idx,
                "content_block": {"type": "text", "text": ""},
            },
            {"type": "content_block_delta", "index": idx, "delta": text},
            {"type": "content_block_stop", "index": idx},
        ], backlog

    def message_delta(self, event: dict[str, Any]) -> dict[str, Any]:
        """The closing `message_delta` with the denials listed and, if no call was delivered,
        `end_turn` instead of `tool_use`."""
        if not self.denied:
            return event
        out = {**event, DENIED_FIELD: entries(self.denied)}
        delta = event.get("delta")
        if not self.allowed and isinstance(delta, dict) and delta.get("stop_reason") == _TOOL_USE:
            out["delta"] = {**delta, "stop_reason": "end_turn"}
        return out
