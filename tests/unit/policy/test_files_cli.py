"""Policy files and the CLI: the example policies pass their own test files, a bad file stops a
gateway from starting, `validate`, `test` and `explain` report what a person needs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from steward.cli.main import app
from steward.config import ConfigError, parse_config
from steward.policy.runtime import build_engine

EXAMPLES = Path(__file__).resolve().parents[3] / "src/steward/policy/examples"
runner = CliRunner()


def _config(tmp_path: Path, directory: Path, **policy: object) -> Path:
    raw = yaml.safe_load((EXAMPLES / "steward.yaml").read_text())
    raw["policy"]["directory"] = str(directory)
    raw["policy"].update(policy)
    raw.update(
        database_url=f"sqlite:///{tmp_path / 'steward.db'}",
        data_dir=str(tmp_path),
        providers={"sim": {"kind": "sim"}},
        models=[{"name": "gpt-4o-mini", "provider": "sim"}, {"name": "gpt-4o", "provider": "sim"}],
    )
    path = tmp_path / "steward.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_examples_pass_their_tests(tmp_path: Path) -> None:
    cfg = _config(tmp_path, EXAMPLES)
    result = runner.invoke(app, ["policy", "test", str(EXAMPLES), "-c", str(cfg)])
    assert result.exit_code == 0, result.output
    assert "0 failed" in result.output and "PASS" in result.output


def test_a_wrong_expectation_fails_with_the_reason(tmp_path: Path) -> None:
    pol = tmp_path / "pol"
    shutil.copytree(EXAMPLES, pol, ignore=shutil.ignore_patterns("tests"))
    (pol / "tests").mkdir()
    (pol / "tests" / "wrong.yaml").write_text(
        yaml.safe_dump(
            {
                "world": {"users": {"alice": {}}, "agents": {"support-bot": {"owner": "alice"}}},
                "cases": [
                    {
                        "name": "shell allowed?",
                        "principal": "agent:support-bot",
                        "action": "call_tool",
                        "resource": "shell.exec",
                        "expect": "allow",
                    }
                ],
            }
        )
    )
    result = runner.invoke(app, ["policy", "test", str(pol), "-c", str(_config(tmp_path, pol))])
    assert result.exit_code == 1
    assert "FAIL" in result.output and "expected allow, got deny" in result.output
    assert "tools/no-shell" in result.output


def test_validate_names_the_bad_policy(tmp_path: Path) -> None:
    pol = tmp_path / "pol"
    pol.mkdir()
    (pol / "good.cedar").write_text('forbid (principal, action, resource == Tool::"x");')
    (pol / "bad.cedar").write_text(
        '@id("oops") permit (principal is Agent, action == Action::"call_tool", resource)\n'
        "when { principal.rank > 3 };"
    )
    result = runner.invoke(app, ["policy", "validate", str(pol), "-c", str(_config(tmp_path, pol))])
    assert result.exit_code == 1
    assert "ok      good: 1 policies" in result.output
    assert "INVALID bad:" in result.output and "policy 'oops'" in result.output
    assert "rank" in result.output


def test_a_bad_policy_file_stops_the_gateway(tmp_path: Path) -> None:
    pol = tmp_path / "pol"
    pol.mkdir()
    (pol / "bad.cedar").write_text("permit (principal, action, resource) when { nope };")
    raw = yaml.safe_load(_config(tmp_path, pol).read_text())
    with pytest.raises(ConfigError, match="policy set 'bad' is invalid"):
        build_engine(parse_config(raw, "test"))


def test_shadow_files(tmp_path: Path) -> None:
    raw = yaml.safe_load(_config(tmp_path, EXAMPLES, shadow=["models"]).read_text())
    engine = build_engine(parse_config(raw, "test"))
    modes = {s["name"]: s["mode"] for s in engine.status()["sets"]}
    assert modes == {
        "steward": "enforce",
        "models": "shadow",
        "support": "enforce",
        "tools": "enforce",
    }
    raw["policy"]["shadow"] = ["nothere"]
    with pytest.raises(ConfigError, match="nothere"):
        build_engine(parse_config(raw, "test"))


def test_store_commands_and_explain(tmp_path: Path) -> None:
    cfg = str(_config(tmp_path, EXAMPLES))
    ok = runner.invoke(app, ["policy", "apply", str(EXAMPLES), "-c", cfg])
    assert ok.exit_code == 0 and "applied support v1 (enforce)" in ok.output
    assert runner.invoke(app, ["users", "create", "alice", "-c", cfg]).exit_code == 0
    made = runner.invoke(app, ["agents", "create", "support-bot", "--owner", "alice", "-c", cfg])
    assert made.exit_code == 0, made.output
    ex = runner.invoke(
        app,
        [
            "policy",
            "explain",
            "-p",
            "agent:support-bot",
            "-a",
            "call_tool",
            "-r",
            "billing.refund",
            "--server",
            "billing",
            "--args",
            '{"amount": 750}',
            "-c",
            cfg,
        ],
    )
    assert ex.exit_code == 0, ex.output
    assert "decision: ALLOW (requires human approval)" in ex.output
    assert "matched  support/large-refunds (permit, approval)" in ex.output
    unknown = runner.invoke(
        app, ["policy", "explain", "-p", "agent:ghost", "-a", "call_tool", "-r", "x", "-c", cfg]
    )
    assert unknown.exit_code == 1 and "agent 'ghost' is not known" in unknown.output
    listed = runner.invoke(app, ["policy", "list", "-c", cfg])
    assert "support" in listed.output and "tools" in listed.output
    shown = runner.invoke(app, ["policy", "show", "support", "-c", cfg])
    assert "support/large-refunds: permit (approval)" in shown.output
    gone = runner.invoke(app, ["policy", "delete", "tools", "-c", cfg])
    assert gone.exit_code == 0 and "deleted tools" in gone.output
    missing = runner.invoke(app, ["policy", "show", "tools", "-c", cfg])
    assert missing.exit_code == 1 and "does not exist" in missing.output


def test_policies_need_their_arguments_declared(tmp_path: Path) -> None:
    cfg = _config(tmp_path, EXAMPLES)
    raw = yaml.safe_load(cfg.read_text())
    raw["policy"]["arguments"] = {}
    cfg.write_text(yaml.safe_dump(raw))
    result = runner.invoke(app, ["policy", "test", str(EXAMPLES), "-c", str(cfg)])
    assert result.exit_code == 1
    assert "amount not declared in policy.arguments" in result.output
