"""Human approvals end to end: an agent's MCP tool call that policy holds for a person, through
two real gateway processes on one store, with approvers notified by a fake webhook receiver.
Approvals are granted, denied, expired and refused to the requester through the admin API; a
call held on one process goes through when the approval is granted on the other."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from sqlalchemy import select

from steward.store.models import AuditEvent
from tests.e2e._gateway import Gateway
from tests.fakes.mcp_upstream import HttpMcpUpstream, crm_server
from tests.fakes.upstream import FakeUpstream
from tests.fakes.webhook import FakeWebhook, WebhookRequest

# two gateway processes start per module: slow on a loaded machine
pytestmark = pytest.mark.timeout(600)
TAG = uuid.uuid4().hex[:6]
AGENT = f"refund-bot-{TAG}"
BOB = f"bob-{TAG}"  # a user the agent acts for, with a delegation token
CALL = 'action == Action::"call_tool"'
POLICIES = f"""
permit(principal == Agent::"{AGENT}", {CALL}, resource in ToolServer::"crm");
@approval("required")
permit(principal == Agent::"{AGENT}", {CALL}, resource == Tool::"crm__refund")
when {{ context.arguments has amount && context.arguments.amount > 100 }};
permit(principal == User::"{BOB}", {CALL}, resource in ToolServer::"crm");
"""
TTL_S = 4.0  # approvals.ttl_s: short, so that one test can watch an approval expire


@pytest.fixture(scope="module")
def hook() -> Iterator[FakeWebhook]:
    with FakeWebhook() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def pair(
    upstream: FakeUpstream, hook: FakeWebhook, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Gateway, Gateway]]:
    """A answers a held call at once (pending); B holds it up to 20 s for the decision."""
    tmp = tmp_path_factory.mktemp("approvals")
    policies = tmp / "policies"
    policies.mkdir()
    (policies / "refunds.cedar").write_text(POLICIES)
    url = f"sqlite:///{tmp / 'steward.db'}"
    webhooks = [
        {"name": "approvers", "url": hook.url, "events": ["approval.*"], "backoff_ms": 50},
        {
            "name": "slack",
            "url": hook.base_url + "/slack",
            "format": "slack",
            "events": ["approval.requested"],
            "backoff_ms": 50,
        },
    ]
    with HttpMcpUpstream(crm_server()) as crm:
        made: list[Gateway] = []
        try:
            for name, wait_s in (("a", 0), ("b", 20)):
                g = Gateway(
                    tmp / name,
                    upstream.base_url,
                    url,
                    policy={"directory": str(policies), "arguments": {"amount": "Long"}},
                    mcp={
                        "servers": {"crm": {"url": crm.url}},
                        "approval_wait_s": wait_s,
                        "list_max_age_s": 0,
                    },
                    approvals={"ttl_s": TTL_S, "poll_ms": 200},
                    notifications={"webhooks": webhooks},
                )
                made.append(g)
                g.proc.start(timeout_s=120)
            yield made[0], made[1]
        finally:
            for g in made:
                g.close()


@pytest.fixture(scope="module")
def agent_key(pair: tuple[Gateway, Gateway]) -> str:
    a, b = pair
    org = a.org()
    a.api("POST", "/agents", {"name": AGENT, "owner": org["user"], "team": org["team"]})
    key: str = a.key(agent=AGENT)["key"]
    b.wait_usable(key)
    return key


@asynccontextmanager
async def mcp_client(gw: Gateway, key: str) -> AsyncIterator[Client]:
    http = create_mcp_http_client(headers={"authorization": f"Bearer {key}"}, timeout=60)
    transport = streamable_http_client(f"{gw.url}/mcp", http_client=http)
    async with http, Client(transport) as client:
        deadline = time.monotonic() + 20
        while "crm__refund" not in {t.name for t in (await client.list_tools()).tools}:
            assert time.monotonic() < deadline, "the crm tools never appeared"
            await asyncio.sleep(0.2)
        yield client


def outcome(result: types.CallToolResult) -> dict[str, Any]:
    call: dict[str, Any] = (result.meta or {}).get("steward/call", {})
    return call


def refund_args() -> dict[str, Any]:
    return {"order_id": f"o-{uuid.uuid4().hex[:8]}", "amount": 900}


def notices(hook: FakeWebhook, approval_id: str, event: str, n: int = 1) -> list[WebhookRequest]:
    """The webhook deliveries of `event` about this approval (waits for n of them)."""
    deadline = time.monotonic() + 15
    while True:
        found = [
            r
            for r in hook.receiver.requests
            if r.path == "/hook"
            and r.headers.get("x-steward-event") == event
            and r.json()["payload"]["approval_id"] == approval_id
        ]
        if len(found) >= n or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def decide(gw: Gateway, approval_id: str, verb: str, **body: Any) -> httpx.Response:
    return gw.admin.post(f"{gw.url}/admin/v1/approvals/{approval_id}/{verb}", json=body)


def audit_actions(gw: Gateway, approval_id: str) -> list[str]:
    with gw._sessions() as s:
        rows = s.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.target_type == "approval", AuditEvent.target_id == approval_id)
            .order_by(AuditEvent.ts)
        )
        return list(rows)


async def test_granted_on_one_process_used_once_on_the_other(
    pair: tuple[Gateway, Gateway], agent_key: str, hook: FakeWebhook
) -> None:
    a, b = pair
    approver = a.org()["user"]
    args = refund_args()
    async with mcp_client(a, agent_key) as client:
        first = await client.call_tool("crm__refund", args)
        call = outcome(first)
        assert first.is_error and call["status"] == "pending_approval"
        approval_id = call["approval_id"]
        [requested] = notices(hook, approval_id, "approval.requested")
        payload = requested.json()["payload"]
        assert payload["agent"].startswith(AGENT) and payload["resource"] == "crm__refund"
        assert '"amount":900' in payload["arguments"] and payload["status"] == "pending"
        slack = [r for r in hook.receiver.requests if r.path == "/slack"]
        assert any(approval_id in r.body.decode() and "blocks" in r.json() for r in slack)

        shown = b.api("GET", f"/approvals/{approval_id}")
        assert shown["status"] == "pending" and shown["arguments"] == args
        assert shown["names"][shown["agent_id"]] == AGENT and len(shown["binding"]) == 64

        r = decide(b, approval_id, "approve", approver=approver, note="customer verified")
        assert r.status_code == 200 and r.json()["status"] == "approved", r.text
        [decided] = notices(hook, approval_id, "approval.decided")
        assert decided.json()["payload"]["status"] == "approved"
        assert decided.json()["payload"]["approver"].startswith(approver)

        done = await client.call_tool("crm__refund", args)
        assert not done.is_error, outcome(done)
        again = await client.call_tool("crm__refund", args)  # single use: asks anew
        assert outcome(again)["status"] == "pending_approval"
        assert outcome(again)["approval_id"] != approval_id
    assert a.api("GET", f"/approvals/{approval_id}")["status"] == "consumed"
    assert audit_actions(a, approval_id) == [
        "approval.request",
        "approval.approve",
        "approval.consume",
    ]


async def test_a_held_call_goes_through_when_another_process_approves(
    pair: tuple[Gateway, Gateway], agent_key: str, hook: FakeWebhook
) -> None:
    a, b = pair
    approver = a.org()["user"]
    args = refund_args()

    async def approve_when_asked() -> float:
        deadline = time.monotonic() + 20
        while True:
            pending = [
                x
                for x in a.api("GET", "/approvals?status=pending&limit=50")
                if x["arguments"] == args
            ]
            if pending:
                break
            assert time.monotonic() < deadline, "the held call never asked for approval"
            await asyncio.sleep(0.1)
        r = await asyncio.to_thread(decide, a, pending[0]["id"], "approve", approver=approver)
        assert r.status_code == 200, r.text
        return time.monotonic()

    async with mcp_client(b, agent_key) as client:
        held, approved_at = await asyncio.gather(
            client.call_tool("crm__refund", args), approve_when_asked()
        )
        answered_after = time.monotonic() - approved_at
    assert not held.is_error, outcome(held)
    assert f"order {args['order_id']}" in "".join(
        c.text for c in held.content if isinstance(c, types.TextContent)
    )
    # B polls the store every approvals.poll_ms (200 ms here): the held call resumes promptly
    assert answered_after < 2.0, f"the held call answered {answered_after:.2f}s after approval"


async def test_denied(pair: tuple[Gateway, Gateway], agent_key: str, hook: FakeWebhook) -> None:
    a, _ = pair
    args = refund_args()
    async with mcp_client(a, agent_key) as client:
        approval_id = outcome(await client.call_tool("crm__refund", args))["approval_id"]
        r = decide(a, approval_id, "deny", note="amount looks wrong")
        assert r.status_code == 200 and r.json()["status"] == "denied"
        again = await client.call_tool("crm__refund", args)
        assert again.is_error and outcome(again)["status"] == "approval_denied"
    [decided] = notices(hook, approval_id, "approval.decided")
    assert decided.json()["payload"]["status"] == "denied"
    assert decided.json()["payload"]["note"] == "amount looks wrong"
    r = decide(a, approval_id, "approve", approver=a.org()["user"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "approval_not_pending"


async def test_expired(pair: tuple[Gateway, Gateway], agent_key: str, hook: FakeWebhook) -> None:
    a, b = pair
    args = refund_args()
    async with mcp_client(a, agent_key) as client:
        approval_id = outcome(await client.call_tool("crm__refund", args))["approval_id"]
    await asyncio.sleep(TTL_S + 0.5)
    assert b.api("GET", f"/approvals/{approval_id}")["status"] == "expired"
    r = decide(a, approval_id, "approve", approver=a.org()["user"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "approval_not_pending"
    [decided] = notices(hook, approval_id, "approval.decided")
    assert decided.json()["payload"]["status"] == "expired"
    assert "approval.expire" in audit_actions(a, approval_id)


async def test_refused_to_the_requester_and_to_non_people(
    pair: tuple[Gateway, Gateway], agent_key: str
) -> None:
    a, _ = pair
    async with mcp_client(a, agent_key) as client:
        approval_id = outcome(await client.call_tool("crm__refund", refund_args()))["approval_id"]
    r = decide(a, approval_id, "approve", approver=AGENT)  # the agent itself
    assert r.status_code == 403 and r.json()["error"]["code"] == "approver_is_requester"
    r = decide(a, approval_id, "approve")  # nobody named
    assert r.status_code == 422 and r.json()["error"]["code"] == "approver_required"
    r = decide(a, approval_id, "approve", approver="no-such-user")
    assert r.status_code == 404
    auditor = a.api("POST", "/admin-keys", {"name": f"aud-{TAG}", "role": "auditor"})["key"]
    r = httpx.post(
        f"{a.url}/admin/v1/approvals/{approval_id}/approve",
        headers={"authorization": f"Bearer {auditor}"},
        json={"approver": a.org()["user"]},
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "insufficient_role"
    assert a.api("GET", f"/approvals/{approval_id}")["status"] == "pending"


async def test_refused_to_the_user_the_agent_acts_for(
    pair: tuple[Gateway, Gateway], agent_key: str
) -> None:
    a, _ = pair
    a.api("POST", "/users", {"name": BOB})
    bob_key = a.key(user=BOB)["key"]
    r = httpx.post(
        f"{a.url}/v1/agents/token",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": bob_key,
            "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "actor_token": agent_key,
            "actor_token_type": "urn:ietf:params:oauth:token-type:access_token",
        },
        timeout=10,
    )
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    async with mcp_client(a, token) as client:
        held = await client.call_tool("crm__refund", refund_args())
    approval_id = outcome(held)["approval_id"]
    shown = a.api("GET", f"/approvals/{approval_id}")
    assert (
        shown["names"][shown["on_behalf_of"]] == BOB and shown["names"][shown["agent_id"]] == AGENT
    )
    r = decide(a, approval_id, "approve", approver=BOB)
    assert r.status_code == 403 and r.json()["error"]["code"] == "approver_is_requester"
    r = decide(a, approval_id, "approve", approver=a.org()["user"])
    assert r.status_code == 200 and r.json()["status"] == "approved"


async def test_suspending_the_agent_cancels_its_pending_approvals(
    pair: tuple[Gateway, Gateway], agent_key: str, hook: FakeWebhook
) -> None:
    """Last in the module: it suspends the agent the other tests use."""
    a, b = pair
    async with mcp_client(a, agent_key) as client:
        approval_id = outcome(await client.call_tool("crm__refund", refund_args()))["approval_id"]
    info = a.api("POST", "/suspensions", {"kind": "agent", "name": AGENT, "reason": "audit"})
    assert approval_id in info["cancelled_approvals"]
    assert b.api("GET", f"/approvals/{approval_id}")["status"] == "cancelled"
    [decided] = notices(hook, approval_id, "approval.decided")
    assert decided.json()["payload"]["status"] == "cancelled"
    assert "approval.cancel" in audit_actions(a, approval_id)
