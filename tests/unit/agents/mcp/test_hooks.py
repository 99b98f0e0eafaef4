"""The seam to the policy engine: default deny for agents without an engine, and a failing
engine refuses rather than opens."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any

import pytest

from steward.agents.mcp.hooks import decide_tool
from steward.identity.snapshot import Principal

USER = Principal(
    key_id="key_u",
    key_prefix="sk-stw-us…",
    kind="user",
    user_id="user_1",
    team_id=None,
    app_id=None,
    agent_id=None,
    service_account_id=None,
    allowed_models=None,
    expires_at=None,
    suspended=None,
)
AGENT = dataclasses.replace(USER, key_id="key_a", kind="agent", user_id=None, agent_id="agent_1")


def test_without_an_engine_agents_are_denied_and_others_allowed() -> None:
    gw = SimpleNamespace()
    assert not decide_tool(gw, AGENT, "crm__refund", "crm", {}, {}).allowed
    assert decide_tool(gw, USER, "crm__refund", "crm", {}, {}).allowed


def test_a_failing_engine_refuses(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def decide_tool(self, *args: Any) -> Any:
            raise RuntimeError("cedar exploded")

    decision = decide_tool(SimpleNamespace(policy=Broken()), USER, "crm__refund", "crm", {}, {})
    assert not decision.allowed and decision.verdict == "deny"
    assert "policy engine failed" in decision.reason
    assert "cedar exploded" in caplog.text
