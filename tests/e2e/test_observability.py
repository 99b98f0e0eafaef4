"""Observability through the real server: Prometheus /metrics with bounded labels after real
traffic, and OpenTelemetry spans and GenAI metrics exported over OTLP/HTTP to a fake collector
on loopback (decoded with opentelemetry-proto)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e._gateway import Gateway
from tests.fakes.otlp import FakeCollector

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
SERVER = 2  # opentelemetry.proto.trace.v1.Span.SpanKind.SPAN_KIND_SERVER
STATUS_ERROR = 2


@pytest.fixture(scope="module")
def collector() -> Iterator[FakeCollector]:
    with FakeCollector() as c:
        yield c


def scrape(gw: Gateway, **headers: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    r = httpx.get(gw.url + "/metrics", headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for fam in text_string_to_metric_families(r.text):
        for s in fam.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def total(samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **want: str) -> float:
    return sum(v for labels, v in samples.get(name, []) if want.items() <= labels.items())


def traffic(gw: Gateway) -> dict[str, Any]:
    """A user key in a fresh team and app, and one request of each kind through it."""
    key, org, created = gw.user_key()
    with (
        openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0) as oa,
        anthropic.Anthropic(base_url=gw.url, api_key=key, max_retries=0) as an,
        openai.OpenAI(base_url=gw.url + "/v1", api_key="sk-stw-wrong", max_retries=0) as bad,
    ):
        chat_request_id = _requests(oa, an, bad)
    return {"key": key, "org": org, "created": created, "chat_request_id": chat_request_id}


def _requests(oa: openai.OpenAI, an: anthropic.Anthropic, bad: openai.OpenAI) -> str:
    chat = oa.chat.completions.with_raw_response.create(
        model="gpt-test",
        messages=[{"role": "user", "content": "hello"}],
        max_tokens=50,
        extra_headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"},
    )
    stream = oa.chat.completions.create(
        model="sim-fast",
        messages=[{"role": "user", "content": "stream please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    assert list(stream)
    oa.embeddings.create(model="emb", input="vector me")
    an.messages.create(
        model="claude-test", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
    )
    with pytest.raises(openai.APIStatusError):
        oa.chat.completions.create(
            model="broken-alone", messages=[{"role": "user", "content": "x"}]
        )
    with pytest.raises(openai.NotFoundError):
        oa.chat.completions.create(
            model="no-such-model", messages=[{"role": "user", "content": "x"}]
        )
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "x"}])
    request_id: str = chat.headers["x-steward-request-id"]
    return request_id


@pytest.fixture(scope="module")
def observed(
    upstream: Any, collector: FakeCollector, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Gateway, dict[str, Any]]]:
    tmp = tmp_path_factory.mktemp("obs")
    g = Gateway(
        tmp / "gw",
        upstream.base_url,
        f"sqlite:///{tmp / 'steward.db'}",
        observability={"otlp_endpoint": collector.base_url, "export_interval_ms": 200},
    ).start()
    try:
        yield g, traffic(g)
    finally:
        g.close()


def test_metrics_after_traffic(observed: tuple[Gateway, dict[str, Any]]) -> None:
    gw, t = observed
    team, app = t["org"]["team"], t["org"]["app"]
    s = scrape(gw)
    mine = {"team": team, "app": app}
    assert total(s, "steward_requests_total", model="gpt-test", status="200", **mine) == 1
    assert total(s, "steward_requests_total", model="sim-fast", endpoint="chat", **mine) == 1
    assert total(s, "steward_requests_total", model="emb", endpoint="embeddings", **mine) == 1
    assert total(s, "steward_requests_total", model="claude-test", endpoint="messages", **mine) == 1
    assert total(s, "steward_requests_total", model="broken-alone", status_class="5xx", **mine) == 1
    assert total(s, "steward_requests_total", model="other", status="404", **mine) == 1
    assert total(s, "steward_requests_total", status="401", team="none", model="none") >= 1
    assert total(s, "steward_tokens_total", model="gpt-test", kind="input", **mine) > 0
    assert total(s, "steward_tokens_total", model="sim-fast", kind="output", **mine) > 0
    assert total(s, "steward_cost_usd_total", model="sim-fast", **mine) > 0
    assert total(s, "steward_time_to_first_token_seconds_count", model="sim-fast") >= 1
    assert total(s, "steward_request_duration_seconds_count", model="gpt-test") >= 1
    assert total(s, "steward_overhead_seconds_count", endpoint="chat") >= 1
    assert total(s, "steward_snapshot_version") >= 0
    assert total(s, "steward_store_reachable") == 1
    assert "steward_spool_depth_bytes" in s


def test_metrics_never_carry_user_or_key_ids(observed: tuple[Gateway, dict[str, Any]]) -> None:
    gw, t = observed
    text = httpx.get(gw.url + "/metrics", timeout=10).text
    info = t["created"]["api_key"]
    for value in (t["key"], info["id"], info["prefix"], info["user_id"], t["org"]["user"]):
        assert value and value not in text
    assert info["team_id"] not in text and info["app_id"] not in text  # names, not ids
    assert t["org"]["team"] in text and t["org"]["app"] in text


def test_spans_arrive_with_genai_attributes(
    observed: tuple[Gateway, dict[str, Any]], collector: FakeCollector
) -> None:
    _, t = observed
    rid = t["chat_request_id"]

    # six requests carried the key (the seventh, with a wrong key, has no team)
    spans_seen = collector.wait_for_spans(
        6, match=lambda s: s.attributes.get("steward.team") == t["org"]["team"]
    )
    spans = {s.attributes["steward.request_id"]: s for s in spans_seen}
    chat = spans[rid]
    assert chat.name == "chat gpt-test"
    assert chat.kind == SERVER
    assert chat.trace_id == TRACE_ID
    assert chat.parent_span_id == PARENT_ID
    a = chat.attributes
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.provider.name"] == "openai"
    assert a["gen_ai.request.model"] == "gpt-test"
    assert a["gen_ai.response.model"] == "gpt-4o-mini"
    assert a["gen_ai.usage.input_tokens"] > 0
    assert a["gen_ai.usage.output_tokens"] > 0
    assert a["gen_ai.request.max_tokens"] == 50
    assert a["gen_ai.response.finish_reasons"] == ["stop"]
    assert a["steward.app"] == t["org"]["app"]
    assert chat.resource["service.name"] == "steward"
    assert chat.end_ns > chat.start_ns
    by_name = {s.name: s for s in spans_seen}
    assert by_name["chat claude-test"].attributes["gen_ai.provider.name"] == "anthropic"
    assert by_name["embeddings emb"].attributes["gen_ai.operation.name"] == "embeddings"
    assert by_name["chat sim-fast"].attributes["gen_ai.provider.name"] == "sim"
    assert by_name["chat sim-fast"].attributes["steward.stream"] is True
    failed = by_name["chat broken-alone"]
    assert failed.status_code == STATUS_ERROR
    assert failed.attributes["error.type"]


def test_genai_metrics_arrive(
    observed: tuple[Gateway, dict[str, Any]], collector: FakeCollector
) -> None:
    points = collector.wait_for_metric("gen_ai.client.operation.duration")
    assert all(p.unit == "s" for p in points)
    assert any(p.attributes.get("gen_ai.request.model") == "gpt-test" for p in points)
    tokens = collector.wait_for_metric("gen_ai.client.token.usage")
    assert {p.attributes["gen_ai.token.type"] for p in tokens} == {"input", "output"}
    assert all(p.unit == "{token}" for p in tokens)


def test_pending_spans_are_flushed_on_shutdown(
    make_gateway: Callable[..., Gateway], collector: FakeCollector
) -> None:
    g = make_gateway(
        name="flush",
        observability={"otlp_endpoint": collector.base_url, "export_interval_ms": 600_000},
    ).start()
    key, _, _ = g.user_key()
    r = httpx.post(
        g.url + "/v1/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json={"model": "sim-fast", "messages": [{"role": "user", "content": "bye"}]},
        timeout=10,
    )
    rid = r.headers["x-steward-request-id"]
    assert not [
        s for s in collector.collector.spans if s.attributes.get("steward.request_id") == rid
    ]
    g.stop()
    assert [s for s in collector.collector.spans if s.attributes.get("steward.request_id") == rid]


def test_metrics_token_and_switch(make_gateway: Callable[..., Gateway]) -> None:
    g = make_gateway(name="token", observability={"metrics_token": "scrape-me"}).start()
    assert httpx.get(g.url + "/metrics").status_code == 401
    assert (
        httpx.get(g.url + "/metrics", headers={"authorization": "Bearer nope"}).status_code == 401
    )
    assert scrape(g, authorization="Bearer scrape-me")
    assert (
        httpx.post(g.url + "/metrics", headers={"authorization": "Bearer scrape-me"}).status_code
        == 405
    )
    off = make_gateway(name="off", observability={"metrics": False}).start()
    r = httpx.get(off.url + "/metrics")
    assert r.status_code == 404
    assert "observability.metrics" in r.json()["error"]["message"]


def test_one_scrape_counts_every_worker(make_gateway: Callable[..., Gateway]) -> None:
    g = make_gateway(
        name="workers", server={"workers": 2, "state_poll_ms": 200, "max_body_bytes": 65536}
    ).start()
    key, org, _ = g.user_key()
    time.sleep(1.0)  # one worker knows the key; every worker knows it within a second
    for _ in range(20):  # a new connection each: the kernel spreads them over the workers
        r = httpx.post(
            g.url + "/v1/chat/completions",
            headers={"authorization": f"Bearer {key}", "connection": "close"},
            json={"model": "sim-fast", "messages": [{"role": "user", "content": "hi"}]},
            timeout=10,
        )
        assert r.status_code == 200
    for _ in range(6):  # whichever worker answers, it reports all of them
        s = scrape(g, connection="close")
        assert total(s, "steward_requests_total", team=org["team"], status="200") == 20
    assert any((g.tmp / "metrics").glob("counter_*.db"))  # prometheus-client multiprocess files
