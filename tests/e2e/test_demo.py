"""`steward demo` (what `make demo` runs) completes every step on a fresh data directory."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.slow
def test_demo_runs_clean() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "steward", "demo"], capture_output=True, text=True, timeout=150
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "✗" not in out.stdout
    assert "Guard findings" in out.stdout and "Usage by team" in out.stdout
    # the closing loop: the degraded sim-assist burned its SLO, drifted and was rerouted
    text = " ".join(out.stdout.split())  # rich wraps long lines
    assert "audit remediation.applied" in text and "drift event: refusal_rate" in text
    assert "upstream_model = sim-fast-1" in text
