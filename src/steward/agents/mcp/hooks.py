"""The MCP gateway's seams to the policy engine (Cedar decisions) and to suspensions (the kill
switch)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from steward.agents import suspensions
from steward.policy.engine import Decision

if TYPE_CHECKING:
    from steward.identity.snapshot import Principal, Snapshot

log = logging.getLogger("steward.mcp")


def decide_tool(
    gw: Any,
    principal: Principal,
    tool: str,
    server: str | None,
    arguments: Mapping[str, Any],
    context: Mapping[str, Any],
) -> Decision:
    """Cedar's decision on calling `tool` with `arguments`. Without a policy engine in the
    process, agents are denied (tools are default-deny for agents) and others allowed."""
    policy = getattr(gw, "policy", None)
    if policy is not None:
        try:
            decision: Decision = policy.decide_tool(principal, tool, server, arguments, context)
        except Exception:  # fail closed, loudly: a broken engine must not open the tools
            log.exception("the policy engine failed on tool %s", tool)
            return Decision(
                False,
                "deny",
                False,
                "enforce",
                (),
                "the policy engine failed; the call is refused (see the gateway log)",
            )
        return decision
    if principal.kind == "agent" or principal.agent_id is not None:
        return Decision(
            False,
            "deny",
            False,
            "enforce",
            (),
            "no policy permits agents to call tools (default deny)",
        )
    return Decision(True, "allow", False, "enforce", (), "no policy engine: non-agents allowed")


def may_list_tool(gw: Any, principal: Principal, tool: str, server: str | None) -> bool:
    """Whether to show `tool` in the principal's `tools/list`: some call of it could be
    permitted (a tool permitted only for some arguments is listed; each call is decided in
    full). Without a policy engine: as `decide_tool` with no arguments. Fails closed."""
    policy = getattr(gw, "policy", None)
    if policy is None:
        return decide_tool(gw, principal, tool, server, {}, {"endpoint": "mcp"}).allowed
    try:
        return bool(policy.may_call_tool(principal, tool, server))
    except Exception:
        log.exception("the policy engine failed listing tool %s", tool)
        return False


def blocked(snapshot: Snapshot, principal: Principal, tool_server: str | None) -> str | None:
    """Why the principal may not call tools of `tool_server` now (its key, agent, owner, user,
    app or the tool server suspended), or None."""
    return suspensions.blocked(snapshot, principal, tool_server=tool_server)


__all__ = ["Decision", "blocked", "decide_tool", "may_list_tool"]
