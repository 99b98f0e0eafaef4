"""Applying and reverting one remediation action. Overrides (reroute, sampling, guard profile,
approval) change the `runtime_overrides` table and bump the state version in the caller's
transaction; suspensions go through the identity service (its own audited transaction)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from steward.identity.errors import ServiceError
from steward.identity.records import Actor
from steward.identity.service import IdentityService
from steward.remediation.overrides import clear_override, set_override
from steward.remediation.settings import ActionConfig
from steward.remediation.triggers import Firing
from steward.slo.sli import resolve_app
from steward.store.models import Agent
from steward.store.models_slo import RemediationAction

if TYPE_CHECKING:
    from steward.config.models import StewardConfig

OVERRIDE_KIND = {
    "reroute": "routing",
    "raise_sampling": "sampling",
    "guard_profile": "guard",
    "require_approval": "approval",
}


class ActionError(Exception):
    """The action cannot be taken (e.g. the alias has no fallback); the message says why."""


@dataclass(frozen=True, slots=True)
class ActionContext:
    """What actions need to know about the deployment: fallbacks per alias, guard profiles."""

    fallbacks: Mapping[str, Sequence[str]] = field(default_factory=dict)
    guard_profiles: frozenset[str] = frozenset()
    identity: IdentityService | None = None


@dataclass(frozen=True, slots=True)
class Target:
    type: str | None  # model | app | agent | None (notify)
    id: str | None
    override: str | None = None  # the runtime_overrides target, when the action sets one


def _agent_id(session: Session, ref: str) -> str:
    found = session.scalar(select(Agent.id).where(or_(Agent.id == ref, Agent.name == ref)))
    if found is None:
        raise ActionError(f"agent '{ref}' does not exist")
    return found


def _reroute(session: Session, cfg: ActionConfig, firing: Firing, ctx: ActionContext) -> Target:
    alias = cfg.model or firing.model
    if not alias:
        raise ActionError("reroute needs a model: set action.model or use a model trigger")
    if not ctx.fallbacks.get(alias):
        raise ActionError(f"model '{alias}' has no fallback to reroute to")
    return Target("model", alias, alias)


def _sampling(session: Session, cfg: ActionConfig, firing: Firing, ctx: ActionContext) -> Target:
    app_id = resolve_app(session, cfg.app) if cfg.app else firing.app_id
    if app_id:
        return Target("app", app_id, f"app:{app_id}")
    alias = cfg.model or firing.model
    if not alias:
        raise ActionError("raise_sampling needs an app or a model")
    return Target("model", alias, f"model:{alias}")


def _guard(session: Session, cfg: ActionConfig, firing: Firing, ctx: ActionContext) -> Target:
    app_id = resolve_app(session, cfg.app) if cfg.app else firing.app_id
    if not app_id:
        raise ActionError("guard_profile needs an app: set action.app or use an app trigger")
    if cfg.profile not in ctx.guard_profiles:
        raise ActionError(f"guard profile '{cfg.profile}' is not defined in guard.profiles")
    return Target("app", app_id, app_id)


def _approval(session: Session, cfg: ActionConfig, firing: Firing, ctx: ActionContext) -> Target:
    assert cfg.agent is not None
    agent_id = _agent_id(session, cfg.agent)
    return Target("agent", agent_id, agent_id)


def _suspension(session: Session, cfg: ActionConfig, firing: Firing, ctx: ActionContext) -> Target:
    if cfg.agent:
        return Target("agent", _agent_id(session, cfg.agent))
    app_id = resolve_app(session, cfg.app) if cfg.app else firing.app_id
    if not app_id:
        raise ActionError("suspend needs an app or an agent")
    return Target("app", app_id)


_RESOLVERS = {
    "reroute": _reroute,
    "raise_sampling": _sampling,
    "guard_profile": _guard,
    "require_approval": _approval,
    "suspend": _suspension,
}


def resolve_target(
    session: Session, cfg: ActionConfig, firing: Firing, ctx: ActionContext
) -> Target:
    """What the action acts on: its own keys first, else what the trigger is about."""
    if cfg.kind == "notify":
        return Target(None, None)
    return _RESOLVERS[cfg.kind](session, cfg, firing, ctx)


def _override_value(row: RemediationAction, ctx: ActionContext) -> dict[str, object]:
    params = row.params or {}
    if row.action == "reroute":
        assert row.target_id is not None
        return {"skip": 1, "to": ctx.fallbacks[row.target_id][0], "rule": row.rule}
    if row.action == "raise_sampling":
        return {"rate": float(params["rate"]), "rule": row.rule}
    if row.action == "guard_profile":
        return {"profile": str(params["profile"]), "rule": row.rule}
    return {"reason": f"remediation rule {row.rule} ({row.trigger_key})", "rule": row.rule}


def _suspend(row: RemediationAction, ctx: ActionContext, suspended: bool, actor: Actor) -> None:
    if ctx.identity is None:
        raise ActionError("suspensions need the identity service")
    reason = f"remediation rule {row.rule} ({row.trigger_key})"
    assert row.target_id is not None
    try:
        if row.target_type == "agent":
            ctx.identity.set_agent_suspended(row.target_id, suspended, reason, actor=actor)
        else:
            ctx.identity.set_app_suspended(row.target_id, suspended, reason, actor=actor)
    except ServiceError as exc:
        raise ActionError(exc.message) from exc


def apply(
    session: Session | None, row: RemediationAction, ctx: ActionContext, actor: Actor
) -> None:
    """Put the action into effect (idempotent for overrides, which need the caller's session;
    suspensions commit through the identity service and take none)."""
    kind = OVERRIDE_KIND.get(row.action)
    if kind is not None:
        if session is None:
            raise ActionError("overrides are written in the caller's transaction")
        target = (row.params or {}).get("override_target") or row.target_id
        if row.target_id is None or target is None:
            raise ActionError("the action has no target")
        set_override(
            session,
            kind,
            str(target),
            _override_value(row, ctx),
            action_id=row.id,
            now=row.applied_at or row.created_at,
            actor=actor.label(),
        )
    elif row.action == "suspend":
        _suspend(row, ctx, True, actor)


def revert(
    session: Session | None, row: RemediationAction, ctx: ActionContext, actor: Actor
) -> None:
    """Undo the action (an override another action replaced since is left alone)."""
    kind = OVERRIDE_KIND.get(row.action)
    if kind is not None:
        if session is None:
            raise ActionError("overrides are written in the caller's transaction")
        target = (row.params or {}).get("override_target") or row.target_id
        if target is not None:
            clear_override(session, kind, str(target), row.id)
    elif row.action == "suspend":
        _suspend(row, ctx, False, actor)


def action_context(config: StewardConfig, identity: IdentityService | None) -> ActionContext:
    """Fallbacks per alias and guard profile names, from the configuration."""
    return ActionContext(
        fallbacks={m.name: tuple(m.fallbacks) for m in config.models},
        guard_profiles=frozenset(config.guard.profiles) | {"default"},
        identity=identity,
    )


__all__ = [
    "action_context",
    "OVERRIDE_KIND",
    "ActionContext",
    "ActionError",
    "Target",
    "apply",
    "resolve_target",
    "revert",
]
