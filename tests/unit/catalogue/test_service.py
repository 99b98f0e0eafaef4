"""The catalogue and deployment services on each store: states, owners, data classes, canary,
gated promotion and rollback, each audited and visible in the snapshot section."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, select

from steward.catalogue.deploy import DeploymentService, GateRefused
from steward.catalogue.gate import Verdict, judge
from steward.catalogue.section import load
from steward.identity import IdentityService
from steward.identity.errors import Conflict, Invalid, NotFound
from steward.identity.records import Actor
from steward.store.db import session_factory
from steward.store.models import AuditEvent
from tests.unit.catalogue.conftest import make_config

ACTOR = Actor("cli", "tester")


def audits(engine: Engine, action: str) -> list[AuditEvent]:
    with session_factory(engine)() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_configured_models_are_listed_unlisted_until_synced(deploy: DeploymentService) -> None:
    models = {m.name: m for m in deploy.list_models()}
    assert {"chat", "sim/sim-fast-1", "smart", "sim/sim-smart-1", "down/sim-down-1"} <= set(models)
    assert models["chat"].state is None and models["chat"].routable  # enforce is off
    added = deploy.sync("approved", actor=ACTOR)
    assert {m.name for m in added} == set(models)
    assert all(m.state == "approved" for m in deploy.list_models())
    assert deploy.sync("approved", actor=ACTOR) == []  # nothing left to add


def test_state_transitions_are_checked_and_audited(
    deploy: DeploymentService, engine: Engine
) -> None:
    info = deploy.set_state("sim/sim-smart-1", "proposed", actor=ACTOR)
    assert info.kind == "upstream" and info.state == "proposed" and not info.routable
    with pytest.raises(Invalid, match="can move to approved, blocked, not deprecated"):
        deploy.set_state("sim/sim-smart-1", "deprecated", actor=ACTOR)
    with pytest.raises(Conflict):
        deploy.set_state("sim/sim-smart-1", "proposed", actor=ACTOR)
    deploy.set_state("sim/sim-smart-1", "approved", reason="reviewed", actor=ACTOR)
    assert deploy.get_model("sim/sim-smart-1").routable
    rows = audits(engine, "catalogue.model.state")
    assert [(r.details or {}).get("to") for r in rows] == ["proposed", "approved"]
    with pytest.raises(Invalid, match="neither a configured alias"):
        deploy.set_state("nope/x", "approved", actor=ACTOR)


def test_owner_and_data_classes(deploy: DeploymentService, identity: IdentityService) -> None:
    identity.create_user("ada", actor=ACTOR)
    info = deploy.set_owner("chat", "ada", actor=ACTOR)
    assert info.owner == "ada" and info.state == "approved" and info.routable  # as unlisted
    with pytest.raises(NotFound):
        deploy.set_owner("chat", "nobody", actor=ACTOR)
    info = deploy.set_data_classes("chat", ["pii", "internal", "pii"], actor=ACTOR)
    assert info.data_classes == ["internal", "pii"]
    with pytest.raises(Invalid, match="unknown data class"):
        deploy.set_data_classes("chat", ["medical"], actor=ACTOR)
    assert deploy.set_data_classes("chat", None, actor=ACTOR).data_classes is None


def test_under_enforcement_unlisted_models_stay_unroutable(engine: Engine) -> None:
    enforced = DeploymentService(session_factory(engine), make_config(enforce=True))
    assert not enforced.get_model("smart").routable
    info = enforced.set_data_classes("smart", ["public"], actor=ACTOR)
    assert info.state == "proposed" and not info.routable
    with pytest.raises(Invalid, match="sim/sim-smart-1 is not in the catalogue"):
        enforced.canary("chat", "smart", 5, actor=ACTOR)


@dataclass(frozen=True)
class Run:
    pass_rates: dict[str, float]
    items: int


def _verdict(rate: float) -> Verdict:
    return judge(Run({"expected": rate}, 4), {"expected": 0.75}, 0.9)


def test_canary_promote_rollback(deploy: DeploymentService, engine: Engine) -> None:
    with pytest.raises(Invalid, match="out of range"):
        deploy.canary("chat", "smart", 100, actor=ACTOR)
    info = deploy.canary("chat", "smart", 25, actor=ACTOR)
    assert (info.primary, info.candidate, info.percent) == ("sim/sim-fast-1", "sim/sim-smart-1", 25)
    with session_factory(engine)() as s:
        split = load(s).splits["chat"]
    assert split.candidate == "sim/sim-smart-1" and split.percent == 25

    with pytest.raises(GateRefused, match="expected 50.0% < 75.0%"):
        deploy.promote("chat", "smart", _verdict(0.5), actor=ACTOR)
    assert deploy.status("chat").candidate == "sim/sim-smart-1"  # unchanged
    denied = audits(engine, "deployment.promote")
    assert denied[0].outcome == "denied"

    info = deploy.promote("chat", "sim/sim-smart-1", _verdict(1.0), actor=ACTOR)
    assert (info.primary, info.candidate) == ("sim/sim-smart-1", None)
    assert info.history[0].evaluation is not None and info.history[0].evaluation["passed"]

    info = deploy.rollback("chat", actor=ACTOR)  # undoes the promotion: the canary is back
    assert (info.primary, info.candidate, info.percent) == ("sim/sim-fast-1", "sim/sim-smart-1", 25)
    info = deploy.rollback("chat", actor=ACTOR)  # undoes the canary
    assert (info.primary, info.candidate) == ("sim/sim-fast-1", None)
    with pytest.raises(Conflict, match="nothing|no deployment change"):
        deploy.rollback("chat", actor=ACTOR)
    assert {a.action for a in audits(engine, "deployment.rollback")} == {"deployment.rollback"}
    assert len(audits(engine, "deployment.canary")) == 1


def test_canary_targets_must_be_routable(deploy: DeploymentService) -> None:
    deploy.set_state("sim/sim-smart-1", "blocked", reason="leaks", actor=ACTOR)
    with pytest.raises(Invalid, match="sim/sim-smart-1 is blocked"):
        deploy.canary("chat", "smart", 10, actor=ACTOR)
    with pytest.raises(Invalid, match="embedding"):
        deploy.canary("chat", "emb", 10, actor=ACTOR)
    with pytest.raises(NotFound):
        deploy.canary("nope", "smart", 10, actor=ACTOR)
    with pytest.raises(Conflict, match="already serves"):
        deploy.canary("chat", "sim-fast-1", 10, actor=ACTOR)
