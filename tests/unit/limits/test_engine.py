"""The limit engine on a real store: which budgets and limits apply, the reservation's maximum
cost, settlement, refusals and their messages, alerts, seeding from the ledger, and Redis
outages in both modes."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from steward.gateway.errors import GatewayError
from steward.usage.budgets.periods import calendar_bounds, iso
from steward.usage.limits.plan import input_tokens
from tests._services import redis_url_or_skip
from tests.fakes.tcp_proxy import TcpProxy

IN, OUT = 1000, 2000  # nano-USD per token of the model "priced"


def usd(nano: int) -> str:
    return str(nano / 1e9)


def body(max_tokens: int | None = None, text: str = "hi there") -> dict[str, Any]:
    b: dict[str, Any] = {"model": "priced", "messages": [{"role": "user", "content": text}]}
    if max_tokens is not None:
        b["max_tokens"] = max_tokens
    return b


async def test_every_level_that_applies_binds_a_team_members_key(harness: Any) -> None:
    h = harness
    for scope, target in (
        ("key", h.user_key.id),
        ("user", "ann"),
        ("team", "support"),
        ("app", "helpdesk"),
        ("org", None),
    ):
        h.budgets.create_budget(scope, target, "10", name=f"b-{scope}")
    h.budgets.create_budget("agent", "triage", "10", name="b-agent")
    h.budgets.create_budget("team", "support", "10", model="elsewhere", name="b-other-model")
    h.budgets.create_budget("org", None, "10", provider="other", name="b-other-provider")
    limits = h.build()
    names = {b.name for b in limits.plan(h.ctx(h.user_key.id)).budgets}
    assert names == {"b-key", "b-user", "b-team", "b-app", "b-org"}
    names = {b.name for b in limits.plan(h.ctx(h.other_key.id, "elsewhere")).budgets}
    assert names == {"b-user", "b-team", "b-org", "b-other-model", "b-other-provider"}
    names = {b.name for b in limits.plan(h.ctx(h.agent_key.id)).budgets}
    assert names == {"b-agent", "b-team", "b-org"}  # the agent's key is billed to its team


async def test_the_reservation_is_the_maximum_cost(harness: Any) -> None:
    h = harness
    h.budgets.create_budget("team", "support", "10")
    limits = h.build()
    ctx = h.ctx(h.user_key.id, body=body(max_tokens=100))
    res = await limits.reserve(ctx)
    assert res is not None
    assert res.cost == input_tokens(ctx) * IN + 100 * OUT
    ctx = h.ctx(h.user_key.id, body={**body(), "max_completion_tokens": 7})
    assert (await limits.reserve(ctx)).cost == input_tokens(ctx) * IN + 7 * OUT  # type: ignore[union-attr]
    ctx = h.ctx(h.user_key.id, body=body())
    assert (await limits.reserve(ctx)).cost == input_tokens(ctx) * IN + 4096 * OUT  # type: ignore[union-attr]
    limits = h.build(default_max_output_tokens=10)
    ctx = h.ctx(h.user_key.id, body=body())
    assert (await limits.reserve(ctx)).cost == input_tokens(ctx) * IN + 10 * OUT  # type: ignore[union-attr]
    ctx = h.ctx(h.user_key.id, "emb", {"model": "emb", "input": "hello world"}, "embeddings")
    assert (await limits.reserve(ctx)).cost == input_tokens(ctx) * IN  # type: ignore[union-attr]


async def test_an_unpriced_model_reserves_nothing(harness: Any) -> None:
    h = harness
    h.budgets.create_budget("team", "support", "10")
    limits = h.build()
    res = await limits.reserve(h.ctx(h.user_key.id, "free", {"model": "free", "messages": []}))
    assert res is not None and res.cost == 0


async def test_settlement_charges_the_actual_cost(harness: Any) -> None:
    h = harness
    h.budgets.create_budget("team", "support", "10", name="team")
    limits = h.build()
    ctx = h.ctx(h.user_key.id, body=body(max_tokens=100))
    res = await limits.reserve(ctx)
    h.served(ctx, 10, 5)
    await limits.settle(ctx, res)  # type: ignore[arg-type]
    failed = h.ctx(h.user_key.id, body=body(max_tokens=100))
    res = await limits.reserve(failed)
    failed.error = GatewayError(400, "blocked by the guard")  # never reached the upstream
    await limits.settle(failed, res)  # type: ignore[arg-type]
    (status,) = await limits.budget_status(h.principal(h.user_key.id))
    assert status["spent_usd"] == pytest.approx((10 * IN + 5 * OUT) / 1e9)
    assert status["reserved_usd"] == 0
    assert status["remaining_usd"] == pytest.approx(10 - (10 * IN + 5 * OUT) / 1e9)
    start, end = calendar_bounds("month", h.clock())
    assert status["resets_at"] == iso(end) and status["period_start"] == iso(start)


async def test_over_budget_is_refused_with_the_budget_and_its_reset(harness: Any) -> None:
    h = harness
    h.budgets.create_budget("team", "support", "0.001", name="support-monthly", alerts=[50, 100])
    limits = h.build()
    ctx = h.ctx(h.user_key.id, body=body(max_tokens=400))
    res = await limits.reserve(ctx)
    h.served(ctx, 50, 400)  # 850000 nano-USD
    await limits.settle(ctx, res)  # type: ignore[arg-type]
    refused = h.ctx(h.user_key.id, body=body(max_tokens=400))
    with pytest.raises(GatewayError) as caught:
        await limits.reserve(refused)
    err = caught.value
    _, end = calendar_bounds("month", h.clock())
    assert (err.status, err.code) == (429, "budget_exceeded")
    assert "budget 'support-monthly' (team support, 0.001 USD a month)" in err.message
    assert f"resets at {iso(end)}" in err.message
    assert int(err.headers["retry-after"]) == pytest.approx(end - h.clock(), abs=1)
    # the first refusal of the period is an audit event and a notification; later ones are not
    with pytest.raises(GatewayError):
        await limits.reserve(h.ctx(h.user_key.id, body=body(max_tokens=400)))
    assert [e["row"]["action"] for e in refused.extra_events] == ["budget.exhausted"]
    assert [n for n, _ in h.hooks.notified] == ["budget.threshold", "budget.exhausted"]


async def test_thresholds_alert_once_each(harness: Any) -> None:
    h = harness
    h.budgets.create_budget("user", "ann", "0.0001", alerts=[50, 80, 100], hard=False)
    limits = h.build()
    actions, percents = [], []
    for _ in range(12):
        ctx = h.ctx(h.user_key.id, body=body(max_tokens=5))
        res = await limits.reserve(ctx)
        h.served(ctx, 0, 5)  # 10000 nano-USD: a tenth of the budget
        await limits.settle(ctx, res)  # type: ignore[arg-type]
        actions += [e["row"]["action"] for e in ctx.extra_events]
        percents += [e["row"]["details"]["percent"] for e in ctx.extra_events]
    assert actions == ["budget.threshold"] * 3 and percents == [50, 80, 100]
    assert [p["percent"] for _, p in h.hooks.notified] == [50, 80, 100]


async def test_a_fresh_process_counts_the_ledgers_spend(harness: Any) -> None:
    h = harness
    team_id = h.identity.get_team("support").id
    start, _ = calendar_bounds("month", h.clock())
    h.ledger("0.0006", start + 10, team_id=team_id)
    h.ledger("0.5", start - 10, team_id=team_id)  # last month
    h.ledger("0.5", start + 10, team_id="team_other")
    h.budgets.create_budget("team", "support", "0.001", alerts=[50, 100])
    limits = h.build()
    await limits.start()
    (status,) = await limits.budget_status(h.principal(h.user_key.id))
    assert status["spent_usd"] == pytest.approx(0.0006)
    with pytest.raises(GatewayError):  # 0.0006 + 50 tokens in + 200 out > 0.001
        await limits.reserve(h.ctx(h.user_key.id, body=body(max_tokens=200)))
    ctx = h.ctx(h.user_key.id, body=body(max_tokens=100))
    res = await limits.reserve(ctx)
    h.served(ctx, 0, 50)
    await limits.settle(ctx, res)  # type: ignore[arg-type]
    assert ctx.extra_events == []  # 50% was passed before this process: no second alert


async def test_rate_limits_refuse_and_set_headers(harness: Any) -> None:
    h = harness
    limits = h.build(config={"rate_limits": [{"scope": "team", "rpm": 2, "tpm": 1000}]})
    for _ in range(2):
        ctx = h.ctx(h.user_key.id)
        await limits.reserve(ctx)
    headers = dict(ctx.response_headers)
    assert headers[b"x-ratelimit-limit-requests"] == b"2"
    assert headers[b"x-ratelimit-remaining-requests"] == b"0"
    assert headers[b"x-ratelimit-limit-tokens"] == b"1000"
    ctx = h.ctx(h.other_key.id)  # another key of the same team shares the team's limit
    with pytest.raises(GatewayError) as caught:
        await limits.reserve(ctx)
    assert (caught.value.status, caught.value.code) == (429, "rate_limit_exceeded")
    assert "team support may use 2 requests per minute" in caught.value.message
    assert 1 <= int(caught.value.headers["retry-after"]) <= 120
    assert dict(ctx.response_headers)[b"x-ratelimit-remaining-requests"] == b"0"
    limits = h.build(config={"rate_limits": [{"scope": "app", "rpm": 1}]})
    assert await limits.reserve(h.ctx(h.agent_key.id)) is None  # no app: no limit applies


async def test_a_named_rate_limit_replaces_the_general_one(harness: Any) -> None:
    h = harness
    rules = [{"scope": "user", "rpm": 1}, {"scope": "user", "name": "ann", "rpm": 3}]
    limits = h.build(config={"rate_limits": rules})
    for _ in range(3):
        await limits.reserve(h.ctx(h.user_key.id))
    with pytest.raises(GatewayError):
        await limits.reserve(h.ctx(h.user_key.id))


async def test_tokens_per_minute_count_input_then_actual_usage(harness: Any) -> None:
    h = harness
    limits = h.build(config={"rate_limits": [{"scope": "model", "name": "priced", "tpm": 500}]})
    ctx = h.ctx(h.user_key.id)
    res = await limits.reserve(ctx)
    h.served(ctx, 100, 300)
    await limits.settle(ctx, res)  # type: ignore[arg-type]
    ctx = h.ctx(h.user_key.id)
    await limits.reserve(ctx)
    left = int(dict(ctx.response_headers)[b"x-ratelimit-remaining-tokens"])
    assert left == 500 - 400 - input_tokens(ctx)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_redis_down_fail_closed(harness: Any) -> None:
    h = harness
    h.budgets.create_budget("team", "support", "10")
    limits = h.build(redis_url=f"redis://127.0.0.1:{closed_port()}/0", redis_timeout_ms=200)
    for _ in range(3):
        with pytest.raises(GatewayError) as caught:
            await limits.reserve(h.ctx(h.user_key.id))
        assert (caught.value.status, caught.value.code) == (503, "limits_unavailable")
    await limits.stop()
    assert [r["action"] for r in h.sink.rows] == ["limits.redis_unavailable"]


@pytest.mark.redis
async def test_redis_down_local_then_back(harness: Any) -> None:
    h = harness
    url = redis_url_or_skip()
    host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
    h.budgets.create_budget("team", "support", "10", name="team")
    with TcpProxy(host, int(port)) as proxy:
        limits = h.build(
            redis_url=f"redis://127.0.0.1:{proxy.port}/0",
            redis_failure="local",
            redis_retry_s=0.2,
            redis_prefix=f"steward-test:{h.user_key.id}:",
        )
        ctx = h.ctx(h.user_key.id, body=body(max_tokens=10))
        res = await limits.reserve(ctx)
        assert res is not None and res.backend is limits.backends.redis
        proxy.cut()
        for _ in range(3):
            ctx = h.ctx(h.user_key.id, body=body(max_tokens=10))
            res = await limits.reserve(ctx)  # served from the in-process counters
            assert res is not None and res.backend is limits.backends.memory
            h.served(ctx, 0, 10)
            await limits.settle(ctx, res)
        proxy.restore()
        h.clock.advance(1)
        ctx = h.ctx(h.user_key.id, body=body(max_tokens=10))
        res = await limits.reserve(ctx)
        assert res is not None and res.backend is limits.backends.redis
        await limits.stop()
    assert [r["action"] for r in h.sink.rows] == [
        "limits.redis_unavailable",
        "limits.redis_recovered",
    ]


@pytest.mark.redis
async def test_with_redis_settlement_follows_the_response(harness: Any) -> None:
    """Redis settles off the request's path: alerts are recorded on their own, once each."""
    h = harness
    h.budgets.create_budget("user", "ann", "0.0001", alerts=[50, 100], hard=False, name="ann")
    limits = h.build(redis_url=redis_url_or_skip(), redis_prefix=f"steward-test:{h.user_key.id}:")
    for _ in range(10):
        ctx = h.ctx(h.user_key.id, body=body(max_tokens=5))
        res = await limits.reserve(ctx)
        assert res is not None and res.backend is limits.backends.redis
        h.served(ctx, 0, 5)  # a tenth of the budget each
        await limits.settle(ctx, res)
        assert ctx.extra_events == []
    for _ in range(50):
        (status,) = await limits.budget_status(h.principal(h.user_key.id))
        if status["reserved_usd"] == 0:
            break
        await asyncio.sleep(0.02)
    assert status["spent_usd"] == pytest.approx(0.0001) and status["reserved_usd"] == 0
    await limits.stop()
    assert [r["details"]["percent"] for r in h.sink.rows if r["action"] == "budget.threshold"] == [
        50,
        100,
    ]
