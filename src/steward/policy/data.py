"""The `policy` snapshot section: the stored policy sets every gateway applies, and the
attributes of users, teams, apps, agents and service accounts that Cedar entities are built
from. Loaded from the store on every state-version change; immutable once loaded."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from steward.identity.snapshot import Section, register_section
from steward.policy.sets import PolicySource
from steward.store.models import Agent, App, ServiceAccount, Team, TeamMember, User
from steward.store.models_policy import PolicySetRow, PolicyVersionRow

SECTION = "policy"


@dataclass(frozen=True, slots=True)
class UserInfo:
    name: str
    teams: tuple[str, ...] = ()  # team names
    email: str | None = None
    suspended: bool = False


@dataclass(frozen=True, slots=True)
class AppInfo:
    name: str
    team: str | None = None
    owner: str | None = None  # user name
    risk_tier: str | None = None
    data_classes: tuple[str, ...] = ()
    suspended: bool = False


@dataclass(frozen=True, slots=True)
class AgentInfo:
    name: str
    owner: str  # user name
    sponsor: str | None = None
    team: str | None = None
    status: str = "active"  # active | suspended
    risk_tier: str = "limited"
    purpose: str = ""
    data_classes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    name: str
    team: str | None = None


@dataclass(frozen=True, slots=True)
class PolicyData:
    """Everything the engine needs from the store, keyed by database id."""

    sets: tuple[PolicySource, ...] = ()
    teams: dict[str, str] = field(default_factory=dict)  # id -> name
    users: dict[str, UserInfo] = field(default_factory=dict)
    apps: dict[str, AppInfo] = field(default_factory=dict)
    agents: dict[str, AgentInfo] = field(default_factory=dict)
    services: dict[str, ServiceInfo] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> PolicyData:
        def tup(d: dict[str, Any], *keys: str) -> dict[str, Any]:
            return {k: (tuple(v) if k in keys else v) for k, v in d.items()}

        return cls(
            sets=tuple(PolicySource(**s) for s in raw.get("sets", [])),
            teams=dict(raw.get("teams", {})),
            users={k: UserInfo(**tup(v, "teams")) for k, v in raw.get("users", {}).items()},
            apps={k: AppInfo(**tup(v, "data_classes")) for k, v in raw.get("apps", {}).items()},
            agents={
                k: AgentInfo(**tup(v, "data_classes")) for k, v in raw.get("agents", {}).items()
            },
            services={k: ServiceInfo(**v) for k, v in raw.get("services", {}).items()},
        )


def load_sets(session: Session) -> tuple[PolicySource, ...]:
    """The current version of every stored set, by name."""
    rows = session.execute(
        select(PolicySetRow.name, PolicySetRow.mode, PolicySetRow.version, PolicyVersionRow.text)
        .join(
            PolicyVersionRow,
            (PolicyVersionRow.set_id == PolicySetRow.id)
            & (PolicyVersionRow.version == PolicySetRow.version),
        )
        .order_by(PolicySetRow.name)
    )
    return tuple(
        PolicySource(name=n, text=t, mode=m, version=v, origin="store") for n, m, v, t in rows
    )


def load_policy_data(session: Session) -> PolicyData:
    """Read the stored sets and the principals' attributes in one snapshot transaction."""
    # (a Result has keys(), so dict() would treat it as a mapping: take the rows first)
    teams: dict[str, str] = dict(session.execute(select(Team.id, Team.name)).all())
    users_by_id = {u.id: u for u in session.scalars(select(User))}
    member: dict[str, list[str]] = defaultdict(list)
    for team_id, user_id in session.execute(select(TeamMember.team_id, TeamMember.user_id)):
        if team_id in teams:
            member[user_id].append(teams[team_id])

    def uname(uid: str | None) -> str | None:
        return users_by_id[uid].name if uid in users_by_id else None

    users = {
        u.id: UserInfo(
            name=u.name, teams=tuple(sorted(member[u.id])), email=u.email, suspended=u.suspended
        )
        for u in users_by_id.values()
    }
    apps = {
        a.id: AppInfo(
            name=a.name,
            team=teams.get(a.team_id) if a.team_id else None,
            owner=uname(a.owner_id),
            risk_tier=a.risk_tier,
            data_classes=tuple(a.data_classes or ()),
            suspended=a.suspended,
        )
        for a in session.scalars(select(App))
    }
    agents = {
        a.id: AgentInfo(
            name=a.name,
            owner=uname(a.owner_id) or a.owner_id,
            sponsor=uname(getattr(a, "sponsor_id", None)),
            team=teams.get(a.team_id) if a.team_id else None,
            status="suspended" if a.suspended else "active",
            risk_tier=a.risk_tier or "limited",
            purpose=a.purpose or "",
            data_classes=tuple(a.data_classes or ()),
        )
        for a in session.scalars(select(Agent))
    }
    services = {
        s.id: ServiceInfo(name=s.name, team=teams.get(s.team_id) if s.team_id else None)
        for s in session.scalars(select(ServiceAccount))
    }
    return PolicyData(
        sets=load_sets(session),
        teams=teams,
        users=users,
        apps=apps,
        agents=agents,
        services=services,
    )


register_section(
    Section(
        name=SECTION,
        load=load_policy_data,
        dump=lambda value: value.to_json(),
        parse=PolicyData.from_json,
        empty=PolicyData,
    )
)

__all__ = [
    "SECTION",
    "AgentInfo",
    "AppInfo",
    "PolicyData",
    "ServiceInfo",
    "UserInfo",
    "load_policy_data",
    "load_sets",
]
