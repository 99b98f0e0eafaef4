"""`steward budgets ...` through Typer's runner against a real SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from steward.cli.budgets import budgets_app
from steward.cli.principals import teams_app

app = typer.Typer()
app.add_typer(budgets_app, name="budgets")
app.add_typer(teams_app, name="teams")


@pytest.fixture(autouse=True)
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
    result = run(*args)
    assert result.exit_code == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    return lines[0]


def test_create_list_show_update_delete() -> None:
    ok("teams", "create", "support")
    out = ok(
        "budgets",
        "create",
        "--team",
        "support",
        "--amount",
        "100",
        "--period",
        "month",
        "--model",
        "sim-fast",
        "--alert",
        "50,80,100",
        "--hard",
        "--name",
        "support-gpt",
    ).stdout
    assert "Created budget support-gpt" in out
    ok("budgets", "create", "--org", "--amount", "1000", "--window", "7d", "--soft", "--alert", "")
    listed = json.loads(ok("budgets", "list", "--json").stdout)
    assert [(b["name"], b["period"], b["window"], b["hard"]) for b in listed] == [
        ("org-7d", "rolling", "7d", False),
        ("support-gpt", "month", None, True),
    ]
    table = ok("budgets", "list", "--scope", "team", "--target", "support").stdout
    assert "support-gpt" in table and "org-7d" not in table
    shown = json.loads(ok("budgets", "show", "support-gpt", "--json").stdout)
    assert shown["spent_usd"] == 0 and shown["alerts"] == [50, 80, 100]
    updated = json.loads(
        ok("budgets", "update", "support-gpt", "--amount", "150", "--soft", "--json").stdout
    )
    assert (updated["amount_usd"], updated["hard"]) == (150.0, False)
    ok("budgets", "update", "support-gpt", "--rename", "support")
    assert "Deleted budget support" in ok("budgets", "delete", "support").stdout


def test_errors_are_one_clear_line() -> None:
    ok("teams", "create", "support")
    assert "--key, --user" in failed("budgets", "create", "--amount", "5")
    assert "one of" in failed("budgets", "create", "--team", "support", "--org", "--amount", "5")
    assert "team 'nope' does not exist" in failed(
        "budgets", "create", "--team", "nope", "--amount", "5"
    )
    assert "not a configured model" in failed(
        "budgets", "create", "--org", "--amount", "5", "--model", "gpt-99"
    )
    assert "--alert" in failed("budgets", "create", "--org", "--amount", "5", "--alert", "lots")
    assert "budget 'ghost' does not exist" in failed("budgets", "show", "ghost")
    assert "--target needs --scope" in failed("budgets", "list", "--target", "support")
