"""Deciding the tool calls of an answer: the policy engine's decision for each call (tool name and
parsed arguments), a human approval when a policy requires one, and one audit event
(`policy.tool_call`) per call withheld, held for approval, delivered on an approval, or denied in
shadow mode."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from steward.events.ids import new_id
from steward.events.sink import audit_record
from steward.gateway.stages._tool_calls_model import (
    APPROVAL_DENIED,
    APPROVAL_REQUIRED,
    POLICY_UNAVAILABLE,
    TOOL_NOT_ALLOWED,
    Denial,
    ToolCall,
)

if TYPE_CHECKING:
    from steward.gateway.context import RequestContext
    from steward.identity.snapshot import Principal

log = logging.getLogger("steward.tool_calls")

ACTION = "call_tool"  # the Cedar action and the approvals' action for a tool call
AUDIT_ACTION = "policy.tool_call"


class DecisionLike(Protocol):
    @property
    def allowed(self) -> bool: ...
    @property
    def verdict(self) -> str: ...
    @property
    def approval(self) -> bool: ...
    @property
    def mode(self) -> str: ...
    @property
    def policies(self) -> tuple[str, ...]: ...
    @property
    def reason(self) -> str: ...


class ToolDecider(Protocol):
    """The part of the policy engine this stage uses (`gw.policy`)."""

    def decide_tool(
        self,
        principal: Principal,
        tool: str,
        server: str | None,
        arguments: dict[str, Any],
        context: dict[str, Any],
    ) -> DecisionLike: ...


class ApprovalLike(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def status(self) -> str: ...


class Approver(Protocol):
    """The part of the approvals service this stage uses (`gw.approvals`)."""

    async def request(
        self,
        principal: Principal,
        action: str,
        resource: str,
        arguments: dict[str, Any] | None,
        reason: str,
        request_id: str | None,
        policies: Sequence[str] = (),
    ) -> ApprovalLike: ...


class ToolPolicy:
    """Decides tool calls for the tool-calls stage. Without a policy engine every call of an
    agent is withheld (default deny for agents' tools) and other principals' calls pass."""

    def __init__(self, engine: ToolDecider | None, approvals: Approver | None) -> None:
        self.engine = engine
        self.approvals = approvals

    async def judge(
        self, ctx: RequestContext, calls: list[ToolCall]
    ) -> list[tuple[ToolCall, Denial]]:
        """The calls to withhold, each with why."""
        out = []
        for call in calls:
            denial = await self.judge_one(ctx, call)
            if denial is not None:
                out.append((call, denial))
        return out

    async def judge_one(self, ctx: RequestContext, call: ToolCall) -> Denial | None:
        """None to deliver the call, else the denial; records the audit event."""
        principal = ctx.principal
        if principal is None:  # never after authenticate; nothing to decide for
            return None
        if call.error is not None or call.arguments is None:
            denial = Denial(call.error_code, f"{call.error or 'the call is unusable'}.")
            self._record(ctx, call, denial, None)
            return denial
        if self.engine is None:
            if not _is_agent(principal):
                return None
            denial = Denial(
                POLICY_UNAVAILABLE, "no policy engine is configured; agents' tool calls are denied."
            )
            self._record(ctx, call, denial, None)
            return denial
        try:
            decision = self.engine.decide_tool(
                principal, call.name, None, call.arguments, _context(ctx)
            )
        except Exception:
            log.exception("policy engine failed on tool %s (request %s)", call.name, ctx.request_id)
            denial = Denial(
                POLICY_UNAVAILABLE,
                f"the policy engine could not decide this call (request {ctx.request_id}).",
            )
            self._record(ctx, call, denial, None)
            return denial
        return await self._apply(ctx, principal, call, decision)

    async def _apply(
        self, ctx: RequestContext, principal: Principal, call: ToolCall, d: DecisionLike
    ) -> Denial | None:
        if d.approval and d.mode == "enforce" and d.verdict == "allow":
            return await self._approval(ctx, principal, call, d)
        if not d.allowed:
            denial = Denial(TOOL_NOT_ALLOWED, d.reason, tuple(d.policies))
            self._record(ctx, call, denial, d)
            return denial
        if d.verdict != "allow" or d.approval:  # shadow mode: recorded, delivered
            self._record(ctx, call, None, d, outcome="allowed", code="shadow")
        return None

    async def _approval(
        self, ctx: RequestContext, principal: Principal, call: ToolCall, d: DecisionLike
    ) -> Denial | None:
        policies = tuple(d.policies)
        named = f" ({', '.join(policies)})" if policies else ""
        reason = f"a policy requires human approval to call {call.name}{named}."
        if self.approvals is None:
            denial = Denial(
                APPROVAL_REQUIRED, reason + " (no approvals service is configured)", policies
            )
            self._record(ctx, call, denial, d)
            return denial
        try:
            approval = await self.approvals.request(
                principal, ACTION, call.name, call.arguments, reason, ctx.request_id, policies
            )
        except Exception as exc:
            log.warning(
                "could not request approval for %s (request %s): %s", call.name, ctx.request_id, exc
            )
            denial = Denial(
                APPROVAL_REQUIRED, f"{reason} The approval could not be requested: {exc}", policies
            )
            self._record(ctx, call, denial, d)
            return denial
        if approval.status == "approved":
            self._record(
                ctx, call, None, d, outcome="allowed", code="approved", approval_id=approval.id
            )
            return None
        code = APPROVAL_REQUIRED if approval.status == "pending" else APPROVAL_DENIED
        denial = Denial(code, reason, policies, approval.id, approval.status)
        self._record(ctx, call, denial, d)
        return denial

    def _record(
        self,
        ctx: RequestContext,
        call: ToolCall,
        denial: Denial | None,
        d: DecisionLike | None,
        *,
        outcome: str = "denied",
        code: str | None = None,
        approval_id: str | None = None,
    ) -> None:
        ctx.extra_events.append(
            audit_record(audit_row(ctx, call, denial, d, outcome, code, approval_id))
        )


def _is_agent(p: Principal) -> bool:
    return p.kind == "agent" or bool(p.agent_id or p.chain or p.on_behalf_of)


def _context(ctx: RequestContext) -> dict[str, Any]:
    """The request context policies see beyond the call itself: the endpoint and what the
    guard found in the request and the answer."""
    out: dict[str, Any] = {"endpoint": ctx.endpoint}
    guard = ctx.guard
    findings = getattr(guard, "findings", None)
    if findings:
        out["findings"] = sorted({str(k[2]) for k in findings})
        out["data_classes"] = sorted({str(k[3]) for k in findings if k[3]})
    return out


def audit_row(
    ctx: RequestContext,
    call: ToolCall,
    denial: Denial | None,
    d: DecisionLike | None,
    outcome: str,
    code: str | None,
    approval_id: str | None,
) -> dict[str, Any]:
    """The `policy.tool_call` audit row: the tool, a hash of its arguments (never the values),
    the decision and the policies that made it, and who the call was for."""
    p = ctx.principal
    return {
        "id": new_id(),
        "ts": ctx.received_at,
        "actor_type": "key",
        "actor_id": p.key_id if p else None,
        "action": AUDIT_ACTION,
        "target_type": "tool",
        "target_id": call.name[:200] or None,
        "outcome": outcome,
        "reason": denial.reason if denial else (d.reason if d else None),
        "request_id": ctx.request_id,
        "agent_id": p.agent_id if p else None,
        "on_behalf_of": p.on_behalf_of if p else None,
        "owner_id": p.owner_id if p else None,
        "chain": (list(p.chain) or None) if p else None,
        "details": {
            "code": denial.code if denial else code,
            "call_id": call.id,
            "location": call.location,
            "arguments_sha256": call.arguments_sha256(),
            "decision": d.verdict if d else None,
            "mode": d.mode if d else None,
            "approval": d.approval if d else False,
            "approval_id": denial.approval_id if denial else approval_id,
            "approval_status": denial.approval_status
            if denial
            else ("approved" if approval_id else None),
            "policies": list(denial.policies if denial else (d.policies if d else ())),
            "model": ctx.model_alias,
            "endpoint": ctx.endpoint,
            "stream": ctx.stream,
            "user_id": p.user_id if p else None,
            "team_id": p.team_id if p else None,
            "app_id": p.app_id if p else None,
            "key_prefix": p.key_prefix if p else None,
        },
    }
