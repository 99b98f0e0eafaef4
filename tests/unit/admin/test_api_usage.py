"""The admin API's usage routes: reports (JSON and CSV) and chargeback, readable by auditors, with
clear 400s for bad queries. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from steward.admin.api import create_admin_app
from steward.admin.routes_usage import usage_router
from steward.identity import IdentityService
from steward.store.db import make_engine, session_factory, upgrade
from steward.usage.rollup import aggregate, write
from steward.usage.service import UsageReports
from tests.unit.usage.conftest import event

V1 = "/admin/v1"
NOW = datetime(2026, 11, 18, 15, 30, tzinfo=UTC)
NOVEMBER = {"since": "2026-11-01", "until": "2026-12-01"}


@dataclass
class Env:
    client: TestClient
    admin: dict[str, str]
    auditor: dict[str, str]


@pytest.fixture
def env(store_url: str) -> Iterator[Env]:
    upgrade(store_url)
    engine = make_engine(store_url)
    sessions = session_factory(engine)
    svc = IdentityService(sessions)
    _, admin = svc.create_admin_key("ops", "admin")
    _, auditor = svc.create_admin_key("audit", "auditor")
    support = svc.create_team("support").id
    app_id = svc.create_app("helpdesk", team="support").id
    rows = [
        event(team_id=support, cost_usd=Decimal("0.25")),
        event(team_id=support, app_id=app_id, end_user="cust-9", cost_usd=Decimal("1")),
        event(team_id=support, ts=NOW - timedelta(days=1), cost_usd=None, output_tokens=5),
        event(team_id=None, key_id="key_x", model="claude", cost_usd=Decimal("2")),
    ]
    with engine.begin() as conn:
        write(conn, aggregate(rows))
    api = create_admin_app(svc, extra_routers=[usage_router(UsageReports(sessions, "acme"))])
    with TestClient(api) as client:
        yield Env(
            client,
            {"Authorization": f"Bearer {admin}"},
            {"Authorization": f"Bearer {auditor}"},
        )
    engine.dispose()


def test_report_json_for_auditors(env: Env) -> None:
    r = env.client.get(
        f"{V1}/usage/report", params={"by": "organisation,team", **NOVEMBER}, headers=env.auditor
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "usage.report" and body["organisation"] == "acme"
    assert body["since"] == "2026-11-01T00:00:00Z" and body["until"] == "2026-12-01T00:00:00Z"
    rows = {row["group"]["team"]: row for row in body["rows"]}
    assert rows["(none)"]["cost_usd"] == 2.0
    assert rows["support"]["cost_usd"] == 1.25
    assert rows["support"]["unpriced_requests"] == 1
    assert rows["support"]["unpriced_output_tokens"] == 5
    assert rows["support"]["group"]["organisation"] == "acme"


def test_report_csv_with_buckets_filters_and_labels(env: Env) -> None:
    r = env.client.get(
        f"{V1}/usage/report",
        params=[
            ("by", "app,end_user"),
            ("bucket", "day"),
            ("filter", "team=support"),
            ("format", "csv"),
            *NOVEMBER.items(),
        ],
        headers=env.admin,
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    got = {(row["bucket"], row["app"], row["end_user"]): row["requests"] for row in rows}
    assert got == {
        ("2026-11-17T00:00:00Z", "(none)", "(none)"): "1",
        ("2026-11-18T00:00:00Z", "(none)", "(none)"): "1",
        ("2026-11-18T00:00:00Z", "helpdesk", "cust-9"): "1",
    }


@pytest.mark.parametrize(
    ("params", "code", "text"),
    [
        ({"by": "colour"}, "unknown_dimension", "unknown dimension 'colour'"),
        ({"by": "user,end_user"}, "unsupported_combination", "team, app and model only"),
        ({"since": "yesterday"}, "invalid_request", "neither a duration"),
        ({"filter": "team"}, "invalid_filter", "DIMENSION=VALUE"),
        ({"filter": "team=nope"}, "unknown_team", "no team 'nope'"),
        ({"bucket": "week"}, "invalid_request", "bucket"),
    ],
)
def test_bad_report_queries(env: Env, params: dict[str, str], code: str, text: str) -> None:
    r = env.client.get(f"{V1}/usage/report", params=params, headers=env.admin)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["code"] == code and text in err["message"]


def test_reports_need_an_admin_key(env: Env) -> None:
    r = env.client.get(f"{V1}/usage/report")
    assert r.status_code == 401 and r.json()["error"]["code"] == "missing_admin_key"


def test_chargeback_csv_and_json(env: Env) -> None:
    r = env.client.get(
        f"{V1}/usage/chargeback", params={"month": "2026-11", "by": "team"}, headers=env.auditor
    )
    assert r.status_code == 200, r.text
    assert 'filename="chargeback-2026-11.csv"' in r.headers["content-disposition"]
    assert r.text.splitlines() == [
        "month,kind,team,requests,input_tokens,output_tokens,cost_usd",
        "2026-11,charge,(none),1,100,20,2.0000000000",
        "2026-11,charge,support,2,200,40,1.2500000000",
        "2026-11,unpriced,support,1,100,5,",
    ]
    j = env.client.get(
        f"{V1}/usage/chargeback",
        params={"month": "2026-11", "by": "team", "format": "json"},
        headers=env.auditor,
    ).json()
    assert j["total_usd"] == 3.25
    assert j["lines"][-1] == {
        "kind": "unpriced",
        "group": {"team": "support"},
        "requests": 1,
        "input_tokens": 100,
        "output_tokens": 5,
        "cost_usd": None,
    }
    bad = env.client.get(f"{V1}/usage/chargeback", params={"month": "soon"}, headers=env.admin)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_month"
