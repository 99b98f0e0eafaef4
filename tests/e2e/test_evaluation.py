"""Continuous evaluation end to end: a real gateway samples one app's requests at 100% (made
with the openai SDK, streamed and not), the samples reach the store redacted, `steward eval
worker` turns them into records (the LLM judge called through the gateway itself, its cost
attributed to the steward-evals app), the admin API serves them, and `steward eval run` scores
a golden dataset directly and through the gateway."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
import pytest
from sqlalchemy import func, select

from steward.store.db import make_engine, session_factory
from steward.store.models import UsageEvent
from steward.store.models_evals import EvalRecord, EvalSample
from tests.e2e._gateway import Gateway

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "data" / "evals" / "golden.jsonl"
TAG = uuid.uuid4().hex[:8]
APP = f"evaluated-{TAG}"
JUDGE_APP = "steward-evals"
pytestmark = pytest.mark.timeout(600)  # gateway starts and CLI runs on a shared, busy machine


def steward(
    gw: Gateway, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "STEWARD_DATA_DIR": str(gw.tmp / "cli"), **(env or {})}
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "steward", *args, "--config", str(gw.config_path)],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def wait_for(check: Callable[[], bool], what: str, timeout_s: float = 45.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def provision(gw: Gateway, app: str) -> tuple[str, str]:
    team = f"team-{uuid.uuid4().hex[:8]}"
    gw.api("POST", "/teams", {"name": team})
    created = gw.api("POST", "/apps", {"name": app, "team": team})
    return gw.key(app=app, team=team)["key"], created["id"]


@pytest.fixture
def gateway(make_gateway: Callable[..., Gateway], monkeypatch: pytest.MonkeyPatch) -> Gateway:
    monkeypatch.setenv("E2E_JUDGE_KEY", "not-yet")  # the gateway never calls the judge itself
    g = make_gateway(
        evaluation={
            "sampling": {"apps": {APP: 1.0}},
            "judge": {"model": "sim-fast", "api_key": "${E2E_JUDGE_KEY}"},
            "evaluators": [
                {"name": "refusal", "kind": "refusal"},
                {"name": "empty", "kind": "empty"},
                {"name": "truncated", "kind": "truncated"},
                {"name": "json", "kind": "json"},
                {"name": "pii-in-answers", "kind": "guard_findings"},
                {"name": "slow", "kind": "latency", "threshold": 30000},
                {"name": "helpful", "kind": "judge", "rubric": "helpfulness"},
            ],
        }
    )
    # the judge goes through this very gateway: its URL is known once the port is
    cfg = json.loads(json.dumps(__import__("yaml").safe_load(g.config_path.read_text())))
    cfg["evaluation"]["judge"]["base_url"] = g.url
    g.config_path.write_text(__import__("yaml").safe_dump(cfg))
    g.proc.start(timeout_s=180)  # generous: the machine is shared and may be busy
    return g


def test_live_sampling_worker_and_records(gateway: Gateway) -> None:
    gw = gateway
    key, app_id = provision(gw, APP)
    other_key, _ = provision(gw, f"unsampled-{TAG}")
    judge_key, judge_app_id = provision(gw, JUDGE_APP)
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0)
    ids = []
    for q in ("How do I plan a project?", "Write to jane.doe@example.com about the invoice."):
        raw = client.chat.completions.with_raw_response.create(
            model="sim-fast", messages=[{"role": "user", "content": q}]
        )
        ids.append(raw.headers["x-steward-request-id"])
    raw_json = client.chat.completions.with_raw_response.create(
        model="sim-fast",
        messages=[{"role": "user", "content": "Give a city as JSON"}],
        response_format={"type": "json_object"},
    )
    ids.append(raw_json.headers["x-steward-request-id"])
    with client.chat.completions.with_streaming_response.create(
        model="sim-fast", messages=[{"role": "user", "content": "Tell me a story"}], stream=True
    ) as stream:
        streamed = "".join(
            json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
            for line in stream.iter_lines()
            if line.startswith("data: {") and json.loads(line[6:])["choices"]
        )
        ids.append(stream.headers["x-steward-request-id"])
    openai.OpenAI(base_url=gw.url + "/v1", api_key=other_key).chat.completions.create(
        model="sim-fast", messages=[{"role": "user", "content": "not sampled"}]
    )

    engine = make_engine(gw.database_url)
    sessions = session_factory(engine)

    def samples() -> list[EvalSample]:
        with sessions() as s:
            return list(s.scalars(select(EvalSample)))

    wait_for(lambda: len(samples()) >= 4, "four samples in the store")
    rows = {r.request_id: r for r in samples()}
    assert set(rows) == set(ids)  # the other app's request was not sampled
    assert all(r.app_id == app_id and r.model == "sim-fast" for r in rows.values())
    pii = rows[ids[1]]
    assert "jane.doe@example.com" not in json.dumps(pii.messages) + pii.answer
    assert "[EMAIL_ADDRESS]" in pii.messages[0]["content"]
    assert rows[ids[2]].response_format == {"type": "json_object"}
    assert rows[ids[3]].stream and rows[ids[3]].answer == streamed and streamed

    done = steward(gw, "eval", "worker", "--once", env={"E2E_JUDGE_KEY": judge_key})
    assert done.returncode == 0, done.stderr
    with sessions() as s:
        recs = list(s.scalars(select(EvalRecord)))
        judge_usage = s.scalar(
            select(func.count()).select_from(UsageEvent).where(UsageEvent.app_id == judge_app_id)
        )
    by_request: dict[str, dict[str, EvalRecord]] = {}
    for r in recs:
        by_request.setdefault(r.request_id or "", {})[r.name] = r
    assert set(by_request) == set(ids)
    for rid in ids:
        names = set(by_request[rid])
        assert {"refusal", "empty", "truncated", "pii-in-answers", "slow", "helpful"} <= names
        assert by_request[rid]["refusal"].score_label == "pass"
        assert by_request[rid]["helpful"].score_label in ("pass", "fail")  # scored, not error
    assert "json" in by_request[ids[2]] and "json" not in by_request[ids[0]]
    assert by_request[ids[2]]["json"].score_label == "pass"
    assert judge_usage == len(ids)  # one judge call per sample, billed to steward-evals
    with sessions() as s:
        assert (
            s.scalar(
                select(func.count())
                .select_from(EvalSample)
                .where(EvalSample.evaluated_at.is_(None))
            )
            == 0
        )
    engine.dispose()

    listed = gw.api("GET", f"/evaluations/records?app={APP}&name=refusal")["records"]
    assert {r["request_id"] for r in listed} == set(ids)
    assert listed[0]["score"]["label"] == "pass" and listed[0]["response_id"]
    r = gw.admin.get(f"{gw.url}/admin/v1/evaluations/records?app=nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_eval_run_direct_and_through_gateway(gateway: Gateway) -> None:
    gw = gateway
    key, app_id = provision(gw, f"runner-{TAG}")
    direct = steward(
        gw,
        "eval",
        "run",
        "--dataset",
        str(GOLDEN),
        "--model",
        "sim-fast",
        "--evaluators",
        "refusal,json,language",
        "--json",
    )
    assert direct.returncode == 0, direct.stderr
    a: dict[str, Any] = json.loads(direct.stdout[direct.stdout.index("{") :])
    assert a["items"] == 5 and a["errors"] == 0
    assert a["metrics"]["refusal"]["pass_rate"] == 1.0
    via = steward(
        gw,
        "eval",
        "run",
        "-d",
        str(GOLDEN),
        "-m",
        "sim-fast",
        "-e",
        "refusal",
        "--gateway",
        gw.url,
        "--key",
        key,
        "--json",
    )
    assert via.returncode == 0, via.stderr
    b = json.loads(via.stdout[via.stdout.index("{") :])
    assert gw.api("GET", f"/evaluations/runs/{b['run_id']}")["target"] == "gateway"
    engine = make_engine(gw.database_url)
    with session_factory(engine)() as s:
        used = s.scalar(
            select(func.count()).select_from(UsageEvent).where(UsageEvent.app_id == app_id)
        )
    engine.dispose()
    assert used == 5  # the gateway run's requests are billed to the key's app
    cmp = gw.api("GET", f"/evaluations/runs/{a['run_id']}/compare/{b['run_id']}")
    assert {m["name"]: m["pass_rate_delta"] for m in cmp["metrics"]}["refusal"] == 0.0
    shown = steward(gw, "eval", "compare", a["run_id"], b["run_id"])
    assert shown.returncode == 0 and "refusal" in shown.stdout
    gate = steward(
        gw,
        "eval",
        "run",
        "-d",
        str(GOLDEN),
        "-m",
        "sim-fast",
        "-e",
        "language",
        "--min-pass-rate",
        "0.99",
    )
    assert gate.returncode == 3 and "language" in gate.stderr
    bad = steward(gw, "eval", "run", "-d", str(GOLDEN), "-m", "no-such-model")
    assert bad.returncode == 1 and "not configured" in bad.stderr


def test_worker_inside_the_gateway(make_gateway: Callable[..., Gateway]) -> None:
    """With `evaluation.worker.in_process`, `steward serve` evaluates its own samples."""
    gw = make_gateway(
        name="inproc",
        evaluation={
            "sampling": {"default_rate": 1.0},
            "worker": {"in_process": True, "interval_s": 0.2},
        },
    )
    gw.proc.start(timeout_s=180)
    key, _ = provision(gw, f"inproc-{TAG}")
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="sim-fast", messages=[{"role": "user", "content": "How do I plan a project?"}]
    )
    rid = raw.headers["x-steward-request-id"]

    def labelled() -> list[dict[str, Any]]:
        return gw.api("GET", f"/evaluations/records?request_id={rid}")["records"]

    wait_for(lambda: len(labelled()) >= 4, "records made by the in-process worker", 60.0)
    names = {r["name"] for r in labelled()}
    assert {"refusal", "empty", "truncated", "guard_findings"} <= names
