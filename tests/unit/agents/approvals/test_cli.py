"""`steward approvals ...`, `steward suspend|resume` and `steward suspensions` through Typer's
runner against a real SQLite store, with a real webhook receiver for the decisions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner, Result

from steward.agents.approvals._store import ApprovalStore
from steward.agents.approvals.binding import approval_binding
from steward.agents.approvals.settings import ApprovalSettings
from steward.cli.approvals_cmd import approvals_app
from steward.cli.principals import agents_app, users_app
from steward.cli.suspend_cmd import resume, suspend, suspensions
from steward.identity.snapshot import Principal
from steward.store.db import make_engine, session_factory
from steward.store.models import Agent
from tests.fakes.webhook import FakeWebhook

app = typer.Typer()
app.add_typer(approvals_app, name="approvals")
app.add_typer(users_app, name="users")
app.add_typer(agents_app, name="agents")
app.command("suspend")(suspend)
app.command("resume")(resume)
app.command("suspensions")(suspensions)


@pytest.fixture
def hook() -> Iterator[FakeWebhook]:
    with FakeWebhook() as receiver:
        yield receiver


@pytest.fixture(autouse=True)
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hook: FakeWebhook) -> Path:
    for var in ("STEWARD_CONFIG", "STEWARD_DATABASE_URL", "STEWARD_ADMIN_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("STEWARD_DATA_DIR", str(tmp_path / "data"))
    path = tmp_path / "steward.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "database_url": f"sqlite:///{tmp_path / 'steward.db'}",
                "providers": {"sim": {"kind": "sim"}},
                "models": [{"name": "sim-fast", "provider": "sim"}],
                "notifications": {"webhooks": [{"name": "ops", "url": hook.url}]},
            }
        )
    )
    monkeypatch.setenv("STEWARD_CONFIG", str(path))
    return path


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def ok(*args: str) -> Result:
    result = run(*args)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def failed(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == 1, (result.stdout, result.stderr)
    return result.stderr.strip()


def _request(config: Path) -> str:
    """A pending approval asked for by agent refund-bot (as the gateway would)."""
    url = yaml.safe_load(config.read_text())["database_url"]
    engine = make_engine(url)
    sessions = session_factory(engine)
    with sessions() as s:
        agent = s.query(Agent).filter_by(name="refund-bot").one()
        p = Principal(
            "key_x",
            "sk-stw-x…",
            "agent",
            None,
            None,
            None,
            agent.id,
            None,
            None,
            None,
            None,
            owner_id=agent.owner_id,
        )
    store = ApprovalStore(sessions, ApprovalSettings())
    args = {"order": "A-1", "amount": 900}
    b = approval_binding("call_tool", "shop__refund", args, p)
    approval, _, _ = store.request(p, "call_tool", "shop__refund", args, b, "over 500", None, [])
    engine.dispose()
    return approval.id


def test_list_show_approve_and_notify(config: Path, hook: FakeWebhook) -> None:
    ok("users", "create", "olivia")
    ok("users", "create", "alice")
    ok("agents", "create", "refund-bot", "--owner", "olivia")
    approval_id = _request(config)
    listed = json.loads(ok("approvals", "list", "--status", "pending", "--json").stdout)
    assert [a["id"] for a in listed] == [approval_id]
    assert approval_id in ok("approvals", "list", "--agent", "refund-bot").stdout
    shown = ok("approvals", "show", approval_id).stdout
    assert "shop__refund" in shown and "refund-bot" in shown and "over 500" in shown

    error = failed("approvals", "approve", approval_id, "--as", "refund-bot")
    assert "may not decide approvals" in error
    out = ok("approvals", "approve", approval_id, "--as", "alice", "--note", "fine", "--json")
    assert json.loads(out.stdout)["status"] == "approved"
    [note] = hook.receiver.wait_for(1)
    assert note.headers["x-steward-event"] == "approval.decided"
    assert note.json()["payload"]["status"] == "approved"
    assert "not pending" in failed("approvals", "deny", approval_id)


def test_deny_then_unknown(config: Path) -> None:
    ok("users", "create", "olivia")
    ok("agents", "create", "refund-bot", "--owner", "olivia")
    approval_id = _request(config)
    out = ok("approvals", "deny", approval_id, "--note", "no")
    assert "Denied" in out.stdout
    assert "does not exist" in failed("approvals", "show", "apr_nope")
    assert "unknown status" in failed("approvals", "list", "--status", "maybe")


def test_suspend_resume_and_list(config: Path, hook: FakeWebhook) -> None:
    ok("users", "create", "olivia")
    ok("agents", "create", "refund-bot", "--owner", "olivia")
    approval_id = _request(config)
    out = ok("suspend", "agent", "refund-bot", "--reason", "looping")
    assert "Suspended agent refund-bot. Cancelled 1 open approval(s)." in out.stdout
    [note] = hook.receiver.wait_for(1)
    assert note.json()["payload"]["approval_id"] == approval_id
    assert note.json()["payload"]["status"] == "cancelled"
    ok("suspend", "model", "sim-fast", "-r", "drift")
    ok("suspend", "--all-agents", "--reason", "incident")
    listed = {
        (s["kind"], s["name"], s["reason"]) for s in json.loads(ok("suspensions", "--json").stdout)
    }
    assert listed == {
        ("agent", "refund-bot", "looping"),
        ("model", "sim-fast", "drift"),
        ("all-agents", "all agents", "incident"),
    }
    ok("resume", "agent", "refund-bot")
    ok("resume", "model", "sim-fast")
    ok("resume", "--all-agents")
    assert "Nothing is suspended." in ok("suspensions").stdout


def test_bad_suspend_input() -> None:
    assert "give a reason" in failed("suspend", "model", "sim-fast")
    assert "not configured" in failed("suspend", "model", "gpt-9", "-r", "x")
    assert "unknown KIND" in failed("suspend", "planet", "earth", "-r", "x")
    assert "give KIND and NAME" in failed("suspend", "--reason", "x")
    assert "takes no KIND" in failed("suspend", "agent", "x", "--all-agents", "-r", "x")
