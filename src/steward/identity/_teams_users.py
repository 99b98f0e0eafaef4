"""Teams, users and team membership."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from steward.events.ids import short_id
from steward.identity._base import (
    ServiceBase,
    delete_keys,
    ensure_unique_name,
    find,
    must_utc,
    revoke_active_keys,
    set_suspended,
    utcnow,
)
from steward.identity._validate import clean_email, clean_name, clean_text
from steward.identity.errors import Conflict, Invalid
from steward.identity.records import SYSTEM_ACTOR, Actor, TeamInfo, UserInfo
from steward.store.models import Agent, ApiKey, App, ServiceAccount, Team, TeamMember, User


def _team_info(session: Session, team: Team) -> TeamInfo:
    members = session.scalars(
        select(User.name)
        .join(TeamMember, TeamMember.user_id == User.id)
        .where(TeamMember.team_id == team.id)
        .order_by(User.name)
    ).all()
    return TeamInfo(
        id=team.id,
        name=team.name,
        description=team.description,
        members=list(members),
        created_at=must_utc(team.created_at),
    )


def _user_teams(session: Session, user_id: str) -> list[Team]:
    return list(
        session.scalars(
            select(Team)
            .join(TeamMember, TeamMember.team_id == Team.id)
            .where(TeamMember.user_id == user_id)
            .order_by(Team.name)
        )
    )


def _user_info(session: Session, user: User) -> UserInfo:
    return UserInfo(
        id=user.id,
        name=user.name,
        email=user.email,
        teams=[t.name for t in _user_teams(session, user.id)],
        suspended=user.suspended,
        created_at=must_utc(user.created_at),
    )


def _is_member(session: Session, user_id: str, team_id: str) -> bool:
    return session.get(TeamMember, (team_id, user_id)) is not None


def _team_dependents(session: Session, team_id: str) -> list[str]:
    """What still refers to a team, as readable phrases (empty when it can go quietly)."""
    found: list[str] = []
    members = session.scalars(
        select(User.name).join(TeamMember).where(TeamMember.team_id == team_id)
    ).all()
    if members:
        found.append(f"members {', '.join(sorted(members))}")
    for model, label in ((App, "apps"), (Agent, "agents"), (ServiceAccount, "service accounts")):
        names = session.scalars(select(model.name).where(model.team_id == team_id)).all()
        if names:
            found.append(f"{label} {', '.join(sorted(names))}")
    keys = session.scalars(
        select(ApiKey.prefix).where(ApiKey.team_id == team_id, ApiKey.revoked_at.is_(None))
    ).all()
    if keys:
        found.append(f"{len(keys)} active key(s)")
    return found


class TeamsUsersMixin(ServiceBase):
    # -- teams -------------------------------------------------------------------------------

    def create_team(
        self, name: str, description: str = "", *, actor: Actor = SYSTEM_ACTOR
    ) -> TeamInfo:
        """Create a team; names are unique."""
        name = clean_name("team", name)
        description = clean_text("description", description)
        with self._write() as s:
            ensure_unique_name(s, Team, name)
            team = Team(
                id=short_id("team"), name=name, description=description, created_at=utcnow()
            )
            s.add(team)
            s.flush()
            self._changed(s, actor, "team.create", "team", team.id, details={"name": name})
            return _team_info(s, team)

    def list_teams(self) -> list[TeamInfo]:
        with self._read() as s:
            return [_team_info(s, t) for t in s.scalars(select(Team).order_by(Team.name))]

    def get_team(self, name_or_id: str) -> TeamInfo:
        with self._read() as s:
            return _team_info(s, find(s, Team, name_or_id))

    def delete_team(
        self, name_or_id: str, *, force: bool = False, actor: Actor = SYSTEM_ACTOR
    ) -> TeamInfo:
        """Delete a team. Refused while anything refers to it unless `force`, which removes its
        memberships, unassigns its apps, agents and service accounts, and revokes its keys."""
        with self._write() as s:
            team = find(s, Team, name_or_id)
            info = _team_info(s, team)
            dependents = _team_dependents(s, team.id)
            if dependents and not force:
                raise Conflict(
                    f"team '{team.name}' is still in use ({'; '.join(dependents)}); "
                    "remove or reassign those first, or delete with force",
                    code="team_in_use",
                )
            revoked = revoke_active_keys(s, ApiKey.team_id == team.id)
            s.execute(update(ApiKey).where(ApiKey.team_id == team.id).values(team_id=None))
            for model in (App, Agent, ServiceAccount):
                s.execute(update(model).where(model.team_id == team.id).values(team_id=None))
            s.execute(delete(TeamMember).where(TeamMember.team_id == team.id))
            s.delete(team)
            details = {"name": team.name, "force": force, "revoked_keys": revoked}
            self._changed(s, actor, "team.delete", "team", team.id, details=details)
            return info

    # -- users -------------------------------------------------------------------------------

    def create_user(
        self,
        name: str,
        email: str | None = None,
        teams: Sequence[str] = (),
        *,
        actor: Actor = SYSTEM_ACTOR,
    ) -> UserInfo:
        """Create a user, optionally as a member of the given teams (names or ids)."""
        name = clean_name("user", name)
        email = clean_email(email)
        with self._write() as s:
            ensure_unique_name(s, User, name)
            team_rows = {t.id: t for t in (find(s, Team, ref) for ref in teams)}
            user = User(
                id=short_id("user"), name=name, email=email, suspended=False, created_at=utcnow()
            )
            s.add(user)
            s.flush()
            for team_id in team_rows:
                s.add(TeamMember(team_id=team_id, user_id=user.id, role="member"))
            s.flush()
            details = {"name": name, "teams": sorted(t.name for t in team_rows.values())}
            self._changed(s, actor, "user.create", "user", user.id, details=details)
            return _user_info(s, user)

    def add_member(self, user: str, team: str, *, actor: Actor = SYSTEM_ACTOR) -> UserInfo:
        """Make a user a member of a team."""
        with self._write() as s:
            u, t = find(s, User, user), find(s, Team, team)
            if _is_member(s, u.id, t.id):
                raise Conflict(
                    f"user '{u.name}' is already a member of team '{t.name}'",
                    code="already_member",
                )
            s.add(TeamMember(team_id=t.id, user_id=u.id, role="member"))
            s.flush()
            details = {"user": u.name, "team": t.name, "team_id": t.id}
            self._changed(s, actor, "team.member.add", "user", u.id, details=details)
            return _user_info(s, u)

    def remove_member(self, user: str, team: str, *, actor: Actor = SYSTEM_ACTOR) -> UserInfo:
        """Remove a user from a team and revoke the user's keys for that team, since a user key
        may only carry a team the user belongs to."""
        with self._write() as s:
            u, t = find(s, User, user), find(s, Team, team)
            if not _is_member(s, u.id, t.id):
                raise Invalid(
                    f"user '{u.name}' is not a member of team '{t.name}' "
                    f"(their teams: {', '.join(x.name for x in _user_teams(s, u.id)) or 'none'})",
                    code="not_member",
                )
            s.execute(
                delete(TeamMember).where(TeamMember.team_id == t.id, TeamMember.user_id == u.id)
            )
            revoked = revoke_active_keys(s, ApiKey.user_id == u.id, ApiKey.team_id == t.id)
            details = {"user": u.name, "team": t.name, "team_id": t.id, "revoked_keys": revoked}
            self._changed(s, actor, "team.member.remove", "user", u.id, details=details)
            return _user_info(s, u)

    def list_users(self, team: str | None = None) -> list[UserInfo]:
        """All users, or the members of one team."""
        with self._read() as s:
            stmt = select(User).order_by(User.name)
            if team is not None:
                t = find(s, Team, team)
                stmt = stmt.join(TeamMember).where(TeamMember.team_id == t.id)
            return [_user_info(s, u) for u in s.scalars(stmt)]

    def get_user(self, name_or_id: str) -> UserInfo:
        with self._read() as s:
            return _user_info(s, find(s, User, name_or_id))

    def delete_user(self, name_or_id: str, *, actor: Actor = SYSTEM_ACTOR) -> UserInfo:
        """Delete a user and their keys. Refused while the user owns agents: every agent needs
        an accountable owner."""
        with self._write() as s:
            u = find(s, User, name_or_id)
            info = _user_info(s, u)
            agents = s.scalars(select(Agent.name).where(Agent.owner_id == u.id)).all()
            if agents:
                raise Conflict(
                    f"user '{u.name}' owns agents {', '.join(sorted(agents))}; every agent needs "
                    "an accountable owner, so delete those agents first",
                    code="user_owns_agents",
                )
            deleted = delete_keys(s, ApiKey.user_id == u.id)
            s.execute(update(App).where(App.owner_id == u.id).values(owner_id=None))
            s.execute(delete(TeamMember).where(TeamMember.user_id == u.id))
            s.delete(u)
            details = {"name": u.name, "deleted_keys": deleted}
            self._changed(s, actor, "user.delete", "user", u.id, details=details)
            return info

    def set_user_suspended(
        self, user: str, suspended: bool, reason: str = "", *, actor: Actor = SYSTEM_ACTOR
    ) -> UserInfo:
        """Suspend (or reinstate) a user: every request made with their keys is refused."""
        reason = clean_text("reason", reason)
        with self._write() as s:
            u, changed = set_suspended(s, User, user, suspended)
            action = "user.suspend" if suspended else "user.unsuspend"
            details = {"name": u.name, "changed": changed}
            self._changed(s, actor, action, "user", u.id, reason=reason, details=details)
            return _user_info(s, u)


__all__ = ["TeamsUsersMixin"]
