"""The demo's accountable agent: refund-bot acts for alice through a delegation token, calls the
shop's tools through Steward's MCP gateway (a small refund runs, a large one waits for bob's
approval, deleting a customer is denied), a model's tool call that policy forbids is withheld,
and a suspension stops the agent mid-run on its open session."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import httpx
import mcp_types as types
import openai
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

POLICIES = Path(__file__).parent / "policies"
AGENT = "refund-bot"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105 (a type URI)

DELETE_TOOL = {
    "type": "function",
    "function": {
        "name": "shop__delete_customer",
        "description": "Delete a customer and all their records",
        "parameters": {
            "type": "object",
            "properties": {"customer_id": {"type": "string"}},
            "required": ["customer_id"],
        },
    },
}


def agent_config() -> dict[str, Any]:
    """The demo configuration's policy and MCP sections."""
    return {
        "policy": {"directory": str(POLICIES), "arguments": {"amount": "Long"}},
        "mcp": {
            "servers": {
                "shop": {"command": sys.executable, "args": ["-m", "steward.demo.shop_server"]}
            },
            "approval_wait_s": 0,  # answer `pending_approval` at once; the agent repeats the call
        },
    }


def _call(result: types.CallToolResult) -> dict[str, Any]:
    meta = result.meta or {}
    call: dict[str, Any] = meta.get("steward/call", {})
    return call


def _text(result: types.CallToolResult) -> str:
    return "".join(b.text for b in result.content if isinstance(b, types.TextContent))


def _run(coro: Coroutine[Any, Any, str]) -> str:
    """Run a coroutine; an exception group (the MCP client's task group) shows its first cause."""
    try:
        return asyncio.run(coro)
    except BaseExceptionGroup as group:
        first: BaseException = group
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from group


class AgentScript:
    """Each step returns a one-line result, or raises when Steward did not do what it should."""

    def __init__(self, url: str, admin: httpx.Client, keys: dict[str, str]) -> None:
        self.url = url
        self.admin = admin
        self.keys = keys
        self.token = ""

    def exchange(self) -> str:
        r = httpx.post(
            self.url + "/v1/agents/token",
            data={
                "grant_type": EXCHANGE,
                "subject_token": self.keys["alice"],
                "subject_token_type": ACCESS_TOKEN,
                "actor_token": self.keys["agent"],
                "actor_token_type": ACCESS_TOKEN,
            },
        )
        if r.status_code != 200:
            raise RuntimeError(f"token exchange: {r.status_code} {r.text}")
        body = r.json()
        self.token = body["access_token"]
        return f"EdDSA token for {AGENT} acting for alice, {body['expires_in']} s"

    def tools(self) -> str:
        return _run(self._tools())

    async def _session(self) -> Any:
        http = create_mcp_http_client(headers={"authorization": f"Bearer {self.token}"})
        return http, Client(streamable_http_client(f"{self.url}/mcp", http_client=http))

    async def _tools(self) -> str:
        http, client = await self._session()
        async with http, client:
            names = await self._wait_for_tools(client, {"shop__lookup_order", "shop__refund"})
            small = await client.call_tool("shop__refund", {"order_id": "1042", "amount": 40})
            if small.is_error:
                raise RuntimeError(f"a small refund was refused: {_text(small)}")
            args = {"order_id": "1043", "amount": 750}
            held = await client.call_tool("shop__refund", args)
            call = _call(held)
            if call.get("status") != "pending_approval":
                raise RuntimeError(f"a large refund was not held: {call or _text(held)}")
            approved = self.admin.post(
                f"/approvals/{call['approval_id']}/approve",
                json={"approver": "bob", "note": "customer confirmed by phone"},
            )
            if approved.status_code != 200:
                raise RuntimeError(f"approve: {approved.status_code} {approved.text}")
            done = await client.call_tool("shop__refund", args)
            if done.is_error:
                raise RuntimeError(f"the approved refund did not run: {_text(done)}")
            denied = await client.call_tool("shop__delete_customer", {"customer_id": "c-7"})
            if _call(denied).get("code") != "policy_denied":
                raise RuntimeError(f"deleting a customer was not denied: {_call(denied)}")
        return (
            f"MCP lists {len(names)} shop tools to it; refund 40 ran; refund 750 held "
            f"({call['approval_id'][:12]}…), approved by bob, ran; delete_customer denied"
        )

    @staticmethod
    async def _wait_for_tools(client: Client, names: set[str], timeout_s: float = 20.0) -> set[str]:
        """The shop server starts with the gateway: list until its tools are there."""
        deadline = time.monotonic() + timeout_s
        while True:
            listed = {t.name for t in (await client.list_tools(cache_mode="bypass")).tools}
            if names <= listed:
                return {n for n in listed if n.startswith("shop__")}
            if time.monotonic() > deadline:
                raise RuntimeError(f"the shop tools were not listed (listed: {sorted(listed)})")
            await asyncio.sleep(0.2)

    def model_tool_call(self) -> str:
        client = openai.OpenAI(base_url=self.url + "/v1", api_key=self.token, max_retries=0)
        r = client.chat.completions.create(
            model="sim-fast",
            messages=[{"role": "user", "content": "Customer c-7 asked to be forgotten."}],
            tools=[DELETE_TOOL],  # type: ignore[list-item]
        )
        message = r.choices[0].message
        denied = (message.model_extra or {}).get("steward_denied_tool_calls") or []
        if message.tool_calls or not denied:
            raise RuntimeError("a tool call policy forbids reached the agent")
        return f"the model's call withheld before the agent saw it: {denied[0]['reason']}"

    def suspend_mid_run(self) -> str:
        return _run(self._suspend_mid_run())

    async def _suspend_mid_run(self) -> str:
        http, client = await self._session()
        async with http, client:
            await client.call_tool("shop__lookup_order", {"order_id": "1044"})
            r = self.admin.post(
                "/suspensions",
                json={"kind": "agent", "name": AGENT, "reason": "demo: refunds look wrong"},
            )
            if r.status_code >= 300:
                raise RuntimeError(f"suspend: {r.status_code} {r.text}")
            t0 = time.monotonic()
            refused_after = None
            while time.monotonic() - t0 < 5:
                try:
                    result = await client.call_tool("shop__lookup_order", {"order_id": "1044"})
                except Exception:  # the gateway answers 403 principal_suspended: session over
                    refused_after = time.monotonic() - t0
                    break
                if result.is_error:
                    refused_after = time.monotonic() - t0
                    break
                await asyncio.sleep(0.05)
        self.admin.delete(f"/suspensions/agent/{AGENT}")
        if refused_after is None:
            raise RuntimeError("the suspended agent kept calling tools")
        return f"suspended while its session was open: refused {refused_after:.2f} s later"

    def steps(self) -> list[tuple[str, Any]]:
        return [
            ("refund-bot for alice · token exchange (RFC 8693)", self.exchange),
            ("refund-bot · MCP tools under policy and approval", self.tools),
            ("refund-bot · model tool call denied by policy", self.model_tool_call),
            ("refund-bot · kill switch mid-run", self.suspend_mid_run),
        ]


__all__ = ["AgentScript", "agent_config"]
