"""Tool calls in OpenAI chat-completions answers: find them (`choices[].message.tool_calls[]`,
function and custom tools, and the legacy `function_call`), withhold denied ones, and, in streams,
reassemble `delta.tool_calls` fragments per choice and index, holding them back until the choice
finishes, then release the allowed calls (re-indexed densely) and the denials."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from steward.gateway.stages._tool_calls_model import (
    DENIED_FIELD,
    Denial,
    ToolCall,
    entries,
    explanation,
)

_LEGACY = "function_call"
_TOOL_FINISH = frozenset({"tool_calls", "function_call"})

Denied = list[tuple[ToolCall, Denial]]
Finished = list[tuple[int, list[ToolCall]]]  # (choice index, its complete calls)


def _name(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _read_call(raw: Any, ci: int, j: int) -> ToolCall:
    """One entry of `message.tool_calls`."""
    loc = f"choices[{ci}].message.tool_calls[{j}]"
    key = (ci, j)
    if not isinstance(raw, dict):
        return ToolCall.malformed(None, "", "the tool call is not an object", loc, key)
    call_id = raw.get("id") if isinstance(raw.get("id"), str) else None
    kind = raw.get("type") or "function"
    spec = raw.get(kind) if isinstance(kind, str) else None
    name = _name(spec.get("name")) if isinstance(spec, dict) else None
    if kind not in ("function", "custom") or not isinstance(spec, dict):
        why = f"the tool call type {kind!r} is not supported"
        return ToolCall.malformed(call_id, name or "", why, loc, key)
    if name is None:
        return ToolCall.malformed(call_id, "", "the tool call has no name", loc, key)
    if kind == "custom":  # free-form input: the policy sees it as {"input": text}
        text = spec.get("input")
        if not isinstance(text, str):
            return ToolCall.malformed(call_id, name, "the custom tool input is not text", loc, key)
        return ToolCall(call_id, name, {"input": text}, text, loc, key=key, kind="custom")
    args = spec.get("arguments")
    if isinstance(args, dict):  # some OpenAI-compatible servers send an object
        return ToolCall(call_id, name, args, None, loc, key=key)
    if args is None:
        args = ""
    if not isinstance(args, str):
        why = "the arguments are not a JSON string"
        return ToolCall(call_id, name, None, None, loc, why, key=key)
    return ToolCall.from_json_text(call_id, name, args, loc, key)


def _read_legacy(raw: Any, ci: int) -> ToolCall:
    loc = f"choices[{ci}].message.function_call"
    key = (ci, _LEGACY)
    name = _name(raw.get("name")) if isinstance(raw, dict) else None
    if name is None:
        return ToolCall.malformed(None, "", "the function call has no name", loc, key)
    args = raw.get("arguments")
    return ToolCall.from_json_text(None, name, args if isinstance(args, str) else "", loc, key)


def calls(body: dict[str, Any]) -> list[ToolCall]:
    """Every tool call in a chat-completion answer, in order."""
    out: list[ToolCall] = []
    for ci, choice in enumerate(body.get("choices") or ()):
        msg = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(msg, dict):
            continue
        listed = msg.get("tool_calls")
        if isinstance(listed, list):
            out.extend(_read_call(raw, ci, j) for j, raw in enumerate(listed))
        if msg.get(_LEGACY) is not None:
            out.append(_read_legacy(msg[_LEGACY], ci))
    return out


def _with_text(content: Any, text: str) -> Any:
    """The message content with the explanation after the model's own text."""
    if isinstance(content, list):  # content parts (some OpenAI-compatible servers)
        return [*content, {"type": "text", "text": text}]
    return f"{content}\n\n{text}" if isinstance(content, str) and content else text


def withhold(body: dict[str, Any], denied: Denied) -> None:
    """Remove the denied calls from the answer and say why, in place: the message keeps the
    allowed calls, lists the denied ones in `steward_denied_tool_calls` and explains them in its
    content; a choice left without calls finishes with `stop`."""
    by_choice: dict[int, Denied] = {}
    for call, denial in denied:
        by_choice.setdefault(call.key[0], []).append((call, denial))
    choices = body.get("choices") or []
    for ci, items in by_choice.items():
        choice = choices[ci]
        msg = choice["message"]
        gone = {call.key[1] for call, _ in items}
        kept: list[Any] = []
        if isinstance(msg.get("tool_calls"), list):
            kept = [c for j, c in enumerate(msg["tool_calls"]) if j not in gone]
            if kept:
                msg["tool_calls"] = kept
            else:
                del msg["tool_calls"]
        if _LEGACY in gone:
            del msg[_LEGACY]
        elif msg.get(_LEGACY) is not None:
            kept.append(msg[_LEGACY])
        msg["content"] = _with_text(msg.get("content"), explanation(items))
        msg[DENIED_FIELD] = entries(items)
        if not kept and choice.get("finish_reason") in _TOOL_FINISH:
            choice["finish_reason"] = "stop"


@dataclass(slots=True)
class _Partial:
    """A streamed call being reassembled from its fragments."""

    position: int  # order of first appearance within the choice
    id: str | None = None
    type: str | None = None
    name: str = ""
    text: str = ""  # arguments (function) or input (custom)
    bad: str | None = None


@dataclass(slots=True)
class _Choice:
    calls: dict[Any, _Partial] = field(default_factory=dict)  # tool index | "function_call"
    had_content: bool = False


class OpenAIStream:
    """Reassembles one stream's tool calls and withholds them until their choice finishes."""

    def __init__(self) -> None:
        self._choices: dict[int, _Choice] = {}

    def feed(self, chunk: dict[str, Any]) -> tuple[dict[str, Any] | None, Finished]:
        """Take a chunk's tool-call fragments; return the chunk without them (None when nothing
        is left to send) and, for each choice this chunk finishes, its complete calls."""
        raw_choices = chunk.get("choices")
        if not isinstance(raw_choices, list) or not raw_choices:
            return chunk, []
        kept: list[Any] = []
        finished: Finished = []
        touched = False
        for choice in raw_choices:
            if not isinstance(choice, dict):
                kept.append(choice)
                continue
            idx = choice.get("index", 0)
            idx = idx if isinstance(idx, int) else 0
            delta = choice.get("delta")
            stripped = False
            if isinstance(delta, dict) and ("tool_calls" in delta or _LEGACY in delta):
                touched = stripped = True
                self._take(idx, delta)
                delta = {k: v for k, v in delta.items() if k not in ("tool_calls", _LEGACY)}
                choice = {**choice, "delta": delta}
            if isinstance(delta, dict) and delta.get("content"):
                self._state(idx).had_content = True
            if choice.get("finish_reason"):
                finished.append((idx, self._complete(idx)))
            elif stripped and not delta and not choice.get("logprobs"):
                continue  # nothing left of this choice's delta
            kept.append(choice)
        if not touched:
            return chunk, finished
        if not kept and chunk.get("usage") is None:
            return None, finished
        return {**chunk, "choices": kept}, finished

    def _state(self, idx: int) -> _Choice:
        state = self._choices.get(idx)
        if state is None:
            state = self._choices[idx] = _Choice()
        return state

    def _take(self, idx: int, delta: dict[str, Any]) -> None:
        state = self._state(idx)
        listed = delta.get("tool_calls")
        for pos, frag in enumerate(listed if isinstance(listed, list) else ()):
            j = frag.get("index", pos) if isinstance(frag, dict) else pos
            part = state.calls.get(j)
            if part is None:
                part = state.calls[j] = _Partial(len(state.calls))
            self._merge(part, frag)
        legacy = delta.get(_LEGACY)
        if legacy is not None:
            part = state.calls.get(_LEGACY)
            if part is None:
                part = state.calls[_LEGACY] = _Partial(len(state.calls), type=_LEGACY)
            self._merge_fn(part, legacy)

    @staticmethod
    def _merge(part: _Partial, frag: Any) -> None:
        if not isinstance(frag, dict):
            part.bad = "a tool call fragment is not an object"
            return
        if isinstance(frag.get("id"), str) and frag["id"] and part.id is None:
            part.id = frag["id"]
        kind = frag.get("type")
        if isinstance(kind, str) and kind and part.type is None:
            part.type = kind
        for spec_key in ("function", "custom"):
            spec = frag.get(spec_key)
            if spec is None:
                continue
            if part.type is None:
                part.type = spec_key
            OpenAIStream._merge_fn(part, spec, "input" if spec_key == "custom" else "arguments")

    @staticmethod
    def _merge_fn(part: _Partial, spec: Any, text_key: str = "arguments") -> None:
        if not isinstance(spec, dict):
            part.bad = "a tool call fragment is not an object"
            return
        if isinstance(spec.get("name"), str):
            part.name += spec["name"]
        text = spec.get(text_key)
        if isinstance(text, str):
            part.text += text
        elif isinstance(text, dict) and not part.text:  # an object instead of JSON text
            part.text = json.dumps(text)

    def _complete(self, idx: int) -> list[ToolCall]:
        state = self._choices.get(idx)
        if state is None or not state.calls:
            return []
        out = []
        for j, part in sorted(state.calls.items(), key=lambda kv: kv[1].position):
            out.append(_to_call(idx, j, part))
        state.calls = {}
        return out

    def release(
        self,
        chunk: dict[str, Any],
        idx: int,
        calls_: list[ToolCall],
        denied: Denied,
    ) -> list[dict[str, Any]]:
        """Chunks to send before `chunk` (the one finishing choice `idx`): the allowed calls,
        then the denials; rewrites the choice's finish reason in `chunk` if none is left."""
        gone = {id(call) for call, _ in denied}
        allowed = [c for c in calls_ if id(c) not in gone]
        base = {k: v for k, v in chunk.items() if k not in ("choices", "usage")}
        out: list[dict[str, Any]] = []
        tools = [c for c in allowed if c.key[1] != _LEGACY]
        if tools:
            delta: dict[str, Any] = {"tool_calls": [_delta_call(n, c) for n, c in enumerate(tools)]}
            out.append({**base, "choices": [_choice(idx, delta)]})
        legacy = [c for c in allowed if c.key[1] == _LEGACY]
        if legacy:
            fn = {"name": legacy[0].name, "arguments": legacy[0].raw_arguments or ""}
            out.append({**base, "choices": [_choice(idx, {_LEGACY: fn})]})
        if denied:
            state = self._state(idx)
            text = explanation(denied)
            delta = {"content": f"\n\n{text}" if state.had_content else text}
            delta[DENIED_FIELD] = entries(denied)
            out.append({**base, "choices": [_choice(idx, delta)]})
            if not allowed:
                for choice in chunk.get("choices") or ():
                    if (
                        choice.get("index", 0) == idx
                        and choice.get("finish_reason") in _TOOL_FINISH
                    ):
                        choice["finish_reason"] = "stop"
        return out


def _choice(idx: int, delta: dict[str, Any]) -> dict[str, Any]:
    return {"index": idx, "delta": delta, "logprobs": None, "finish_reason": None}


def _to_call(idx: int, j: Any, part: _Partial) -> ToolCall:
    key = (idx, j)
    if j == _LEGACY:
        loc = f"choices[{idx}].message.function_call"
    else:
        loc = f"choices[{idx}].message.tool_calls[{part.position}]"
    if part.bad is not None:
        return ToolCall.malformed(part.id, part.name, part.bad, loc, key)
    if not part.name:
        return ToolCall.malformed(part.id, "", "the tool call has no name", loc, key)
    if part.type == "custom":
        return ToolCall(
            part.id, part.name, {"input": part.text}, part.text, loc, key=key, kind="custom"
        )
    if part.type not in ("function", _LEGACY, None):
        why = f"the tool call type {part.type!r} is not supported"
        return ToolCall.malformed(part.id, part.name, why, loc, key)
    return ToolCall.from_json_text(part.id, part.name, part.text, loc, key)


def _delta_call(n: int, call: ToolCall) -> dict[str, Any]:
    """An allowed call, whole, as one stream fragment at its new (dense) index."""
    if call.kind == "custom":
        spec_key, spec = "custom", {"name": call.name, "input": call.raw_arguments}
    else:
        spec_key, spec = "function", {"name": call.name, "arguments": call.raw_arguments or ""}
    out: dict[str, Any] = {"index": n, "type": spec_key, spec_key: spec}
    if call.id is not None:
        out["id"] = call.id
    return out
