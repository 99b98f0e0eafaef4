"""`steward usage`, `steward usage chargeback` and `steward usage rebuild-rollups`, driven through
Typer's runner against a real SQLite store."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from steward.cli.main import app
from steward.identity import IdentityService
from steward.store.db import make_engine, session_factory, upgrade
from steward.store.models import UsageEvent
from steward.usage.rollup import aggregate, write
from tests.unit.usage.conftest import event

NOW = datetime(2026, 11, 18, 15, 30, tzinfo=UTC)
RANGE = ("--since", "2026-11-01", "--until", "2026-12-01")


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A store with two teams' usage in November 2026 (one request without a price)."""
    for var in ("STEWARD_CONFIG", "STEWARD_DATABASE_URL", "STEWARD_ADMIN_KEY"):
        monkeypatch.delenv(var, raising=False)
    data = tmp_path / "data"
    monkeypatch.setenv("STEWARD_DATA_DIR", str(data))
    url = f"sqlite:///{data / 'steward.db'}"
    upgrade(url)
    engine = make_engine(url)
    svc = IdentityService(session_factory(engine))
    support = svc.create_team("support").id
    research = svc.create_team("research").id
    rows = [
        event(team_id=support, ts=NOW, cost_usd=Decimal("0.25")),
        event(team_id=support, ts=NOW - timedelta(days=2), model="claude", cost_usd=Decimal("1")),
        event(team_id=support, ts=NOW, cost_usd=None, input_tokens=7, output_tokens=3),
        event(team_id=research, ts=NOW, cost_usd=Decimal("0.5"), tags={"env": "prod"}),
    ]
    with engine.begin() as conn:
        write(conn, aggregate(rows))
    engine.dispose()
    return {"url": url, "support": support, "research": research}


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def ok(*args: str) -> Result:
    result = run(*args)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def failed(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stderr.strip()


def test_report_as_json(store: dict[str, Any]) -> None:
    rows = json.loads(ok("usage", "--by", "team,model", *RANGE, "--format", "json").stdout)
    got = {(r["group"]["team"], r["group"]["model"]): r for r in rows}
    assert set(got) == {("support", "gpt"), ("support", "claude"), ("research", "gpt")}
    assert got[("support", "claude")]["cost_usd"] == 1.0
    assert got[("support", "gpt")]["unpriced_requests"] == 1
    assert got[("research", "gpt")]["ids"]["team"] == store["research"]
    assert got[("research", "gpt")]["latency_p50_ms"] == pytest.approx(250, rel=0.12)


def test_report_as_csv_per_day(store: dict[str, Any]) -> None:
    out = ok("usage", "--by", "team", *RANGE, "--bucket", "day", "--format", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    got = {(r["bucket"], r["team"]): (r["requests"], r["cost_usd"]) for r in rows}
    assert got == {
        ("2026-11-16T00:00:00Z", "support"): ("1", "1.0000000000"),
        ("2026-11-18T00:00:00Z", "support"): ("2", "0.2500000000"),
        ("2026-11-18T00:00:00Z", "research"): ("1", "0.5000000000"),
    }


def test_report_as_a_table_with_filters_and_labels(store: dict[str, Any]) -> None:
    out = ok("usage", "--by", "model", "--filter", "team=support", *RANGE).stdout
    assert "Usage by model, 2026-11-01T00:00:00Z to 2026-12-01T00:00:00Z" in out
    assert "claude" in out and "1.000000" in out and "research" not in out
    assert "1 requests have no price" in out
    tags = ok("usage", "--by", "tag:env", *RANGE, "--format", "json").stdout
    assert {r["group"]["tag:env"]: r["requests"] for r in json.loads(tags)} == {
        "prod": 1,
        "(none)": 3,
    }
    top = json.loads(ok("usage", "--by", "team", *RANGE, "-n", "1", "--format", "json").stdout)
    assert [r["group"]["team"] for r in top] == ["support"]


def test_report_errors_are_one_line(store: dict[str, Any]) -> None:
    assert "unknown dimension 'colour'" in failed("usage", "--by", "colour")
    assert "DIMENSION=VALUE" in failed("usage", "--filter", "team")
    assert "no team 'nope'" in failed("usage", "--filter", "team=nope")
    assert "neither a duration" in failed("usage", "--since", "yesterday")
    assert "--until" in failed("usage", "--until", "later")
    assert "since must be before" in failed("usage", "--since", "1d", "--until", "3d")


def test_chargeback_csv_lists_unpriced_usage(store: dict[str, Any], tmp_path: Path) -> None:
    result = ok("usage", "chargeback", "--month", "2026-11", "--by", "team")
    assert result.stdout.splitlines() == [
        "month,kind,team,requests,input_tokens,output_tokens,cost_usd",
        "2026-11,charge,support,2,200,40,1.2500000000",
        "2026-11,charge,research,1,100,20,0.5000000000",
        "2026-11,unpriced,support,1,7,3,",
    ]
    assert "1 request(s) (10 tokens) in 2026-11 have no price" in result.stderr
    target = tmp_path / "cb.csv"
    result = ok("usage", "chargeback", "-m", "2026-11", "--by", "team,model", "-o", str(target))
    assert "wrote" in result.stdout and "1.750000 USD" in result.stdout
    assert target.read_text().startswith("month,kind,team,model,requests")
    assert "YYYY-MM" in failed("usage", "chargeback", "--month", "11/2026")
    quiet = ok("usage", "chargeback", "--month", "2026-10")
    assert quiet.stdout.count("\n") == 1 and quiet.stderr == ""


def test_rebuild_rollups_counts_events_from_before_the_upgrade(store: dict[str, Any]) -> None:
    engine = make_engine(store["url"])
    old = event(team_id=store["research"], ts=datetime(2026, 10, 3, 9, tzinfo=UTC))
    old.update(cost_usd=Decimal("3"), request_id="r1")
    with session_factory(engine)() as s, s.begin():
        s.add(UsageEvent(**old))
    engine.dispose()
    october = ("--since", "2026-10-01", "--until", "2026-11-01", "--format", "json")
    assert json.loads(ok("usage", *october).stdout) == []
    out = ok("usage", "rebuild-rollups").stdout
    # the fixture wrote rollups but no raw events: only this one is in the ledger
    assert "rebuilt usage rollups from the beginning: 1 events" in out
    rows = json.loads(ok("usage", *october).stdout)
    assert [(r["group"]["team"], r["cost_usd"]) for r in rows] == [("research", 3.0)]
    # the rollups written without raw events are gone: a rebuild trusts the ledger alone
    assert json.loads(ok("usage", *RANGE, "--format", "json").stdout) == []
    out = ok("usage", "rebuild-rollups", "--since", "2026-10-15").stdout
    assert "from 2026-10-01T00:00:00Z: 1 events" in out


def test_missing_rollups_are_pointed_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEWARD_DATA_DIR", str(tmp_path / "d"))
    for var in ("STEWARD_CONFIG", "STEWARD_DATABASE_URL"):
        monkeypatch.delenv(var, raising=False)
    url = f"sqlite:///{tmp_path / 'd' / 'steward.db'}"
    upgrade(url)
    engine = make_engine(url)
    with session_factory(engine)() as s, s.begin():
        s.add(UsageEvent(**event(request_id="r1")))
    engine.dispose()
    result = ok("usage")
    assert "run `steward usage rebuild-rollups`" in result.stderr
