"""Fixtures for budgets and rate limits: counters of both kinds, a settable clock."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from steward.usage.counters import Counters, MemoryCounters, RedisCounters
from tests._services import redis_url_or_skip


class Clock:
    """A clock tests move by hand (unix seconds)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def future_monday_noon() -> float:
    """Noon (UTC) of a Monday one to two weeks ahead: Redis expiry times computed from the test
    clock must lie in the real future."""
    day = 86400
    today = int(time.time()) // day * day
    monday = today - ((today // day + 3) % 7) * day  # 1970-01-01 was a Thursday
    return float(monday + 14 * day + day // 2)


@pytest.fixture
def clock() -> Clock:
    return Clock(future_monday_noon())


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix of its own, so tests sharing one Redis never see each other's counters."""
    return f"steward-test:{uuid.uuid4().hex[:12]}:"


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def counters(
    request: pytest.FixtureRequest, clock: Clock, redis_prefix: str
) -> AsyncIterator[Counters]:
    """The same tests against the in-process counters and the Redis Lua scripts."""
    if request.param == "memory":
        yield MemoryCounters(clock)
        return
    redis = RedisCounters(redis_url_or_skip(), 1.0, redis_prefix)
    try:
        yield redis
    finally:
        keys = [k async for k in redis.redis.scan_iter(match=f"{redis_prefix}*")]
        if keys:
            await redis.redis.delete(*keys)
        await redis.aclose()


@pytest.fixture
def harness(sqlite_url: str, clock: Clock) -> Iterator[Any]:
    """A store with a team, a user in it, an app and an agent, each with a key; see _harness."""
    from steward.config.models import StewardConfig
    from steward.identity import IdentityService
    from steward.store.db import make_engine, session_factory, upgrade
    from steward.usage.budgets.service import BudgetService
    from tests.unit.limits._harness import CONFIG, Harness

    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    sessions = session_factory(engine)
    identity = IdentityService(sessions)
    h = Harness(
        sessions,
        engine,
        identity,
        BudgetService(sessions),
        StewardConfig.model_validate(CONFIG),
        clock,
    )
    identity.create_team("support")
    identity.create_user("ann", teams=["support"])
    identity.create_app("helpdesk", team="support", owner="ann")
    identity.create_agent("triage", owner="ann", team="support")
    h.user_key = identity.create_key(user="ann", team="support", app="helpdesk")[0]
    h.other_key = identity.create_key(user="ann", team="support")[0]
    h.agent_key = identity.create_key(agent="triage")[0]
    yield h
    engine.dispose()
