"""tool calls: the tool calls a model returns are decided by policy before the client sees them.

Runs after guard output, on the answer in the client's wire format (OpenAI chat completions or
Anthropic Messages), streamed or not. Each call (tool name and strictly parsed arguments) is
decided by the policy engine; a denied call is removed from the answer and the answer says why,
in its text and in `steward_denied_tool_calls` (see docs/tool-calls.md). In streams a call's
events are held back until the call is complete, then released or replaced."""

from __future__ import annotations

from collections import deque
from typing import Any

from steward.gateway.context import RequestContext
from steward.gateway.stages import _tool_calls_anthropic as anthropic
from steward.gateway.stages import _tool_calls_openai as openai
from steward.gateway.stages._tool_calls_model import DENIED_HEADER
from steward.gateway.stages._tool_calls_policy import ToolPolicy
from steward.gateway.stages.base import Stage

_ANSWERS = frozenset({"chat", "messages"})


class ToolCalls(Stage):
    """Checks every tool call in an answer against policy; withholds and explains denials."""

    name = "tool calls"
    awaits_chunks = True  # deciding a call may await an approval request

    def __init__(self, policy: ToolPolicy) -> None:
        self.policy = policy

    async def on_response(self, ctx: RequestContext) -> None:
        body = ctx.response
        if ctx.stream or body is None or ctx.endpoint not in _ANSWERS:
            return
        wire = anthropic if ctx.wire == "anthropic" else openai
        found = wire.calls(body)
        if not found:
            return
        denied = await self.policy.judge(ctx, found)
        if denied:
            wire.withhold(body, denied)
            ctx.response_headers.append((DENIED_HEADER, str(len(denied)).encode()))

    async def on_chunks(
        self, ctx: RequestContext, events: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        if ctx.endpoint not in _ANSWERS:
            return events
        if ctx.wire == "anthropic":
            return await self._anthropic(ctx, events)
        return await self._openai(ctx, events)

    async def _openai(
        self, ctx: RequestContext, events: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        stream = ctx.tool_calls
        if stream is None:
            stream = ctx.tool_calls = openai.OpenAIStream()
        out: list[dict[str, Any]] = []
        for event in events:
            chunk, finished = stream.feed(event)
            for idx, calls in finished:
                denied = await self.policy.judge(ctx, calls) if calls else []
                if chunk is not None and calls:
                    out.extend(stream.release(chunk, idx, calls, denied))
            if chunk is not None:
                out.append(chunk)
        return out

    async def _anthropic(
        self, ctx: RequestContext, events: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        stream = ctx.tool_calls
        if stream is None:
            stream = ctx.tool_calls = anthropic.AnthropicStream()
        out: list[dict[str, Any]] = []
        queue = deque(events)
        while queue:
            passed, call = stream.feed(queue.popleft())
            for event in passed:
                out.append(await self._outgoing(ctx, stream, event))
            if call is not None:
                denial = await self.policy.judge_one(ctx, call)
                released, backlog = stream.release(call, denial)
                out.extend(released)
                queue.extendleft(reversed(backlog))
        return out

    async def _outgoing(
        self, ctx: RequestContext, stream: anthropic.AnthropicStream, event: dict[str, Any]
    ) -> dict[str, Any]:
        kind = event.get("type")
        if kind == "message_delta":
            return stream.message_delta(event)
        if kind != "message_start" or not isinstance(event.get("message"), dict):
            return event
        # A message_start that already holds tool_use blocks (providers send none, but nothing
        # may slip through) is decided like a whole answer.
        message = event["message"]
        found = anthropic.calls(message)
        if not found:
            return event
        message = {**message, "content": list(message["content"])}
        denied = await self.policy.judge(ctx, found)
        if denied:
            anthropic.withhold(message, denied)
            stream.denied.extend(denied)
        stream.allowed += len(found) - len(denied)
        return {**event, "message": message}
