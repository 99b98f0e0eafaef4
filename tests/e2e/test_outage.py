"""A database outage: the gateway reaches PostgreSQL through a TCP proxy that the test cuts.
Known keys keep working from the in-memory snapshot, usage events wait in the local spool, and
once the database is back every one of them reaches the store exactly once."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url

from steward.store.db import make_engine
from steward.store.models import UsageEvent
from tests._services import fresh_pg_database, pg_url_or_skip
from tests.e2e._gateway import Gateway
from tests.fakes.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres

RID = "x-steward-request-id"
HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_pg_database(pg_url_or_skip()) as url:
        yield url


@pytest.fixture
def direct(pg_url: str) -> Iterator[Engine]:
    """An engine straight to the database (not through the proxy), to look at the store."""
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


@pytest.fixture
def proxy(pg_url: str) -> Iterator[TcpProxy]:
    u = make_url(pg_url)
    with TcpProxy(u.host or "127.0.0.1", u.port or 5432) as p:
        yield p


@pytest.fixture
def proxied_gateway(
    pg_url: str, proxy: TcpProxy, direct: Engine, make_gateway: Callable[..., Gateway]
) -> Iterator[Gateway]:
    """A gateway whose database is PostgreSQL through the proxy. (Requested after the proxy
    and the database so that it is torn down before them; the proxy is restored first so a
    failed test does not leave the gateway to time out flushing its spool on the way down.)"""
    url = make_url(pg_url).set(host=proxy.host, port=proxy.port)
    yield make_gateway(database_url=url.render_as_string(hide_password=False)).start()
    proxy.restore()


def health(gw: Gateway) -> dict[str, Any]:
    out: dict[str, Any] = httpx.get(gw.url + "/healthz", timeout=5).json()
    return out


def wait_for(check: Callable[[], bool], timeout_s: float, what: str) -> float:
    t0 = time.monotonic()
    while not check():
        if time.monotonic() - t0 > timeout_s:
            raise AssertionError(f"{what}: not within {timeout_s}s")
        time.sleep(0.05)
    return time.monotonic() - t0


def usage_counts(engine: Engine, rids: list[str]) -> dict[str, int]:
    """request id -> number of usage events in the store (absent: none)."""
    stmt = (
        select(UsageEvent.request_id, func.count())
        .where(UsageEvent.request_id.in_(rids))
        .group_by(UsageEvent.request_id)
    )
    with engine.connect() as c:
        return {rid: int(n) for rid, n in c.execute(stmt)}


def request(client: openai.OpenAI, i: int) -> str:
    """One successful chat request (a stream every third time); returns its request id."""
    if i % 3 == 2:
        with client.chat.completions.with_streaming_response.create(
            model="gpt-test",
            messages=HELLO,
            stream=True,
            stream_options={"include_usage": True},
        ) as resp:
            assert resp.status_code == 200
            chunks = list(resp.parse())
        assert chunks[-1].usage is not None
        return resp.headers[RID]
    raw = client.chat.completions.with_raw_response.create(model="gpt-test", messages=HELLO)
    assert raw.status_code == 200
    assert raw.parse().choices[0].message.content
    return raw.headers[RID]


def all_shipped_once(direct: Engine, rids: list[str], timeout_s: float = 20.0) -> float:
    """Wait until every request has its usage event; then check none is there twice."""
    took = wait_for(
        lambda: len(usage_counts(direct, rids)) == len(rids),
        timeout_s,
        "usage events of the outage requests in the store",
    )
    time.sleep(0.3)  # a duplicate would come from a re-shipped batch right after
    counts = usage_counts(direct, rids)
    assert counts == dict.fromkeys(rids, 1)
    return took


def test_known_keys_work_through_a_db_outage(
    proxied_gateway: Gateway, proxy: TcpProxy, direct: Engine
) -> None:
    gw = proxied_gateway
    key, _org, created = gw.user_key()
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0, timeout=30)
    before = request(client, 0)
    gw.usage(before)
    assert health(gw)["store_reachable"] is True

    proxy.cut()
    wait_for(lambda: health(gw)["store_reachable"] is False, 5, "healthz to see the outage")

    rids: list[str] = []
    depths = [health(gw)["spool_depth"]]
    for batch in range(3):
        rids += [request(client, 4 * batch + i) for i in range(4)]
        h = health(gw)
        assert h["store_reachable"] is False
        depths.append(h["spool_depth"])
    assert depths == sorted(depths) and len(set(depths)) == len(depths), depths
    assert usage_counts(direct, rids) == {}, "nothing can have reached the store yet"

    # the admin API needs the store: it fails fast with an error body, it does not hang
    t0 = time.monotonic()
    r = httpx.post(f"{gw.url}/admin/v1/teams", headers=gw.admin.headers, json={"name": "x"})
    assert time.monotonic() - t0 < 10
    assert r.status_code >= 500
    assert r.json()["error"]["type"] == "api_error"

    proxy.restore()
    took = all_shipped_once(direct, rids)
    assert took < 15
    with direct.connect() as c:
        rows = c.execute(
            select(UsageEvent.key_id, UsageEvent.status).where(UsageEvent.request_id.in_(rids))
        ).all()
    assert set(rows) == {(created["api_key"]["id"], 200)}
    wait_for(lambda: health(gw)["store_reachable"] is True, 5, "healthz to see the store again")
    wait_for(lambda: health(gw)["spool_depth"] == 0, 10, "the spool to drain")
    # and the gateway goes on as before
    after = request(client, 0)
    assert all_shipped_once(direct, [after]) < 5
    client.close()


def test_restart_during_db_outage_serves_known_keys(
    proxied_gateway: Gateway, proxy: TcpProxy, direct: Engine
) -> None:
    gw = proxied_gateway
    key, org, _created = gw.user_key()
    with openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0, timeout=30) as c:
        gw.usage(request(c, 0))  # the key is in the snapshot, and the snapshot on disk

    gw.stop()
    proxy.cut()
    gw.start()  # GatewayProcess.start waits up to 30 s for /healthz
    assert health(gw)["store_reachable"] is False
    with openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0, timeout=30) as c:
        rids = [request(c, i) for i in range(6)]
        # an unknown key is still refused
        with pytest.raises(openai.AuthenticationError):
            c.with_options(api_key="sk-stw-unknown").chat.completions.create(
                model="gpt-test", messages=HELLO
            )
    assert usage_counts(direct, rids) == {}

    proxy.restore()
    assert all_shipped_once(direct, rids, timeout_s=30) < 30
    wait_for(lambda: health(gw)["store_reachable"] is True, 5, "healthz to see the store again")
    # the restarted gateway picks up changes again once the store is back
    fresh = gw.key(user=org["user"], team=org["team"])  # waits until the gateway knows it
    assert fresh["api_key"]["status"] == "active"


def test_first_start_without_a_store_fails_clearly(
    pg_url: str, proxy: TcpProxy, make_gateway: Callable[..., Gateway]
) -> None:
    """Without a cached snapshot there is nothing to serve from: exit with a clear message."""
    url = make_url(pg_url).set(host=proxy.host, port=proxy.port)
    gw = make_gateway(database_url=url.render_as_string(hide_password=False), name="fresh")
    proxy.cut()
    with pytest.raises(RuntimeError, match="exited early"):
        gw.start()
    assert gw.proc.proc is not None and gw.proc.proc.returncode == 2
    log = (gw.tmp / "gateway.log").read_text()
    assert "cannot reach the database" in log
    assert "Traceback" not in log


def test_admin_api_during_db_outage_answers_properly(
    proxied_gateway: Gateway, proxy: TcpProxy
) -> None:
    gw = proxied_gateway
    proxy.cut()
    wait_for(lambda: health(gw)["store_reachable"] is False, 5, "healthz to see the outage")
    with httpx.Client(base_url=f"{gw.url}/admin/v1", headers=gw.admin.headers) as c:
        for _ in range(2):  # twice on one keep-alive connection
            r = c.get("/teams")
            assert r.status_code in (500, 503), r.text  # 503 store_unavailable would be better
            assert r.json()["error"]["type"] == "api_error"
            assert r.headers.get(RID), "no request id to find the failure in the log by"
