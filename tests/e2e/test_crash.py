"""SIGKILL the gateway in the middle of a load; after a restart every request that got a
response has its usage event in the store exactly once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import func, select

from steward.store.models import UsageEvent
from tests._services import fresh_pg_database, pg_url_or_skip
from tests.e2e._gateway import Gateway


async def _load(url: str, key: str, answered: list[str], stop_at: float, workers: int = 16) -> None:
    body = {"model": "sim-fast", "messages": [{"role": "user", "content": "crash test " * 20}]}

    async def worker(client: httpx.AsyncClient) -> None:
        while time.monotonic() < stop_at:
            try:
                r = await client.post("/v1/chat/completions", json=body)
            except httpx.HTTPError:
                return  # the gateway died under us
            if r.status_code == 200:
                answered.append(r.headers["x-steward-request-id"])

    async with httpx.AsyncClient(
        base_url=url, headers={"authorization": f"Bearer {key}"}, timeout=10
    ) as client:
        await asyncio.gather(*(worker(client) for _ in range(workers)))


def _crash_and_recover(gw: Gateway) -> None:
    gw.start()
    key, _, _ = gw.user_key()
    answered: list[str] = []

    async def run() -> None:
        stop_at = time.monotonic() + 6.0
        load = asyncio.create_task(_load(gw.url, key, answered, stop_at))
        while len(answered) < 300 and time.monotonic() < stop_at:
            await asyncio.sleep(0.05)
        gw.kill()  # SIGKILL, mid-load: no shutdown hook runs
        await load

    asyncio.run(run())
    assert len(answered) >= 300, "the load did not get going before the kill"

    gw.start()  # the restarted process adopts the dead process's spool segments
    deadline = time.monotonic() + 30
    missing = set(answered)
    while missing and time.monotonic() < deadline:
        missing -= set(gw.usage_ids())
        time.sleep(0.2)
    assert not missing, f"{len(missing)} answered requests have no usage event"

    with gw._sessions() as s:
        dupes = s.execute(
            select(UsageEvent.request_id, func.count())
            .group_by(UsageEvent.request_id)
            .having(func.count() > 1)
        ).all()
    assert dupes == []


@pytest.mark.slow
def test_sigkill_loses_no_answered_request_sqlite(make_gateway: Callable[..., Gateway]) -> None:
    _crash_and_recover(make_gateway())


@pytest.mark.slow
@pytest.mark.postgres
def test_sigkill_loses_no_answered_request_postgres(make_gateway: Callable[..., Gateway]) -> None:
    with fresh_pg_database(pg_url_or_skip()) as url:
        gw = make_gateway(url)
        try:
            _crash_and_recover(gw)
        finally:
            gw.close()  # before the database is dropped
