"""The budgets service on each store backend: validation with clear errors, audit events and
version bumps, the snapshot's view, and the ledger's spend per period and per bucket."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from steward.events.ids import new_id
from steward.identity import IdentityService, Invalid, NotFound, current_version
from steward.identity.errors import Conflict
from steward.identity.snapshot import _dump, _load, load_snapshot
from steward.store.db import make_engine, session_factory, upgrade
from steward.store.models import AuditEvent, UsageEvent
from steward.usage.budgets.ledger import ledger_buckets, ledger_spend
from steward.usage.budgets.periods import calendar_bounds
from steward.usage.budgets.service import BudgetService


@dataclass
class Store:
    engine: Engine
    sessions: sessionmaker[Session]
    identity: IdentityService
    budgets: BudgetService


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    upgrade(store_url)
    engine = make_engine(store_url)
    sessions = session_factory(engine)
    identity = IdentityService(sessions)
    identity.create_team("support")
    identity.create_user("ann", teams=["support"])
    yield Store(
        engine, sessions, identity, BudgetService(sessions, models=["gpt-4o"], providers=["openai"])
    )
    engine.dispose()


def test_create_list_show_update_delete(store: Store) -> None:
    b = store.budgets
    before = _version(store)
    team = b.create_budget("team", "support", "100", period="month", model="gpt-4o")
    assert (team.name, team.target, team.amount_usd, team.alerts) == (
        "team-support-month-gpt-4o",
        "support",
        100.0,
        [50, 80, 100],
    )
    assert _version(store) == before + 1
    org = b.create_budget("org", None, "1000.5", window="7d", alerts=[90], hard=False, name="all")
    assert (org.period, org.window, org.hard, org.alerts) == ("rolling", "7d", False, [90])
    assert [x.name for x in b.list_budgets()] == ["all", "team-support-month-gpt-4o"]
    assert [x.name for x in b.list_budgets("team", "support")] == [team.name]
    shown = b.get_budget(team.name)
    assert shown.spent_usd == 0.0 and shown.resets_at is not None
    changed = b.update_budget(team.id, amount="150", alerts=[75], hard=False, name="support")
    assert (changed.amount_usd, changed.alerts, changed.hard, changed.name) == (
        150.0,
        [75],
        False,
        "support",
    )
    assert b.delete_budget("support").id == team.id
    with pytest.raises(NotFound):
        b.get_budget("support")
    with store.sessions() as s:
        actions = list(
            s.scalars(select(AuditEvent.action).where(AuditEvent.target_type == "budget"))
        )
    assert sorted(actions) == ["budget.create", "budget.create", "budget.delete", "budget.update"]


@pytest.mark.parametrize(
    ("kwargs", "error", "needle"),
    [
        ({"scope": "team", "target": "nobody"}, NotFound, "team 'nobody' does not exist"),
        ({"scope": "team", "target": None}, Invalid, "needs the team"),
        ({"scope": "org", "target": "support"}, Invalid, "no target"),
        ({"scope": "galaxy", "target": None}, Invalid, "scope 'galaxy'"),
        ({"amount": "0"}, Invalid, "out of range"),
        ({"amount": "abc"}, Invalid, "not a number"),
        ({"amount": "1.0000001"}, Invalid, "6 decimal places"),
        ({"period": "year"}, Invalid, "period 'year'"),
        ({"period": "month", "window": "7d"}, Invalid, "not both"),
        ({"period": "rolling"}, Invalid, "needs a window"),
        ({"window": "10s"}, Invalid, "out of range"),
        ({"window": "soon"}, Invalid, "not a duration"),
        ({"alerts": [0]}, Invalid, "1 to 1000"),
        ({"model": "gpt-5"}, Invalid, "not a configured model"),
        ({"provider": "azure"}, Invalid, "not configured"),
        ({"name": "bad name!"}, Invalid, "not valid"),
    ],
)
def test_bad_input_is_refused_with_what_to_do(
    store: Store, kwargs: dict[str, object], error: type[Exception], needle: str
) -> None:
    args: dict[str, object] = {"scope": "team", "target": "support", "amount": "10", **kwargs}
    scope, target, amount = args.pop("scope"), args.pop("target"), args.pop("amount")
    with pytest.raises(error) as caught:
        store.budgets.create_budget(scope, target, amount, **args)  # type: ignore[arg-type]
    assert needle in str(caught.value)


def test_names_are_unique(store: Store) -> None:
    store.budgets.create_budget("user", "ann", "5", name="ann")
    with pytest.raises(Conflict):
        store.budgets.create_budget("user", "ann", "5", name="ann")
    auto = store.budgets.create_budget("user", "ann", "5")
    again = store.budgets.create_budget("user", "ann", "5")
    assert (auto.name, again.name) == ("user-ann-month", "user-ann-month-2")


def test_key_budgets_name_the_key(store: Store) -> None:
    key, _ = store.identity.create_key(user="ann", team="support", name="laptop")
    info = store.budgets.create_budget("key", key.prefix, "5")
    assert (info.target_id, info.target) == (key.id, "laptop")


def test_the_snapshot_carries_budgets_and_its_cache_keeps_them(store: Store) -> None:
    created = store.budgets.create_budget("team", "support", "12.5", window="24h", alerts=[80])
    with store.sessions() as s:
        snap = load_snapshot(s)
    (spec,) = snap.budgets
    assert (spec.id, spec.target_name, spec.amount_usd, spec.window_s) == (
        created.id,
        "support",
        Decimal("12.5"),
        86400,
    )
    assert spec.amount_nano == 12_500_000_000
    assert _load(_dump(snap)).budgets == snap.budgets


def test_ledger_spend_per_period_and_bucket(store: Store) -> None:
    team = store.identity.get_team("support").id
    info = store.budgets.create_budget("team", "support", "10", model="gpt-4o")
    with store.sessions() as s:
        (spec,) = load_snapshot(s).budgets
    now = time.time()
    start, _ = calendar_bounds("month", now)
    _usage(store, start + 3600 + 5, "0.25", team_id=team)
    _usage(store, start + 3600 + 50, "0.5", team_id=team)
    _usage(store, start + 7200 + 1, "1", team_id=team)
    _usage(store, start + 7200 + 2, "9", team_id=team, model="other")  # another model
    _usage(store, start + 7200 + 3, "9", team_id="team_x")  # another team
    _usage(store, start - 1, "9", team_id=team)  # last month
    _usage(store, start + 7200 + 4, None, team_id=team)  # unpriced
    with store.sessions() as s:
        assert ledger_spend(s, spec, start, now + 1) == Decimal("1.75")
        assert ledger_spend(s, spec, start, start + 7200) == Decimal("0.75")
        buckets = ledger_buckets(s, spec, start, now + 1, 3600)
    first = int(start // 3600)
    assert buckets == {first + 1: Decimal("0.75"), first + 2: Decimal("1")}
    assert store.budgets.get_budget(info.id).spent_usd == pytest.approx(1.75)


def _usage(store: Store, ts: float, cost: str | None, **cols: str) -> None:
    with store.sessions() as s, s.begin():
        s.add(
            UsageEvent(
                id=new_id(),
                ts=datetime.fromtimestamp(ts, UTC),
                request_id=new_id(),
                endpoint="chat",
                model=cols.pop("model", "gpt-4o"),
                provider="openai",
                cost_usd=None if cost is None else Decimal(cost),
                status=200,
                **cols,
            )
        )


def _version(store: Store) -> int:
    with store.sessions() as s:
        return current_version(s)
