"""Who may decide an approval: a person (a user) who is neither the requester, nor the user the
agent acts for, nor suspended; and never for an agent that is suspended."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from steward.agents.approvals.records import ApproverRefused
from steward.identity.errors import Conflict, Invalid, NotFound
from steward.store.models import Agent, User
from steward.store.models_approvals import ApprovalRow, SuspensionRow


def check_approver(s: Session, row: ApprovalRow, ref: str | None, *, required: bool) -> User | None:
    if not ref:
        if required:
            raise Invalid(
                "name the person approving (approver: a user name or id); an approval "
                "records which human granted it",
                code="approver_required",
            )
        return None
    user = s.scalar(select(User).where(or_(User.id == ref, User.name == ref)))
    if user is None:
        agent = s.scalar(select(Agent).where(or_(Agent.id == ref, Agent.name == ref)))
        if agent is not None:
            code = "approver_is_requester" if agent.id == row.agent_id else "approver_is_agent"
            raise ApproverRefused(
                f"agent '{agent.name}' may not decide approvals: approvals are decided by "
                "people (name a user)",
                code=code,
            )
        raise NotFound(
            f"user '{ref}' does not exist; name the approving user", code="user_not_found"
        )
    if user.id in {row.user_id, row.on_behalf_of}:
        raise ApproverRefused(
            f"user '{user.name}' asked for this action (or the agent acts on their behalf) "
            "and may not approve it; another person must",
            code="approver_is_requester",
        )
    if user.suspended:
        raise ApproverRefused(
            f"user '{user.name}' is suspended and may not approve", code="approver_suspended"
        )
    return user


def check_requester_active(s: Session, row: ApprovalRow) -> None:
    agents = [a for a in (row.agent_id, *(row.chain or ())) if a]
    frozen = agents and s.scalar(select(SuspensionRow.id).where(SuspensionRow.kind == "all_agents"))
    stopped = frozen or (
        agents and s.scalar(select(Agent.id).where(Agent.id.in_(agents), Agent.suspended.is_(True)))
    )
    if stopped:
        raise Conflict(
            "the requesting agent is suspended; its approvals cannot be granted",
            code="requester_suspended",
        )


__all__ = ["check_approver", "check_requester_active"]
