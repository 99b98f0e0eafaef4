"""`steward agents token` and `steward tokens rotate-key|keys` through Typer's runner against a
real SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import jwt
import pytest
import typer
from typer.testing import CliRunner, Result

from steward.cli.keys import keys_app
from steward.cli.principals import agents_app, users_app
from steward.cli.tokens_cmd import tokens_app

app = typer.Typer()
for sub, name in ((users_app, "users"), (agents_app, "agents"), (keys_app, "keys"),
                  (tokens_app, "tokens")):  # fmt: skip
    app.add_typer(sub, name=name)


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("STEWARD_CONFIG", "STEWARD_DATABASE_URL", "STEWARD_ADMIN_KEY",
                "STEWARD_SUBJECT_TOKEN", "STEWARD_ACTOR_TOKEN"):  # fmt: skip
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("STEWARD_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def ok(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout


def _keys() -> tuple[str, str]:
    ok("users", "create", "alice")
    ok("users", "create", "olga")
    ok("agents", "create", "bot", "--owner", "olga", "--sponsor", "alice")
    user = json.loads(ok("keys", "create", "--user", "alice", "--json"))["key"]
    agent = json.loads(ok("keys", "create", "--agent", "bot", "--json"))["key"]
    return user, agent


def test_agents_token_exchanges_locally() -> None:
    user, agent = _keys()
    out = json.loads(ok("agents", "token", "--subject-token", user, "--actor-token", agent,
                        "--lifetime", "120"))  # fmt: skip
    assert out["token_type"] == "Bearer" and out["expires_in"] == 120
    claims = jwt.decode(out["access_token"], options={"verify_signature": False})
    bot = json.loads(ok("agents", "show", "bot", "--json"))
    assert claims["act"] == {"sub": bot["id"]} and claims["owner"] == bot["owner_id"]
    assert bot["sponsor"] == "alice"
    token = ok("agents", "token", "--subject-token", user, "--actor-token", agent,
               "--scope", "model:gpt-x", "--token-only").strip()  # fmt: skip
    assert jwt.decode(token, options={"verify_signature": False})["scope"] == "model:gpt-x"


def test_agents_token_refusal_is_a_clean_error() -> None:
    user, agent = _keys()
    result = run("agents", "token", "--subject-token", agent, "--actor-token", user)
    assert result.exit_code == 1
    assert "unauthorized_client" in result.stderr and "actor_not_agent" in result.stderr
    ok("users", "suspend", "olga")
    result = run("agents", "token", "--subject-token", user, "--actor-token", agent)
    assert result.exit_code == 1 and "agent_owner_suspended" in result.stderr


def test_rotate_key_and_list_keys() -> None:
    assert "No signing keys yet" in ok("tokens", "keys")
    first = json.loads(ok("tokens", "rotate-key", "--json"))
    second = json.loads(ok("tokens", "rotate-key", "--reason", "test", "--json"))
    assert second["retired"] == [first["kid"]]
    listed = {k["kid"]: k["status"] for k in json.loads(ok("tokens", "keys", "--json"))}
    assert listed == {first["kid"]: "retired", second["kid"]: "active"}
    third = ok("tokens", "rotate-key", "--revoke-previous")
    assert "revoked now" in third
    listed = {k["kid"]: k["status"] for k in json.loads(ok("tokens", "keys", "--json"))}
    assert list(listed.values()) == ["active"]  # withdrawn keys are gone at once
