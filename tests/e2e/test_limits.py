"""Budgets and rate limits through real gateway processes: 200 concurrent requests against a
budget that allows 10, on one process and on two sharing Redis; rate limits across two
processes; every budget level binding a team member's key; 429 bodies; alerts once."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from steward.store.models import AuditEvent, UsageEvent
from tests._services import redis_url_or_skip
from tests.e2e._gateway import Gateway, gateway_config

# A simulated model priced so that one request below costs exactly 0.017 USD: the simulator
# counts input tokens with the gateway's own estimator and answers max_tokens=5 tokens, so the
# reservation (7 input x 1000 + 5 output x 2000 USD per million tokens) is the actual cost.
MODEL = "sim-budget"
MODELS = [
    *gateway_config("", "")["models"],
    {
        "name": MODEL,
        "provider": "sim",
        "upstream_model": "sim-budget-1",
        "price": {"input_per_mtok": 1000, "output_per_mtok": 2000},
    },
]
BODY = {"model": MODEL, "messages": [{"role": "user", "content": "hello"}], "max_tokens": 5}
COST = Decimal("0.017")

MakeGateway = Callable[..., Gateway]


def post(url: str, key: str, body: dict[str, Any] | None = None) -> httpx.Response:
    with httpx.Client(timeout=30) as c:
        return c.post(
            f"{url}/v1/chat/completions",
            headers={"authorization": f"Bearer {key}"},
            json=body or BODY,
        )


def storm(targets: list[tuple[str, str]], n: int, threads: int = 50) -> list[httpx.Response]:
    """n requests at once, spread over (gateway url, key) pairs."""
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda i: post(*targets[i % len(targets)]), range(n)))


def redis_settings() -> dict[str, Any]:
    return {"redis_prefix": f"steward-e2e:{uuid.uuid4().hex[:10]}:"}


def settle_snapshot() -> None:
    time.sleep(0.8)  # server.state_poll_ms is 200 in these gateways


def audit_count(gw: Gateway, action: str, target_id: str) -> int:
    with gw._sessions() as s:
        stmt = select(func.count()).where(
            AuditEvent.action == action, AuditEvent.target_id == target_id
        )
        return int(s.scalar(stmt) or 0)


def wait_for(check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def check_refusals(responses: list[httpx.Response], budget: str) -> int:
    """Every response is a 200 or a 429 that names the budget and its reset; count the 200s."""
    ok = 0
    for r in responses:
        if r.status_code == 200:
            ok += 1
            continue
        assert r.status_code == 429, r.text
        err = r.json()["error"]
        assert err["code"] == "budget_exceeded"
        assert f"budget '{budget}'" in err["message"] and "resets at 20" in err["message"]
        assert int(r.headers["retry-after"]) >= 1
    return ok


def spent(gw: Gateway, team_id: str) -> Decimal:
    with gw._sessions() as s:
        stmt = select(func.sum(UsageEvent.cost_usd)).where(
            UsageEvent.team_id == team_id, UsageEvent.status == 200
        )
        return Decimal(str(s.scalar(stmt) or 0))


def test_200_concurrent_requests_against_a_budget_of_10(make_gateway: MakeGateway) -> None:
    gw = make_gateway(models=MODELS).start()
    key, org, _ = gw.user_key()
    team_id = gw.api("GET", f"/teams/{org['team']}")["id"]
    budget = gw.api(
        "POST",
        "/budgets",
        {"scope": "team", "target": org["team"], "amount_usd": str(10 * COST), "name": "ten"},
    )
    settle_snapshot()
    ok = check_refusals(storm([(gw.url, key)], 200), "ten")
    assert ok == 10
    wait_for(lambda: spent(gw, team_id) == 10 * COST)
    # alerts: each threshold once, and the first refusal of the period once
    for action, n in (("budget.threshold", 3), ("budget.exhausted", 1)):
        wait_for(lambda a=action, n=n: audit_count(gw, a, budget["id"]) == n)  # type: ignore[misc]
    shown = gw.api("GET", "/budgets/ten")
    assert Decimal(str(shown["spent_usd"])) == 10 * COST
    # the key reads the live state of the budgets that bind it
    mine = httpx.get(f"{gw.url}/v1/usage/self", headers={"authorization": f"Bearer {key}"})
    (status,) = [b for b in mine.json()["budgets"] if b["name"] == "ten"]
    assert Decimal(str(status["spent_usd"])) == 10 * COST and status["remaining_usd"] == 0
    assert status["resets_at"].endswith("T00:00:00Z") and status["amount_usd"] == 0.17


@pytest.mark.redis
def test_two_processes_sharing_redis_hold_one_budget(make_gateway: MakeGateway) -> None:
    redis = redis_url_or_skip()
    budgets = redis_settings()
    gw1 = make_gateway(name="gw1", models=MODELS, redis_url=redis, budgets=budgets).start()
    gw2 = make_gateway(name="gw2", models=MODELS, redis_url=redis, budgets=budgets).start()
    key, org, _ = gw1.user_key()
    gw2.wait_usable(key)
    team_id = gw1.api("GET", f"/teams/{org['team']}")["id"]
    budget = gw1.api(
        "POST",
        "/budgets",
        {"scope": "team", "target": org["team"], "amount_usd": str(10 * COST), "name": "shared"},
    )
    settle_snapshot()
    responses = storm([(gw1.url, key), (gw2.url, key)], 200)
    assert check_refusals(responses, "shared") == 10
    wait_for(lambda: spent(gw1, team_id) == 10 * COST)
    for action, n in (("budget.threshold", 3), ("budget.exhausted", 1)):
        wait_for(lambda a=action, n=n: audit_count(gw1, a, budget["id"]) == n)  # type: ignore[misc]
    time.sleep(0.5)  # no late duplicates from the other process
    assert audit_count(gw1, "budget.threshold", budget["id"]) == 3
    assert audit_count(gw1, "budget.exhausted", budget["id"]) == 1


def _quiet_minute() -> None:
    """Start a rate-limit test early in a minute, so the whole burst falls in one window."""
    into = time.time() % 60
    if into > 45:
        time.sleep(61 - into)


@pytest.mark.redis
def test_a_rate_limit_holds_across_two_processes(make_gateway: MakeGateway) -> None:
    redis = redis_url_or_skip()
    common: dict[str, Any] = {
        "models": MODELS,
        "redis_url": redis,
        "budgets": redis_settings(),
        "rate_limits": [{"scope": "key", "rpm": 20, "tpm": 1_000_000}],
    }
    gw1 = make_gateway(name="gw1", **common).start()
    gw2 = make_gateway(name="gw2", **common).start()
    key, _, _ = gw1.user_key(wait=False)
    gw1.wait_usable(key)
    gw2.wait_usable(key)
    _quiet_minute()
    responses = storm([(gw1.url, key), (gw2.url, key)], 60, threads=20)
    assert sum(r.status_code == 200 for r in responses) == 20
    for r in responses:
        assert r.headers["x-ratelimit-limit-requests"] == "20"
        assert int(r.headers["x-ratelimit-remaining-requests"]) >= 0
        assert r.headers["x-ratelimit-limit-tokens"] == "1000000"
        assert "x-ratelimit-reset-requests" in r.headers and "x-ratelimit-reset-tokens" in r.headers
        if r.status_code == 429:
            err = r.json()["error"]
            assert err["code"] == "rate_limit_exceeded"
            assert "20 requests per minute" in err["message"]
            assert int(r.headers["retry-after"]) >= 1


def test_every_level_binds_a_team_members_key(make_gateway: MakeGateway) -> None:
    """Key, user, team and organisation budgets each stop the key once theirs is spent."""
    gw = make_gateway(models=MODELS).start()
    org = gw.org()
    other_team = gw.org()
    first = gw.key(user=org["user"], team=org["team"])
    for scope, target, n in (
        ("key", first["api_key"]["id"], 2),
        ("user", org["user"], 3),
        ("team", org["team"], 4),
        ("org", None, 5),
    ):
        gw.api(
            "POST",
            "/budgets",
            {"scope": scope, "target": target, "amount_usd": str(n * COST), "name": f"b-{scope}"},
        )
    settle_snapshot()

    def spend_until_refused(key: str) -> tuple[int, str]:
        for n in range(10):
            r = post(gw.url, key)
            if r.status_code == 429:
                return n, r.json()["error"]["message"]
            assert r.status_code == 200, r.text
        raise AssertionError("never refused")

    # the first key: 2 requests (its own budget)
    n, message = spend_until_refused(first["key"])
    assert n == 2 and "budget 'b-key' (key " in message
    # another key of the same user: 1 more (the user's budget of 3)
    n, message = spend_until_refused(gw.key(user=org["user"], team=org["team"])["key"])
    assert n == 1 and f"budget 'b-user' (user {org['user']}" in message
    # a team mate: 1 more (the team's budget of 4); streamed, so streams are counted too
    gw.api("POST", "/users", {"name": f"mate-{org['team']}", "teams": [org["team"]]})
    mate = gw.key(user=f"mate-{org['team']}", team=org["team"])["key"]
    with httpx.Client(timeout=30) as c:
        stream = c.post(
            f"{gw.url}/v1/chat/completions",
            headers={"authorization": f"Bearer {mate}"},
            json={**BODY, "stream": True, "stream_options": {"include_usage": True}},
        )
    assert stream.status_code == 200 and "[DONE]" in stream.text
    n, message = spend_until_refused(mate)
    assert n == 0 and f"budget 'b-team' (team {org['team']}" in message
    # someone in another team: 1 more (the organisation's budget of 5)
    n, message = spend_until_refused(
        gw.key(user=other_team["user"], team=other_team["team"])["key"]
    )
    assert n == 1 and "budget 'b-org' (the organisation" in message
