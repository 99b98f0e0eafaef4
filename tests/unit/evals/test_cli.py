"""`steward eval ...` through Typer's runner against a real SQLite store and the simulator."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from steward.cli.eval_cmd import eval_app
from steward.store.db import make_engine, session_factory
from tests.unit.evals._helpers import add_sample

GOLDEN = Path(__file__).resolve().parents[2] / "data" / "evals" / "golden.jsonl"
app = typer.Typer()
app.add_typer(eval_app, name="eval")


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("STEWARD_CONFIG", "STEWARD_DATABASE_URL", "STEWARD_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("STEWARD_DATA_DIR", str(tmp_path / "data"))
    path = tmp_path / "steward.yaml"
    path.write_text(
        "providers: {sim: {kind: sim}}\n"
        "models: [{name: sim-chat, provider: sim}]\n"
        "evaluation: {retention_days: 7}\n"
    )
    return path


def run(config: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["eval", *args, "--config", str(config)])


def ok(config: Path, *args: str) -> str:
    result = run(config, *args)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout


def test_run_show_compare_and_records(config: Path) -> None:
    a = json.loads(
        ok(
            config,
            "run",
            "-d",
            str(GOLDEN),
            "-m",
            "sim-chat",
            "-e",
            "refusal,json",
            "--label",
            "first",
            "--json",
        )
    )
    b = json.loads(ok(config, "run", "-d", str(GOLDEN), "-m", "sim-chat", "--json"))
    assert a["metrics"]["refusal"] == {
        "evaluated": 5,
        "passed": 5,
        "errors": 0,
        "pass_rate": 1.0,
        "mean_score": 1.0,
    }
    listed = json.loads(ok(config, "runs", "--json"))
    assert [r["id"] for r in listed] == [b["run_id"], a["run_id"]]
    assert listed[1]["label"] == "first"
    shown = json.loads(ok(config, "show", a["run_id"], "--items", "--json"))
    assert len(shown["items"]) == 5 and shown["items"][0]["answer"]
    table = ok(config, "show", a["run_id"], "--items")
    assert "refusal" in table and "capital" in table
    cmp = json.loads(ok(config, "compare", a["run_id"], b["run_id"], "--json"))
    names = {m["name"]: m for m in cmp["metrics"]}
    assert names["refusal"]["pass_rate_delta"] == 0.0
    assert names["language"]["a"] is None  # only in run B
    records = json.loads(ok(config, "records", "--run", a["run_id"], "--name", "json", "--json"))
    assert len(records) == 1 and records[0]["score"]["label"] == "pass"
    assert "refusal" in ok(config, "records", "--name", "refusal", "--limit", "3")


def test_clear_errors(config: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"input": "ok"}\n{"oops": 1}\n')
    r = run(config, "run", "-d", str(bad), "-m", "sim-chat")
    assert r.exit_code == 1 and "bad.jsonl:2" in r.stderr
    r = run(config, "run", "-d", str(GOLDEN), "-m", "sim-chat", "-e", "nonsense")
    assert r.exit_code == 1 and "unknown evaluator" in r.stderr
    r = run(config, "run", "-d", str(GOLDEN), "-m", "sim-chat", "--gateway", "http://x")
    assert r.exit_code == 1 and "--key" in r.stderr
    r = run(config, "show", "no-such-run")
    assert r.exit_code == 1 and "no evaluation run" in r.stderr
    r = run(config, "records", "--label", "maybe")
    assert r.exit_code == 1 and "--label" in r.stderr


def test_worker_once_and_purge(config: Path, tmp_path: Path) -> None:
    ok(config, "runs")  # migrates the store
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'steward.db'}")
    sessions = session_factory(engine)
    add_sample(sessions, "Where is Paris?", "Paris is in France.")
    add_sample(sessions, "Old?", "Old.", ts=datetime.now(UTC) - timedelta(days=8))
    out = ok(config, "worker", "--once")
    assert "evaluated 1 sample(s)" in out  # the old one was purged first (retention 7 days)
    assert "refusal" in ok(config, "records", "--live")
    add_sample(sessions, "Older?", "Older.", ts=datetime.now(UTC) - timedelta(days=9))
    assert "purged 1 sample(s)" in ok(config, "purge")
    engine.dispose()
