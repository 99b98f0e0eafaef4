"""The kill switch on the hot path: the "suspensions" snapshot section (suspended models and
tool servers, the all-agents freeze, and the suspended users, apps and agents with their
reasons) and `blocked()`, the one check the gateway and the MCP endpoint make per request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from steward.identity.snapshot import Principal, Section, Snapshot, register_section
from steward.store.models import Agent, App, User
from steward.store.models_approvals import SuspensionRow

SECTION = "suspensions"
ALL_AGENTS = "*"  # the target of the all-agents freeze row (kind all_agents)


@dataclass(frozen=True, slots=True)
class Suspensions:
    """What is suspended now; each map is id or name -> the reason given ('' if none)."""

    all_agents: str | None = None  # the freeze's reason while every agent is frozen
    models: Mapping[str, str] = field(default_factory=dict)  # model alias -> reason
    tool_servers: Mapping[str, str] = field(default_factory=dict)  # server name -> reason
    agents: Mapping[str, str] = field(default_factory=dict)  # agent id -> reason
    users: Mapping[str, str] = field(default_factory=dict)  # user id -> reason
    apps: Mapping[str, str] = field(default_factory=dict)  # app id -> reason

    @property
    def active(self) -> bool:
        """Whether anything at all is suspended (the common case is no: one check)."""
        return bool(
            self.all_agents is not None
            or self.models
            or self.tool_servers
            or self.agents
            or self.users
            or self.apps
        )


def load(session: Session) -> Suspensions:
    """Read the suspension state (flags and the suspensions table) for the snapshot."""
    reasons: dict[tuple[str, str], str] = {
        (r.kind, r.target): r.reason for r in session.scalars(select(SuspensionRow))
    }

    def flagged(model: type[Any], kind: str) -> dict[str, str]:
        ids = session.scalars(select(model.id).where(model.suspended.is_(True)))
        return {i: reasons.get((kind, i), "") for i in ids}

    users = flagged(User, "user")
    agents = flagged(Agent, "agent")
    for row in session.execute(select(Agent.id, Agent.owner_id)):
        if row[1] in users and row[0] not in agents:
            agents[row[0]] = "its accountable owner is suspended"
    return Suspensions(
        all_agents=reasons.get(("all_agents", ALL_AGENTS)),
        models={t: r for (k, t), r in reasons.items() if k == "model"},
        tool_servers={t: r for (k, t), r in reasons.items() if k == "tool_server"},
        agents=agents,
        users=users,
        apps=flagged(App, "app"),
    )


def _dump(value: Suspensions) -> dict[str, Any]:
    return {
        "all_agents": value.all_agents,
        "models": dict(value.models),
        "tool_servers": dict(value.tool_servers),
        "agents": dict(value.agents),
        "users": dict(value.users),
        "apps": dict(value.apps),
    }


def _parse(raw: Any) -> Suspensions:
    return Suspensions(
        all_agents=raw.get("all_agents"),
        models=dict(raw.get("models", {})),
        tool_servers=dict(raw.get("tool_servers", {})),
        agents=dict(raw.get("agents", {})),
        users=dict(raw.get("users", {})),
        apps=dict(raw.get("apps", {})),
    )


register_section(Section(SECTION, load, _dump, _parse, Suspensions))


def _why(what: str, reason: str) -> str:
    return f"{what} is suspended: {reason}" if reason else f"{what} is suspended"


def blocked(
    snapshot: Snapshot,
    principal: Principal,
    model: str | None = None,
    tool_server: str | None = None,
) -> str | None:
    """Why this principal may not use this model or tool server now, or None.

    Checks every agent in the delegation chain, the user (its own, the one an agent acts for,
    the agent's owner), the app (each with the reason recorded), the key's own suspension, the
    all-agents freeze, the model and the tool server. Dictionary lookups only: it runs on
    every request."""
    s: Suspensions = snapshot.section(SECTION)
    if not s.active:
        return principal.suspended
    names = snapshot.names
    agents = (principal.agent_id, *principal.chain) if principal.chain else (principal.agent_id,)
    for agent in agents:
        if agent is not None and agent in s.agents:
            return _why(f"agent '{names.get(agent, agent)}'", s.agents[agent])
    for label, user in (
        ("user", principal.user_id),
        ("user on whose behalf the agent acts,", principal.on_behalf_of),
        ("the agent's owner,", principal.owner_id),
    ):
        if user is not None and user in s.users:
            return _why(f"{label} '{names.get(user, user)}'", s.users[user])
    app = principal.app_id
    if app is not None and app in s.apps:
        return _why(f"app '{names.get(app, app)}'", s.apps[app])
    if principal.suspended:  # the key itself (or a service account)
        return principal.suspended
    if s.all_agents is not None and (principal.kind == "agent" or any(agents)):
        return "every agent is frozen" + (f": {s.all_agents}" if s.all_agents else "")
    if model is not None and model in s.models:
        return _why(f"model '{model}'", s.models[model])
    if tool_server is not None and tool_server in s.tool_servers:
        return _why(f"tool server '{tool_server}'", s.tool_servers[tool_server])
    return None


__all__ = ["ALL_AGENTS", "SECTION", "Suspensions", "blocked", "load"]
