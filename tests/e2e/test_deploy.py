"""Model catalogue and deployments through a real gateway process with the simulator: a canary
at 50 % splits traffic by request id (seen in usage events' upstream_model), promotion is gated
on a golden dataset (the CLI refuses a failing candidate with exit 1 and promotes a passing
one), rollback, and blocked or deprecated models."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from steward.catalogue.spec import Split, to_candidate
from steward.identity.state import current_version
from steward.store.models import AuditEvent, UsageEvent
from tests.e2e._gateway import Gateway, gateway_config
from tests.fakes.upstream import FakeUpstream

DATASET = Path(__file__).parent.parent / "data" / "catalogue" / "golden.jsonl"
MODELS = [
    {"name": "chat", "provider": "sim", "upstream_model": "sim-fast-1"},
    {"name": "promo", "provider": "sim", "upstream_model": "sim-promo-1"},
    {
        "name": "guarded",
        "provider": "sim",
        "upstream_model": "sim-guarded-1",
        "fallbacks": ["chat"],
    },
    {"name": "alone", "provider": "sim", "upstream_model": "sim-alone-1"},
    {"name": "api", "provider": "sim", "upstream_model": "sim-api-1"},
    {
        "name": "cleared",
        "provider": "sim",
        "upstream_model": "sim-cleared-1",
        "fallbacks": ["chat"],
    },
    {"name": "cleared-alone", "provider": "sim", "upstream_model": "sim-cleared-1"},
]


@pytest.fixture(scope="module")
def gw(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("deploy")
    providers = {
        **gateway_config(upstream.base_url, "")["providers"],
        "down": {"kind": "sim", "sim": {"error_rate": 1.0, "error_status": 503}},
    }
    g = Gateway(
        tmp,
        upstream.base_url,
        f"sqlite:///{tmp / 'steward.db'}",
        providers=providers,
        models=MODELS,
    )
    g.proc.start(timeout_s=120)  # a generous start: the machine may be busy
    yield g
    g.close()


@pytest.fixture(scope="module")
def key(gw: Gateway) -> str:
    return gw.user_key()[0]


def ask(gw: Gateway, key: str, model: str, text: str = "hello there") -> httpx.Response:
    return httpx.post(
        f"{gw.url}/v1/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json={"model": model, "messages": [{"role": "user", "content": text}]},
        timeout=30,
    )


def served_by(gw: Gateway, key: str, model: str) -> str | None:
    r = ask(gw, key, model)
    assert r.status_code == 200, r.text
    return gw.usage(r.headers["x-steward-request-id"]).upstream_model


def wait_for(gw: Gateway, key: str, model: str, upstream: str, timeout_s: float = 30.0) -> None:
    """Until the gateway's snapshot carries a change: `model` is served by `upstream`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if served_by(gw, key, model) == upstream:
            return
        time.sleep(0.1)
    raise AssertionError(f"{model} is not served by {upstream}")


def settle(gw: Gateway, timeout_s: float = 30.0) -> None:
    """Until the gateway's snapshot has every change made so far (its /healthz version)."""
    with gw._sessions() as s:
        want = current_version(s)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if httpx.get(f"{gw.url}/healthz", timeout=10).json()["snapshot_version"] >= want:
            return
        time.sleep(0.05)
    raise AssertionError(f"the gateway did not reach state version {want}")


def cli(gw: Gateway, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "steward", *args, "--config", str(gw.config_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=gw.tmp,
    )


def audits(gw: Gateway, action: str) -> list[AuditEvent]:
    with gw._sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def usage_by_request(gw: Gateway, ids: list[str], timeout_s: float = 60.0) -> dict[str, str | None]:
    """request id -> the upstream model its usage event records, once every event landed."""
    deadline = time.monotonic() + timeout_s
    while True:
        with gw._sessions() as s:
            rows = s.execute(
                select(UsageEvent.request_id, UsageEvent.upstream_model).where(
                    UsageEvent.request_id.in_(ids)
                )
            ).all()
        if len(rows) == len(ids) or time.monotonic() > deadline:
            return {r[0]: r[1] for r in rows}
        time.sleep(0.1)


@pytest.mark.timeout(300)
def test_a_canary_at_50_percent_splits_traffic_by_request_id(gw: Gateway, key: str) -> None:
    gw.api("POST", "/deployments/chat/canary", {"to": "sim/sim-smart-1", "percent": 50})
    settle(gw)
    split = Split("chat", candidate="sim/sim-smart-1", percent=50)
    ids = [
        ask(gw, key, "chat", f"question {i}").headers["x-steward-request-id"] for i in range(120)
    ]
    served = usage_by_request(gw, ids)
    expected = {rid: "sim-smart-1" if to_candidate(split, rid) else "sim-fast-1" for rid in ids}
    assert served == expected  # every request on the side its id hashes to
    share = sum(1 for m in served.values() if m == "sim-smart-1") / len(ids)
    assert 0.35 <= share <= 0.65, share
    status = gw.api("GET", "/deployments/chat")
    assert (status["candidate"], status["percent"]) == ("sim/sim-smart-1", 50)
    assert audits(gw, "deployment.canary")

    gw.api("POST", "/deployments/chat/rollback")
    settle(gw)
    assert {served_by(gw, key, "chat") for _ in range(10)} == {"sim-fast-1"}


@pytest.mark.timeout(300)
def test_promotion_is_gated_on_the_golden_dataset(gw: Gateway, key: str) -> None:
    refused = cli(
        gw, "deploy", "promote", "promo", "--to", "down/sim-down-1", "--dataset", str(DATASET)
    )
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "answered" in refused.stdout and "FAIL" in refused.stdout
    assert "promotion refused" in refused.stderr and "answered 0.0% < 90.0%" in refused.stderr
    denied = [a for a in audits(gw, "deployment.promote") if a.outcome == "denied"]
    assert denied and denied[0].target_id == "promo"
    assert served_by(gw, key, "promo") == "sim-promo-1"  # nothing changed

    ok = cli(
        gw,
        "deploy",
        "promote",
        "promo",
        "--to",
        "sim-smart-1",
        "--dataset",
        str(DATASET),
        "--threshold",
        "expected=1.0",
        "--min-items",
        "5",
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Promoted sim/sim-smart-1" in ok.stdout
    wait_for(gw, key, "promo", "sim-smart-1")

    status = cli(gw, "deploy", "status", "promo", "--json")
    assert '"primary": "sim/sim-smart-1"' in status.stdout
    back = cli(gw, "deploy", "rollback", "promo")
    assert back.returncode == 0, back.stderr
    wait_for(gw, key, "promo", "sim-promo-1")


def test_a_blocked_model_is_refused_or_skipped(gw: Gateway, key: str) -> None:
    gw.api(
        "PUT",
        "/catalogue/models/sim/sim-guarded-1/state",
        {"state": "blocked", "reason": "leaks data"},
    )
    wait_for(gw, key, "guarded", "sim-fast-1")  # skipped: its fallback serves

    gw.api("PUT", "/catalogue/models/sim/sim-alone-1/state", {"state": "blocked"})
    settle(gw)
    r = ask(gw, key, "alone")
    assert r.status_code == 403, r.text
    err = r.json()["error"]
    assert err["code"] == "model_not_approved"
    assert "sim/sim-alone-1 is blocked" in err["message"]

    gw.api("PUT", "/catalogue/models/guarded/state", {"state": "blocked", "reason": "retired"})
    settle(gw)
    r = ask(gw, key, "guarded")
    assert r.status_code == 403 and "is blocked in the model catalogue (retired)" in r.text
    assert gw.audit(r.headers["x-steward-request-id"]).action == "gateway.authorize"


def test_a_deprecated_model_is_served_with_a_warning(gw: Gateway, key: str) -> None:
    gw.api("PUT", "/catalogue/models/sim/sim-alone-1/state", {"state": "approved"})
    gw.api("PUT", "/catalogue/models/sim/sim-alone-1/state", {"state": "deprecated"})
    settle(gw)
    r = ask(gw, key, "alone")
    assert r.status_code == 200, r.text
    assert r.headers["x-steward-model-warning"] == "model sim/sim-alone-1 is deprecated"


@pytest.mark.timeout(300)
def test_bad_input_gets_clear_errors(gw: Gateway) -> None:
    def call(method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return gw.admin.request(method, f"{gw.url}/admin/v1{path}", json=body)

    r = call("POST", "/deployments/chat/canary", {"to": "sim/sim-smart-1", "percent": 150})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_percent"
    r = call("POST", "/deployments/nope/canary", {"to": "sim/sim-smart-1", "percent": 5})
    assert r.status_code == 404
    r = call("PUT", "/catalogue/models/chat/state", {"state": "retired"})
    assert r.status_code == 422 and "proposed, approved, deprecated, blocked" in r.text
    r = cli(gw, "deploy", "promote", "chat", "--to", "sim-smart-1", "--dataset", "/nonexistent")
    assert r.returncode == 1 and "cannot read dataset" in r.stderr


@pytest.mark.timeout(300)
def test_promotion_through_the_admin_api(gw: Gateway, key: str) -> None:
    items = [{"input": f"Explain topic number {i}", "expected": "topic"} for i in range(5)]
    r = gw.admin.post(
        f"{gw.url}/admin/v1/deployments/api/promote",
        json={"to": "down/sim-down-1", "items": items},
    )
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"]["code"] == "promotion_refused" and not body["promoted"]
    assert {m["name"] for m in body["evaluation"]["metrics"] if not m["passed"]} == {"answered"}
    assert body["evaluation"]["run_id"]

    r = gw.admin.post(
        f"{gw.url}/admin/v1/deployments/api/promote",
        json={
            "to": "sim/sim-smart-1",
            "items": items,
            "evaluators": ["answered", "expected"],
            "thresholds": {"expected": 1.0},
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["deployment"]["primary"] == "sim/sim-smart-1"
    wait_for(gw, key, "api", "sim-smart-1")
    runs = gw.admin.get(f"{gw.url}/admin/v1/deployments/api").json()["history"]
    assert runs[0]["action"] == "promote" and runs[0]["evaluation"]["passed"]


def test_models_see_only_the_data_classes_they_are_cleared_for(gw: Gateway, key: str) -> None:
    gw.api(
        "PUT",
        "/catalogue/models/sim/sim-cleared-1/data-classes",
        {"data_classes": ["public", "internal"]},
    )
    settle(gw)
    email = "write to alice.smith@example.com about the invoice"
    # the default guard profile logs e-mail addresses (pii): they would reach the model
    r = ask(gw, key, "cleared", email)
    assert r.status_code == 200, r.text
    assert gw.usage(r.headers["x-steward-request-id"]).upstream_model == "sim-fast-1"
    assert served_by(gw, key, "cleared") == "sim-cleared-1"  # no pii: the primary serves

    r = ask(gw, key, "cleared-alone", email)
    assert r.status_code == 403, r.text
    err = r.json()["error"]
    assert err["code"] == "data_class_not_cleared" and "pii" in err["message"]
