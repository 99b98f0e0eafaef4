"""Route streamed events (either wire format) through the guard's per-channel scanners: text
deltas and tool-call argument deltas are replaced by what is safe to release; each channel is
flushed before the event that ends it."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from steward.gateway.context import RequestContext
    from steward.guard.stage import GuardOutput


def relay_event(
    stage: GuardOutput, ctx: RequestContext, event: dict[str, Any]
) -> list[dict[str, Any]]:
    if "choices" in event or event.get("object") == "chat.completion.chunk":
        return _openai(stage, ctx, event)
    if "type" in event:
        return _anthropic(stage, ctx, event)
    return [event]


def _openai(stage: GuardOutput, ctx: RequestContext, chunk: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for choice in chunk.get("choices") or ():
        idx = choice.get("index", 0)
        delta = choice.get("delta") or {}
        content = delta.get("content")
        if isinstance(content, str) and content:
            ch = stage.channel(ctx, (idx, "content"), f"choices[{idx}].message.content")
            delta["content"] = ch.push(content)
        for call in delta.get("tool_calls") or ():
            fn = call.get("function") or {}
            args = fn.get("arguments")
            if isinstance(args, str) and args:
                j = call.get("index", 0)
                loc = f"choices[{idx}].message.tool_calls[{j}].function.arguments"
                fn["arguments"] = stage.channel(ctx, (idx, "tool", j), loc).push(args)
        if choice.get("finish_reason"):
            out.extend(_openai_flush(stage, ctx, chunk, idx))
    out.append(chunk)
    return out


def _openai_flush(
    stage: GuardOutput, ctx: RequestContext, chunk: dict[str, Any], idx: int
) -> list[dict[str, Any]]:
    state = ctx.guard
    flushed: list[dict[str, Any]] = []
    for key, ch in list(state.channels.items()):
        if key[0] != idx:
            continue
        rest = ch.flush()
        del state.channels[key]
        if not rest:
            continue
        delta: dict[str, Any]
        if key[1] == "content":
            delta = {"content": rest}
        else:
            delta = {"tool_calls": [{"index": key[2], "function": {"arguments": rest}}]}
        extra = {k: v for k, v in chunk.items() if k not in ("choices", "usage")}
        extra["choices"] = [{"index": idx, "delta": delta, "finish_reason": None}]
        flushed.append(extra)
    return flushed


def _anthropic(
    stage: GuardOutput, ctx: RequestContext, event: dict[str, Any]
) -> list[dict[str, Any]]:
    kind = event.get("type")
    if kind == "content_block_delta":
        idx = event.get("index", 0)
        delta = event.get("delta") or {}
        if delta.get("type") == "text_delta" and delta.get("text"):
            ch = stage.channel(ctx, (idx, "text"), f"content[{idx}].text")
            delta["text"] = ch.push(delta["text"])
        elif delta.get("type") == "input_json_delta" and delta.get("partial_json"):
            ch = stage.channel(ctx, (idx, "json"), f"content[{idx}].input")
            delta["partial_json"] = ch.push(delta["partial_json"])
        return [event]
    if kind == "content_block_stop":
        idx = event.get("index", 0)
        out = []
        state = ctx.guard
        for key in [k for k in state.channels if k[0] == idx]:
            rest = state.channels.pop(key).flush()
            if rest:
                field = "text" if key[1] == "text" else "partial_json"
                dtype = "text_delta" if key[1] == "text" else "input_json_delta"
                out.append(
                    {
                        "type": "content_block_delta",
                        "index": idx,
                        "delta": {"type": dtype, field: rest},
                    }
                )
        out.append(event)
        return out
    return [copy.copy(event)] if kind == "message_delta" else [event]
