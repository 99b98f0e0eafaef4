"""The policy store: versions, validation on write, all-or-nothing apply, audit, the snapshot
section and the gateway engine picking changes up."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select

from steward.identity import Actor, IdentityService
from steward.identity.errors import Conflict, Invalid, NotFound
from steward.identity.snapshot import load_snapshot
from steward.policy.data import SECTION, PolicyData
from steward.policy.engine import PolicyEngine
from steward.policy.entities import ModelInfo
from steward.policy.service import PolicyService
from steward.policy.sets import PolicySource
from steward.policy.settings import PolicySettings
from steward.store.db import make_engine, session_factory, upgrade
from steward.store.models import AuditEvent
from tests.unit.policy.conftest import principal

NO_BIG = (
    '@id("no-big") forbid (principal, action == Action::"invoke_model", resource == Model::"big");'
)
NO_MINI = '@id("no-mini") forbid (principal, action, resource == Model::"mini");'
SETTINGS = PolicySettings(arguments={"amount": "Long"})
MODELS = [ModelInfo("mini", "sim"), ModelInfo("big", "sim")]
ACTOR = Actor("cli", "tester")


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    upgrade(store_url)
    eng = make_engine(store_url)
    yield eng
    eng.dispose()


@pytest.fixture
def service(engine: Engine) -> PolicyService:
    return PolicyService(session_factory(engine), SETTINGS, models=MODELS)


def _audit(engine: Engine, action: str) -> list[AuditEvent]:
    with session_factory(engine)() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_versions_are_kept_and_readable(service: PolicyService, engine: Engine) -> None:
    created = service.create("models", NO_BIG, actor=ACTOR, description="model rules")
    assert (created.version, created.mode, created.updated_by) == (1, "enforce", "cli:tester")
    assert service.update("models", NO_MINI, actor=ACTOR).version == 2
    assert service.update("models", NO_MINI, actor=ACTOR).version == 2  # unchanged: no version
    assert service.update("models", mode="shadow", actor=ACTOR).version == 3
    current = service.get("models")
    assert (current.version, current.mode, current.text) == (3, "shadow", NO_MINI)
    assert [p.id for p in current.policies] == ["models/no-mini"]
    first = service.get("models", version=1)
    assert (first.text, first.mode) == (NO_BIG, "enforce")
    assert [v.version for v in current.versions] == [1, 2, 3]
    with pytest.raises(NotFound):
        service.get("models", version=9)
    assert [a.details["version"] for a in _audit(engine, "policy.set_updated")] == [2, 3]
    assert len(_audit(engine, "policy.set_created")) == 1


def test_invalid_set_is_refused_with_cedars_message(service: PolicyService) -> None:
    with pytest.raises(Invalid) as err:
        service.create("bad", "permit (principal, action, resource) when { context.nope };")
    assert err.value.code == "policy_invalid"
    assert "attribute `nope` in context" in err.value.message
    assert service.list() == []
    service.create("models", NO_BIG)
    with pytest.raises(Invalid):
        service.update("models", "permit (principal, action, resource")  # does not parse
    assert service.get("models").text == NO_BIG  # the good version stays in force


def test_validate_reports_without_storing(service: PolicyService) -> None:
    ok = service.validate("x", NO_BIG)
    assert ok.valid and [(p.id, p.effect) for p in ok.policies] == [("x/no-big", "forbid")]
    bad = service.validate("x", '@approval("maybe") permit (principal, action, resource);')
    assert not bad.valid and '@approval must be "required"' in bad.errors[0]
    undeclared = service.validate(
        "x",
        'permit (principal, action == Action::"call_tool", resource) '
        "when { context.arguments has total && context.arguments.total > 1 };",
    )
    assert not undeclared.valid and "total not declared in policy.arguments" in undeclared.errors[0]
    assert not service.validate("steward", NO_BIG).valid  # reserved name
    assert service.list() == []


def test_apply_is_all_or_nothing(service: PolicyService) -> None:
    good = PolicySource("models", NO_BIG)
    bad = PolicySource("broken", "forbid (principal, action, resource) when { 1 };")
    with pytest.raises(Invalid) as err:
        service.apply([good, bad], actor=ACTOR)
    assert "broken:" in err.value.message and "nothing was applied" in err.value.message
    assert service.list() == []
    infos = service.apply([good, PolicySource("more", NO_MINI, "shadow")], actor=ACTOR)
    assert [(i.name, i.version, i.mode) for i in infos] == [
        ("models", 1, "enforce"),
        ("more", 1, "shadow"),
    ]
    again = service.apply([good], actor=ACTOR)
    assert again[0].version == 1  # same text: no new version


def test_create_conflict_and_delete(service: PolicyService, engine: Engine) -> None:
    service.create("models", NO_BIG)
    with pytest.raises(Conflict):
        service.create("models", NO_MINI)
    service.delete("models", actor=ACTOR)
    assert service.list() == []
    with pytest.raises(NotFound):
        service.delete("models")
    assert _audit(engine, "policy.set_deleted")[0].target_id == "models"


def test_snapshot_section_feeds_the_engine(service: PolicyService, engine: Engine) -> None:
    ids = IdentityService(session_factory(engine))
    alice = ids.create_user("alice")
    ids.create_team("support")
    ids.add_member("alice", "support")
    service.create("models", NO_BIG)
    with session_factory(engine)() as s:
        snap = load_snapshot(s)
    data: PolicyData = snap.section(SECTION)
    assert [(x.name, x.version) for x in data.sets] == [("models", 1)]
    assert data.users[alice.id].teams == ("support",)
    gw = PolicyEngine(SETTINGS, MODELS)
    gw.on_snapshot(snap)
    user = principal("user", alice.id)
    assert not gw.decide_model(user, "big").allowed
    assert gw.decide_model(user, "mini").allowed
    live = service.live_engine()
    assert not live.decide_model(user, "big").allowed
