"""The rule engine: for each rule, evaluate its trigger; act (mode auto) or propose (mode
propose) once per trigger key, respecting the cooldown; expire proposals whose condition cleared
or whose time ran out; revert applied actions whose condition stayed clear for `clear_for` (when
the rule says revert: auto). Every step is an audit event carrying the evidence, and a notice
(event type, payload) for the webhooks."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from steward.events.ids import new_id
from steward.identity.records import Actor
from steward.remediation.actions import ActionContext, ActionError, apply, resolve_target, revert
from steward.remediation.settings import RuleConfig
from steward.remediation.triggers import Firing, evaluate_trigger
from steward.slo.audit import add_audit, aware, jsonable
from steward.slo.settings import SLOConfig, delta
from steward.store.models_slo import RemediationAction

log = logging.getLogger("steward.remediation")

OPEN = ("proposed", "applied")
Notice = tuple[str, dict[str, Any]]


def summary(row: RemediationAction) -> dict[str, Any]:
    """The action as an audit detail / notification payload."""
    out: dict[str, Any] = jsonable(
        {
            "action_id": row.id,
            "rule": row.rule,
            "action": row.action,
            "mode": row.mode,
            "status": row.status,
            "target_type": row.target_type,
            "target_id": row.target_id,
            "trigger": row.trigger,
            "trigger_key": row.trigger_key,
            "evidence": row.evidence,
            "params": row.params,
        }
    )
    return out


def record(
    session: Session,
    row: RemediationAction,
    event: str,
    now: datetime,
    reason: str,
    notices: list[Notice],
    actor: Actor,
    outcome: str = "succeeded",
) -> None:
    """Audit one step of an action and queue its notification."""
    details = summary(row)
    add_audit(
        session,
        now,
        event,
        target_type=row.target_type or "rule",
        target_id=row.target_id or row.rule,
        reason=reason,
        details=details,
        actor=actor.id,
        actor_type=actor.type,
        outcome=outcome,
    )
    notices.append((event, {**details, "reason": reason}))


def _new_action(
    s: Session, rule: RuleConfig, firing: Firing, now: datetime, ctx: ActionContext
) -> tuple[RemediationAction, str | None]:
    """The action row for a firing; the error when its target cannot be resolved."""
    params: dict[str, Any] = {}
    error = None
    target_type = target_id = None
    try:
        target = resolve_target(s, rule.action, firing, ctx)
        target_type, target_id = target.type, target.id
        if target.override:
            params["override_target"] = target.override
    except ActionError as exc:
        error = str(exc)
    if rule.action.rate is not None:
        params["rate"] = rule.action.rate
    if rule.action.profile:
        params["profile"] = rule.action.profile
    if rule.action.message:
        params["message"] = rule.action.message
    row = RemediationAction(
        id=new_id(),
        rule=rule.name,
        trigger=rule.trigger.kind,
        trigger_key=firing.key,
        action=rule.action.kind,
        target_type=target_type,
        target_id=target_id,
        mode=rule.mode,
        status="failed" if error else ("applied" if rule.mode == "auto" else "proposed"),
        evidence=jsonable(firing.evidence),
        params=params or None,
        created_at=now,
        applied_at=now if rule.mode == "auto" and not error else None,
        note=error,
    )
    return row, error


class Remediator:
    """Runs the rules against the store at a given instant (the caller's clock)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        rules: Sequence[RuleConfig],
        slos: Sequence[SLOConfig],
        ctx: ActionContext,
    ) -> None:
        self._sessions = sessions
        self.rules = list(rules)
        self._slos = {s.name: s for s in slos}
        self.ctx = ctx

    def run(self, now: datetime) -> list[Notice]:
        """One pass over every rule; returns the notifications to send."""
        notices: list[Notice] = []
        for rule in self.rules:
            try:
                self._rule(rule, now, notices)
            except Exception:
                log.exception("remediation rule %s failed", rule.name)
        return notices

    def _rule(self, rule: RuleConfig, now: datetime, notices: list[Notice]) -> None:
        actor = Actor("system", f"remediation:{rule.name}")
        with self._sessions() as s, s.begin():
            firings = evaluate_trigger(s, rule.trigger, now, self._slos)
            # only what can matter now: open actions, and closed ones still in their cooldown
            horizon = now - max(delta(rule.cooldown), delta(rule.proposal_ttl))
            ra = RemediationAction
            rows = s.scalars(
                select(ra)
                .where(ra.rule == rule.name, or_(ra.status.in_(OPEN), ra.created_at >= horizon))
                .order_by(ra.created_at)
            ).all()
        latest: dict[str, RemediationAction] = {r.trigger_key: r for r in rows}
        active = {f.key for f in firings}
        for firing in firings:
            last = latest.get(firing.key)
            if last is not None and last.status in OPEN:
                if last.cleared_at is not None:
                    self._update(last.id, cleared_at=None)
                continue
            if last is not None and now - aware(last.created_at) < delta(rule.cooldown):
                continue
            self._fire(rule, firing, now, notices, actor)
        for key, row in latest.items():
            if row.status in OPEN and key not in active:
                self._cleared(rule, row, now, notices, actor)
            elif row.status == "proposed" and now - aware(row.created_at) >= delta(
                rule.proposal_ttl
            ):
                self._close(row.id, "expired", now, "the proposal was not confirmed in time",
                            notices, actor)  # fmt: skip

    def _fire(
        self, rule: RuleConfig, firing: Firing, now: datetime, notices: list[Notice], actor: Actor
    ) -> None:
        why = _why(rule, firing)
        suspend_later = False
        with self._sessions() as s, s.begin():
            row, error = _new_action(s, rule, firing, now, self.ctx)
            s.add(row)
            s.flush()
            if error is None and rule.mode == "auto":
                if row.action == "suspend":
                    suspend_later = True  # through the identity service, after this commits
                else:
                    try:
                        with s.begin_nested():
                            apply(s, row, self.ctx, actor)
                    except ActionError as exc:
                        row.status, row.note, error = "failed", str(exc), str(exc)
            if error is not None:
                record(s, row, "remediation.failed", now, error, notices, actor, "failed")
            elif rule.mode == "propose":
                record(s, row, "remediation.proposed", now, why, notices, actor)
            elif not suspend_later:
                record(s, row, "remediation.applied", now, why, notices, actor)
        if suspend_later:
            self._suspend_now(row, now, notices, actor, why)

    def _suspend_now(
        self, row: RemediationAction, now: datetime, notices: list[Notice], actor: Actor, why: str
    ) -> None:
        try:
            apply(None, row, self.ctx, actor)
        except ActionError as exc:
            self._close(row.id, "failed", now, str(exc), notices, actor, outcome="failed")
            return
        with self._sessions() as s, s.begin():
            fresh = s.get(RemediationAction, row.id)
            assert fresh is not None
            record(s, fresh, "remediation.applied", now, why, notices, actor)

    def _cleared(
        self,
        rule: RuleConfig,
        row: RemediationAction,
        now: datetime,
        notices: list[Notice],
        actor: Actor,
    ) -> None:
        if row.status == "proposed":
            self._close(row.id, "expired", now, "the condition cleared before confirmation",
                        notices, actor)  # fmt: skip
            return
        if row.cleared_at is None:
            self._update(row.id, cleared_at=now)
            return
        if rule.revert == "auto" and now - aware(row.cleared_at) >= delta(rule.clear_for):
            revert_action(
                self._sessions, row.id, self.ctx, actor, now,
                f"the condition has been clear since {aware(row.cleared_at).isoformat()}",
                notices,
            )  # fmt: skip

    def _update(self, action_id: str, **values: Any) -> None:
        with self._sessions() as s, s.begin():
            row = s.get(RemediationAction, action_id)
            if row is not None:
                for k, v in values.items():
                    setattr(row, k, v)

    def _close(
        self,
        action_id: str,
        status: str,
        now: datetime,
        reason: str,
        notices: list[Notice],
        actor: Actor,
        outcome: str = "succeeded",
    ) -> None:
        with self._sessions() as s, s.begin():
            row = s.get(RemediationAction, action_id)
            if row is None:
                return
            row.status, row.note = status, reason
            record(s, row, f"remediation.{status}", now, reason, notices, actor, outcome)


def _why(rule: RuleConfig, firing: Firing) -> str:
    return f"rule {rule.name}: {rule.trigger.kind} fired ({firing.key})"


def revert_action(
    sessions: sessionmaker[Session],
    action_id: str,
    ctx: ActionContext,
    actor: Actor,
    now: datetime,
    reason: str,
    notices: list[Notice],
) -> RemediationAction:
    """Undo an applied action and audit it as `remediation.reverted`."""
    with sessions() as s:
        row = s.get(RemediationAction, action_id)
        if row is None:
            raise ActionError(f"remediation action '{action_id}' does not exist")
        if row.status != "applied":
            raise ActionError(f"action {action_id} is {row.status}, only applied actions revert")
    if row.action == "suspend":
        revert(None, row, ctx, actor)  # the identity service commits on its own
    with sessions() as s, s.begin():
        fresh = s.get(RemediationAction, action_id)
        assert fresh is not None
        if fresh.action != "suspend":
            revert(s, fresh, ctx, actor)
        fresh.status, fresh.reverted_at, fresh.note = "reverted", now, reason
        fresh.decided_by = fresh.decided_by if actor.type == "system" else actor.label()
        record(s, fresh, "remediation.reverted", now, reason, notices, actor)
        return fresh


__all__ = ["OPEN", "Notice", "Remediator", "record", "revert_action", "summary"]
