"""Virtual API keys: who a key speaks for, which team pays, what it may call, until when."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from steward.events.ids import short_id
from steward.identity._base import (
    NameCache,
    ServiceBase,
    as_utc,
    find,
    find_optional,
    must_utc,
    utcnow,
)
from steward.identity._validate import clean_text
from steward.identity.errors import Conflict, Invalid, NotFound
from steward.identity.keys import API_KEY_PREFIX, generate_key, hash_key
from steward.identity.records import SYSTEM_ACTOR, Actor, ApiKeyInfo, KeyStatus
from steward.store.models import Agent, ApiKey, App, ServiceAccount, Team, TeamMember, User


@dataclass
class _Binding:
    """The principal and attribution a new key carries."""

    principal_type: str
    team_id: str | None
    app_id: str | None
    user_id: str | None = None
    agent_id: str | None = None
    service_account_id: str | None = None


def _status(row: ApiKey, now: datetime) -> KeyStatus:
    expires = as_utc(row.expires_at)
    if row.revoked_at is not None:
        return "revoked"
    if expires is not None and expires <= now:
        return "expired"
    return "suspended" if row.suspended else "active"


def _key_info(names: NameCache, row: ApiKey, now: datetime) -> ApiKeyInfo:
    return ApiKeyInfo(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        principal_type=row.principal_type,
        status=_status(row, now),
        user=names.name(User, row.user_id),
        user_id=row.user_id,
        team=names.name(Team, row.team_id),
        team_id=row.team_id,
        app=names.name(App, row.app_id),
        app_id=row.app_id,
        agent=names.name(Agent, row.agent_id),
        agent_id=row.agent_id,
        service_account=names.name(ServiceAccount, row.service_account_id),
        service_account_id=row.service_account_id,
        models=None if row.allowed_models is None else list(row.allowed_models),
        expires_at=as_utc(row.expires_at),
        revoked_at=as_utc(row.revoked_at),
        suspended=row.suspended,
        created_at=must_utc(row.created_at),
        created_by=row.created_by,
    )


def _inherit_team(
    kind: str, name: str, own_team_id: str | None, team: Team | None, names: NameCache
) -> str | None:
    """Agents, service accounts and apps carry their own team onto their keys."""
    if team is None or own_team_id is None:
        return own_team_id if team is None else team.id
    if team.id != own_team_id:
        raise Invalid(
            f"{kind} '{name}' belongs to team '{names.name(Team, own_team_id)}' and its keys "
            f"carry that team; omit the team or give '{names.name(Team, own_team_id)}'",
            code="team_mismatch",
        )
    return own_team_id


def _user_team(session: Session, user: User, team: Team | None) -> str | None:
    """A user key's team must be one of the user's teams; the only one is the default."""
    teams = list(
        session.scalars(
            select(Team).join(TeamMember).where(TeamMember.user_id == user.id).order_by(Team.name)
        )
    )
    listed = ", ".join(t.name for t in teams) or "none"
    if team is not None:
        if all(t.id != team.id for t in teams):
            raise Invalid(
                f"user '{user.name}' is not a member of team '{team.name}' (their teams: "
                f"{listed}); add them to the team first or choose one of their teams",
                code="not_member",
            )
        return team.id
    if len(teams) > 1:
        raise Invalid(
            f"user '{user.name}' belongs to several teams ({listed}); say which team the key "
            "is for",
            code="team_required",
        )
    return teams[0].id if teams else None


def _agent_binding(
    session: Session, agent: Agent, team: Team | None, app: App | None, names: NameCache
) -> _Binding:
    owner = None if agent.owner_id is None else session.get(User, agent.owner_id)
    if owner is None:
        raise Invalid(
            f"agent '{agent.name}' has no accountable owner; give it an owner before "
            "issuing it a key",
            code="agent_without_owner",
        )
    if owner.suspended:
        raise Invalid(
            f"the owner of agent '{agent.name}' ('{owner.name}') is suspended, so the agent "
            "may not get credentials; reinstate the owner or give the agent another owner",
            code="agent_owner_suspended",
        )
    if agent.risk_tier == "prohibited":
        raise Invalid(
            f"agent '{agent.name}' has risk tier 'prohibited' and may not get a key; "
            "change its risk tier if that is wrong",
            code="agent_prohibited",
        )
    return _Binding(
        "agent",
        team_id=_inherit_team("agent", agent.name, agent.team_id, team, names),
        app_id=None if app is None else app.id,
        agent_id=agent.id,
    )


def _bind(
    session: Session,
    *,
    user: str | None,
    app: str | None,
    agent: str | None,
    service_account: str | None,
    team: str | None,
) -> _Binding:
    """Resolve and check the references of a new key."""
    if sum(1 for ref in (user, agent, service_account) if ref) > 1:
        raise Invalid(
            "a key speaks for one principal; give only one of user, agent or service account "
            "(an app may accompany any of them)",
            code="too_many_principals",
        )
    names = NameCache(session)
    app_row = find_optional(session, App, app)
    team_row = find_optional(session, Team, team)
    app_id = None if app_row is None else app_row.id
    if app_row is not None and app_row.risk_tier == "prohibited":
        raise Invalid(
            f"app '{app_row.name}' has risk tier 'prohibited' and may not get keys; "
            "change its risk tier if that is wrong",
            code="app_prohibited",
        )
    if user:
        u = find(session, User, user)
        return _Binding("user", _user_team(session, u, team_row), app_id, user_id=u.id)
    if agent:
        return _agent_binding(session, find(session, Agent, agent), team_row, app_row, names)
    if service_account:
        sa = find(session, ServiceAccount, service_account)
        team_id = _inherit_team("service account", sa.name, sa.team_id, team_row, names)
        return _Binding("service", team_id, app_id, service_account_id=sa.id)
    if app_row is not None:
        team_id = _inherit_team("app", app_row.name, app_row.team_id, team_row, names)
        return _Binding("app", team_id, app_row.id)
    raise Invalid(
        "a key needs a principal: give a user, an agent or a service account, or an app alone "
        "for an app key",
        code="principal_required",
    )


def _clean_models(models: Sequence[str] | None) -> list[str] | None:
    if models is None:
        return None
    cleaned = list(dict.fromkeys(m.strip() for m in models))
    if not cleaned or any(not m for m in cleaned):
        raise Invalid(
            "the model list is empty or has a blank name; list model names, or omit the list "
            "to allow every model",
            code="invalid_models",
        )
    return cleaned


def _expiry(
    expires_in: timedelta | None, expires_at: datetime | None, now: datetime
) -> datetime | None:
    if expires_in is not None and expires_at is not None:
        raise Invalid(
            "give either an expiry duration or an expiry time, not both", code="invalid_expiry"
        )
    if expires_in is not None:
        if expires_in <= timedelta(0):
            raise Invalid("the expiry duration must be positive, e.g. 30d", code="invalid_expiry")
        return now + expires_in
    when = as_utc(expires_at)
    if when is not None and when <= now:
        raise Invalid(
            f"expiry time {when.isoformat()} is in the past; give a future time",
            code="invalid_expiry",
        )
    return when


def find_key(session: Session, ref: str) -> ApiKey:
    """A key by id, by display prefix (with or without the trailing '…'), or by plaintext."""
    row = session.get(ApiKey, ref)
    if row is None and ref.startswith(API_KEY_PREFIX) and len(ref) > 32:
        row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(ref)))
    if row is not None:
        return row
    stem = ref.removesuffix("…").removesuffix("...")
    rows = session.scalars(select(ApiKey).where(ApiKey.prefix == stem + "…")).all()
    if len(rows) > 1:
        raise Conflict(
            f"prefix '{ref}' matches {len(rows)} keys; use the key id instead", code="ambiguous_key"
        )
    if not rows:
        raise NotFound(
            f"key '{ref}' does not exist; give a key id or prefix (list keys to see them)",
            code="key_not_found",
        )
    return rows[0]


class ApiKeysMixin(ServiceBase):
    def create_key(
        self,
        *,
        user: str | None = None,
        app: str | None = None,
        agent: str | None = None,
        service_account: str | None = None,
        team: str | None = None,
        name: str = "",
        models: Sequence[str] | None = None,
        expires_in: timedelta | None = None,
        expires_at: datetime | None = None,
        actor: Actor = SYSTEM_ACTOR,
    ) -> tuple[ApiKeyInfo, str]:
        """Issue a key; returns its record and the plaintext, which is never available again."""
        name = clean_text("key name", name, max_len=200)
        allowed = _clean_models(models)
        now = utcnow()
        expiry = _expiry(expires_in, expires_at, now)
        with self._write() as s:
            b = _bind(
                s, user=user, app=app, agent=agent, service_account=service_account, team=team
            )
            plaintext, digest, prefix = generate_key()
            row = ApiKey(
                id=short_id("key"),
                name=name,
                key_hash=digest,
                prefix=prefix,
                principal_type=b.principal_type,
                user_id=b.user_id,
                team_id=b.team_id,
                app_id=b.app_id,
                agent_id=b.agent_id,
                service_account_id=b.service_account_id,
                allowed_models=allowed,
                expires_at=expiry,
                revoked_at=None,
                suspended=False,
                created_at=now,
                created_by=actor.label(),
            )
            s.add(row)
            s.flush()
            info = _key_info(NameCache(s), row, now)
            details = {
                "prefix": prefix,
                "principal_type": b.principal_type,
                "user": info.user,
                "team": info.team,
                "app": info.app,
                "agent": info.agent,
                "service_account": info.service_account,
                "models": allowed,
                "expires_at": None if expiry is None else expiry.isoformat(),
            }
            self._changed(s, actor, "key.create", "key", row.id, details=details)
            return info, plaintext

    def list_keys(
        self,
        *,
        user: str | None = None,
        team: str | None = None,
        app: str | None = None,
        agent: str | None = None,
        service_account: str | None = None,
        include_revoked: bool = False,
    ) -> list[ApiKeyInfo]:
        """Keys, newest first, optionally filtered; revoked keys only when asked for."""
        with self._read() as s:
            stmt = select(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
            if user:
                stmt = stmt.where(ApiKey.user_id == find(s, User, user).id)
            if team:
                stmt = stmt.where(ApiKey.team_id == find(s, Team, team).id)
            if app:
                stmt = stmt.where(ApiKey.app_id == find(s, App, app).id)
            if agent:
                stmt = stmt.where(ApiKey.agent_id == find(s, Agent, agent).id)
            if service_account:
                sa_id = find(s, ServiceAccount, service_account).id
                stmt = stmt.where(ApiKey.service_account_id == sa_id)
            if not include_revoked:
                stmt = stmt.where(ApiKey.revoked_at.is_(None))
            names, now = NameCache(s), utcnow()
            return [_key_info(names, row, now) for row in s.scalars(stmt)]

    def get_key(self, ref: str) -> ApiKeyInfo:
        """A key by id or display prefix."""
        with self._read() as s:
            return _key_info(NameCache(s), find_key(s, ref), utcnow())

    def revoke_key(self, ref: str, reason: str = "", *, actor: Actor = SYSTEM_ACTOR) -> ApiKeyInfo:
        """Revoke a key for good (by id or prefix). Revocation cannot be undone."""
        reason = clean_text("reason", reason)
        with self._write() as s:
            row = find_key(s, ref)
            if row.revoked_at is not None:
                raise Conflict(
                    f"key {row.prefix} ({row.id}) was already revoked at "
                    f"{must_utc(row.revoked_at).isoformat()}",
                    code="already_revoked",
                )
            now = utcnow()
            row.revoked_at = now
            self._changed(
                s, actor, "key.revoke", "key", row.id, reason=reason, details={"prefix": row.prefix}
            )
            return _key_info(NameCache(s), row, now)

    def set_key_suspended(
        self, ref: str, suspended: bool, reason: str = "", *, actor: Actor = SYSTEM_ACTOR
    ) -> ApiKeyInfo:
        """Pause (or resume) a key without revoking it."""
        reason = clean_text("reason", reason)
        with self._write() as s:
            row = find_key(s, ref)
            if row.revoked_at is not None:
                raise Conflict(
                    f"key {row.prefix} ({row.id}) is revoked; a revoked key cannot "
                    "be suspended or resumed",
                    code="already_revoked",
                )
            changed = row.suspended != suspended
            row.suspended = suspended
            action = "key.suspend" if suspended else "key.unsuspend"
            self._changed(
                s,
                actor,
                action,
                "key",
                row.id,
                reason=reason,
                details={"prefix": row.prefix, "changed": changed},
            )
            return _key_info(NameCache(s), row, utcnow())


__all__ = ["ApiKeysMixin", "find_key"]
