"""The kill switch's service layer: suspend and resume an agent, app, key, user, service
account, model or tool server, or freeze every agent at once. One transaction holds the change,
its audit event (actor and reason), the cancellation of the agents' open approvals and the
state-version bump that makes every gateway process refuse the next request."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session, sessionmaker

from steward.agents.approvals._rows import as_utc, audit_change, utcnow
from steward.agents.approvals._store import ApprovalStore
from steward.agents.approvals.records import Approval
from steward.agents.approvals.settings import ApprovalSettings
from steward.agents.suspensions import ALL_AGENTS
from steward.events.ids import short_id
from steward.identity._api_keys import find_key
from steward.identity._base import find
from steward.identity._validate import clean_text
from steward.identity.errors import Invalid, NotFound
from steward.identity.records import Actor
from steward.identity.state import bump_version
from steward.store.models import Agent, ApiKey, App, ServiceAccount, User
from steward.store.models_approvals import ApprovalRow, SuspensionRow

if TYPE_CHECKING:
    from steward.config.models import StewardConfig

# CLI / API kind -> the stored kind
KINDS: dict[str, str] = {
    "agent": "agent",
    "app": "app",
    "key": "key",
    "user": "user",
    "service-account": "service_account",
    "model": "model",
    "tool-server": "tool_server",
}
_FLAGGED: dict[str, type[Any]] = {
    "agent": Agent,
    "app": App,
    "user": User,
    "service_account": ServiceAccount,
}


@dataclass(frozen=True)
class SuspensionInfo:
    """One thing suspended now: its kind, name and id, why, by whom, since when."""

    kind: str  # agent | app | key | user | service-account | model | tool-server | all-agents
    name: str
    id: str | None
    reason: str
    actor: str
    since: datetime | None
    suspended: bool = True
    cancelled_approvals: list[str] = field(default_factory=list)


class SuspensionService:
    """Suspensions and resumptions, for the admin API and the CLI alike."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        models: Sequence[str] | None = None,
        tool_servers: Sequence[str] | None = None,
        approvals: ApprovalSettings | None = None,
    ) -> None:
        self._sessions = sessions
        self._models = None if models is None else tuple(models)
        self._tool_servers = None if tool_servers is None else tuple(tool_servers)
        self._approvals = ApprovalStore(sessions, approvals or ApprovalSettings())

    def suspend(self, kind: str, name: str, reason: str, *, actor: Actor) -> SuspensionInfo:
        """Suspend one agent, app, key, user, service account, model or tool server."""
        return self._set(kind, name, reason, True, actor)

    def resume(self, kind: str, name: str, reason: str = "", *, actor: Actor) -> SuspensionInfo:
        """Lift a suspension."""
        return self._set(kind, name, reason, False, actor)

    def freeze_agents(self, reason: str, *, actor: Actor) -> SuspensionInfo:
        """Suspend every agent at once (their keys, tokens, streams and MCP sessions)."""
        return self._set("all-agents", ALL_AGENTS, reason, True, actor)

    def thaw_agents(self, reason: str = "", *, actor: Actor) -> SuspensionInfo:
        """Lift the all-agents freeze (agents suspended one by one stay suspended)."""
        return self._set("all-agents", ALL_AGENTS, reason, False, actor)

    # -- the change ----------------------------------------------------------------------------

    def _set(self, kind: str, name: str, reason: str, on: bool, actor: Actor) -> SuspensionInfo:
        reason = clean_text("reason", reason)
        if on and not reason:
            raise Invalid(
                "give a reason for the suspension (it is recorded in the audit)",
                code="reason_required",
            )
        stored = "all_agents" if kind == "all-agents" else KINDS.get(kind)
        if stored is None:
            raise Invalid(
                f"cannot suspend a '{kind}'; use one of {', '.join(KINDS)} (or all agents)",
                code="invalid_kind",
            )
        now = utcnow()
        with self._sessions() as s, s.begin():
            target_id, label = self._target(s, stored, name)
            changed = self._flag(s, stored, target_id, on)
            row = s.scalar(
                select(SuspensionRow).where(
                    SuspensionRow.kind == stored, SuspensionRow.target == target_id
                )
            )
            changed = changed or (row is not None) != on
            if on and row is None:
                row = SuspensionRow(
                    id=short_id("susp"),
                    kind=stored,
                    target=target_id,
                    reason=reason,
                    actor=actor.label(),
                    created_at=now,
                )
                s.add(row)
            elif on and row is not None:
                row.reason, row.actor = reason, actor.label()
            elif not on and row is not None:
                s.execute(delete(SuspensionRow).where(SuspensionRow.id == row.id))
            cancelled = self._cancel(s, stored, target_id, reason, actor) if on else []
            verb = (
                ("freeze" if on else "unfreeze")
                if stored == "all_agents"
                else ("suspend" if on else "unsuspend")
            )
            noun = "agents" if stored == "all_agents" else stored
            audit_change(
                s,
                actor,
                f"{noun}.{verb}",
                stored,
                target_id,
                reason=reason,
                name=label,
                changed=changed,
                kill_switch=True,
                cancelled_approvals=[a.id for a in cancelled],
            )
            bump_version(s)
            return SuspensionInfo(
                kind=kind,
                name=label,
                id=None if stored in ("model", "tool_server", "all_agents") else target_id,
                reason=reason,
                actor=actor.label(),
                since=now if on else None,
                suspended=on,
                cancelled_approvals=[a.id for a in cancelled],
            )

    def _target(self, s: Session, kind: str, name: str) -> tuple[str, str]:
        """(the stored target: an id, or a model / tool-server name; a readable label)."""
        if kind == "all_agents":
            return ALL_AGENTS, "all agents"
        if kind == "key":
            key = find_key(s, name)
            return key.id, key.prefix
        if kind in _FLAGGED:
            row = find(s, _FLAGGED[kind], name)
            return row.id, row.name
        known = self._models if kind == "model" else self._tool_servers
        if known is not None and name not in known:
            what = "model" if kind == "model" else "tool server"
            listed = ", ".join(sorted(known)) or "none"
            raise NotFound(
                f"{what} '{name}' is not configured (configured: {listed})",
                code=f"{kind}_not_found",
            )
        if not name.strip():
            raise Invalid(f"name the {kind.replace('_', ' ')} to suspend", code="invalid_name")
        return name, name

    @staticmethod
    def _flag(s: Session, kind: str, target_id: str, on: bool) -> bool:
        model: type[Any] | None = ApiKey if kind == "key" else _FLAGGED.get(kind)
        if model is None:
            return False
        row = s.get(model, target_id)
        assert row is not None, "the target was found in this transaction"
        changed = bool(row.suspended) != on
        row.suspended = on
        return changed

    def _cancel(
        self, s: Session, kind: str, target_id: str, reason: str, actor: Actor
    ) -> list[Approval]:
        why = f"suspended: {reason}"
        if kind == "all_agents":
            return self._approvals.cancel_where(s, [ApprovalRow.agent_id.is_not(None)], why, actor)
        column = {
            "agent": ApprovalRow.agent_id,
            "app": ApprovalRow.app_id,
            "key": ApprovalRow.key_id,
            "service_account": ApprovalRow.service_account_id,
        }.get(kind)
        if column is not None:
            return self._approvals.cancel_where(s, [column == target_id], why, actor)
        if kind == "user":  # the user's own, on their behalf, and their agents'
            owned = select(Agent.id).where(Agent.owner_id == target_id)
            where = or_(
                ApprovalRow.user_id == target_id,
                ApprovalRow.on_behalf_of == target_id,
                ApprovalRow.owner_id == target_id,
                ApprovalRow.agent_id.in_(owned),
            )
            return self._approvals.cancel_where(s, [where], why, actor)
        if kind == "model":
            held = [ApprovalRow.action == "invoke_model", ApprovalRow.resource == target_id]
            return self._approvals.cancel_where(s, held, why, actor)
        if kind == "tool_server":  # its tools are listed as <server>__<tool>
            held = [
                ApprovalRow.action == "call_tool",
                ApprovalRow.resource.startswith(f"{target_id}__", autoescape=True),
            ]
            return self._approvals.cancel_where(s, held, why, actor)
        return []

    # -- reads ---------------------------------------------------------------------------------

    def list_suspensions(self) -> list[SuspensionInfo]:
        """Everything suspended now, with the reason where one was recorded."""
        with self._sessions() as s:
            rows = {(r.kind, r.target): r for r in s.scalars(select(SuspensionRow))}
            out: list[SuspensionInfo] = []
            for (kind, target), r in sorted(rows.items()):
                if kind in ("model", "tool_server", "all_agents"):
                    label = "all agents" if kind == "all_agents" else target
                    out.append(
                        SuspensionInfo(
                            _cli(kind), label, None, r.reason, r.actor, _aware(r.created_at)
                        )
                    )
            flagged: list[tuple[str, Any]] = [*_FLAGGED.items(), ("key", ApiKey)]
            for kind, model in flagged:
                query = select(model).where(model.suspended.is_(True))
                if model is ApiKey:
                    query = query.where(ApiKey.revoked_at.is_(None))
                for p in s.scalars(query):
                    found = rows.get((kind, p.id))
                    label = p.prefix if model is ApiKey else p.name
                    out.append(
                        SuspensionInfo(
                            _cli(kind),
                            label,
                            p.id,
                            found.reason if found else "",
                            found.actor if found else "",
                            _aware(found.created_at) if found else None,
                        )
                    )
            return out


def _cli(kind: str) -> str:
    return "all-agents" if kind == "all_agents" else kind.replace("_", "-")


def _aware(value: datetime | None) -> datetime | None:
    return as_utc(value)


def suspension_service(sessions: sessionmaker[Session], config: StewardConfig) -> SuspensionService:
    """The service for a configuration: it knows the configured models and MCP tool servers,
    so a misspelt name is refused rather than silently suspending nothing."""
    mcp = getattr(config, "mcp", None)
    servers = getattr(mcp, "servers", None)
    return SuspensionService(
        sessions,
        models=[m.name for m in config.models],
        tool_servers=list(servers) if servers is not None else None,
        approvals=config.approvals,
    )


__all__ = ["KINDS", "SuspensionInfo", "SuspensionService", "suspension_service"]
