"""Admin API routes for teams, users (and memberships), apps, agents and service accounts."""

from __future__ import annotations

from fastapi import APIRouter

from steward.admin.auth import ActorDep, IdentityDep
from steward.admin.schemas import (
    AgentCreate,
    AgentUpdate,
    AppCreate,
    AppUpdate,
    Reason,
    ServiceAccountCreate,
    TeamCreate,
    UserCreate,
)
from steward.identity.records import AgentInfo, AppInfo, ServiceAccountInfo, TeamInfo, UserInfo

router = APIRouter()


def _reason(body: Reason | None) -> str:
    return "" if body is None else body.reason


# -- teams -----------------------------------------------------------------------------------


@router.post("/teams", status_code=201, tags=["teams"])
def create_team(body: TeamCreate, identity: IdentityDep, actor: ActorDep) -> TeamInfo:
    """Create a team."""
    return identity.create_team(body.name, body.description, actor=actor)


@router.get("/teams", tags=["teams"])
def list_teams(identity: IdentityDep) -> list[TeamInfo]:
    return identity.list_teams()


@router.get("/teams/{team}", tags=["teams"])
def get_team(team: str, identity: IdentityDep) -> TeamInfo:
    return identity.get_team(team)


@router.delete("/teams/{team}", tags=["teams"])
def delete_team(team: str, identity: IdentityDep, actor: ActorDep, force: bool = False) -> TeamInfo:
    """Delete a team. Refused (409) while it has members, principals or keys, unless force."""
    return identity.delete_team(team, force=force, actor=actor)


# -- users -----------------------------------------------------------------------------------


@router.post("/users", status_code=201, tags=["users"])
def create_user(body: UserCreate, identity: IdentityDep, actor: ActorDep) -> UserInfo:
    return identity.create_user(body.name, body.email, body.teams, actor=actor)


@router.get("/users", tags=["users"])
def list_users(identity: IdentityDep, team: str | None = None) -> list[UserInfo]:
    return identity.list_users(team=team)


@router.get("/users/{user}", tags=["users"])
def get_user(user: str, identity: IdentityDep) -> UserInfo:
    return identity.get_user(user)


@router.delete("/users/{user}", tags=["users"])
def delete_user(user: str, identity: IdentityDep, actor: ActorDep) -> UserInfo:
    """Delete a user and their keys; refused (409) while they own agents."""
    return identity.delete_user(user, actor=actor)


@router.put("/users/{user}/teams/{team}", tags=["users"])
def add_member(user: str, team: str, identity: IdentityDep, actor: ActorDep) -> UserInfo:
    """Add the user to a team."""
    return identity.add_member(user, team, actor=actor)


@router.delete("/users/{user}/teams/{team}", tags=["users"])
def remove_member(user: str, team: str, identity: IdentityDep, actor: ActorDep) -> UserInfo:
    """Remove the user from a team; their keys for that team are revoked."""
    return identity.remove_member(user, team, actor=actor)


@router.post("/users/{user}/suspend", tags=["users"])
def suspend_user(
    user: str, identity: IdentityDep, actor: ActorDep, body: Reason | None = None
) -> UserInfo:
    return identity.set_user_suspended(user, True, _reason(body), actor=actor)


@router.post("/users/{user}/unsuspend", tags=["users"])
def unsuspend_user(
    user: str, identity: IdentityDep, actor: ActorDep, body: Reason | None = None
) -> UserInfo:
    return identity.set_user_suspended(user, False, _reason(body), actor=actor)


# -- apps ------------------------------------------------------------------------------------


@router.post("/apps", status_code=201, tags=["apps"])
def create_app(body: AppCreate, identity: IdentityDep, actor: ActorDep) -> AppInfo:
    return identity.create_app(
        body.name,
        body.team,
        body.owner,
        body.description,
        purpose=body.purpose,
        data_classes=body.data_classes,
        risk_tier=body.risk_tier,
        actor=actor,
    )


@router.get("/apps", tags=["apps"])
def list_apps(identity: IdentityDep, team: str | None = None) -> list[AppInfo]:
    return identity.list_apps(team=team)


@router.get("/apps/{app}", tags=["apps"])
def get_app(app: str, identity: IdentityDep) -> AppInfo:
    return identity.get_app(app)


@router.patch("/apps/{app}", tags=["apps"])
def update_app(app: str, body: AppUpdate, identity: IdentityDep, actor: ActorDep) -> AppInfo:
    """Change an app's owner, team, purpose, data classes, risk tier or managed flag."""
    return identity.update_app(app, **body.model_dump(exclude_none=True), actor=actor)


@router.delete("/apps/{app}", tags=["apps"])
def delete_app(app: str, identity: IdentityDep, actor: ActorDep) -> AppInfo:
    """Delete an app and the keys attributed to it."""
    return identity.delete_app(app, actor=actor)


@router.post("/apps/{app}/suspend", tags=["apps"])
def suspend_app(
    app: str, identity: IdentityDep, actor: ActorDep, body: Reason | None = None
) -> AppInfo:
    return identity.set_app_suspended(app, True, _reason(body), actor=actor)


@router.post("/apps/{app}/unsuspend", tags=["apps"])
def unsuspend_app(
    app: str, identity: IdentityDep, actor: ActorDep, body: Reason | None = None
) -> AppInfo:
    return identity.set_app_suspended(app, False, _reason(body), actor=actor)


# -- agents ----------------------------------------------------------------------------------


@router.post("/agents", status_code=201, tags=["agents"])
def create_agent(body: AgentCreate, identity: IdentityDep, actor: ActorDep) -> AgentInfo:
    """Register an agent; `owner` (the accountable user) is required."""
    return identity.create_agent(
        body.name,
        body.owner,
        body.team,
        body.purpose,
        body.risk_tier,
        sponsor=body.sponsor,
        actor=actor,
    )


@router.get("/agents", tags=["agents"])
def list_agents(
    identity: IdentityDep, owner: str | None = None, team: str | None = None
) -> list[AgentInfo]:
    return identity.list_agents(owner=owner, team=team)


@router.get("/agents/{agent}", tags=["agents"])
def get_agent(agent: str, identity: IdentityDep) -> AgentInfo:
    return identity.get_agent(agent)


@router.patch("/agents/{agent}", tags=["agents"])
def update_agent(
    agent: str, body: AgentUpdate, identity: IdentityDep, actor: ActorDep
) -> AgentInfo:
    """Change an agent's owner, team, sponsor, purpose, data classes or risk tier."""
    return identity.update_agent(agent, **body.model_dump(exclude_none=True), actor=actor)


@router.delete("/agents/{agent}", tags=["agents"])
def delete_agent(agent: str, identity: IdentityDep, actor: ActorDep) -> AgentInfo:
    return identity.delete_agent(agent, actor=actor)


@router.post("/agents/{agent}/suspend", tags=["agents"])
def suspend_agent(
    agent: str, identity: IdentityDep, actor: ActorDep, body: Reason | None = None
) -> AgentInfo:
    """The kill switch: refuse every request and tool call by this agent."""
    return identity.set_agent_suspended(agent, True, _reason(body), actor=actor)


@router.post("/agents/{agent}/unsuspend", tags=["agents"])
def unsuspend_agent(
    agent: str, identity: IdentityDep, actor: ActorDep, body: Reason | None = None
) -> AgentInfo:
    return identity.set_agent_suspended(agent, False, _reason(body), actor=actor)


# -- service accounts ------------------------------------------------------------------------


@router.post("/service-accounts", status_code=201, tags=["service accounts"])
def create_service_account(
    body: ServiceAccountCreate, identity: IdentityDep, actor: ActorDep
) -> ServiceAccountInfo:
    return identity.create_service_account(body.name, body.team, body.description, actor=actor)


@router.get("/service-accounts", tags=["service accounts"])
def list_service_accounts(
    identity: IdentityDep, team: str | None = None
) -> list[ServiceAccountInfo]:
    return identity.list_service_accounts(team=team)


@router.get("/service-accounts/{account}", tags=["service accounts"])
def get_service_account(account: str, identity: IdentityDep) -> ServiceAccountInfo:
    return identity.get_service_account(account)


@router.delete("/service-accounts/{account}", tags=["service accounts"])
def delete_service_account(
    account: str, identity: IdentityDep, actor: ActorDep
) -> ServiceAccountInfo:
    return identity.delete_service_account(account, actor=actor)


@router.post("/service-accounts/{account}/suspend", tags=["service accounts"])
def suspend_service_account(
    account: str, identity: IdentityDep, actor: ActorDep, body: Reason | None = None
) -> ServiceAccountInfo:
    return identity.set_service_account_suspended(account, True, _reason(body), actor=actor)


@router.post("/service-accounts/{account}/unsuspend", tags=["service accounts"])
def unsuspend_service_account(
    account: str, identity: IdentityDep, actor: ActorDep, body: Reason | None = None
) -> ServiceAccountInfo:
    return identity.set_service_account_suspended(account, False, _reason(body), actor=actor)
