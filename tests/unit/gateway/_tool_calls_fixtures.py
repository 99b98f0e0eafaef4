"""Shared pieces for the tool-calls stage tests: a principal and request context, a policy engine
that decides by tool name (no Cedar), an approvals service kept in memory, and answers in both
wire formats."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from steward.gateway.context import RequestContext
from steward.identity.snapshot import Principal


def principal(kind: str = "agent") -> Principal:
    return Principal(
        key_id="key-1",
        key_prefix="sk-stw-ab",
        kind=kind,
        user_id="user-1" if kind == "user" else None,
        team_id="team-1",
        app_id=None,
        agent_id="agent-1" if kind == "agent" else None,
        service_account_id=None,
        allowed_models=None,
        expires_at=None,
        suspended=None,
        owner_id="user-9" if kind == "agent" else None,
    )


def context(wire: str = "openai", *, stream: bool = False, kind: str = "agent") -> RequestContext:
    return RequestContext(
        request_id="req-1",
        endpoint="messages" if wire == "anthropic" else "chat",
        wire="anthropic" if wire == "anthropic" else "openai",
        started=0.0,
        received_at=datetime.now(UTC),
        headers={},
        stream=stream,
        principal=principal(kind),
        model_alias="sim-fast",
    )


@dataclass(frozen=True)
class FakeDecision:
    allowed: bool
    verdict: str
    approval: bool = False
    mode: str = "enforce"
    policies: tuple[str, ...] = ()
    reason: str = ""


@dataclass
class FakeEngine:
    """Allows the tools in `allow`, requires approval for `approve`, denies the rest; records
    what it was asked."""

    allow: set[str] = field(default_factory=set)
    approve: set[str] = field(default_factory=set)
    mode: str = "enforce"
    fail: bool = False
    asked: list[tuple[str, dict[str, Any], dict[str, Any]]] = field(default_factory=list)

    def decide_tool(
        self,
        principal: Principal,
        tool: str,
        server: str | None,
        arguments: dict[str, Any],
        context: dict[str, Any],
    ) -> FakeDecision:
        if self.fail:
            raise RuntimeError("engine down")
        self.asked.append((tool, arguments, context))
        shadow = self.mode == "shadow"
        if tool in self.approve:
            return FakeDecision(
                True, "allow", True, self.mode, ("needs-human",), f"{tool} needs a human"
            )
        if tool in self.allow:
            return FakeDecision(True, "allow", False, self.mode, ("permit-tools",), "permitted")
        return FakeDecision(
            shadow, "deny", False, self.mode, ("no-" + tool,), f"{tool} is forbidden"
        )


@dataclass
class FakeApproval:
    id: str
    status: str


@dataclass
class FakeApprovals:
    status: str = "pending"
    requests: list[tuple[str, str, dict[str, Any] | None, Sequence[str]]] = field(
        default_factory=list
    )
    _ids: Any = field(default_factory=itertools.count)

    async def request(
        self,
        principal: Principal,
        action: str,
        resource: str,
        arguments: dict[str, Any] | None,
        reason: str,
        request_id: str | None,
        policies: Sequence[str] = (),
    ) -> FakeApproval:
        self.requests.append((action, resource, arguments, policies))
        return FakeApproval(f"apr-{next(self._ids)}", self.status)


def openai_answer(*calls: tuple[str, str], content: str | None = None) -> dict[str, Any]:
    """A chat completion whose one choice calls `calls` (name, JSON arguments)."""
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if calls:
        message["tool_calls"] = [
            {"id": f"call_{i}", "type": "function", "function": {"name": n, "arguments": a}}
            for i, (n, a) in enumerate(calls)
        ]
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "sim-fast",
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if calls else "stop",
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
    }


def anthropic_answer(*calls: tuple[str, dict[str, Any]], text: str | None = None) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    content += [
        {"type": "tool_use", "id": f"toolu_{i}", "name": n, "input": a}
        for i, (n, a) in enumerate(calls)
    ]
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "sim-fast",
        "content": content,
        "stop_reason": "tool_use" if calls else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 5, "output_tokens": 7},
    }


def openai_chunks(
    calls: list[tuple[str, str]], cuts: list[list[int]], *, content: str = "", choice: int = 0
) -> list[dict[str, Any]]:
    """An OpenAI stream of `content` then `calls`, each call's arguments split at `cuts`."""
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m"}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            **base,
            "choices": [
                {"index": choice, "delta": delta, "logprobs": None, "finish_reason": finish}
            ],
        }

    out = [chunk({"role": "assistant", "content": content})]
    for j, (name, args) in enumerate(calls):
        head = {"index": j, "id": f"call_{j}", "type": "function"}
        out.append(chunk({"tool_calls": [{**head, "function": {"name": name, "arguments": ""}}]}))
        bounds = [0, *sorted({c for c in cuts[j] if 0 < c < len(args)}), len(args)]
        for a, b in itertools.pairwise(bounds):
            frag = {"index": j, "function": {"arguments": args[a:b]}}
            out.append(chunk({"tool_calls": [frag]}))
    out.append(chunk({}, "tool_calls" if calls else "stop"))
    return out


def anthropic_events(
    calls: list[tuple[str, str]], cuts: list[list[int]], *, text: str = ""
) -> list[dict[str, Any]]:
    """An Anthropic stream of `text` then `calls` (name, JSON input), inputs split at `cuts`."""
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "m",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 5, "output_tokens": 0},
    }
    out: list[dict[str, Any]] = [{"type": "message_start", "message": message}]
    index = 0
    if text:
        out += [
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": text},
            },
            {"type": "content_block_stop", "index": 0},
        ]
        index = 1
    for j, (name, args) in enumerate(calls):
        block = {"type": "tool_use", "id": f"toolu_{j}", "name": name, "input": {}}
        out.append({"type": "content_block_start", "index": index, "content_block": block})
        bounds = [0, *sorted({c for c in cuts[j] if 0 < c < len(args)}), len(args)]
        for a, b in itertools.pairwise(bounds):
            delta = {"type": "input_json_delta", "partial_json": args[a:b]}
            out.append({"type": "content_block_delta", "index": index, "delta": delta})
        out.append({"type": "content_block_stop", "index": index})
        index += 1
    out.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use" if calls else "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 9},
        }
    )
    out.append({"type": "message_stop"})
    return out
