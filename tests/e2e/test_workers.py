"""A gateway with two worker processes: requests spread over both, every one is recorded exactly
once, and an admin change reaches every worker within a second."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from steward.store.models import UsageEvent
from tests._services import fresh_pg_database, pg_url_or_skip
from tests.e2e._gateway import Gateway
from tests.fakes.upstream import FakeUpstream

RID = "x-steward-request-id"
HELLO = [{"role": "user", "content": "hello"}]
SERVER = {"workers": 2, "state_poll_ms": 200, "max_body_bytes": 64 * 1024}


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module", params=BACKENDS)
def two_workers(
    request: pytest.FixtureRequest,
    upstream: FakeUpstream,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Gateway]:
    """One two-worker gateway per backend for the module (what make_gateway(server=...) builds,
    kept for the module so that the tests share its start-up)."""
    tmp = tmp_path_factory.mktemp("workers")
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp / 'steward.db'}"
        else:
            url = stack.enter_context(fresh_pg_database(pg_url_or_skip()))
        gw = Gateway(tmp / "gw", upstream.base_url, url, server=SERVER).start()
        stack.callback(gw.close)  # runs before the database is dropped
        yield gw


def chat(url: str, key: str) -> httpx.Response:
    """One chat request on a fresh connection (a new client each time)."""
    with httpx.Client(timeout=30) as c:
        return c.post(
            f"{url}/v1/chat/completions",
            headers={"authorization": f"Bearer {key}", "connection": "close"},
            json={"model": "gpt-test", "messages": HELLO},
        )


def fan_out(url: str, key: str, n: int, threads: int = 8) -> list[httpx.Response]:
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda _: chat(url, key), range(n)))


def writers(spool: Path) -> set[str]:
    """Pids of the processes that wrote events to the spool (segments are `<ns>-<pid>-...`)."""
    return {p.name.split("-")[1] for p in spool.glob("*.seg") if p.stat().st_size > 0}


def test_requests_over_both_workers_are_recorded_once(two_workers: Gateway) -> None:
    gw = two_workers
    key, _, created = gw.user_key()
    # every worker must know the key before the fan-out: new connections until all accept it
    deadline = time.monotonic() + 5
    while not all(r.status_code == 200 for r in fan_out(gw.url, key, 8)):
        assert time.monotonic() < deadline, "the key did not reach every worker"

    responses = fan_out(gw.url, key, 40)
    assert [r.status_code for r in responses] == [200] * 40
    rids = [r.headers[RID] for r in responses]
    assert len(set(rids)) == 40

    stmt = (
        select(UsageEvent.request_id, func.count(), func.min(UsageEvent.key_id))
        .where(UsageEvent.request_id.in_(rids))
        .group_by(UsageEvent.request_id)
    )
    deadline = time.monotonic() + 15
    while True:
        with gw._sessions() as s:
            rows = s.execute(stmt).all()
        if len(rows) == 40 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert len(rows) == 40, f"{40 - len(rows)} requests have no usage event"
    time.sleep(0.3)  # let a would-be duplicate ship
    with gw._sessions() as s:
        rows = s.execute(stmt).all()
    assert {(n, k) for _rid, n, k in rows} == {(1, created["api_key"]["id"])}

    pids = writers(gw.tmp / "spool")
    assert len(pids) >= 2, f"only worker(s) {pids} served; the test did not exercise both"


def test_revocation_reaches_every_worker_within_a_second(two_workers: Gateway) -> None:
    gw = two_workers
    key, _, created = gw.user_key()
    deadline = time.monotonic() + 5
    while not all(r.status_code == 200 for r in fan_out(gw.url, key, 10)):
        assert time.monotonic() < deadline, "the key did not reach every worker"

    gw.api("DELETE", f"/keys/{created['api_key']['id']}")
    revoked_at = time.monotonic()
    time.sleep(max(0.0, revoked_at + 1.0 - time.monotonic()))
    responses = fan_out(gw.url, key, 10, threads=10)
    assert [r.status_code for r in responses] == [401] * 10
    assert {r.json()["error"]["code"] for r in responses} == {"invalid_api_key"}

    # and the same on /v1/models, which every worker also answers from its snapshot
    with ThreadPoolExecutor(10) as pool:
        models = list(
            pool.map(
                lambda _: httpx.get(
                    f"{gw.url}/v1/models",
                    headers={"authorization": f"Bearer {key}", "connection": "close"},
                ),
                range(10),
            )
        )
    assert [r.status_code for r in models] == [401] * 10


def test_suspension_reaches_every_worker_and_so_does_resuming(two_workers: Gateway) -> None:
    gw = two_workers
    key, org, _ = gw.user_key()
    gw.api("POST", f"/users/{org['user']}/suspend")
    time.sleep(1.0)
    codes = {r.json()["error"]["code"] for r in fan_out(gw.url, key, 10, threads=10)}
    assert codes == {"principal_suspended"}
    gw.api("POST", f"/users/{org['user']}/unsuspend")
    time.sleep(1.0)
    assert {r.status_code for r in fan_out(gw.url, key, 10, threads=10)} == {200}
