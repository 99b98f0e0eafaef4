"""Deployments of an alias: a canary share of traffic to a candidate upstream model, promotion
of a candidate (only after the gate passed, see `steward.catalogue.promote`) and rollback. Every
change is stored with the state before it (so rollback can restore it), audited, and reaches
every gateway process through the snapshot section."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from steward.catalogue.gate import Verdict
from steward.catalogue.records import DeploymentChange, DeploymentInfo
from steward.catalogue.refs import ModelRef, alias_upstream, resolve_target
from steward.catalogue.routing import routable
from steward.catalogue.service import CatalogueService
from steward.catalogue.spec import Entry
from steward.config.models import ModelConfig
from steward.events.ids import short_id
from steward.identity._base import as_utc, must_utc, utcnow
from steward.identity.errors import Conflict, Invalid, NotFound, ServiceError
from steward.identity.records import Actor
from steward.store.models_catalogue import (
    CatalogueDeployment,
    CatalogueDeploymentChange,
    CatalogueModel,
)

HISTORY = 20


class GateRefused(ServiceError):
    """The candidate's evaluation did not pass the promotion gate."""

    code = "promotion_refused"

    def __init__(self, message: str, verdict: Verdict) -> None:
        super().__init__(message)
        self.verdict = verdict


def _state(s: Session, ref: ModelRef) -> str | None:
    return s.scalar(
        select(CatalogueModel.state).where(
            CatalogueModel.kind == ref.kind, CatalogueModel.name == ref.name
        )
    )


def _snapshot(row: CatalogueDeployment | None) -> dict[str, Any]:
    if row is None:
        return {"primary": None, "candidate": None, "percent": 0.0}
    return {"primary": row.primary_model, "candidate": row.candidate_model, "percent": row.percent}


class DeploymentService(CatalogueService):
    """Traffic splits and promotions of configured aliases."""

    @property
    def sessions(self) -> sessionmaker[Session]:
        """The store's session factory (evaluation runs of the promotion gate use it)."""
        return self._sessions

    def alias(self, name: str) -> ModelConfig:
        """A configured alias, or NotFound naming the known ones."""
        cfg = self.config.model(name)
        if cfg is None:
            known = ", ".join(m.name for m in self.config.models) or "none"
            raise NotFound(
                f"model alias '{name}' is not configured (aliases: {known})",
                code="model_not_found",
            )
        return cfg

    def status(self, alias: str) -> DeploymentInfo:
        """The alias's configured and effective upstream, canary and recent changes."""
        cfg = self.alias(alias)
        configured = alias_upstream(cfg).name
        with self._read() as s:
            row = s.get(CatalogueDeployment, alias)
            primary = (row.primary_model if row else None) or configured
            candidate = row.candidate_model if row and row.percent > 0 else None
            refs = list(dict.fromkeys(r for r in (configured, primary, candidate) if r))
            states = {r: _state(s, ModelRef("upstream", r)) for r in refs}
            changes = s.scalars(
                select(CatalogueDeploymentChange)
                .where(CatalogueDeploymentChange.alias == alias)
                .order_by(CatalogueDeploymentChange.ts.desc(), CatalogueDeploymentChange.id.desc())
                .limit(HISTORY)
            )
            history = [
                DeploymentChange(
                    id=c.id,
                    ts=must_utc(c.ts),
                    action=c.action,
                    before=c.before,
                    after=c.after,
                    actor=c.actor,
                    rolled_back=c.rolled_back,
                    evaluation=c.evaluation,
                )
                for c in changes
            ]
        return DeploymentInfo(
            alias=alias,
            configured=configured,
            primary=primary,
            candidate=candidate,
            percent=row.percent if row and candidate else 0.0,
            states=states,
            history=history,
        )

    def target(self, alias: str, to: str, *, promoting: bool) -> ModelRef:
        """Check that `to` may serve `alias` now: configured provider, same kind, and a
        catalogue state requests may be routed to (approved for a promotion)."""
        cfg = self.alias(alias)
        ref = resolve_target(self.config, cfg, to)
        with self._read() as s:
            state = _state(s, ref)
        entry = None if state is None else Entry("upstream", ref.name, state)  # type: ignore[arg-type]
        if not routable(entry, self.enforce) or (promoting and state == "deprecated"):
            what = "not in the catalogue" if state is None else state
            raise Invalid(
                f"{ref.name} is {what}; approve it first "
                f"(steward catalogue set-state {ref.name} approved)",
                code="model_not_approved",
            )
        return ref

    def canary(self, alias: str, to: str, percent: float, *, actor: Actor) -> DeploymentInfo:
        """Send `percent` (0-100, exclusive) of the alias's traffic to `to`."""
        if not 0 < percent < 100:
            raise Invalid(
                f"percent {percent} is out of range; give more than 0 and less than 100 "
                "(promote to send all traffic)",
                code="invalid_percent",
            )
        ref = self.target(alias, to, promoting=False)
        with self._write() as s:
            row = s.get(CatalogueDeployment, alias)
            primary = (row.primary_model if row else None) or alias_upstream(self.alias(alias)).name
            if ref.name == primary:
                raise Conflict(f"{ref.name} already serves '{alias}'", code="already_primary")
            self._apply(s, alias, row, "canary", actor, candidate=ref.name, percent=percent)
        return self.status(alias)

    def promote(
        self, alias: str, to: str, verdict: Verdict, *, actor: Actor, run_id: str | None = None
    ) -> DeploymentInfo:
        """Make `to` the alias's primary if the gate's verdict passed (the canary ends);
        otherwise audit the refusal and raise GateRefused with the failing metrics. `run_id`
        names the stored evaluation run the verdict came from."""
        ref = self.target(alias, to, promoting=True)
        evaluation = {**verdict.to_json(), "run_id": run_id}
        if not verdict.passed:
            self.record_audit(
                actor,
                "deployment.promote",
                outcome="denied",
                target_type="model",
                target_id=alias,
                reason=verdict.reason(),
                details={"to": ref.name, "evaluation": evaluation},
            )
            raise GateRefused(
                f"promotion of {ref.name} to '{alias}' refused: {verdict.reason()}", verdict
            )
        with self._write() as s:
            row = s.get(CatalogueDeployment, alias)
            configured = alias_upstream(self.alias(alias)).name
            if ((row.primary_model if row else None) or configured) == ref.name:
                raise Conflict(f"{ref.name} already serves '{alias}'", code="already_primary")
            primary = None if ref.name == configured else ref.name
            self._apply(
                s,
                alias,
                row,
                "promote",
                actor,
                primary=primary,
                candidate=None,
                percent=0.0,
                evaluation=evaluation,
            )
        return self.status(alias)

    def rollback(self, alias: str, *, actor: Actor) -> DeploymentInfo:
        """Undo the alias's latest change that is not undone yet (a canary or a promotion)."""
        self.alias(alias)
        with self._write() as s:
            last = s.scalar(
                select(CatalogueDeploymentChange)
                .where(
                    CatalogueDeploymentChange.alias == alias,
                    CatalogueDeploymentChange.action != "rollback",
                    CatalogueDeploymentChange.rolled_back.is_(False),
                )
                .order_by(CatalogueDeploymentChange.ts.desc(), CatalogueDeploymentChange.id.desc())
                .limit(1)
            )
            if last is None:
                raise Conflict(
                    f"'{alias}' has no deployment change to roll back; it is served as configured",
                    code="nothing_to_roll_back",
                )
            last.rolled_back = True
            before = last.before
            self._apply(
                s,
                alias,
                s.get(CatalogueDeployment, alias),
                "rollback",
                actor,
                primary=before.get("primary"),
                candidate=before.get("candidate"),
                percent=float(before.get("percent") or 0.0),
                undoes=last.id,
            )
        return self.status(alias)

    def _apply(
        self,
        s: Session,
        alias: str,
        row: CatalogueDeployment | None,
        action: str,
        actor: Actor,
        *,
        undoes: str | None = None,
        evaluation: dict[str, Any] | None = None,
        **after: Any,
    ) -> None:
        before = _snapshot(row)
        now = utcnow()
        if row is None:
            row = CatalogueDeployment(alias=alias, updated_at=now)
            s.add(row)
        if "primary" in after:
            row.primary_model = after["primary"]
        row.candidate_model = after.get("candidate")
        row.percent = float(after.get("percent") or 0.0)
        row.updated_at = now
        row.updated_by = actor.label()
        state = _snapshot(row)
        change_id = short_id("dep")
        s.add(
            CatalogueDeploymentChange(
                id=change_id,
                alias=alias,
                ts=now,
                action=action,
                before=before,
                after=state,
                actor=actor.label(),
                rolled_back=False,
                evaluation=evaluation,
            )
        )
        details: dict[str, Any] = {"change": change_id, "before": before, "after": state}
        if undoes:
            details["undoes"] = undoes
        if evaluation is not None:
            details["evaluation"] = evaluation
        self._changed(s, actor, f"deployment.{action}", "model", alias, details=details)


def changed_at(info: DeploymentInfo) -> str | None:
    """When the alias's deployment last changed (ISO), for display."""
    if not info.history:
        return None
    ts = as_utc(info.history[0].ts)
    return ts.isoformat() if ts else None


__all__ = ["DeploymentService", "GateRefused", "changed_at"]
