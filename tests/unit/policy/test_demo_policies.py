"""The demo's policies pass their own test cases, under the demo's own configuration."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from steward.cli.main import app
from steward.demo.agent_steps import POLICIES, agent_config
from steward.demo.config import write_demo_config


def test_demo_policies_pass_their_tests(tmp_path: Path) -> None:
    cfg = write_demo_config(tmp_path)
    raw = yaml.safe_load(cfg.read_text())
    assert raw["policy"] == agent_config()["policy"]  # what the demo's gateway runs with
    raw.update(database_url=f"sqlite:///{tmp_path / 'steward.db'}", data_dir=str(tmp_path))
    cfg.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(app, ["policy", "test", str(POLICIES), "-c", str(cfg)])
    assert result.exit_code == 0, result.output
    assert "7 passed, 0 failed" in result.output
