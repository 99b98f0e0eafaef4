"""The tool-calls stage with a policy engine that decides by tool name: denials withheld and
explained in both wires, streamed or not, approvals requested, audit events recorded, and the
engine's absence or failure failing closed for agents."""

from __future__ import annotations

from typing import Any

import pytest

from steward.gateway.stages._tool_calls_model import DENIED_FIELD, DENIED_HEADER
from steward.gateway.stages._tool_calls_policy import ToolPolicy
from steward.gateway.stages.tool_calls import ToolCalls
from tests.unit.gateway._tool_calls_fixtures import (
    FakeApprovals,
    FakeEngine,
    anthropic_answer,
    anthropic_events,
    context,
    openai_answer,
    openai_chunks,
)


def audits(ctx: Any) -> list[dict[str, Any]]:
    return [r["row"] for r in ctx.extra_events if r["kind"] == "audit"]


async def test_openai_answer_denied_call_withheld_with_header_and_audit() -> None:
    engine = FakeEngine(allow={"get_weather"})
    stage = ToolCalls(ToolPolicy(engine, None))
    ctx = context()
    ctx.response = openai_answer(("get_weather", '{"city": "Oslo"}'), ("refund", '{"amount": 9}'))
    await stage.on_response(ctx)
    msg = ctx.response["choices"][0]["message"]
    assert [c["function"]["name"] for c in msg["tool_calls"]] == ["get_weather"]
    assert msg[DENIED_FIELD][0]["reason"] == "refund is forbidden"
    assert (DENIED_HEADER, b"1") in ctx.response_headers
    [row] = audits(ctx)
    assert row["action"] == "policy.tool_call" and row["target_id"] == "refund"
    assert row["outcome"] == "denied" and row["details"]["policies"] == ["no-refund"]
    assert row["agent_id"] == "agent-1" and row["owner_id"] == "user-9" and row["chain"] is None
    assert row["details"]["arguments_sha256"] == msg[DENIED_FIELD][0]["arguments_sha256"]
    assert [(t, a) for t, a, _ in engine.asked] == [
        ("get_weather", {"city": "Oslo"}),
        ("refund", {"amount": 9}),
    ]
    assert engine.asked[0][2]["endpoint"] == "chat"


async def test_allowed_answer_is_untouched() -> None:
    stage = ToolCalls(ToolPolicy(FakeEngine(allow={"get_weather"}), None))
    ctx = context("anthropic")
    ctx.response = anthropic_answer(("get_weather", {"city": "Oslo"}))
    before = repr(ctx.response)
    await stage.on_response(ctx)
    assert repr(ctx.response) == before and not ctx.response_headers and not audits(ctx)


async def test_invalid_arguments_are_denied_without_asking_the_engine() -> None:
    engine = FakeEngine(allow={"refund"})
    stage = ToolCalls(ToolPolicy(engine, None))
    ctx = context()
    ctx.response = openai_answer(("refund", '{"amount": 1, "amount": 100000}'))
    await stage.on_response(ctx)
    [entry] = ctx.response["choices"][0]["message"][DENIED_FIELD]
    assert entry["code"] == "invalid_arguments" and "appears twice" in entry["reason"]
    assert engine.asked == []
    assert ctx.response["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize(
    "status,code,delivered",
    [
        ("pending", "approval_required", False),
        ("denied", "approval_denied", False),
        ("approved", None, True),
    ],
)
async def test_approval(status: str, code: str | None, delivered: bool) -> None:
    approvals = FakeApprovals(status=status)
    stage = ToolCalls(ToolPolicy(FakeEngine(approve={"refund"}), approvals))
    ctx = context("anthropic")
    ctx.response = anthropic_answer(("refund", {"amount": 900}))
    await stage.on_response(ctx)
    assert approvals.requests == [("call_tool", "refund", {"amount": 900}, ("needs-human",))]
    [row] = audits(ctx)
    assert row["details"]["approval_id"] == "apr-0"
    if delivered:
        assert ctx.response["content"][0]["type"] == "tool_use"
        assert row["outcome"] == "allowed" and row["details"]["code"] == "approved"
        return
    [entry] = ctx.response[DENIED_FIELD]
    assert entry["code"] == code and entry["approval"] == {"id": "apr-0", "status": status}
    assert "Approval apr-0 is " + status in ctx.response["content"][0]["text"]
    assert ctx.response["stop_reason"] == "end_turn"


async def test_approval_without_service_is_still_withheld() -> None:
    stage = ToolCalls(ToolPolicy(FakeEngine(approve={"refund"}), None))
    ctx = context()
    ctx.response = openai_answer(("refund", "{}"))
    await stage.on_response(ctx)
    [entry] = ctx.response["choices"][0]["message"][DENIED_FIELD]
    assert entry["code"] == "approval_required" and entry["approval"] is None


async def test_shadow_denial_is_delivered_and_recorded() -> None:
    stage = ToolCalls(ToolPolicy(FakeEngine(mode="shadow"), None))
    ctx = context()
    ctx.response = openai_answer(("refund", "{}"))
    await stage.on_response(ctx)
    assert ctx.response["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "refund"
    [row] = audits(ctx)
    assert row["outcome"] == "allowed" and row["details"]["code"] == "shadow"
    assert row["details"]["decision"] == "deny" and row["details"]["mode"] == "shadow"


@pytest.mark.parametrize("kind,withheld", [("agent", True), ("user", False)])
async def test_without_engine_agents_fail_closed_and_users_pass(kind: str, withheld: bool) -> None:
    stage = ToolCalls(ToolPolicy(None, None))
    ctx = context(kind=kind)
    ctx.response = openai_answer(("get_weather", "{}"))
    await stage.on_response(ctx)
    msg = ctx.response["choices"][0]["message"]
    assert ("tool_calls" not in msg) is withheld
    if withheld:
        assert msg[DENIED_FIELD][0]["code"] == "policy_unavailable"


async def test_engine_failure_fails_closed() -> None:
    stage = ToolCalls(ToolPolicy(FakeEngine(fail=True), None))
    ctx = context(kind="user")
    ctx.response = openai_answer(("get_weather", "{}"))
    await stage.on_response(ctx)
    entry = ctx.response["choices"][0]["message"][DENIED_FIELD][0]
    assert entry["code"] == "policy_unavailable" and "req-1" in entry["reason"]


async def test_openai_stream_through_the_stage() -> None:
    approvals = FakeApprovals()
    stage = ToolCalls(ToolPolicy(FakeEngine(allow={"lookup"}, approve={"refund"}), approvals))
    ctx = context(stream=True)
    chunks = openai_chunks([("lookup", '{"q": 1}'), ("refund", '{"amount": 5}')], [[3], [2, 7]])
    out: list[dict[str, Any]] = []
    for chunk in chunks:
        out += await stage.on_chunks(ctx, [chunk])
    calls = [tc for c in out for ch in c["choices"] for tc in ch["delta"].get("tool_calls", [])]
    assert [tc["function"]["name"] for tc in calls] == ["lookup"]
    [entry] = [e for c in out for ch in c["choices"] for e in ch["delta"].get(DENIED_FIELD, [])]
    assert entry["approval"] == {"id": "apr-0", "status": "pending"}
    assert out[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert len(audits(ctx)) == 1 and not ctx.response_headers


async def test_anthropic_stream_through_the_stage() -> None:
    stage = ToolCalls(ToolPolicy(FakeEngine(), None))
    ctx = context("anthropic", stream=True)
    events = anthropic_events([("refund", '{"amount": 5}')], [[4]], text="Sure")
    out = await stage.on_chunks(ctx, events[:3])
    for event in events[3:]:
        out += await stage.on_chunks(ctx, [event])
    assert not any(e.get("content_block", {}).get("type") == "tool_use" for e in out)
    delta = next(e for e in out if e["type"] == "message_delta")
    assert delta["delta"]["stop_reason"] == "end_turn"
    assert delta[DENIED_FIELD][0]["name"] == "refund"


async def test_message_start_with_tool_use_is_decided() -> None:
    stage = ToolCalls(ToolPolicy(FakeEngine(), None))
    ctx = context("anthropic", stream=True)
    events = anthropic_events([], [])
    events[0]["message"]["content"] = [
        {"type": "tool_use", "id": "t", "name": "refund", "input": {}}
    ]
    events[-2]["delta"]["stop_reason"] = "tool_use"
    out = await stage.on_chunks(ctx, events)
    assert out[0]["message"]["content"][0]["type"] == "text"
    assert events[0]["message"]["content"][0]["type"] == "tool_use"  # the input is not mutated
    assert out[-2]["delta"]["stop_reason"] == "end_turn"


async def test_embeddings_and_answers_without_calls_cost_nothing() -> None:
    engine = FakeEngine()
    stage = ToolCalls(ToolPolicy(engine, None))
    ctx = context()
    ctx.response = openai_answer(content="hello")
    await stage.on_response(ctx)
    ctx.endpoint = "embeddings"
    ctx.response = {"data": []}
    await stage.on_response(ctx)
    assert engine.asked == [] and not ctx.extra_events
