"""Cost attribution end to end: requests from two teams and apps through the real gateway
(OpenAI and Anthropic SDKs, plain and streamed, with end users and tags), then the admin API
report, the chargeback, the `steward usage` CLI and `GET /v1/usage/self` must attribute every
request and every cent to the right team, user, app, key, model, provider, upstream model, end
user and tag. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import anthropic
import httpx
import openai
import pytest

from steward.store.models import UsageEvent
from tests.e2e._gateway import Gateway

# dimension -> the usage_events column whose value the report's `ids` carry
DIMENSIONS: dict[str, Callable[[UsageEvent], str | None]] = {
    "team": lambda e: e.team_id,
    "user": lambda e: e.user_id,
    "app": lambda e: e.app_id,
    "key": lambda e: e.key_id,
    "model": lambda e: e.model,
    "provider": lambda e: e.provider,
    "upstream_model": lambda e: e.upstream_model,
    "end_user": lambda e: e.end_user,
    "tag:project": lambda e: (e.tags or {}).get("project"),
}


class Traffic:
    """Two teams' requests through the gateway and the usage events they produced."""

    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.key_a, self.org_a, self.created_a = gw.user_key()
        self.org_b = gw.org()
        created_b = gw.key(app=self.org_b["app"], team=self.org_b["team"])
        self.key_b, self.created_b = created_b["key"], created_b
        self.request_ids: list[str] = []

    def openai(self, key: str, end_user: str | None, tags: str | None) -> openai.OpenAI:
        headers = {}
        if end_user:
            headers["x-steward-end-user"] = end_user
        if tags:
            headers["x-steward-tags"] = tags
        return openai.OpenAI(
            base_url=self.gw.url + "/v1", api_key=key, max_retries=0, default_headers=headers
        )

    def anthropic(self, key: str, end_user: str, tags: str) -> anthropic.Anthropic:
        headers = {"x-steward-end-user": end_user, "x-steward-tags": tags}
        return anthropic.Anthropic(
            base_url=self.gw.url, api_key=key, max_retries=0, default_headers=headers
        )

    def send(self) -> None:
        msgs: Any = [{"role": "user", "content": "How much does this cost?"}]
        a = self.openai(self.key_a, "cust-1", "project=atlas,env=prod")
        raw = a.chat.completions.with_raw_response.create(model="gpt-test", messages=msgs)
        self.request_ids.append(raw.headers["x-steward-request-id"])
        stream = self.openai(self.key_a, "cust-2", "project=atlas")
        raw_stream = stream.chat.completions.with_raw_response.create(
            model="gpt-test", messages=msgs, stream=True
        )
        assert list(raw_stream.parse())
        self.request_ids.append(raw_stream.headers["x-steward-request-id"])
        plain = self.openai(self.key_a, None, None)
        raw = plain.chat.completions.with_raw_response.create(model="unpriced", messages=msgs)
        self.request_ids.append(raw.headers["x-steward-request-id"])

        b = self.anthropic(self.key_b, "cust-1", "project=zeus")
        raw_msg = b.messages.with_raw_response.create(
            model="claude-test", max_tokens=64, messages=msgs
        )
        self.request_ids.append(raw_msg.headers["x-steward-request-id"])
        with b.messages.stream(model="claude-test", max_tokens=64, messages=msgs) as s:
            s.get_final_message()
            self.request_ids.append(s.response.headers["x-steward-request-id"])
        with pytest.raises(openai.BadRequestError) as refused:
            self.openai(self.key_b, "cust-3", None).chat.completions.create(
                model="refused", messages=msgs
            )
        assert refused.value.response is not None
        self.request_ids.append(refused.value.response.headers["x-steward-request-id"])

    def events(self) -> list[UsageEvent]:
        return [self.gw.usage(rid) for rid in self.request_ids]


@pytest.fixture(scope="module")
def traffic(gw: Gateway) -> Traffic:
    t = Traffic(gw)
    t.send()
    evs = t.events()  # every event shipped (rollups are written in the same transaction)
    assert len(evs) == 6
    return t


def teams_filter(t: Traffic) -> list[tuple[str, str]]:
    return [("filter", f"team={t.org_a['team']}"), ("filter", f"team={t.org_b['team']}")]


def admin_report(gw: Gateway, params: list[tuple[str, str]]) -> list[dict[str, Any]]:
    r = gw.admin.get(f"{gw.url}/admin/v1/usage/report", params=params)
    assert r.status_code == 200, r.text
    rows: list[dict[str, Any]] = r.json()["rows"]
    return rows


def expected(events: list[UsageEvent], dim: str) -> dict[str | None, dict[str, Any]]:
    out: dict[str | None, dict[str, Any]] = defaultdict(
        lambda: {"requests": 0, "cost": Decimal(0), "input_tokens": 0, "unpriced": 0}
    )
    for e in events:
        g = out[DIMENSIONS[dim](e) or None]
        g["requests"] += 1
        g["cost"] += e.cost_usd or Decimal(0)
        g["input_tokens"] += e.input_tokens
        g["unpriced"] += int(e.cost_usd is None and e.status < 400)
    return dict(out)


def test_the_traffic_is_what_the_report_must_attribute(traffic: Traffic) -> None:
    evs = traffic.events()
    streamed = [e for e in evs if e.stream]
    assert len(streamed) == 2 and all(e.cost_usd and e.cost_usd > 0 for e in streamed)
    assert {e.provider for e in evs} == {"up-openai", "up-anthropic"}
    assert sum(1 for e in evs if e.cost_usd is None and e.status < 400) == 1  # 'unpriced'
    assert sum(1 for e in evs if e.status >= 400) == 1  # 'refused'


@pytest.mark.parametrize("dim", sorted(DIMENSIONS))
def test_admin_report_attributes_every_dimension(gw: Gateway, traffic: Traffic, dim: str) -> None:
    rows = admin_report(gw, [("by", dim), ("since", "1d"), *teams_filter(traffic)])
    got = {
        r["ids"][dim]: {
            "requests": r["requests"],
            "cost": r["cost_usd"],
            "input_tokens": r["input_tokens"],
            "unpriced": r["unpriced_requests"],
        }
        for r in rows
    }
    want = expected(traffic.events(), dim)
    assert set(got) == set(want)
    for value, w in want.items():
        g = got[value]
        assert (g["requests"], g["input_tokens"], g["unpriced"]) == (
            w["requests"],
            w["input_tokens"],
            w["unpriced"],
        ), (dim, value)
        assert g["cost"] == pytest.approx(float(w["cost"]), abs=1e-9), (dim, value)


def test_names_are_resolved(gw: Gateway, traffic: Traffic) -> None:
    rows = admin_report(gw, [("by", "team,app,user,key"), ("since", "1d"), *teams_filter(traffic)])
    labels = {tuple(r["group"].values()) for r in rows}
    a, b = traffic.org_a, traffic.org_b
    assert labels == {
        (a["team"], a["app"], a["user"], traffic.created_a["api_key"]["prefix"]),
        (b["team"], b["app"], "(none)", traffic.created_b["api_key"]["prefix"]),
    }


def test_chargeback(gw: Gateway, traffic: Traffic) -> None:
    month = datetime.now(UTC).strftime("%Y-%m")
    r = gw.admin.get(
        f"{gw.url}/admin/v1/usage/chargeback",
        params=[("month", month), ("by", "team"), *teams_filter(traffic)],
    )
    assert r.status_code == 200, r.text
    lines = [line.split(",") for line in r.text.splitlines()[1:]]
    evs = traffic.events()
    by_team = {e.team_id: e for e in evs}
    names = {traffic.gw.api("GET", f"/teams/{tid}")["name"]: tid for tid in by_team}
    charges = {ln[2]: ln for ln in lines if ln[1] == "charge"}
    for name, tid in names.items():
        cost = sum((e.cost_usd or Decimal(0) for e in evs if e.team_id == tid), Decimal(0))
        assert Decimal(charges[name][6]) == cost
    unpriced = [ln for ln in lines if ln[1] == "unpriced"]
    assert [(ln[2], ln[3], ln[6]) for ln in unpriced] == [(traffic.org_a["team"], "1", "")]


def test_cli_prints_the_same_figures(gw: Gateway, traffic: Traffic) -> None:
    args = ["--by", "team,model", "--since", "1d", "--format", "json"]
    for ref in (traffic.org_a["team"], traffic.org_b["team"]):
        args += ["--filter", f"team={ref}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEWARD_")}
    out = subprocess.run(
        [sys.executable, "-m", "steward", "usage", *args, "--config", str(gw.config_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    cli = {(r["ids"]["team"], r["ids"]["model"]): r for r in json.loads(out.stdout)}
    api = admin_report(gw, [("by", "team,model"), ("since", "1d"), *teams_filter(traffic)])
    assert set(cli) == {(r["ids"]["team"], r["ids"]["model"]) for r in api}
    for r in api:
        c = cli[(r["ids"]["team"], r["ids"]["model"])]
        assert (c["requests"], c["cost_usd"], c["output_tokens"]) == (
            r["requests"],
            r["cost_usd"],
            r["output_tokens"],
        )


def test_a_key_reads_its_own_usage(gw: Gateway, traffic: Traffic) -> None:
    r = httpx.get(f"{gw.url}/v1/usage/self", headers={"authorization": f"Bearer {traffic.key_a}"})
    assert r.status_code == 200, r.text
    assert r.headers["x-steward-request-id"]
    body = r.json()
    mine = [e for e in traffic.events() if e.key_id == traffic.created_a["api_key"]["id"]]
    assert body["key"] == {
        "id": traffic.created_a["api_key"]["id"],
        "prefix": traffic.created_a["api_key"]["prefix"],
    }
    assert body["month"]["requests"] == len(mine) == 3
    assert body["month"]["cost_usd"] == pytest.approx(
        float(sum((e.cost_usd or Decimal(0) for e in mine), Decimal(0))), abs=1e-9
    )
    assert body["month"]["unpriced_requests"] == 1
    assert body["today"]["requests"] == 3  # unless the test straddles midnight UTC
    assert isinstance(body["budgets"], list)
    anthropic_style = httpx.get(f"{gw.url}/v1/usage/self", headers={"x-api-key": traffic.key_b})
    assert anthropic_style.json()["month"]["requests"] == 3

    anonymous = httpx.get(f"{gw.url}/v1/usage/self")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "missing_api_key"
    post = httpx.post(
        f"{gw.url}/v1/usage/self", headers={"authorization": f"Bearer {traffic.key_a}"}
    )
    assert post.status_code == 405
