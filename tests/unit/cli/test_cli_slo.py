"""`steward slo ...` and `steward remediation ...` through Typer's runner on a real SQLite store:
status with burn rates, drift events, the worker's tick, proposals confirmed and reverted."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from steward.cli.remediation_cmd import remediation_app
from steward.cli.slo_cmd import slo_app
from steward.events.ids import new_id
from steward.store.db import make_engine, session_factory, upgrade
from steward.store.models import UsageEvent

app = typer.Typer()
app.add_typer(slo_app, name="slo")
app.add_typer(remediation_app, name="remediation")

CONFIG = """
providers: {sim: {kind: sim}}
models:
  - {name: chat, provider: sim, fallbacks: [backup]}
  - {name: backup, provider: sim}
slos:
  - {name: chat-availability, kind: availability, objective: 0.99, model: chat}
  - {name: chat-latency, kind: latency, objective: 0.9, latency_threshold_ms: 500, model: chat}
remediation:
  rules:
    - name: reroute-chat
      trigger: {kind: slo_burn, slo: chat-availability}
      action: {kind: reroute}
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("STEWARD_CONFIG", "STEWARD_DATABASE_URL", "STEWARD_ADMIN_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("STEWARD_DATA_DIR", str(tmp_path / "data"))
    path = tmp_path / "steward.yaml"
    path.write_text(CONFIG + f"database_url: sqlite:///{tmp_path / 'steward.db'}\n")
    url = f"sqlite:///{tmp_path / 'steward.db'}"
    upgrade(url)
    engine = make_engine(url)
    now = datetime.now(UTC)
    with session_factory(engine)() as s, s.begin():
        for i in range(100):
            s.add(UsageEvent(id=new_id(), ts=now - timedelta(seconds=30 + i), request_id=new_id(),
                             endpoint="chat", model="chat", status=503 if i < 40 else 200,
                             latency_ms=100.0))  # fmt: skip
    engine.dispose()
    return path


def ok(*args: str) -> Result:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def test_status_list_and_json(config: Path) -> None:
    out = ok("slo", "status", "-c", str(config)).stdout
    assert "chat-availability" in out and "page" in out and "FIRING" in out
    data = json.loads(ok("slo", "status", "chat-availability", "-c", str(config), "--json").stdout)
    (st,) = data
    assert st["alerting"] == "page" and st["windows"]["5m"]["bad"] == 40
    assert st["budget_left"] < 0  # 40% bad against a 1% budget: overspent
    listed = json.loads(ok("slo", "list", "-c", str(config), "--json").stdout)
    assert [s["name"] for s in listed] == ["chat-availability", "chat-latency"]
    assert "chat-latency" in ok("slo", "list", "-c", str(config)).stdout
    result = CliRunner().invoke(app, ["slo", "status", "nope", "-c", str(config)])
    assert result.exit_code == 1 and "not defined" in result.stderr
    result = CliRunner().invoke(app, ["slo", "status", "--at", "yesterday", "-c", str(config)])
    assert result.exit_code == 1 and "ISO 8601" in result.stderr
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    data = json.loads(ok("slo", "status", "--at", past, "-c", str(config), "--json").stdout)
    assert data[0]["events"] == 0


def test_worker_once_then_confirm_and_revert(config: Path) -> None:
    ok("slo", "worker", "--once", "-c", str(config))
    proposals = json.loads(ok("remediation", "proposals", "-c", str(config), "--json").stdout)
    (p,) = proposals
    assert (p["rule"], p["action"], p["target_id"], p["status"]) == (
        "reroute-chat", "reroute", "chat", "proposed")  # fmt: skip
    assert p["evidence"]["windows"]["5m"]["bad"] == 40
    out = ok("remediation", "confirm", p["action_id"][:10], "-n", "on call", "-c", str(config))
    assert "applied" in out.stdout
    overrides = json.loads(ok("remediation", "overrides", "-c", str(config), "--json").stdout)
    assert [(o["kind"], o["target"], o["value"]["to"]) for o in overrides] == [
        ("routing", "chat", "backup")
    ]
    ok("remediation", "revert", p["action_id"], "--note", "fixed", "-c", str(config))
    assert "no overrides" in ok("remediation", "overrides", "-c", str(config)).stdout
    everything = ok("remediation", "proposals", "--all", "-c", str(config)).stdout
    assert "reverted" in everything
    assert "no proposals" in ok("remediation", "proposals", "-c", str(config)).stdout
    result = CliRunner().invoke(app, ["remediation", "confirm", "zzz", "-c", str(config)])
    assert result.exit_code == 1 and "does not exist" in result.stderr
    result = CliRunner().invoke(
        app, ["remediation", "proposals", "--status", "odd", "-c", str(config)]
    )
    assert result.exit_code == 1 and "unknown status" in result.stderr
    assert "no drift events" in ok("slo", "drift", "-c", str(config)).stdout
    ok("remediation", "reject", "--help")
