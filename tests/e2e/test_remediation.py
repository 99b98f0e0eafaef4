"""The loop closed through a real gateway process: the SLO scheduler runs inside `steward serve`
(slo_worker.in_serve), a latency SLO on the slow primary of an alias burns, the rule reroutes
the alias to its fallback, and the gateway (through its snapshot) serves the alias from the
fallback; the action is audited with its evidence and reverted by hand with the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import select

from steward.store.models import AuditEvent
from steward.store.models_slo import SloRun
from tests.e2e._gateway import Gateway, gateway_config
from tests.fakes.upstream import FakeUpstream

pytestmark = pytest.mark.timeout(600)  # a gateway start and a few dozen slow answers


@pytest.fixture(scope="module")
def gw(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("remediation")
    providers = {
        **gateway_config(upstream.base_url, "")["providers"],
        "slow": {"kind": "sim", "sim": {"latency_ms": 250}},
    }
    g = Gateway(
        tmp,
        upstream.base_url,
        f"sqlite:///{tmp / 'steward.db'}",
        providers=providers,
        models=[
            {"name": "chat", "provider": "slow", "upstream_model": "sim-slow-1",
             "fallbacks": ["backup"]},
            {"name": "backup", "provider": "sim", "upstream_model": "sim-fast-1"},
        ],
        slos=[
            {"name": "chat-latency", "kind": "latency", "objective": 0.9,
             "latency_threshold_ms": 150, "model": "chat", "min_events": 10,
             "alerts": [{"long": "1h", "short": "5m", "factor": 5}]},
        ],
        slo_worker={"in_serve": True, "interval_s": 0.5},
        drift={"enabled": False},
        remediation={"rules": [
            {"name": "reroute-slow-chat", "mode": "auto",
             "trigger": {"kind": "slo_burn", "slo": "chat-latency"},
             "action": {"kind": "reroute"}},
        ]},
    )  # fmt: skip
    try:
        g.proc.start(timeout_s=120)  # a loaded machine (shared CI) can take a while
        yield g
    finally:
        g.close()


def ask(gw: Gateway, key: str) -> httpx.Response:
    return httpx.post(
        f"{gw.url}/v1/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json={"model": "chat", "messages": [{"role": "user", "content": "hello"}]},
        timeout=30,
    )


def served_by(gw: Gateway, key: str) -> str | None:
    r = ask(gw, key)
    assert r.status_code == 200, r.text
    return gw.usage(r.headers["x-steward-request-id"]).upstream_model


def test_a_burning_slo_reroutes_the_alias_to_its_fallback(gw: Gateway) -> None:
    key = gw.user_key()[0]
    assert served_by(gw, key) == "sim-slow-1"
    with ThreadPoolExecutor(8) as pool:  # 24 slow answers: every one misses 150 ms
        assert all(r.status_code == 200 for r in pool.map(lambda _: ask(gw, key), range(24)))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and served_by(gw, key) != "sim-fast-1":
        time.sleep(0.3)
    assert served_by(gw, key) == "sim-fast-1"  # the snapshot carried the reroute
    with gw._sessions() as s:
        applied = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "remediation.applied")
        ).one()
        alert = s.scalars(select(AuditEvent).where(AuditEvent.action == "slo.alert")).first()
        runs = list(s.scalars(select(SloRun)))
    assert alert is not None and applied.target_id == "chat"
    details = applied.details or {}
    assert details["evidence"]["slo"] == "chat-latency"
    assert details["evidence"]["windows"]["5m"]["bad"] >= 10
    assert runs and len({r.holder for r in runs}) == 1

    env = {**os.environ, "COLUMNS": "200"}
    listed = subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "steward", "remediation", "proposals", "--status", "applied",
         "--json", "--config", str(gw.config_path)],
        capture_output=True, text=True, timeout=60, env=env, cwd=gw.tmp, check=True,
    )  # fmt: skip
    (action,) = json.loads(listed.stdout)
    subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "steward", "remediation", "revert", action["action_id"],
         "--note", "e2e", "--config", str(gw.config_path)],
        capture_output=True, text=True, timeout=60, env=env, cwd=gw.tmp, check=True,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and served_by(gw, key) != "sim-slow-1":
        time.sleep(0.2)
    assert served_by(gw, key) == "sim-slow-1"  # back on the primary
