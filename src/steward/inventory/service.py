"""The inventory of AI in use: apps and agents from the store, models from the catalogue (the
configuration) and from the usage ledger, and the flags that need attention. Read-only: it
changes nothing, so any admin key (auditors included) may read it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from steward.config.models import ModelConfig, StewardConfig
from steward.inventory.records import (
    SEVERITIES,
    AgentEntry,
    AppEntry,
    Flag,
    Inventory,
    ModelEntry,
    ModelUsage,
)
from steward.store.models import Agent, ApiKey, App, Team, UsageEvent, User

_Seen = tuple[int, datetime | None]  # requests, last seen


def _utc(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; they were written as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class InventoryService:
    """Builds the inventory from a session factory and the configuration's model catalogue."""

    def __init__(self, sessions: sessionmaker[Session], config: StewardConfig) -> None:
        self._sessions = sessions
        self._config = config

    def build(self, *, flags_only: bool = False, now: datetime | None = None) -> Inventory:
        """The whole inventory; with `flags_only`, only the entries that carry a flag."""
        now = now or datetime.now(UTC)
        with self._sessions() as s:
            users = {r[0]: (r[1], r[2]) for r in s.execute(select(User.id, User.name, User.email))}
            teams = {r[0]: r[1] for r in s.execute(select(Team.id, Team.name))}
            app_keys, agent_keys = _active_keys(s, now)
            app_use = _usage_by(s, UsageEvent.app_id)
            agent_use = _usage_by(s, UsageEvent.agent_id)
            apps = [
                _app_entry(row, users, teams, app_keys, app_use)
                for row in s.scalars(select(App).order_by(App.name))
            ]
            agents = [
                _agent_entry(row, users, teams, agent_keys, agent_use)
                for row in s.scalars(select(Agent).order_by(Agent.name))
            ]
            models = _models(self._config.models, _model_usage(s))
        known = {name for name, _ in users.values()} | {e for _, e in users.values() if e}
        flags = [*_app_flags(apps), *_agent_flags(agents), *_model_flags(models, known)]
        flags.sort(key=lambda f: (SEVERITIES.index(f.severity), f.kind, f.name, f.code))
        if flags_only:
            flagged = {(f.kind, f.name) for f in flags}
            apps = [a for a in apps if ("app", a.name) in flagged]
            agents = [a for a in agents if ("agent", a.name) in flagged]
            models = [m for m in models if ("model", m.name) in flagged]
        return Inventory(now, apps, agents, models, flags)


# -- reading the store ---------------------------------------------------------------------------


def _active_keys(s: Session, now: datetime) -> tuple[dict[str, int], dict[str, int]]:
    """Keys that would be accepted now (not revoked, suspended or expired), per app and agent.
    A user's key issued for an app counts for that app."""
    apps: dict[str, int] = defaultdict(int)
    agents: dict[str, int] = defaultdict(int)
    stmt = select(ApiKey.app_id, ApiKey.agent_id, ApiKey.expires_at).where(
        ApiKey.revoked_at.is_(None), ApiKey.suspended.is_(False)
    )
    for app_id, agent_id, expires_at in s.execute(stmt):
        expiry = _utc(expires_at)
        if expiry is not None and expiry <= now:
            continue
        if app_id is not None:
            apps[app_id] += 1
        if agent_id is not None:
            agents[agent_id] += 1
    return apps, agents


def _usage_by(s: Session, column: Any) -> dict[str, _Seen]:
    stmt = (
        select(column, func.count(), func.max(UsageEvent.ts))
        .where(column.is_not(None))
        .group_by(column)
    )
    return {ref: (count, _utc(last)) for ref, count, last in s.execute(stmt)}


def _model_usage(s: Session) -> list[tuple[str, ModelUsage]]:
    """(alias, usage) for every model routed to a provider; requests refused before routing
    (an unknown model, a bad key) name no provider and do not count as use."""
    stmt = (
        select(
            UsageEvent.model,
            UsageEvent.provider,
            UsageEvent.upstream_model,
            func.count(),
            func.min(UsageEvent.ts),
            func.max(UsageEvent.ts),
        )
        .where(UsageEvent.provider.is_not(None), UsageEvent.model.is_not(None))
        .group_by(UsageEvent.model, UsageEvent.provider, UsageEvent.upstream_model)
        .order_by(UsageEvent.model, UsageEvent.provider, UsageEvent.upstream_model)
    )
    return [
        (str(alias), ModelUsage(provider, upstream, count, _utc(first), _utc(last)))
        for alias, provider, upstream, count, first, last in s.execute(stmt)
    ]


def _name(users: dict[str, tuple[str, str | None]], user_id: str | None) -> str | None:
    found = users.get(user_id) if user_id else None
    return None if found is None else found[0]


def _app_entry(
    row: App,
    users: dict[str, tuple[str, str | None]],
    teams: dict[str, str],
    keys: dict[str, int],
    use: dict[str, _Seen],
) -> AppEntry:
    requests, last = use.get(row.id, (0, None))
    return AppEntry(
        name=row.name,
        owner=_name(users, row.owner_id),
        team=teams.get(row.team_id) if row.team_id else None,
        purpose=row.purpose,
        data_classes=list(row.data_classes or []),
        risk_tier=row.risk_tier,
        managed=row.managed,
        suspended=row.suspended,
        active_keys=keys.get(row.id, 0),
        requests=requests,
        last_seen=last,
    )


def _agent_entry(
    row: Agent,
    users: dict[str, tuple[str, str | None]],
    teams: dict[str, str],
    keys: dict[str, int],
    use: dict[str, _Seen],
) -> AgentEntry:
    requests, last = use.get(row.id, (0, None))
    return AgentEntry(
        name=row.name,
        owner=_name(users, row.owner_id),
        team=teams.get(row.team_id) if row.team_id else None,
        purpose=row.purpose,
        data_classes=list(row.data_classes or []),
        risk_tier=row.risk_tier,
        suspended=row.suspended,
        active_keys=keys.get(row.id, 0),
        requests=requests,
        last_seen=last,
    )


def _models(
    catalogue: Iterable[ModelConfig], seen: list[tuple[str, ModelUsage]]
) -> list[ModelEntry]:
    """One entry per catalogue alias, then one per alias seen in usage but not configured."""
    by_alias: dict[str, list[ModelUsage]] = defaultdict(list)
    for alias, usage in seen:
        by_alias[alias].append(usage)
    out: list[ModelEntry] = []
    for m in catalogue:
        out.append(_model_entry(m.name, m, by_alias.pop(m.name, [])))
    out.extend(_model_entry(alias, None, usage) for alias, usage in sorted(by_alias.items()))
    return out


def _model_entry(name: str, m: ModelConfig | None, usage: list[ModelUsage]) -> ModelEntry:
    firsts = [u.first_seen for u in usage if u.first_seen is not None]
    lasts = [u.last_seen for u in usage if u.last_seen is not None]
    return ModelEntry(
        name=name,
        in_catalogue=m is not None,
        provider=m.provider if m else (usage[0].provider if len(usage) == 1 else None),
        upstream_model=m.target if m else (usage[0].upstream_model if len(usage) == 1 else None),
        owner=m.owner if m else None,
        purpose=m.purpose if m else "",
        data_classes=list(m.data_classes) if m else [],
        risk_tier=m.risk_tier if m else None,
        requests=sum(u.requests for u in usage),
        first_seen=min(firsts) if firsts else None,
        last_seen=max(lasts) if lasts else None,
        usage=usage,
    )


# -- flags ---------------------------------------------------------------------------------------


def _prohibited(kind: str, name: str, keys: int) -> Flag:
    return Flag(
        "app" if kind == "app" else "agent",
        name,
        "prohibited_with_active_keys",
        "high",
        f"{kind} '{name}' has risk tier 'prohibited' but {keys} active key(s); revoke them "
        f"(steward keys list --{kind} {name}) or suspend the {kind}",
    )


def _app_flags(apps: list[AppEntry]) -> Iterable[Flag]:
    for a in apps:
        if a.risk_tier == "prohibited" and a.active_keys:
            yield _prohibited("app", a.name, a.active_keys)
        if not a.managed:
            yield Flag(
                "app",
                a.name,
                "unmanaged_app",
                "medium",
                f"app '{a.name}' was found by shadow-AI discovery and is not managed; route it "
                f"through Steward and mark it managed (steward apps update {a.name} --managed), "
                "or stop the traffic",
            )
        if a.owner is None:
            yield Flag(
                "app",
                a.name,
                "app_without_owner",
                "medium",
                f"app '{a.name}' has no accountable owner; set one "
                f"(steward apps update {a.name} --owner USER)",
            )
        if a.risk_tier is None:
            yield Flag(
                "app",
                a.name,
                "app_unclassified",
                "low",
                f"app '{a.name}' has no risk tier; classify it "
                f"(steward apps update {a.name} --risk-tier minimal|limited|high|prohibited)",
            )


def _agent_flags(agents: list[AgentEntry]) -> Iterable[Flag]:
    for a in agents:
        if a.risk_tier == "prohibited" and a.active_keys:
            yield _prohibited("agent", a.name, a.active_keys)
        if a.owner is None:  # the schema requires one; a dangling reference still shows here
            yield Flag(
                "agent",
                a.name,
                "agent_without_owner",
                "high",
                f"agent '{a.name}' has no accountable owner; set one "
                f"(steward agents update {a.name} --owner USER)",
            )


def _model_flags(models: list[ModelEntry], known_users: set[str]) -> Iterable[Flag]:
    for m in models:
        if not m.in_catalogue and m.requests:
            yield Flag(
                "model",
                m.name,
                "model_not_in_catalogue",
                "medium",
                f"model '{m.name}' was used {m.requests} time(s) but has no entry in the "
                "configuration's models; add it with an owner, purpose and risk tier",
            )
        elif m.in_catalogue and m.owner is None and m.requests:
            yield Flag(
                "model",
                m.name,
                "model_without_owner",
                "medium",
                f"model '{m.name}' is in use ({m.requests} request(s)) but its catalogue entry "
                "has no owner; set models[].owner in the configuration",
            )
        elif m.owner is not None and m.owner not in known_users:
            yield Flag(
                "model",
                m.name,
                "model_owner_unknown",
                "low",
                f"model '{m.name}' names owner '{m.owner}', which is no user's name or e-mail; "
                "correct models[].owner or create the user",
            )


__all__ = ["InventoryService"]
