"""The OpenAI and Anthropic adapters against a real (fake) upstream on loopback."""

from __future__ import annotations

import asyncio
import copy
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from steward.config.models import ProviderConfig
from steward.providers._http import error_from_response, parse_retry_after
from steward.providers.anthropic import AnthropicProvider
from steward.providers.base import CallInfo, ProviderAdapter, UpstreamError, Usage
from steward.providers.openai import OpenAIProvider
from steward.providers.registry import ProviderRegistry, build_provider
from tests.fakes import FakeUpstream

KEY = "sk-fake-upstream"
HELLO = [{"role": "user", "content": "hello there world"}]
WEATHER_OPENAI = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
WEATHER_ANTHROPIC = {
    "name": "get_weather",
    "input_schema": WEATHER_OPENAI["function"]["parameters"],  # type: ignore[index]
}

Factory = Callable[..., Any]


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream(api_key=KEY) as fake:
        yield fake


@pytest.fixture(autouse=True)
def _fresh_upstream(upstream: FakeUpstream) -> None:
    upstream.reset()


@pytest.fixture
async def make_openai(upstream: FakeUpstream) -> AsyncIterator[Factory]:
    made: list[ProviderAdapter] = []

    def make(**overrides: Any) -> OpenAIProvider:
        settings: dict[str, Any] = {"base_url": upstream.openai_base_url, "api_key": KEY}
        cfg = ProviderConfig(kind="openai", **{**settings, **overrides})
        made.append(OpenAIProvider("fake-openai", cfg))
        return made[-1]  # type: ignore[return-value]

    yield make
    for adapter in made:
        await adapter.aclose()


@pytest.fixture
async def make_anthropic(upstream: FakeUpstream) -> AsyncIterator[Factory]:
    made: list[ProviderAdapter] = []

    def make(**overrides: Any) -> AnthropicProvider:
        settings: dict[str, Any] = {"base_url": upstream.base_url, "api_key": KEY}
        cfg = ProviderConfig(kind="anthropic", **{**settings, **overrides})
        made.append(AnthropicProvider("fake-anthropic", cfg))
        return made[-1]  # type: ignore[return-value]

    yield make
    for adapter in made:
        await adapter.aclose()


@pytest.fixture(params=["openai", "anthropic"])
def make_any(request: pytest.FixtureRequest) -> Factory:
    """Each test using this runs once per wire format."""
    factory: Factory = request.getfixturevalue(f"make_{request.param}")
    return factory


def call(model: str, timeout_s: float = 10.0, **headers: str) -> CallInfo:
    return CallInfo(
        upstream_model=model, timeout_s=timeout_s, request_id="req-ours", extra_headers=headers
    )


def chat_body(adapter: ProviderAdapter, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "client-alias", "messages": HELLO, **extra}
    if adapter.native == "anthropic":
        body.setdefault("max_tokens", 100)
    return body


async def collect(stream: AsyncIterator[dict[str, Any]]) -> list[dict[str, Any]]:
    return [event async for event in stream]


def streamed_text(events: list[dict[str, Any]]) -> str:
    parts = []
    for e in events:
        if e.get("type") == "content_block_delta":
            parts.append(e["delta"].get("text", ""))
        for choice in e.get("choices") or []:
            parts.append(choice["delta"].get("content") or "")
    return "".join(parts)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# ---------------------------------------------------------------------- OpenAI


async def test_openai_chat_sends_upstream_model_and_credentials(
    make_openai: Factory, upstream: FakeUpstream
) -> None:
    adapter = make_openai(headers={"x-org": "org-1"})
    body = chat_body(adapter, stream=False, stream_options={"include_usage": True})
    original = copy.deepcopy(body)

    resp = await adapter.chat(body, call("fake-gpt-cached", **{"x-test-key": "t1"}))

    assert resp.status == 200
    assert resp.body["choices"][0]["message"]["content"] == "Echo: hello there world"
    reported = resp.body["usage"]
    assert resp.usage == Usage(
        input_tokens=reported["prompt_tokens"],
        output_tokens=reported["completion_tokens"],
        cached_tokens=reported["prompt_tokens_details"]["cached_tokens"],
    )
    assert resp.usage.cached_tokens > 0
    assert body == original, "the caller's body must not be mutated"
    (sent,) = upstream.requests
    assert (sent.method, sent.path) == ("POST", "/v1/chat/completions")
    assert sent.body["model"] == "fake-gpt-cached"
    assert "stream" not in sent.body and "stream_options" not in sent.body
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.headers["x-org"] == "org-1"
    assert sent.headers["x-test-key"] == "t1"
    assert "req-ours" not in sent.headers.values(), "our request id is not forwarded"


async def test_openai_usage_counts_reasoning_inside_output(make_openai: Factory) -> None:
    adapter = make_openai()
    resp = await adapter.chat(chat_body(adapter), call("fake-gpt-reasoning"))
    assert resp.usage is not None
    assert resp.usage.reasoning_tokens == 16
    assert resp.usage.output_tokens == resp.body["usage"]["completion_tokens"]
    assert resp.usage.output_tokens > resp.usage.reasoning_tokens


async def test_openai_stream_forces_usage_and_ends_at_done(
    make_openai: Factory, upstream: FakeUpstream
) -> None:
    adapter = make_openai()
    body = chat_body(adapter, stream=False, stream_options={"include_obfuscation": False})

    chunks = await collect(adapter.chat_stream(body, call("fake-gpt")))

    (sent,) = upstream.requests
    assert sent.body["stream"] is True
    assert sent.body["stream_options"] == {"include_obfuscation": False, "include_usage": True}
    assert body["stream_options"] == {"include_obfuscation": False}
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert streamed_text(chunks) == "Echo: hello there world"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"


async def test_openai_tool_calls_when_tools_are_offered(make_openai: Factory) -> None:
    adapter = make_openai()
    resp = await adapter.chat(chat_body(adapter, tools=[WEATHER_OPENAI]), call("fake-gpt"))
    choice = resp.body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    (tool_call,) = choice["message"]["tool_calls"]
    assert tool_call["function"] == {"name": "get_weather", "arguments": '{"city":"test"}'}

    chunks = await collect(
        adapter.chat_stream(chat_body(adapter, tools=[WEATHER_OPENAI]), call("fake-gpt"))
    )
    arguments = "".join(
        tc["function"].get("arguments", "")
        for c in chunks
        for ch in c["choices"]
        for tc in ch["delta"].get("tool_calls") or []
    )
    assert arguments == '{"city":"test"}'

    after = HELLO + [
        choice["message"],
        {"role": "tool", "tool_call_id": tool_call["id"], "content": "sunny"},
    ]
    body = {"model": "m", "messages": after, "tools": [WEATHER_OPENAI]}
    final = await adapter.chat(body, call("fake-gpt"))
    assert final.body["choices"][0]["finish_reason"] == "stop"


async def test_openai_embeddings(make_openai: Factory, upstream: FakeUpstream) -> None:
    adapter = make_openai()
    body = {"model": "client-embed", "input": ["one", "two words"], "dimensions": 12}
    resp = await adapter.embed(body, call("fake-embed"))
    assert [d["index"] for d in resp.body["data"]] == [0, 1]
    assert all(len(d["embedding"]) == 12 for d in resp.body["data"])
    assert resp.usage is not None and resp.usage.input_tokens == 3
    assert resp.usage.output_tokens == 0
    (sent,) = upstream.requests
    assert (sent.path, sent.body["model"]) == ("/v1/embeddings", "fake-embed")


async def test_anthropic_has_no_embeddings(make_anthropic: Factory) -> None:
    with pytest.raises(UpstreamError) as err:
        await make_anthropic().embed({"input": "x"}, call("fake-claude"))
    assert err.value.status == 400


# ---------------------------------------------------------------------- Anthropic


@pytest.mark.parametrize("suffix", ["", "/v1", "/"])
async def test_anthropic_chat_headers_and_usage(
    make_anthropic: Factory, upstream: FakeUpstream, suffix: str
) -> None:
    adapter = make_anthropic(base_url=upstream.base_url + suffix, anthropic_version="2023-06-01")
    body = chat_body(adapter, stream=False)

    resp = await adapter.chat(body, call("fake-claude-cached"))

    assert resp.body["content"] == [{"type": "text", "text": "Echo: hello there world"}]
    u = resp.body["usage"]
    assert u["cache_read_input_tokens"] > 0
    assert resp.usage == Usage(
        input_tokens=u["input_tokens"] + u["cache_read_input_tokens"],
        output_tokens=u["output_tokens"],
        cached_tokens=u["cache_read_input_tokens"],
    )
    (sent,) = upstream.requests
    assert sent.path == "/v1/messages"
    assert sent.body["model"] == "fake-claude-cached" and "stream" not in sent.body
    assert sent.headers["x-api-key"] == KEY
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in sent.headers


async def test_anthropic_usage_includes_cache_writes(make_anthropic: Factory) -> None:
    adapter = make_anthropic()
    resp = await adapter.chat(chat_body(adapter), call("fake-claude-cache-write"))
    u = resp.body["usage"]
    assert u["cache_creation_input_tokens"] > 0
    assert resp.usage is not None
    assert resp.usage.cache_write_tokens == u["cache_creation_input_tokens"]
    assert resp.usage.input_tokens == u["input_tokens"] + u["cache_creation_input_tokens"]


async def test_anthropic_stream_yields_each_event(
    make_anthropic: Factory, upstream: FakeUpstream
) -> None:
    adapter = make_anthropic()
    events = await collect(adapter.chat_stream(chat_body(adapter), call("fake-claude")))

    assert upstream.requests[0].body["stream"] is True
    types = [e["type"] for e in events]
    assert types[:3] == ["message_start", "content_block_start", "ping"]
    assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert streamed_text(events) == "Echo: hello there world"
    assert events[0]["message"]["usage"]["input_tokens"] > 0
    assert events[-2]["usage"]["output_tokens"] > 0


async def test_anthropic_tool_use(make_anthropic: Factory) -> None:
    adapter = make_anthropic()
    resp = await adapter.chat(chat_body(adapter, tools=[WEATHER_ANTHROPIC]), call("fake-claude"))
    assert resp.body["stop_reason"] == "tool_use"
    assert resp.body["content"][0]["input"] == {"city": "test"}


# ---------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("status", "retryable"), [(429, True), (500, True), (503, True), (400, False), (404, False)]
)
async def test_http_errors_are_mapped(make_any: Factory, status: int, retryable: bool) -> None:
    adapter = make_any()
    with pytest.raises(UpstreamError) as err:
        await adapter.chat(chat_body(adapter), call(f"fail-{status}"))
    e = err.value
    assert (e.status, e.retryable, e.kind) == (status, retryable, "upstream_error")
    assert e.message == f"simulated failure (fail-{status})"
    assert isinstance(e.body, dict) and "error" in e.body
    assert e.retry_after_s == (0.0 if status == 429 else None)


@pytest.mark.parametrize("status", [429, 400])
async def test_refused_stream_raises_on_first_event(make_any: Factory, status: int) -> None:
    adapter = make_any()
    stream = adapter.chat_stream(chat_body(adapter), call(f"fail-{status}"))
    with pytest.raises(UpstreamError) as err:
        await stream.__anext__()
    assert err.value.status == status
    assert err.value.message == f"simulated failure (fail-{status})"
    assert err.value.retryable is (status == 429)


async def test_wrong_api_key_is_not_retryable(make_any: Factory) -> None:
    adapter = make_any(api_key="sk-wrong")
    with pytest.raises(UpstreamError) as err:
        await adapter.chat(chat_body(adapter), call("fake-model"))
    assert (err.value.status, err.value.retryable) == (401, False)


async def test_flaky_upstream_recovers_per_test_key(make_openai: Factory) -> None:
    adapter = make_openai()
    body = chat_body(adapter)
    for _ in range(2):
        with pytest.raises(UpstreamError) as err:
            await adapter.chat(body, call("flaky-2-fake-gpt", **{"x-test-key": "a"}))
        assert (err.value.status, err.value.retryable) == (503, True)
    resp = await adapter.chat(body, call("flaky-2-fake-gpt", **{"x-test-key": "a"}))
    assert resp.body["model"] == "flaky-2-fake-gpt"
    with pytest.raises(UpstreamError):  # another key has its own count
        await adapter.chat(body, call("flaky-2-fake-gpt", **{"x-test-key": "b"}))


@pytest.mark.parametrize("model", ["hang", "slow-3000"])
async def test_timeout(make_any: Factory, model: str) -> None:
    adapter = make_any()
    with pytest.raises(UpstreamError) as err:
        await adapter.chat(chat_body(adapter), call(model, timeout_s=0.3))
    e = err.value
    assert (e.status, e.kind, e.retryable) == (504, "timeout", True)
    assert "0.3s" in e.message

    stream = adapter.chat_stream(chat_body(adapter), call(model, timeout_s=0.3))
    with pytest.raises(UpstreamError) as err:
        await stream.__anext__()
    assert (err.value.status, err.value.kind) == (504, "timeout")


async def test_slow_upstream_within_timeout_answers(make_openai: Factory) -> None:
    adapter = make_openai()
    resp = await adapter.chat(chat_body(adapter), call("slow-50-fake-gpt", timeout_s=5))
    assert resp.body["choices"][0]["message"]["content"] == "Echo: hello there world"


async def test_stall_mid_stream_times_out(make_any: Factory) -> None:
    adapter = make_any()
    stream = adapter.chat_stream(chat_body(adapter), call("stream-stall", timeout_s=0.3))
    first = await stream.__anext__()
    assert first
    with pytest.raises(UpstreamError) as err:
        await collect(stream)
    assert (err.value.status, err.value.kind) == (504, "timeout")


async def test_connection_refused(make_any: Factory) -> None:
    adapter = make_any(base_url=f"http://127.0.0.1:{closed_port()}/v1")
    with pytest.raises(UpstreamError) as err:
        await adapter.chat(chat_body(adapter), call("fake-model"))
    e = err.value
    assert (e.status, e.kind, e.retryable) == (502, "connection_error", True)
    with pytest.raises(UpstreamError) as err:
        await adapter.chat_stream(chat_body(adapter), call("fake-model")).__anext__()
    assert err.value.kind == "connection_error"


async def test_non_json_answer_is_a_bad_upstream_response(make_any: Factory) -> None:
    adapter = make_any()
    with pytest.raises(UpstreamError) as err:
        await adapter.chat(chat_body(adapter), call("garbage"))
    assert (err.value.status, err.value.kind, err.value.retryable) == (
        502,
        "bad_upstream_response",
        False,
    )
    with pytest.raises(UpstreamError) as err:
        await adapter.chat_stream(chat_body(adapter), call("garbage")).__anext__()
    assert err.value.kind == "bad_upstream_response"


async def test_error_event_mid_stream(make_any: Factory) -> None:
    adapter = make_any()
    received: list[dict[str, Any]] = []
    with pytest.raises(UpstreamError) as err:
        async for event in adapter.chat_stream(chat_body(adapter), call("stream-error")):
            received.append(event)
    assert received, "events before the error are delivered"
    assert (err.value.status, err.value.kind) == (502, "stream_error")
    expected = "Overloaded" if adapter.native == "anthropic" else "The server had an error"
    assert err.value.message.startswith(expected)


async def test_connection_dropped_mid_stream(make_any: Factory) -> None:
    adapter = make_any()
    received: list[dict[str, Any]] = []
    with pytest.raises(UpstreamError) as err:
        async for event in adapter.chat_stream(chat_body(adapter), call("stream-abort")):
            received.append(event)
    assert received
    assert (err.value.status, err.value.kind) == (502, "connection_error")


async def test_early_close_releases_the_connection(make_any: Factory) -> None:
    """With a single pooled connection, a stream the consumer abandons must give it back."""
    adapter = make_any(max_connections=1)
    for _ in range(3):
        stream = adapter.chat_stream(chat_body(adapter), call("stream-stall", timeout_s=2))
        assert await stream.__anext__()
        await stream.aclose()  # type: ignore[attr-defined]
    resp = await adapter.chat(chat_body(adapter), call("fake-model", timeout_s=2))
    assert resp.status == 200


async def test_concurrent_requests_share_the_pool(make_openai: Factory) -> None:
    adapter = make_openai(max_connections=4)
    results = await asyncio.gather(
        *(adapter.chat(chat_body(adapter), call("fake-gpt")) for _ in range(20))
    )
    assert all(r.status == 200 for r in results)


def test_retry_after_forms() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 < (parse_retry_after(httpx.Headers({"retry-after": later})) or 0) <= 30
    assert parse_retry_after(httpx.Headers({"retry-after": "2.5"})) == 2.5
    assert parse_retry_after(httpx.Headers({"retry-after-ms": "1500", "retry-after": "9"})) == 1.5
    assert parse_retry_after(httpx.Headers({"retry-after": "soon"})) is None
    assert parse_retry_after(httpx.Headers({})) is None


def test_error_messages_from_other_servers() -> None:
    headers = httpx.Headers({})
    gemini = b'[{"error": {"code": 400, "message": "API key not valid", "status": "INVALID"}}]'
    assert error_from_response(400, headers, gemini).message == "API key not valid"
    assert error_from_response(404, headers, b'{"error": "model not found"}').message == (
        "model not found"
    )
    html = error_from_response(502, headers, b"<html>\n  Bad   gateway\n</html>" + b"x" * 2000)
    assert html.message.startswith("<html> Bad gateway </html>") and len(html.message) <= 500
    assert html.body is None and html.retryable
    assert error_from_response(503, headers, b"").message == "upstream answered HTTP 503"


# ---------------------------------------------------------------------- registry


async def test_registry_builds_each_kind(upstream: FakeUpstream) -> None:
    registry = ProviderRegistry(
        {
            "oa": ProviderConfig(kind="openai", base_url=upstream.openai_base_url, api_key=KEY),
            "an": ProviderConfig(kind="anthropic", base_url=upstream.base_url, api_key=KEY),
        }
    )
    try:
        assert isinstance(registry.get("oa"), OpenAIProvider)
        assert registry.get("an").native == "anthropic"
        assert "oa" in registry and sorted(registry) == ["an", "oa"]
        with pytest.raises(KeyError, match="providers: an, oa"):
            registry.get("nope")
        resp = await registry.get("an").chat(chat_body(registry.get("an")), call("fake-claude"))
        assert resp.status == 200
    finally:
        await registry.aclose()


def test_build_sim_provider() -> None:
    sim = pytest.importorskip("steward.providers.sim")
    adapter = build_provider("sim", ProviderConfig(kind="sim"))
    assert isinstance(adapter, sim.SimProvider)
