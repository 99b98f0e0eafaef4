"""The demo's configuration: the embedded default (sim provider, SQLite) plus one guard profile
for the `insights` app, so the demo can show pseudonymization and a blocked document leak, and
the agent's Cedar policies and MCP tool server."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from steward.config.defaults import EMBEDDED_DEFAULT
from steward.demo.agent_steps import agent_config
from steward.demo.eval_steps import add_eval_config

DEMO_GUARD: dict[str, Any] = {
    "profiles": {
        "private": {
            "description": "Research: personal data is pseudonymized, secrets redacted, "
            "confidential documents never leave.",
            "input": {"pii": "pseudonymize", "secret": "redact", "confidential": "block"},
            "output": {"secret": "redact", "CREDIT_CARD": "redact"},
        }
    },
    "attach": [{"app": "insights", "profile": "private"}],
}


def write_demo_config(data_dir: Path) -> Path:
    config = copy.deepcopy(EMBEDDED_DEFAULT)
    config["guard"] = DEMO_GUARD
    config.update(agent_config())  # Cedar policies and the shop's MCP tools
    add_eval_config(config)  # sim-assist degrades: evaluation, SLO, drift, reroute
    path = data_dir / "steward-demo.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path
