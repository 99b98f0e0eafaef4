"""One `tools/call` through the gateway, in order: the tool must exist and be pinned, its
principal and server not suspended; the guard scans the arguments; Cedar decides on the tool
and the arguments; a decision that needs a human waits for (or reports) an approval; the rate
limits count the call; the upstream answers; the guard scans the result. Every call, whatever
its outcome, is one `mcp.tool_call` audit event."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import mcp_types as types
import orjson
from mcp.shared.exceptions import MCPError

from steward.agents.mcp.guarding import GuardScan, GuardUnavailable, finding_records, profiles_for
from steward.agents.mcp.hooks import Decision, blocked, decide_tool
from steward.agents.mcp.outcome import META_KEY, Stop
from steward.agents.mcp.upstream import UpstreamUnavailable
from steward.events.ids import new_id
from steward.policy.audit import decision_row

if TYPE_CHECKING:
    from steward.agents.mcp.catalog import Entry
    from steward.agents.mcp.gateway import Caller, McpServer

ACTION = "call_tool"


def arguments_hash(arguments: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of the arguments (what the audit trail keeps)."""
    return hashlib.sha256(orjson.dumps(arguments, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass
class CallRecord:
    """What the audit event of one call says."""

    request_id: str
    ts: datetime
    started: float
    tool: str
    arguments: dict[str, Any]
    server: str | None = None
    decision: Decision | None = None
    outcome: str = "failed"  # succeeded | failed | denied | pending
    status: str | None = None
    code: str | None = None
    reason: str | None = None
    upstream_ms: float | None = None
    approval_id: str | None = None
    scan: GuardScan | None = None
    guard_hold: str | None = None  # a guard profile requires approval for the arguments
    extra: dict[str, Any] = field(default_factory=dict)


async def call_tool(
    mcp: McpServer, caller: Caller, name: str, arguments: dict[str, Any]
) -> types.CallToolResult:
    """Govern and perform one tool call; stops come back as isError results."""
    rec = CallRecord(new_id(), datetime.now(UTC), time.perf_counter(), name, arguments)
    try:
        result = await _run(mcp, caller, rec)
        rec.outcome = "failed" if result.is_error else "succeeded"
        if result.is_error:
            rec.status, rec.code = "failed", "tool_error"
        result = _stamped(result, rec)
    except Stop as stop:
        rec.outcome = (
            "pending"
            if stop.status == "pending_approval"
            else ("failed" if stop.status in ("failed", "unavailable") else "denied")
        )
        rec.status, rec.code, rec.reason = stop.status, stop.code, stop.message
        result = stop.result(name, rec.request_id)
    except MCPError as exc:  # unknown tool: a protocol error, recorded too
        rec.outcome, rec.status, rec.code = "denied", "denied", "unknown_tool"
        rec.reason = exc.message
        raise
    finally:
        await _record(mcp, caller, rec)
    return result


async def _entry(mcp: McpServer, name: str) -> Entry:
    entry = mcp.catalog.entries.get(name)
    if entry is None:
        await mcp.refresh_for(name)
        entry = mcp.catalog.entries.get(name)
    if entry is None:
        raise MCPError(
            types.INVALID_PARAMS,
            f"unknown tool '{name}': call tools/list to see the tools you may call",
        )
    return entry


async def _run(mcp: McpServer, caller: Caller, rec: CallRecord) -> types.CallToolResult:
    entry = await _entry(mcp, rec.tool)
    rec.server = entry.server
    principal = caller.principal
    snapshot = mcp.snapshot()
    reason = blocked(snapshot, principal, tool_server=entry.server)
    if reason is not None:
        raise Stop("suspended", "principal_suspended", f"call refused: {reason}")
    usable, why = mcp.catalog.usable(entry)
    if not usable:
        raise Stop("quarantined", "tool_quarantined", why or "the tool is quarantined")
    upstream = mcp.upstreams[entry.server]
    if upstream.state != "up":
        raise Stop("unavailable", "tool_server_unavailable", upstream.unavailable_reason())
    arguments = rec.arguments
    if mcp.guard.enabled:
        arguments = _guard_arguments(mcp, caller, entry, rec)
    await _authorize(mcp, caller, entry, rec)
    refusal = await mcp.limits.admit(principal, entry.name, snapshot.names)
    if refusal is not None:
        extra = {"retry_after_s": refusal.retry_after_s} if refusal.retry_after_s else {}
        raise Stop("rate_limited", "rate_limit_exceeded", refusal.message, extra)
    result = _bounded(await _upstream(mcp, entry, arguments, rec), mcp.settings.max_result_chars)
    if mcp.guard.enabled and rec.scan is not None:
        result = _guard_result(mcp, rec.scan, result)
    return result


def _guard_arguments(
    mcp: McpServer, caller: Caller, entry: Entry, rec: CallRecord
) -> dict[str, Any]:
    extra = [
        n
        for n in (mcp.settings.guard_profile, mcp.upstreams[entry.server].config.guard_profile)
        if n
    ]
    scan = GuardScan(profiles_for(mcp.guard.rt, caller.principal, extra))
    rec.scan = scan
    try:
        arguments = mcp.guard.arguments(scan, rec.arguments)
    except GuardUnavailable as exc:
        raise Stop("blocked", "guard_unavailable", str(exc)) from exc
    if scan.stops and all(h.decision.action == "require_approval" for _, h in scan.stops):
        rec.guard_hold = scan.stop_message()  # held for a human, like a policy's @approval
        scan.stops = []
    if scan.stops:
        raise Stop(
            "blocked",
            "content_policy_violation",
            f"the tool call was blocked by {scan.stop_message()}. Remove the data from the "
            "arguments or ask an admin about the profile.",
        )
    return arguments


async def _authorize(mcp: McpServer, caller: Caller, entry: Entry, rec: CallRecord) -> None:
    found = rec.scan.findings if rec.scan else {}
    context = {
        "endpoint": "mcp",
        "findings": sorted({str(k[2]) for k in found}),  # entities the guard found
        "data_classes": sorted({str(k[3]) for k in found}),
    }
    decision = decide_tool(
        mcp.gw, caller.principal, entry.name, entry.server, rec.arguments, context
    )
    rec.decision = decision
    extra = {"policies": list(decision.policies)}
    if not decision.allowed:
        raise Stop(
            "denied", "policy_denied", f"the call was denied by policy: {decision.reason}", extra
        )
    reasons = [decision.reason] if decision.approval else []
    if rec.guard_hold:
        reasons.append(f"the arguments need approval under {rec.guard_hold}")
    if reasons:
        await _approval(mcp, caller, entry, rec, decision, "; ".join(reasons))


async def _approval(
    mcp: McpServer,
    caller: Caller,
    entry: Entry,
    rec: CallRecord,
    decision: Decision,
    reason: str,
) -> None:
    approvals = getattr(mcp.gw, "approvals", None)
    if approvals is None:
        raise Stop(
            "denied",
            "approval_unavailable",
            "the call requires human approval but approvals are not enabled",
        )
    approval = await approvals.request(
        caller.principal,
        ACTION,
        entry.name,
        rec.arguments,
        reason,
        rec.request_id,
        decision.policies,
    )
    wait_s = mcp.settings.approval_wait_s
    if wait_s is None:
        wait_s = float(approvals.settings.wait_s)
    if approval.status == "pending" and wait_s > 0:
        approval = await approvals.wait(approval.id, wait_s)
    rec.approval_id = approval.id
    if approval.granted:
        return
    extra = {
        "approval_id": approval.id,
        "approval_status": approval.status,
        "expires_at": approval.expires_at.isoformat(),
        "policies": list(decision.policies),
    }
    if approval.status == "pending":
        raise Stop(
            "pending_approval",
            "approval_required",
            f"this call needs a human's approval (approval {approval.id}, expires "
            f"{approval.expires_at.isoformat()}): {reason}. Repeat the same call with "
            "the same arguments to check; it runs once approved.",
            extra,
        )
    raise Stop(
        "approval_denied",
        f"approval_{approval.status}",
        f"approval {approval.id} for this call is {approval.status}",
        extra,
    )


async def _upstream(
    mcp: McpServer, entry: Entry, arguments: dict[str, Any], rec: CallRecord
) -> types.CallToolResult:
    upstream = mcp.upstreams[entry.server]
    t0 = time.perf_counter()
    try:
        return await upstream.call(entry.upstream_name, arguments)
    except UpstreamUnavailable as exc:
        raise Stop("unavailable", "tool_server_unavailable", str(exc)) from exc
    except TimeoutError as exc:
        raise Stop(
            "failed",
            "upstream_timeout",
            f"tool server '{entry.server}' did not answer within "
            f"{upstream.config.call_timeout_s:g}s",
        ) from exc
    except MCPError as exc:
        raise Stop(
            "failed",
            "upstream_error",
            f"tool server '{entry.server}' answered with an error: {exc.message}",
        ) from exc
    except Exception as exc:
        raise Stop(
            "unavailable",
            "tool_server_unavailable",
            f"tool server '{entry.server}' failed: {type(exc).__name__}",
        ) from exc
    finally:
        rec.upstream_ms = (time.perf_counter() - t0) * 1000


def _stamped(result: types.CallToolResult, rec: CallRecord) -> types.CallToolResult:
    """The upstream's result with `_meta["steward/call"]`: the outcome and the request id (the
    audit event's), so agents can correlate a call with the audit trail."""
    meta = dict(result.meta or {})
    meta[META_KEY] = {
        "status": rec.outcome,
        "code": rec.code,
        "tool": rec.tool,
        "request_id": rec.request_id,
        **({"approval_id": rec.approval_id} if rec.approval_id else {}),
    }
    return result.model_copy(update={"meta": meta})


def _bounded(result: types.CallToolResult, limit: int) -> types.CallToolResult:
    """The result with its text cut to `mcp.max_result_chars` in all (said so at the cut)."""
    left = limit
    content: list[types.ContentBlock] = []
    cut = False
    for block in result.content:
        if isinstance(block, types.TextContent):
            if len(block.text) > left:
                over = len(block.text) - left
                note = f"[truncated by Steward: {over} more characters (mcp.max_result_chars)]"
                block = block.model_copy(update={"text": block.text[:left] + note})
                cut = True
            left = max(0, left - len(block.text))
        content.append(block)
    if not cut:
        return result
    return result.model_copy(update={"content": content, "structured_content": None})


def _guard_result(
    mcp: McpServer, scan: GuardScan, result: types.CallToolResult
) -> types.CallToolResult:
    before = len(scan.stops)
    try:
        guarded = mcp.guard.result(scan, result)
    except GuardUnavailable as exc:
        raise Stop("blocked", "guard_unavailable", str(exc)) from exc
    if len(scan.stops) > before:
        scan.stops = scan.stops[before:]
        raise Stop(
            "blocked", "result_withheld", f"the tool's result was withheld by {scan.stop_message()}"
        )
    flagged = sorted(scan.flagged)
    if flagged:
        meta = dict(guarded.meta or {})
        meta["steward/guard"] = {"flagged": flagged}
        guarded = guarded.model_copy(update={"meta": meta})
    return guarded


def _audit_row(caller: Caller, rec: CallRecord) -> dict[str, Any]:
    p = caller.principal
    d = rec.decision
    latency = (time.perf_counter() - rec.started) * 1000
    return {
        "id": new_id(),
        "ts": rec.ts,
        "actor_type": "key",
        "actor_id": p.key_id,
        "action": "mcp.tool_call",
        "target_type": "tool",
        "target_id": rec.tool,
        "outcome": rec.outcome,
        "reason": rec.reason,
        "request_id": rec.request_id,
        "agent_id": p.agent_id,
        "on_behalf_of": p.on_behalf_of,
        "owner_id": p.owner_id,
        "chain": list(p.chain) or None,
        "details": {
            "tool": rec.tool,
            "server": rec.server,
            "arguments_sha256": arguments_hash(rec.arguments),
            "status": rec.status or rec.outcome,
            "code": rec.code,
            "decision": None
            if d is None
            else {
                "allowed": d.allowed,
                "verdict": d.verdict,
                "approval": d.approval,
                "mode": d.mode,
                "reason": d.reason,
            },
            "policies": list(d.policies) if d else [],
            "approval_id": rec.approval_id,
            "latency_ms": round(latency, 3),
            "upstream_ms": round(rec.upstream_ms, 3) if rec.upstream_ms is not None else None,
            "guard": rec.scan.summary() if rec.scan else [],
            "principal_kind": p.kind,
            "key_prefix": p.key_prefix,
            "user_id": p.user_id,
            "team_id": p.team_id,
            "app_id": p.app_id,
            "agent_id": p.agent_id,
            "on_behalf_of": p.on_behalf_of,
            "owner_id": p.owner_id,
            "chain": list(p.chain),
            "token_id": p.token_id,
            "session_id": caller.session_id,
        },
    }


async def _record(mcp: McpServer, caller: Caller, rec: CallRecord) -> None:
    sink = mcp.gw.sink
    records = [sink.audit_record(_audit_row(caller, rec))]
    d = rec.decision
    if d is not None and d.recordable:
        records.append(
            sink.audit_record(
                decision_row(
                    d,
                    caller.principal,
                    action=ACTION,
                    target_type="tool",
                    target_id=rec.tool,
                    request_id=rec.request_id,
                    ts=rec.ts,
                    extra={
                        "server": rec.server,
                        "endpoint": "mcp",
                        "arguments_sha256": arguments_hash(rec.arguments),
                    },
                )
            )
        )
    if rec.scan is not None and rec.scan.findings:
        records += finding_records(rec.scan, caller.principal, rec.request_id, rec.ts, rec.tool)
    await sink.emit(*records)


__all__ = ["ACTION", "arguments_hash", "call_tool"]
