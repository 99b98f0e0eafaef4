"""Tool calls in model answers, end to end: a real gateway process with a Cedar policy directory,
the sim provider answering with tool calls, and the official OpenAI and Anthropic SDKs, streamed
and not. Allowed calls are delivered; denied ones are withheld with the reason; a call that
needs approval is held with a pending approval, and delivered once a human approved it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
from sqlalchemy import select

from steward.store.models import AuditEvent
from tests.e2e._gateway import Gateway
from tests.fakes.upstream import FakeUpstream

POLICIES = """
@id("agents-weather")
permit (principal is Agent, action == Action::"call_tool", resource == Tool::"get_weather");

@id("refunds-need-approval")
@approval("required")
permit (principal is Agent, action == Action::"call_tool", resource == Tool::"refund")
when { context.arguments has amount && context.arguments.amount <= 1000 };

@id("no-account-deletion-for-users")
@reason("accounts are deleted in the admin console only")
forbid (principal is User, action == Action::"call_tool", resource == Tool::"delete_account");
"""


def _fn(name: str, properties: dict[str, Any]) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "required": list(properties)}
    return {"type": "function", "function": {"name": name, "parameters": schema}}


WEATHER = _fn("get_weather", {"city": {"type": "string"}})
DELETE = _fn("delete_account", {"account": {"type": "string"}})
REFUND = _fn("refund", {"amount": {"type": "integer", "minimum": 1, "maximum": 900}})


def _anthropic_tool(tool: dict[str, Any]) -> dict[str, Any]:
    fn = tool["function"]
    return {"name": fn["name"], "input_schema": fn["parameters"]}


@pytest.fixture(scope="module")
def gw(
    upstream: FakeUpstream, backend_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    policy_dir = tmp_path_factory.mktemp("policies")
    (policy_dir / "tools.cedar").write_text(POLICIES)
    policy = {"directory": str(policy_dir), "arguments": {"amount": "Long"}}
    g = Gateway(tmp_path_factory.mktemp("gw"), upstream.base_url, backend_url, policy=policy)
    g.proc.start(timeout_s=90)  # generous: the test machine may be busy
    yield g
    g.close()


@pytest.fixture(scope="module")
def agent_key(gw: Gateway) -> str:
    org = gw.org()
    name = f"billing-bot-{uuid.uuid4().hex[:6]}"
    gw.api("POST", "/agents", {"name": name, "owner": org["user"], "team": org["team"]})
    return str(gw.key(agent=name)["key"])


@pytest.fixture(scope="module")
def user_key(gw: Gateway) -> str:
    key, _, _ = gw.user_key()
    return key


@pytest.fixture
def oai(gw: Gateway, agent_key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=agent_key, max_retries=0)


@pytest.fixture
def claude(gw: Gateway, agent_key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.url, api_key=agent_key, max_retries=0)


def _ask(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


def _denied(obj: Any) -> list[dict[str, Any]]:
    return list((obj.model_extra or {}).get("steward_denied_tool_calls") or [])


def _tool_audits(gw: Gateway, request_id: str) -> list[AuditEvent]:
    gw.audit(request_id)  # waits until the request's audit events are shipped
    with gw._sessions() as s:
        return list(
            s.scalars(
                select(AuditEvent).where(
                    AuditEvent.request_id == request_id, AuditEvent.action == "policy.tool_call"
                )
            )
        )


def test_openai_allowed_call_is_delivered(oai: openai.OpenAI) -> None:
    raw = oai.chat.completions.with_raw_response.create(
        model="sim-fast",
        messages=_ask("Weather in Oslo?"),
        tools=[WEATHER],  # type: ignore[list-item]
    )
    r = raw.parse()
    [call] = r.choices[0].message.tool_calls or []
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert "city" in json.loads(call.function.arguments)  # type: ignore[union-attr]
    assert r.choices[0].finish_reason == "tool_calls"
    assert not _denied(r.choices[0].message)
    assert "x-steward-tool-calls-denied" not in raw.headers


def test_openai_denied_call_is_withheld_with_the_reason(gw: Gateway, oai: openai.OpenAI) -> None:
    raw = oai.chat.completions.with_raw_response.create(
        model="sim-fast",
        messages=_ask("Close my account"),
        tools=[DELETE],  # type: ignore[list-item]
    )
    r = raw.parse()
    msg = r.choices[0].message
    assert not msg.tool_calls and r.choices[0].finish_reason == "stop"
    [entry] = _denied(msg)
    assert entry["name"] == "delete_account" and entry["code"] == "tool_not_allowed"
    assert entry["id"].startswith("call_") and len(entry["arguments_sha256"]) == 64
    assert "delete_account" in entry["reason"]
    assert msg.content and msg.content.startswith("[steward] The tool call delete_account")
    assert raw.headers["x-steward-tool-calls-denied"] == "1"
    [audit] = _tool_audits(gw, raw.headers["x-steward-request-id"])
    assert (audit.outcome, audit.target_type, audit.target_id) == (
        "denied",
        "tool",
        "delete_account",
    )
    assert audit.details is not None
    assert audit.details["arguments_sha256"] == entry["arguments_sha256"]
    assert audit.details["code"] == "tool_not_allowed" and audit.agent_id and audit.owner_id


def test_openai_stream(oai: openai.OpenAI) -> None:
    with oai.chat.completions.stream(
        model="sim-fast",
        messages=_ask("Weather in Rome?"),
        tools=[WEATHER],  # type: ignore[list-item]
    ) as stream:
        final = stream.get_final_completion()
    [call] = final.choices[0].message.tool_calls or []
    assert call.function.name == "get_weather" and json.loads(call.function.arguments)
    assert final.choices[0].finish_reason == "tool_calls"

    chunks = list(
        oai.chat.completions.create(
            model="sim-fast",
            messages=_ask("Close my account"),
            tools=[DELETE],  # type: ignore[list-item]
            stream=True,
        )
    )
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    assert not any(d.tool_calls for d in deltas)  # no fragment of the denied call leaked
    [entry] = [e for d in deltas for e in _denied(d)]
    assert entry["code"] == "tool_not_allowed" and entry["name"] == "delete_account"
    assert "".join(d.content or "" for d in deltas).startswith("[steward] The tool call")
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"


def test_anthropic_allowed_and_denied(gw: Gateway, claude: anthropic.Anthropic) -> None:
    m = claude.messages.create(
        model="sim-fast",
        max_tokens=200,
        messages=_ask("Weather in Oslo?"),
        tools=[_anthropic_tool(WEATHER)],  # type: ignore[list-item]
    )
    [block] = m.content
    assert block.type == "tool_use" and block.name == "get_weather" and m.stop_reason == "tool_use"

    raw = claude.messages.with_raw_response.create(
        model="sim-fast",
        max_tokens=200,
        messages=_ask("Close my account"),
        tools=[_anthropic_tool(DELETE)],  # type: ignore[list-item]
    )
    m = raw.parse()
    assert [b.type for b in m.content] == ["text"] and m.stop_reason == "end_turn"
    assert m.content[0].text.startswith("[steward] The tool call delete_account")  # type: ignore[union-attr]
    [entry] = _denied(m)
    assert entry["code"] == "tool_not_allowed" and entry["id"].startswith("call_")
    assert raw.headers["x-steward-tool-calls-denied"] == "1"


def test_anthropic_stream(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(
        model="sim-fast",
        max_tokens=200,
        messages=_ask("Weather in Rome?"),
        tools=[_anthropic_tool(WEATHER)],  # type: ignore[list-item]
    ) as stream:
        allowed = stream.get_final_message()
    [block] = allowed.content
    assert block.type == "tool_use" and block.input and allowed.stop_reason == "tool_use"  # type: ignore[union-attr]

    with claude.messages.stream(
        model="sim-fast",
        max_tokens=200,
        messages=_ask("Close my account"),
        tools=[_anthropic_tool(DELETE)],  # type: ignore[list-item]
    ) as stream:
        events = list(stream)
        denied = stream.get_final_message()
    assert [b.type for b in denied.content] == ["text"] and denied.stop_reason == "end_turn"
    assert not any(
        e.type == "content_block_start" and e.content_block.type == "tool_use"  # type: ignore[union-attr]
        for e in events
    )
    [delta] = [e for e in events if e.type == "message_delta"]
    [entry] = _denied(delta)
    assert entry["name"] == "delete_account" and entry["code"] == "tool_not_allowed"


def test_users_tools_pass_unless_a_policy_forbids_them(gw: Gateway, user_key: str) -> None:
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key=user_key, max_retries=0)
    r = client.chat.completions.create(
        model="sim-fast",
        messages=_ask("Weather?"),
        tools=[WEATHER],  # type: ignore[list-item]
    )
    assert (r.choices[0].message.tool_calls or [])[0].function.name == "get_weather"  # type: ignore[union-attr]
    r = client.chat.completions.create(
        model="sim-fast",
        messages=_ask("Close it"),
        tools=[DELETE],  # type: ignore[list-item]
    )
    [entry] = _denied(r.choices[0].message)
    assert entry["policies"] == ["tools/no-account-deletion-for-users"]
    assert "admin console" in entry["reason"]


def test_approval_required_then_delivered_once_approved(gw: Gateway, oai: openai.OpenAI) -> None:
    request = {"model": "sim-fast", "messages": _ask("Refund order 77"), "tools": [REFUND]}
    r = oai.chat.completions.create(**request)  # type: ignore[call-overload]
    [entry] = _denied(r.choices[0].message)
    assert entry["code"] == "approval_required" and entry["policies"] == [
        "tools/refunds-need-approval"
    ]
    approval = entry["approval"]
    assert approval["status"] == "pending" and approval["id"]
    assert f"Approval {approval['id']} is pending" in (r.choices[0].message.content or "")

    # the same request again: the same pending approval, not a second one
    again = oai.chat.completions.create(**request)  # type: ignore[call-overload]
    assert _denied(again.choices[0].message)[0]["approval"] == approval

    _approve(gw, approval["id"])
    delivered = oai.chat.completions.create(**request)  # type: ignore[call-overload]
    [call] = delivered.choices[0].message.tool_calls or []
    assert call.function.name == "refund"  # type: ignore[union-attr]
    assert not _denied(delivered.choices[0].message)


def _approve(gw: Gateway, approval_id: str) -> None:
    """A person approves through the admin API (not the agent, not the user it acts for)."""
    approver = gw.org()["user"]
    r = gw.admin.post(
        f"{gw.url}/admin/v1/approvals/{approval_id}/approve", json={"approver": approver}
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved"


def test_streamed_call_held_for_approval(claude: anthropic.Anthropic) -> None:
    """In a stream too, the call waits for a person: a pending approval, not the call."""
    with claude.messages.stream(
        model="sim-fast",
        max_tokens=200,
        messages=_ask("Refund order 78 in a stream"),
        tools=[_anthropic_tool(REFUND)],  # type: ignore[list-item]
    ) as stream:
        events = list(stream)
        final = stream.get_final_message()
    assert [b.type for b in final.content] == ["text"] and final.stop_reason == "end_turn"
    [delta] = [e for e in events if e.type == "message_delta"]
    [entry] = _denied(delta)
    assert entry["code"] == "approval_required" and entry["approval"]["status"] == "pending"
    assert entry["approval"]["id"] in final.content[0].text  # type: ignore[union-attr]
