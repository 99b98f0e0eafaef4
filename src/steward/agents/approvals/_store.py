"""The approvals' store operations (synchronous; the async service runs them off the event loop).
The store is the truth every gateway process shares: each change is one transaction with its
audit event, and every state change is a conditional UPDATE, so two processes deciding, using
or expiring the same approval never both win."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from steward.agents.approvals._rows import audit, to_record, utcnow
from steward.agents.approvals._rules import check_approver, check_requester_active
from steward.agents.approvals.records import (
    OPEN,
    STATUSES,
    Approval,
    NotPending,
)
from steward.agents.approvals.settings import ApprovalSettings
from steward.events.ids import short_id
from steward.identity.errors import Invalid, NotFound
from steward.identity.records import Actor
from steward.identity.snapshot import Principal
from steward.store.models import Agent
from steward.store.models_approvals import ApprovalRow


class ApprovalStore:
    """Create, read, decide, use, expire and cancel approvals in the SQL store."""

    def __init__(self, sessions: sessionmaker[Session], settings: ApprovalSettings) -> None:
        self._sessions = sessions
        self.settings = settings

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    # -- requests ------------------------------------------------------------------------------

    def request(
        self,
        principal: Principal,
        action: str,
        resource: str,
        arguments: dict[str, Any] | None,
        binding: str,
        reason: str,
        request_id: str | None,
        policies: Sequence[str],
    ) -> tuple[Approval, bool, list[Approval]]:
        """The approval for this exact call: a grant (used now), the pending or denied one
        already asked for, or a new pending request. Returns (record, created, expired)."""
        now = utcnow()
        with self._write() as s:
            expired = self._expire(s, now, ApprovalRow.binding == binding)
            rows = s.scalars(
                select(ApprovalRow)
                .where(
                    ApprovalRow.binding == binding,
                    ApprovalRow.status.in_(("approved", "pending", "denied")),
                    ApprovalRow.expires_at > now,
                )
                .order_by(ApprovalRow.created_at.desc())
            ).all()
            for wanted in ("approved", "pending", "denied"):
                row = next((r for r in rows if r.status == wanted), None)
                if row is None:
                    continue
                if wanted == "approved":
                    used = self._use(s, row, now, request_id)
                    if used is None:
                        continue  # another process used it first
                    return used, False, expired
                return to_record(s, row), False, expired
            row = ApprovalRow(
                id=short_id("apr"),
                binding=binding,
                status="pending",
                action=action,
                resource=resource,
                arguments=arguments,
                reason=reason,
                policies=list(policies),
                request_id=request_id,
                key_id=principal.key_id or None,
                principal_kind=principal.kind,
                user_id=principal.user_id,
                app_id=principal.app_id,
                agent_id=principal.agent_id,
                service_account_id=principal.service_account_id,
                on_behalf_of=principal.on_behalf_of,
                owner_id=principal.owner_id,
                chain=list(principal.chain),
                token_id=principal.token_id,
                created_at=now,
                expires_at=now + timedelta(seconds=self.settings.ttl_s),
                uses=0,
            )
            s.add(row)
            actor = principal.agent_id or principal.user_id or principal.app_id or principal.key_id
            audit(
                s,
                principal.kind,
                actor,
                "approval.request",
                row,
                reason=reason,
                request_id=request_id,
            )
            return to_record(s, row), True, expired

    def _use(
        self, s: Session, row: ApprovalRow, now: datetime, request_id: str | None
    ) -> Approval | None:
        """Record one use of an approved approval (consume it when single-use)."""
        values: dict[str, Any] = {"uses": ApprovalRow.uses + 1, "consumed_at": now}
        if self.settings.single_use:
            values["status"] = "consumed"
        won = s.execute(
            update(ApprovalRow)
            .where(
                ApprovalRow.id == row.id,
                ApprovalRow.status == "approved",
                ApprovalRow.expires_at > now,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if not won:
            return None
        s.refresh(row)
        audit(
            s,
            row.principal_kind,
            row.agent_id or row.user_id,
            "approval.consume",
            row,
            request_id=request_id,
            uses=row.uses,
        )
        return to_record(s, row, status="approved")

    def use(self, approval_id: str, request_id: str | None = None) -> Approval:
        """Take the grant of an approved approval for the caller: status approved when this
        call won it, the current state otherwise."""
        now = utcnow()
        with self._write() as s:
            row = self._get(s, approval_id)
            if row.status == "approved":
                used = self._use(s, row, now, request_id)
                if used is not None:
                    return used
                s.refresh(row)
            self._expire(s, now, ApprovalRow.id == approval_id)
            return to_record(s, row)

    # -- reads ---------------------------------------------------------------------------------

    def _get(self, s: Session, approval_id: str) -> ApprovalRow:
        row = s.get(ApprovalRow, approval_id)
        if row is None:
            raise NotFound(
                f"approval '{approval_id}' does not exist; list them with `steward approvals list`",
                code="approval_not_found",
            )
        return row

    def get(self, approval_id: str) -> Approval:
        """One approval, expired first if its time has passed."""
        with self._write() as s:
            self._expire(s, utcnow(), ApprovalRow.id == approval_id)
            return to_record(s, self._get(s, approval_id))

    def status(self, approval_id: str) -> str:
        """The stored status of an approval, read with one small query (for waiting calls)."""
        with self._sessions() as s:
            value = s.scalar(select(ApprovalRow.status).where(ApprovalRow.id == approval_id))
        if value is None:
            raise NotFound(f"approval '{approval_id}' does not exist", code="approval_not_found")
        return str(value)

    def list_approvals(
        self, status: str | None = None, agent: str | None = None, limit: int = 100
    ) -> list[Approval]:
        """Approvals, newest first, optionally of one status or one agent (name or id)."""
        if status is not None and status not in STATUSES:
            raise Invalid(
                f"unknown status '{status}'; use one of {', '.join(STATUSES)}",
                code="invalid_status",
            )
        if not 1 <= limit <= 1000:
            raise Invalid("limit must be between 1 and 1000", code="invalid_limit")
        with self._write() as s:
            self._expire(s, utcnow())
            query = select(ApprovalRow).order_by(ApprovalRow.created_at.desc()).limit(limit)
            if status is not None:
                query = query.where(ApprovalRow.status == status)
            if agent is not None:
                agent_id = s.scalar(
                    select(Agent.id).where(or_(Agent.id == agent, Agent.name == agent))
                )
                query = query.where(ApprovalRow.agent_id == (agent_id or agent))
            return [to_record(s, row) for row in s.scalars(query)]

    # -- decisions -----------------------------------------------------------------------------

    def decide(
        self,
        approval_id: str,
        approve: bool,
        *,
        actor: Actor,
        approver: str | None,
        note: str = "",
    ) -> Approval:
        """Approve or deny a pending approval. Approving needs the human approver (a user,
        not the requester, not the user the agent acts for, not suspended)."""
        now = utcnow()
        with self._write() as s:
            self._expire(s, now, ApprovalRow.id == approval_id)
            row = self._get(s, approval_id)
            if row.status != "pending":
                raise NotPending(
                    f"approval {row.id} is {row.status}, not pending; only a pending "
                    "approval can be decided (the agent may ask again)"
                )
            user = check_approver(s, row, approver, required=approve)
            if approve:
                check_requester_active(s, row)
            status = "approved" if approve else "denied"
            values: dict[str, Any] = {
                "status": status,
                "decided_at": now,
                "decided_by": actor.label(),
                "approver_id": user.id if user else None,
                "note": note or None,
            }
            if approve:
                values["expires_at"] = now + timedelta(seconds=self.settings.grant_ttl_s)
            won = s.execute(
                update(ApprovalRow)
                .where(ApprovalRow.id == row.id, ApprovalRow.status == "pending")
                .values(**values)
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
            if not won:
                raise NotPending(f"approval {row.id} was decided at the same time by someone else")
            s.refresh(row)
            audit(
                s,
                actor.type,
                actor.id,
                f"approval.{'approve' if approve else 'deny'}",
                row,
                reason=note,
                request_id=actor.request_id,
                approver_id=row.approver_id,
                actor_role=actor.role,
            )
            return to_record(s, row)

    # -- expiry and cancellation ---------------------------------------------------------------

    def _expire(self, s: Session, now: datetime, *where: Any) -> list[Approval]:
        due = s.scalars(
            select(ApprovalRow).where(
                ApprovalRow.status.in_(OPEN), ApprovalRow.expires_at <= now, *where
            )
        ).all()
        out: list[Approval] = []
        for row in due:
            was = row.status
            won = s.execute(
                update(ApprovalRow)
                .where(ApprovalRow.id == row.id, ApprovalRow.status == was)
                .values(status="expired")
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
            if won:
                s.refresh(row)
                audit(s, "system", "steward", "approval.expire", row, previous=was)
                out.append(to_record(s, row))
        return out

    def expire_due(self) -> list[Approval]:
        """Expire every open approval whose time has passed; return those this call expired."""
        with self._write() as s:
            return self._expire(s, utcnow())

    def cancel_where(
        self, s: Session, where: Sequence[Any], reason: str, actor: Actor
    ) -> list[Approval]:
        """Cancel the open approvals matching `where`, in the caller's transaction (a
        suspension's); each with its audit event."""
        out: list[Approval] = []
        query = select(ApprovalRow).where(ApprovalRow.status.in_(OPEN), *where)
        for row in s.scalars(query).all():
            was = row.status
            won = s.execute(
                update(ApprovalRow)
                .where(ApprovalRow.id == row.id, ApprovalRow.status == was)
                .values(
                    status="cancelled",
                    decided_at=utcnow(),
                    decided_by=actor.label(),
                    note=reason or None,
                )
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
            if won:
                s.refresh(row)
                audit(
                    s,
                    actor.type,
                    actor.id,
                    "approval.cancel",
                    row,
                    reason=reason,
                    request_id=actor.request_id,
                    previous=was,
                )
                out.append(to_record(s, row))
        return out

    def cancel_suspended(self, agent_ids: Sequence[str] | None, reason: str) -> list[Approval]:
        """Cancel open approvals of suspended agents (the gateway's safety net for suspensions
        made by other paths)."""
        where: list[Any] = [ApprovalRow.agent_id.is_not(None)]
        if agent_ids is not None:
            if not agent_ids:
                return []
            where = [ApprovalRow.agent_id.in_(list(agent_ids))]
        with self._write() as s:
            return self.cancel_where(s, where, reason, Actor("system", "steward"))


__all__ = ["ApprovalStore"]
