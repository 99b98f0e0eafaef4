"""The identity commands, driven through Typer's runner against a real SQLite store."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from steward.cli.audit import audit_app
from steward.cli.keys import admin_keys_app, keys_app
from steward.cli.principals import (
    agents_app,
    apps_app,
    service_accounts_app,
    teams_app,
    users_app,
)
from steward.config import Runtime
from steward.identity import IdentityService
from steward.identity.keys import hash_key
from steward.store.db import make_engine, session_factory

app = typer.Typer()
for sub, name in (
    (teams_app, "teams"),
    (users_app, "users"),
    (apps_app, "apps"),
    (agents_app, "agents"),
    (service_accounts_app, "service-accounts"),
    (keys_app, "keys"),
    (admin_keys_app, "admin-keys"),
    (audit_app, "audit"),
):
    app.add_typer(sub, name=name)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("STEWARD_CONFIG", "STEWARD_DATABASE_URL", "STEWARD_ADMIN_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("STEWARD_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def ok(*args: str) -> Result:
    result = run(*args)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def failed(*args: str) -> str:
    """Run a command that must fail cleanly; return its one-line error message."""
    result = run(*args)
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    return lines[0]


def seed() -> None:
    ok("teams", "create", "support", "--description", "Customer support")
    ok("users", "create", "alice", "--email", "alice@example.com", "--team", "support")
    ok("apps", "create", "helpdesk", "--team", "support", "--owner", "alice")


def open_service(data_dir: Path) -> IdentityService:
    url = f"sqlite:///{data_dir / 'steward.db'}"
    engine = make_engine(url)
    return IdentityService(session_factory(engine), engine=engine)


def test_teams_create_list_show_delete(data_dir: Path) -> None:
    assert "Created team support" in ok("teams", "create", "support", "-d", "Help").stdout
    assert "support" in ok("teams", "list").stdout
    listed = json.loads(ok("teams", "list", "--json").stdout)
    assert [t["name"] for t in listed] == ["support"]
    shown = json.loads(ok("teams", "show", "support", "--json").stdout)
    assert shown["description"] == "Help" and shown["id"] == listed[0]["id"]
    assert "Deleted team support" in ok("teams", "delete", shown["id"]).stdout
    assert "No teams yet" in ok("teams", "list").stdout
    assert (data_dir / "steward.db").exists()


def test_key_create_prints_the_key_once(data_dir: Path) -> None:
    seed()
    out = ok(
        "keys",
        "create",
        "--user",
        "alice",
        "--team",
        "support",
        "--app",
        "helpdesk",
        "--models",
        "sim-fast,sim-smart",
        "--expires",
        "30d",
        "--name",
        "laptop",
    ).stdout
    keys = [line.strip() for line in out.splitlines() if line.strip().startswith("sk-stw-")]
    assert len(keys) == 1
    plaintext = keys[0]
    assert "for user alice (team support, app helpdesk)" in out
    assert "shown only once" in out
    assert "sim-fast, sim-smart" in out
    listing = ok("keys", "list", "--json").stdout
    assert plaintext not in listing
    [info] = json.loads(listing)
    assert info["models"] == ["sim-fast", "sim-smart"] and info["expires_at"]
    with open_service(data_dir) as svc:
        assert svc.get_key(info["id"]).prefix == info["prefix"]
        assert svc.get_key(plaintext).id == info["id"]
    assert hash_key(plaintext) != plaintext


def test_key_create_json_and_revoke(data_dir: Path) -> None:
    seed()
    created = json.loads(ok("keys", "create", "--app", "helpdesk", "--json").stdout)
    assert created["key"].startswith("sk-stw-")
    assert created["api_key"]["principal_type"] == "app"
    prefix = created["api_key"]["prefix"]
    assert "Suspended key" in ok("keys", "suspend", prefix).stdout
    assert "Unsuspended key" in ok("keys", "unsuspend", prefix).stdout
    assert "Revoked key" in ok("keys", "revoke", prefix, "--reason", "rotated").stdout
    assert "No keys found" in ok("keys", "list").stdout
    assert prefix in ok("keys", "list", "--all").stdout
    assert "already revoked" in failed("keys", "revoke", created["api_key"]["id"])


def test_errors_are_one_line_and_exit_1(data_dir: Path) -> None:
    seed()
    ok("teams", "create", "research")
    assert failed("keys", "create", "--user", "bob") == (
        "error: user 'bob' does not exist; check the name or id (list users to see them)"
    )
    assert "not a member of team 'research'" in failed(
        "keys", "create", "--user", "alice", "--team", "research"
    )
    assert "not a duration" in failed("keys", "create", "--user", "alice", "--expires", "30x")
    assert "needs a principal" in failed("keys", "create")
    assert "already exists" in failed("teams", "create", "support")
    assert "still in use" in failed("teams", "delete", "support")
    assert "risk tier 'mega'" in failed(
        "agents", "create", "bot", "--owner", "alice", "--risk-tier", "mega"
    )
    assert "user 'ghost'" in failed("agents", "create", "bot", "--owner", "ghost")


def test_principals_and_suspension(data_dir: Path) -> None:
    seed()
    agent = json.loads(
        ok(
            "agents",
            "create",
            "refund-bot",
            "--owner",
            "alice",
            "--team",
            "support",
            "--purpose",
            "refunds",
            "--risk-tier",
            "high",
            "--json",
        ).stdout
    )
    assert (agent["owner"], agent["risk_tier"]) == ("alice", "high")
    assert (
        "Suspended agent refund-bot"
        in ok("agents", "suspend", "refund-bot", "-r", "kill switch").stdout
    )
    assert json.loads(ok("agents", "show", "refund-bot", "--json").stdout)["suspended"] is True
    ok("agents", "unsuspend", "refund-bot")
    ok("service-accounts", "create", "nightly", "--team", "support")
    assert "nightly" in ok("service-accounts", "list").stdout
    ok("service-accounts", "suspend", "nightly")
    ok("apps", "suspend", "helpdesk")
    ok("users", "suspend", "alice", "--reason", "on leave")
    users = json.loads(ok("users", "list", "--json").stdout)
    assert users[0]["suspended"] is True
    ok("teams", "create", "research")
    assert json.loads(ok("users", "add-to-team", "alice", "research", "--json").stdout)[
        "teams"
    ] == ["research", "support"]
    ok("users", "remove-from-team", "alice", "research")
    assert "owns agents" in failed("users", "delete", "alice")
    ok("agents", "delete", "refund-bot")
    ok("users", "delete", "alice")
    ok("apps", "delete", "helpdesk")
    ok("service-accounts", "delete", "nightly")


def test_audit_records_the_cli_operator(data_dir: Path) -> None:
    seed()
    ok("users", "suspend", "alice", "--reason", "on leave")
    entries = json.loads(ok("audit", "list", "--json").stdout)
    assert [e["action"] for e in entries] == [
        "user.suspend",
        "app.create",
        "user.create",
        "team.create",
    ]
    assert {(e["actor_type"], e["actor_id"]) for e in entries} == {("cli", getpass.getuser())}
    assert entries[0]["reason"] == "on leave"
    only = json.loads(ok("audit", "list", "--action", "user.*", "--since", "1h", "--json").stdout)
    assert [e["action"] for e in only] == ["user.suspend", "user.create"]
    assert "user.suspend" in ok("audit", "list", "--limit", "1").stdout
    assert json.loads(ok("audit", "list", "--since", "2999-01-01", "--json").stdout) == []
    assert "neither a duration" in failed("audit", "list", "--since", "yesterday")
    assert "limit" in failed("audit", "list", "--limit", "0")


def test_admin_keys(data_dir: Path) -> None:
    out = ok("admin-keys", "create", "--name", "ops").stdout
    [plaintext] = [ln.strip() for ln in out.splitlines() if ln.strip().startswith("sk-stw-adm-")]
    created = json.loads(ok("admin-keys", "create", "--role", "auditor", "--json").stdout)
    with open_service(data_dir) as svc:
        assert svc.verify_admin_key(plaintext) == "admin"
        assert svc.verify_admin_key(created["key"]) == "auditor"
    listing = ok("admin-keys", "list").stdout
    assert "auditor" in listing and plaintext not in listing
    ok("admin-keys", "revoke", created["admin_key"]["id"])
    assert "last active admin key" in failed("admin-keys", "revoke", plaintext[:19])
    assert "role 'root'" in failed("admin-keys", "create", "--role", "root")


def test_config_option_selects_the_store(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "elsewhere"
    config = tmp_path / "steward.yaml"
    config.write_text(f"data_dir: {other}\n")
    ok("teams", "create", "support", "--config", str(config))
    assert (other / "steward.db").exists() and not (data_dir / "steward.db").exists()
    assert Runtime.load(str(config)).data_dir == other.resolve()
    monkeypatch.setenv("STEWARD_CONFIG", str(config))
    assert "support" in ok("teams", "list").stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("nonsense_key: 1\n")
    assert "bad.yaml" in failed("teams", "list", "--config", str(bad))
