"""Reports from the rollups: dimensions and their combinations, buckets, ranges, filters, names,
labels (end users, tags), chargeback and a key's own usage. Each test runs on SQLite and
PostgreSQL."""

from __future__ import annotations

import csv
import io
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from steward.identity import IdentityService
from steward.usage.chargeback import chargeback, to_csv
from steward.usage.histogram import MAX_RELATIVE_ERROR
from steward.usage.periods import ceil_hour, floor_hour
from steward.usage.reports import NONE_LABEL, ReportError, ReportRow, report
from steward.usage.rollup import aggregate, write
from steward.usage.service import UsageReports, key_usage
from tests.unit.usage.conftest import NOW, event

D = Decimal
C = D("0.0012345678")  # the default event cost


@dataclass
class Org:
    support: str
    research: str
    alice: str
    carol: str
    helpdesk: str
    alice_key: str
    alice_prefix: str
    app_key: str


@pytest.fixture
def org(sessions: sessionmaker[Session]) -> Org:
    svc = IdentityService(sessions)
    support = svc.create_team("support").id
    research = svc.create_team("research").id
    alice = svc.create_user("alice", teams=["support"]).id
    carol = svc.create_user("carol", teams=["research"]).id
    helpdesk = svc.create_app("helpdesk", team="support", owner="alice").id
    key, _ = svc.create_key(user="alice", team="support", name="alice-laptop")
    app_key, _ = svc.create_key(app="helpdesk", team="support")
    return Org(support, research, alice, carol, helpdesk, key.id, key.prefix, app_key.id)


def put(engine: Engine, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        write(conn, aggregate(rows))


def alice(o: Org, **kw: Any) -> dict[str, Any]:
    return event(key_id=o.alice_key, user_id=o.alice, team_id=o.support, **kw)


def carol(o: Org, **kw: Any) -> dict[str, Any]:
    return event(key_id="key_carol", user_id=o.carol, team_id=o.research, **kw)


def helpdesk(o: Org, **kw: Any) -> dict[str, Any]:
    return event(key_id=o.app_key, user_id=None, app_id=o.helpdesk, team_id=o.support, **kw)


@pytest.fixture
def usage(engine: Engine, org: Org) -> Org:
    """A small, exactly known month of traffic."""
    put(
        engine,
        [
            alice(org),
            alice(org, model="claude", provider="anthropic", cost_usd=D("0.5")),
            alice(org, ts=NOW - timedelta(days=3), cost_usd=None, input_tokens=40),
            carol(org, cost_usd=D("2"), tags={"project": "atlas"}),
            carol(org, status=429, cost_usd=None, input_tokens=0, output_tokens=0),
            helpdesk(org, end_user="cust-1", tags={"project": "atlas", "env": "prod"}),
            helpdesk(
                org,
                end_user="cust-2",
                guard_action="block",
                status=400,
                cost_usd=None,
                input_tokens=0,
                output_tokens=0,
            ),
            helpdesk(org, end_user="cust-1", ts=NOW - timedelta(hours=5)),
        ],
    )
    return org


def groups(rows: list[ReportRow]) -> dict[tuple[str, ...], ReportRow]:
    return {tuple(r.group.values()): r for r in rows}


def run(s: Session, by: list[str], **kw: Any) -> dict[tuple[str, ...], ReportRow]:
    return groups(report(s, by, **kw))


def test_by_team(sessions: sessionmaker[Session], usage: Org) -> None:
    with sessions() as s:
        rows = report(s, ["team"], NOW - timedelta(days=30), NOW)
    assert [r.group for r in rows] == [{"team": "research"}, {"team": "support"}]  # by cost
    research, support = rows
    assert research.ids == {"team": usage.research}
    assert (research.requests, research.errors, research.cost_usd) == (2, 1, D("2"))
    assert support.requests == 6
    assert support.cost_usd == 3 * C + D("0.5")
    assert (support.errors, support.blocked) == (1, 1)
    assert (support.priced_requests, support.unpriced_requests) == (4, 1)
    assert support.unpriced_input_tokens == 40
    assert support.input_tokens == 100 * 4 + 40


def test_by_several_dimensions(sessions: sessionmaker[Session], usage: Org) -> None:
    with sessions() as s:
        by_team_model = run(s, ["team", "model"])
        by_user = run(s, ["user"])
        by_key = run(s, ["key"])
        by_app_provider = run(s, ["app", "provider"])
        by_org = run(s, ["organisation", "team"], organisation="acme")
    assert set(by_team_model) == {
        ("support", "gpt"),
        ("support", "claude"),
        ("research", "gpt"),
    }
    assert by_team_model[("support", "claude")].cost_usd == D("0.5")
    assert by_user[("alice",)].requests == 3
    assert by_user[(NONE_LABEL,)].requests == 3  # the app's requests have no user
    assert by_user[(NONE_LABEL,)].ids == {"user": None}
    assert by_key[(usage.alice_prefix,)].ids == {"key": usage.alice_key}
    assert by_key[("key_carol",)].requests == 2  # a deleted key shows its id
    assert by_app_provider[("helpdesk", "openai")].requests == 3
    assert by_app_provider[(NONE_LABEL, "anthropic")].cost_usd == D("0.5")
    assert set(by_org) == {("acme", "support"), ("acme", "research")}


def test_filters(sessions: sessionmaker[Session], usage: Org) -> None:
    with sessions() as s:
        assert set(run(s, ["model"], filters={"team": "support"})) == {("gpt",), ("claude",)}
        by_id = run(s, ["team"], filters={"team": usage.support})
        assert set(by_id) == {("support",)}
        either = run(s, ["team"], filters={"team": ["support", "research"], "model": "gpt"})
        assert either[("support",)].requests == 5 and either[("research",)].requests == 2
        no_user = run(s, ["app"], filters={"user": NONE_LABEL})
        assert set(no_user) == {("helpdesk",)}
        assert run(s, ["team"], filters={"organisation": "other"}) == {}
        assert set(run(s, ["team"], filters={"key": usage.alice_prefix})) == {("support",)}
        assert set(run(s, ["team"], filters={"key": "alice-laptop"})) == {("support",)}
        with pytest.raises(ReportError, match="no team 'nope'"):
            report(s, ["model"], filters={"team": "nope"})


def test_bad_requests_say_what_to_change(sessions: sessionmaker[Session], usage: Org) -> None:
    with sessions() as s:
        with pytest.raises(ReportError, match="unknown dimension 'colour'"):
            report(s, ["colour"])
        with pytest.raises(ReportError, match="combined with team, app and model only"):
            report(s, ["end_user", "user"])
        with pytest.raises(ReportError, match="one of end_user and tag"):
            report(s, ["end_user"], filters={"tag:env": "prod"})
        with pytest.raises(ReportError, match="since must be before"):
            report(s, ["team"], NOW, NOW - timedelta(days=1))
        with pytest.raises(ReportError, match="unknown bucket"):
            report(s, ["team"], bucket="week")  # type: ignore[arg-type]
        with pytest.raises(ReportError, match="limit"):
            report(s, ["team"], limit=0)
        with pytest.raises(ReportError, match="per day, not per hour"):
            report(s, ["tag:env"], bucket="hour")


def test_buckets(sessions: sessionmaker[Session], usage: Org) -> None:
    with sessions() as s:
        days = report(s, ["team"], NOW - timedelta(days=7), None, "day")
        hours = report(s, ["team"], NOW - timedelta(days=1), None, "hour")
        months = report(s, ["team"], None, None, "month")
    got = {(r.bucket, r.group["team"]): r.requests for r in days}
    assert got == {
        (datetime(2026, 11, 15, tzinfo=UTC), "support"): 1,
        (datetime(2026, 11, 18, tzinfo=UTC), "support"): 5,
        (datetime(2026, 11, 18, tzinfo=UTC), "research"): 2,
    }
    assert [r.bucket for r in days] == sorted(r.bucket for r in days if r.bucket)
    got = {(r.bucket, r.group["team"]): r.requests for r in hours}
    assert got == {
        (datetime(2026, 11, 18, 10, tzinfo=UTC), "support"): 1,
        (datetime(2026, 11, 18, 15, tzinfo=UTC), "support"): 4,
        (datetime(2026, 11, 18, 15, tzinfo=UTC), "research"): 2,
    }
    assert {r.bucket for r in months} == {datetime(2026, 11, 1, tzinfo=UTC)}


def test_ranges_are_rounded_out_to_whole_hours(sessions: sessionmaker[Session], usage: Org) -> None:
    with sessions() as s:
        # the events at 15:30 are inside [15:45 -> 15:00, 15:40 -> 16:00)
        inside = run(s, ["team"], since=NOW + timedelta(minutes=15), until=NOW + timedelta(1, 0))
        assert inside[("support",)].requests == 4
        edge = run(
            s, ["team"], since=NOW - timedelta(minutes=20), until=NOW - timedelta(minutes=10)
        )
        assert edge[("support",)].requests == 4  # [15:00, 16:00)
        assert run(s, ["team"], since=NOW + timedelta(hours=1)) == {}
        before = run(s, ["team"], until=NOW - timedelta(hours=1))
        assert before[("support",)].requests == 2  # 3 days ago, and 5 hours ago


def test_every_grain_mix_gives_the_same_totals(
    engine: Engine, sessions: sessionmaker[Session], org: Org
) -> None:
    """Random traffic over 80 days and reports over random ranges: whichever mix of month,
    day and hour rows covers a range, the totals are exactly those of the events in it."""
    rnd = random.Random(7)
    start = datetime(2026, 9, 20, tzinfo=UTC)
    rows = [
        (alice if rnd.random() < 0.5 else carol)(
            org,
            ts=start + timedelta(minutes=rnd.randrange(80 * 24 * 60)),
            model=rnd.choice(["gpt", "claude"]),
            cost_usd=D(rnd.randrange(1, 10**6)) / 10**10,
        )
        for _ in range(600)
    ]
    put(engine, rows)
    team = {org.support: "support", org.research: "research"}
    with sessions() as s:
        for _ in range(8):
            a = start + timedelta(minutes=rnd.randrange(80 * 24 * 60))
            b = a + timedelta(minutes=rnd.randrange(1, 60 * 24 * 50))
            lo, hi = floor_hour(a), ceil_hour(b)
            expected: dict[tuple[str, ...], tuple[int, Decimal]] = {}
            for r in rows:
                if lo <= r["ts"] < hi:
                    g = (team[r["team_id"]], r["model"])
                    n, cost = expected.get(g, (0, D(0)))
                    expected[g] = (n + 1, cost + r["cost_usd"])
            for bucket in (None, "hour", "day", "month"):
                got: dict[tuple[str, ...], tuple[int, Decimal]] = {}
                for r in report(s, ["team", "model"], a, b, bucket):  # type: ignore[arg-type]
                    g = tuple(r.group.values())
                    n, cost = got.get(g, (0, D(0)))
                    got[g] = (n + r.requests, cost + r.cost_usd)
                assert got == expected, (a, b, bucket)


def test_latency_percentiles_are_within_the_stated_bound(
    engine: Engine, sessions: sessionmaker[Session], org: Org
) -> None:
    rnd = random.Random(3)
    latencies = [rnd.lognormvariate(6.5, 0.8) for _ in range(997)]
    put(engine, [alice(org, latency_ms=ms) for ms in latencies])
    put(engine, [alice(org, latency_ms=1.0, status=500)])  # errors are not in the percentiles
    with sessions() as s:
        (row,) = report(s, ["team"])
    ordered = sorted(latencies)
    for q, got in ((0.5, row.latency_p50_ms), (0.95, row.latency_p95_ms)):
        exact = ordered[math.ceil(q * len(ordered)) - 1]
        assert got is not None
        assert abs(got / exact - 1) <= MAX_RELATIVE_ERROR + 1e-9
    assert row.latency_avg_ms == pytest.approx(sum(latencies) / len(latencies))


def test_limit_keeps_the_costliest_groups_with_all_their_buckets(
    sessions: sessionmaker[Session], usage: Org
) -> None:
    with sessions() as s:
        top = report(s, ["user"], bucket="day", limit=1)
    assert {r.group["user"] for r in top} == {"carol"}
    with sessions() as s:
        top2 = report(s, ["user"], bucket="day", limit=2)
    assert {r.group["user"] for r in top2} == {"carol", "alice"}
    assert len([r for r in top2 if r.group["user"] == "alice"]) == 2  # two days


def test_end_users_and_tags(sessions: sessionmaker[Session], usage: Org) -> None:
    with sessions() as s:
        # labels resolve days: the whole of today counts, even from 15:00
        today = run(s, ["end_user"], since=NOW - timedelta(minutes=10))
        assert today[("cust-1",)].requests == 2 and today[(NONE_LABEL,)].requests == 4
        end_users = run(s, ["end_user"])
        per_app = run(s, ["app", "end_user"])
        projects = run(s, ["tag:project", "team"])
        prod_models = run(s, ["model"], filters={"tag:env": "prod"})
        untagged = run(s, ["team"], filters={"tag:project": NONE_LABEL})
        only_cust1 = run(s, ["end_user"], filters={"end_user": "cust-1"})
    assert end_users[("cust-1",)].requests == 2
    assert end_users[("cust-1",)].cost_usd == 2 * C
    assert end_users[("cust-2",)].blocked == 1
    # requests without an end user are reported as (none): the totals still add up
    assert end_users[(NONE_LABEL,)].requests == 5
    assert sum(r.requests for r in end_users.values()) == 8
    assert end_users[(NONE_LABEL,)].cost_usd == C + D("0.5") + D("2")
    assert per_app[("helpdesk", "cust-1")].requests == 2
    assert per_app[(NONE_LABEL, NONE_LABEL)].requests == 5
    assert projects[("atlas", "research")].cost_usd == D("2")
    assert projects[("atlas", "support")].requests == 1
    assert projects[(NONE_LABEL, "support")].requests == 5
    assert projects[(NONE_LABEL, "research")].requests == 1
    assert set(prod_models) == {("gpt",)} and prod_models[("gpt",)].requests == 1
    assert untagged[("support",)].requests == 5 and untagged[("research",)].requests == 1
    assert set(only_cust1) == {("cust-1",)}


def test_chargeback_lists_unpriced_usage_separately(
    sessions: sessionmaker[Session], usage: Org
) -> None:
    with sessions() as s:
        cb = chargeback(s, "2026-11", ["team"])
        empty = chargeback(s, "2026-10", ["team"])
        with pytest.raises(ReportError, match="YYYY-MM"):
            chargeback(s, "November", ["team"])
    lines = list(csv.reader(io.StringIO(to_csv(cb))))
    assert lines == [
        ["month", "kind", "team", "requests", "input_tokens", "output_tokens", "cost_usd"],
        ["2026-11", "charge", "research", "1", "100", "20", "2.0000000000"],
        ["2026-11", "charge", "support", "4", "400", "80", f"{3 * C + D('0.5'):.10f}"],
        ["2026-11", "unpriced", "support", "1", "40", "20", ""],
    ]
    assert cb.total_usd == D("2") + 3 * C + D("0.5")
    assert [ln.group for ln in cb.unpriced] == [{"team": "support"}]
    assert to_csv(empty).splitlines() == [
        "month,kind,team,requests,input_tokens,output_tokens,cost_usd"
    ]


def test_a_key_reads_its_own_usage(
    engine: Engine, sessions: sessionmaker[Session], usage: Org
) -> None:
    put(engine, [alice(usage, ts=datetime(2026, 10, 31, 23, tzinfo=UTC))])  # last month
    with sessions() as s:
        today, month = key_usage(s, usage.alice_key, NOW)
        nothing, _ = key_usage(s, "key_unknown", NOW)
    assert today.start == datetime(2026, 11, 18, tzinfo=UTC)
    assert (today.requests, today.cost_usd) == (2, C + D("0.5"))
    assert month.start == datetime(2026, 11, 1, tzinfo=UTC)
    assert (month.requests, month.unpriced_requests, month.input_tokens) == (3, 1, 240)
    assert nothing.requests == 0 and nothing.cost_usd == 0
    assert today.as_json()["cost_usd"] == pytest.approx(0.5012345678)


def test_service_facade(sessions: sessionmaker[Session], usage: Org) -> None:
    svc = UsageReports(sessions, "acme")
    rows = svc.report(["organisation"], bucket="month")
    assert [(r.group, r.requests) for r in rows] == [({"organisation": "acme"}, 8)]
    assert svc.chargeback("2026-11", ["organisation"]).lines[0].group == {"organisation": "acme"}
    assert not svc.rollups_missing()
