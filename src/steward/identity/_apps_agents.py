"""Apps, agents and service accounts: the non-human principals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from steward.events.ids import short_id
from steward.identity._base import (
    NameCache,
    ServiceBase,
    delete_keys,
    ensure_unique_name,
    find,
    find_optional,
    must_utc,
    set_suspended,
    utcnow,
)
from steward.identity._validate import choice, clean_data_classes, clean_name, clean_text
from steward.identity.errors import Invalid
from steward.identity.records import (
    RISK_TIERS,
    SYSTEM_ACTOR,
    Actor,
    AgentInfo,
    AppInfo,
    ServiceAccountInfo,
)
from steward.store.models import Agent, ApiKey, App, ServiceAccount, Team, User


def _app_info(names: NameCache, app: App) -> AppInfo:
    return AppInfo(
        id=app.id,
        name=app.name,
        team=names.name(Team, app.team_id),
        team_id=app.team_id,
        owner=names.name(User, app.owner_id),
        owner_id=app.owner_id,
        description=app.description,
        suspended=app.suspended,
        created_at=must_utc(app.created_at),
        purpose=app.purpose,
        data_classes=list(app.data_classes or []),
        risk_tier=app.risk_tier,
        managed=app.managed,
    )


def _agent_info(names: NameCache, agent: Agent) -> AgentInfo:
    return AgentInfo(
        id=agent.id,
        name=agent.name,
        owner=names.name(User, agent.owner_id),
        owner_id=agent.owner_id,
        team=names.name(Team, agent.team_id),
        team_id=agent.team_id,
        purpose=agent.purpose,
        risk_tier=agent.risk_tier,
        suspended=agent.suspended,
        created_at=must_utc(agent.created_at),
        data_classes=list(agent.data_classes or []),
        sponsor=names.name(User, agent.sponsor_id),
        sponsor_id=agent.sponsor_id,
    )


def _sa_info(names: NameCache, sa: ServiceAccount) -> ServiceAccountInfo:
    return ServiceAccountInfo(
        id=sa.id,
        name=sa.name,
        team=names.name(Team, sa.team_id),
        team_id=sa.team_id,
        description=sa.description,
        suspended=sa.suspended,
        created_at=must_utc(sa.created_at),
    )


def _team_id(session: Session, team: str | None) -> str | None:
    row = find_optional(session, Team, team)
    return None if row is None else row.id


# update field -> (column, the model whose name stands for an id in the audit, if any)
_APP_COLUMNS: dict[str, tuple[str, type[Team] | type[User] | None]] = {
    "team": ("team_id", Team),
    "owner": ("owner_id", User),
    "description": ("description", None),
    "purpose": ("purpose", None),
    "data_classes": ("data_classes", None),
    "risk_tier": ("risk_tier", None),
    "managed": ("managed", None),
}
_AGENT_COLUMNS = {k: v for k, v in _APP_COLUMNS.items() if k not in ("description", "managed")}
_AGENT_COLUMNS["sponsor"] = ("sponsor_id", User)


def _app_changes(
    team: str | None,
    owner: str | None,
    description: str | None,
    purpose: str | None,
    data_classes: Sequence[str] | None,
    risk_tier: str | None,
    managed: bool | None,
) -> dict[str, Any]:
    """The validated fields an update asks for (None: leave as it is)."""
    wanted: dict[str, Any] = {}
    if team is not None:
        wanted["team"] = team.strip()
    if owner is not None:
        wanted["owner"] = owner.strip()
    if description is not None:
        wanted["description"] = clean_text("description", description)
    if purpose is not None:
        wanted["purpose"] = clean_text("purpose", purpose)
    if data_classes is not None:
        wanted["data_classes"] = clean_data_classes(data_classes)
    if risk_tier is not None:
        wanted["risk_tier"] = choice("risk tier", risk_tier, RISK_TIERS)
    if managed is not None:
        wanted["managed"] = managed
    if not wanted:
        raise Invalid(
            "nothing to update; give at least one field to change (purpose, data classes, "
            "risk tier, owner, team, ...)",
            code="nothing_to_update",
        )
    return wanted


def _apply(
    row: App | Agent,
    wanted: dict[str, Any],
    columns: dict[str, tuple[str, type[Team] | type[User] | None]],
    names: NameCache,
) -> dict[str, list[Any]]:
    """Set the wanted columns; return field -> [before, after] for those that changed (names,
    not ids, for references)."""
    changes: dict[str, list[Any]] = {}
    for field, value in wanted.items():
        column, ref = columns[field]
        before = getattr(row, column)
        if field == "data_classes":
            before = list(before or [])
        if before == value:
            continue
        setattr(row, column, value)
        if ref is Team:
            changes[field] = [names.name(Team, before), names.name(Team, value)]
        elif ref is User:
            changes[field] = [names.name(User, before), names.name(User, value)]
        else:
            changes[field] = [before, value]
    return changes


class AppsAgentsMixin(ServiceBase):
    # -- apps --------------------------------------------------------------------------------

    def create_app(
        self,
        name: str,
        team: str | None = None,
        owner: str | None = None,
        description: str = "",
        *,
        purpose: str = "",
        data_classes: Sequence[str] | None = None,
        risk_tier: str | None = None,
        actor: Actor = SYSTEM_ACTOR,
    ) -> AppInfo:
        """Register an application; team and owner (a user) are optional references."""
        name = clean_name("app", name)
        description = clean_text("description", description)
        purpose = clean_text("purpose", purpose)
        classes = clean_data_classes(data_classes)
        if risk_tier is not None:
            risk_tier = choice("risk tier", risk_tier, RISK_TIERS)
        with self._write() as s:
            ensure_unique_name(s, App, name)
            owner_row = find_optional(s, User, owner)
            app = App(
                id=short_id("app"),
                name=name,
                team_id=_team_id(s, team),
                owner_id=None if owner_row is None else owner_row.id,
                description=description,
                suspended=False,
                created_at=utcnow(),
                purpose=purpose,
                data_classes=classes,
                risk_tier=risk_tier,
                managed=True,
            )
            s.add(app)
            s.flush()
            self._changed(s, actor, "app.create", "app", app.id, details={"name": name})
            return _app_info(NameCache(s), app)

    def update_app(
        self,
        app: str,
        *,
        team: str | None = None,
        owner: str | None = None,
        description: str | None = None,
        purpose: str | None = None,
        data_classes: Sequence[str] | None = None,
        risk_tier: str | None = None,
        managed: bool | None = None,
        actor: Actor = SYSTEM_ACTOR,
    ) -> AppInfo:
        """Change an app's inventory fields; None leaves a field as it is, "" clears team or
        owner. Marking a discovered app `managed` brings it under management."""
        wanted = _app_changes(team, owner, description, purpose, data_classes, risk_tier, managed)
        with self._write() as s:
            row = find(s, App, app)
            names = NameCache(s)
            if "team" in wanted:
                wanted["team"] = _team_id(s, wanted["team"])
            if "owner" in wanted:
                owner_row = find_optional(s, User, wanted["owner"])
                wanted["owner"] = None if owner_row is None else owner_row.id
            changes = _apply(row, wanted, _APP_COLUMNS, names)
            details = {"name": row.name, "changes": changes}
            self._changed(s, actor, "app.update", "app", row.id, details=details)
            return _app_info(NameCache(s), row)

    def register_discovered_app(
        self, name: str, purpose: str, evidence: dict[str, Any], *, actor: Actor = SYSTEM_ACTOR
    ) -> tuple[AppInfo, bool]:
        """Record a shadow-AI finding as an unmanaged app, once: an app of that name already
        there is left alone. Returns the app and whether it was created now."""
        name = clean_name("app", name)
        purpose = clean_text("purpose", purpose)
        with self._write() as s:
            existing = s.scalar(select(App).where(App.name == name))
            if existing is not None:
                return _app_info(NameCache(s), existing), False
            app = App(
                id=short_id("app"),
                name=name,
                team_id=None,
                owner_id=None,
                description="",
                suspended=False,
                created_at=utcnow(),
                purpose=purpose,
                data_classes=[],
                risk_tier=None,
                managed=False,
            )
            s.add(app)
            s.flush()
            details = {"name": name, **evidence}
            self._changed(s, actor, "app.discover", "app", app.id, details=details)
            return _app_info(NameCache(s), app), True

    def list_apps(self, team: str | None = None) -> list[AppInfo]:
        with self._read() as s:
            stmt = select(App).order_by(App.name)
            if team is not None:
                stmt = stmt.where(App.team_id == find(s, Team, team).id)
            names = NameCache(s)
            return [_app_info(names, a) for a in s.scalars(stmt)]

    def get_app(self, name_or_id: str) -> AppInfo:
        with self._read() as s:
            return _app_info(NameCache(s), find(s, App, name_or_id))

    def delete_app(self, name_or_id: str, *, actor: Actor = SYSTEM_ACTOR) -> AppInfo:
        """Delete an app and every key attributed to it."""
        with self._write() as s:
            app = find(s, App, name_or_id)
            info = _app_info(NameCache(s), app)
            deleted = delete_keys(s, ApiKey.app_id == app.id)
            s.delete(app)
            details = {"name": app.name, "deleted_keys": deleted}
            self._changed(s, actor, "app.delete", "app", app.id, details=details)
            return info

    def set_app_suspended(
        self, app: str, suspended: bool, reason: str = "", *, actor: Actor = SYSTEM_ACTOR
    ) -> AppInfo:
        reason = clean_text("reason", reason)
        with self._write() as s:
            row, changed = set_suspended(s, App, app, suspended)
            action = "app.suspend" if suspended else "app.unsuspend"
            details = {"name": row.name, "changed": changed}
            self._changed(s, actor, action, "app", row.id, reason=reason, details=details)
            return _app_info(NameCache(s), row)

    # -- agents ------------------------------------------------------------------------------

    def create_agent(
        self,
        name: str,
        owner: str,
        team: str | None = None,
        purpose: str = "",
        risk_tier: str = "limited",
        *,
        sponsor: str | None = None,
        actor: Actor = SYSTEM_ACTOR,
    ) -> AgentInfo:
        """Register an agent. Every agent has an accountable owner, an existing user, and may
        have a sponsor (another user who answers for its purpose)."""
        name = clean_name("agent", name)
        purpose = clean_text("purpose", purpose)
        risk_tier = choice("risk tier", risk_tier, RISK_TIERS)
        with self._write() as s:
            ensure_unique_name(s, Agent, name)
            owner_row = find(s, User, owner)
            sponsor_row = find_optional(s, User, sponsor)
            agent = Agent(
                id=short_id("agent"),
                name=name,
                owner_id=owner_row.id,
                team_id=_team_id(s, team),
                purpose=purpose,
                risk_tier=risk_tier,
                suspended=False,
                created_at=utcnow(),
                sponsor_id=None if sponsor_row is None else sponsor_row.id,
            )
            s.add(agent)
            s.flush()
            details = {"name": name, "owner": owner_row.name, "risk_tier": risk_tier}
            if sponsor_row is not None:
                details["sponsor"] = sponsor_row.name
            self._changed(s, actor, "agent.create", "agent", agent.id, details=details)
            return _agent_info(NameCache(s), agent)

    def update_agent(
        self,
        agent: str,
        *,
        owner: str | None = None,
        team: str | None = None,
        purpose: str | None = None,
        data_classes: Sequence[str] | None = None,
        risk_tier: str | None = None,
        sponsor: str | None = None,
        actor: Actor = SYSTEM_ACTOR,
    ) -> AgentInfo:
        """Change an agent's owner (always a user), team or sponsor ("" clears them), purpose,
        data classes or risk tier; None leaves a field as it is."""
        if owner is not None and not owner.strip():
            raise Invalid(
                "an agent always has an accountable owner; give the user who takes over",
                code="agent_without_owner",
            )
        if (
            sponsor is not None
            and owner is None
            and not any(v is not None for v in (team, purpose, data_classes, risk_tier))
        ):
            wanted: dict[str, Any] = {}
        else:
            wanted = _app_changes(team, owner, None, purpose, data_classes, risk_tier, None)
        if sponsor is not None:
            wanted["sponsor"] = sponsor.strip()
        with self._write() as s:
            row = find(s, Agent, agent)
            names = NameCache(s)
            if "team" in wanted:
                wanted["team"] = _team_id(s, wanted["team"])
            if "owner" in wanted:
                wanted["owner"] = find(s, User, wanted["owner"]).id
            if "sponsor" in wanted:
                sponsor_row = find_optional(s, User, wanted["sponsor"])
                wanted["sponsor"] = None if sponsor_row is None else sponsor_row.id
            changes = _apply(row, wanted, _AGENT_COLUMNS, names)
            details = {"name": row.name, "changes": changes}
            self._changed(s, actor, "agent.update", "agent", row.id, details=details)
            return _agent_info(NameCache(s), row)

    def list_agents(self, owner: str | None = None, team: str | None = None) -> list[AgentInfo]:
        with self._read() as s:
            stmt = select(Agent).order_by(Agent.name)
            if owner is not None:
                stmt = stmt.where(Agent.owner_id == find(s, User, owner).id)
            if team is not None:
                stmt = stmt.where(Agent.team_id == find(s, Team, team).id)
            names = NameCache(s)
            return [_agent_info(names, a) for a in s.scalars(stmt)]

    def get_agent(self, name_or_id: str) -> AgentInfo:
        with self._read() as s:
            return _agent_info(NameCache(s), find(s, Agent, name_or_id))

    def delete_agent(self, name_or_id: str, *, actor: Actor = SYSTEM_ACTOR) -> AgentInfo:
        """Delete an agent and its keys."""
        with self._write() as s:
            agent = find(s, Agent, name_or_id)
            info = _agent_info(NameCache(s), agent)
            deleted = delete_keys(s, ApiKey.agent_id == agent.id)
            s.delete(agent)
            details = {"name": agent.name, "deleted_keys": deleted}
            self._changed(s, actor, "agent.delete", "agent", agent.id, details=details)
            return info

    def set_agent_suspended(
        self, agent: str, suspended: bool, reason: str = "", *, actor: Actor = SYSTEM_ACTOR
    ) -> AgentInfo:
        """The agent kill switch: a suspended agent's requests and tool calls are refused."""
        reason = clean_text("reason", reason)
        with self._write() as s:
            row, changed = set_suspended(s, Agent, agent, suspended)
            action = "agent.suspend" if suspended else "agent.unsuspend"
            details = {"name": row.name, "changed": changed}
            self._changed(s, actor, action, "agent", row.id, reason=reason, details=details)
            return _agent_info(NameCache(s), row)

    # -- service accounts --------------------------------------------------------------------

    def create_service_account(
        self,
        name: str,
        team: str | None = None,
        description: str = "",
        *,
        actor: Actor = SYSTEM_ACTOR,
    ) -> ServiceAccountInfo:
        """Register a service account: a non-human, non-agent caller such as a batch job."""
        name = clean_name("service account", name)
        description = clean_text("description", description)
        with self._write() as s:
            ensure_unique_name(s, ServiceAccount, name)
            sa = ServiceAccount(
                id=short_id("svc"),
                name=name,
                team_id=_team_id(s, team),
                description=description,
                suspended=False,
                created_at=utcnow(),
            )
            s.add(sa)
            s.flush()
            details = {"name": name}
            self._changed(
                s, actor, "service_account.create", "service_account", sa.id, details=details
            )
            return _sa_info(NameCache(s), sa)

    def list_service_accounts(self, team: str | None = None) -> list[ServiceAccountInfo]:
        with self._read() as s:
            stmt = select(ServiceAccount).order_by(ServiceAccount.name)
            if team is not None:
                stmt = stmt.where(ServiceAccount.team_id == find(s, Team, team).id)
            names = NameCache(s)
            return [_sa_info(names, a) for a in s.scalars(stmt)]

    def get_service_account(self, name_or_id: str) -> ServiceAccountInfo:
        with self._read() as s:
            return _sa_info(NameCache(s), find(s, ServiceAccount, name_or_id))

    def delete_service_account(
        self, name_or_id: str, *, actor: Actor = SYSTEM_ACTOR
    ) -> ServiceAccountInfo:
        """Delete a service account and its keys."""
        with self._write() as s:
            sa = find(s, ServiceAccount, name_or_id)
            info = _sa_info(NameCache(s), sa)
            deleted = delete_keys(s, ApiKey.service_account_id == sa.id)
            s.delete(sa)
            details = {"name": sa.name, "deleted_keys": deleted}
            self._changed(
                s, actor, "service_account.delete", "service_account", sa.id, details=details
            )
            return info

    def set_service_account_suspended(
        self,
        service_account: str,
        suspended: bool,
        reason: str = "",
        *,
        actor: Actor = SYSTEM_ACTOR,
    ) -> ServiceAccountInfo:
        reason = clean_text("reason", reason)
        with self._write() as s:
            row, changed = set_suspended(s, ServiceAccount, service_account, suspended)
            action = "service_account.suspend" if suspended else "service_account.unsuspend"
            details = {"name": row.name, "changed": changed}
            self._changed(
                s, actor, action, "service_account", row.id, reason=reason, details=details
            )
            return _sa_info(NameCache(s), row)


__all__ = ["AppsAgentsMixin"]
