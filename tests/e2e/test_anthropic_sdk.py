"""The official Anthropic SDK against Steward: native Messages, streaming, tools, and
translation to OpenAI-compatible upstreams and the simulator."""

from __future__ import annotations

import anthropic
import pytest

from tests.e2e._gateway import Gateway
from tests.fakes.upstream import FakeUpstream

TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@pytest.fixture
def client(gw: Gateway) -> anthropic.Anthropic:
    key, _, _ = gw.user_key()
    return anthropic.Anthropic(base_url=gw.url, api_key=key, max_retries=0)


@pytest.mark.parametrize("model", ["claude-test", "gpt-test", "sim-fast"])
def test_messages_and_tools(gw: Gateway, client: anthropic.Anthropic, model: str) -> None:
    raw = client.messages.with_raw_response.create(
        model=model,
        max_tokens=300,
        system="Be brief.",
        messages=[{"role": "user", "content": "Weather in Rome?"}],
        tools=[TOOL],  # type: ignore[list-item]
    )
    m = raw.parse()
    tool_use = next(b for b in m.content if b.type == "tool_use")
    assert tool_use.name == "get_weather" and isinstance(tool_use.input, dict)  # type: ignore[union-attr]
    assert m.stop_reason == "tool_use"
    ev = gw.usage(raw.headers["x-steward-request-id"])
    assert ev.endpoint == "messages" and ev.status == 200
    assert ev.output_tokens == m.usage.output_tokens

    follow = client.messages.create(
        model=model,
        max_tokens=300,
        messages=[
            {"role": "user", "content": "Weather in Rome?"},
            {"role": "assistant", "content": [tool_use.model_dump()]},  # type: ignore[list-item]
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": tool_use.id, "content": "18 C, sunny"}  # type: ignore[union-attr]
                ],
            },
        ],
        tools=[TOOL],  # type: ignore[list-item]
    )
    assert any(b.type == "text" and b.text for b in follow.content)  # type: ignore[union-attr]


@pytest.mark.parametrize("model", ["claude-test", "gpt-test", "sim-fast"])
def test_streaming(gw: Gateway, client: anthropic.Anthropic, model: str) -> None:
    with client.messages.stream(
        model=model, max_tokens=200, messages=[{"role": "user", "content": "Stream a poem"}]
    ) as stream:
        text = stream.get_final_text()
        final = stream.get_final_message()
        request_id = stream.response.headers["x-steward-request-id"]
    assert text
    assert final.usage.output_tokens > 0
    ev = gw.usage(request_id)
    assert ev.stream and ev.output_tokens == final.usage.output_tokens and ev.input_tokens > 0


def test_native_anthropic_body_is_forwarded_with_credentials(
    client: anthropic.Anthropic, upstream: FakeUpstream
) -> None:
    client.messages.create(
        model="claude-test", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
    )
    sent = [q for q in upstream.requests if q.path == "/v1/messages"][-1]
    assert sent.body["model"] == "claude-haiku-4-5"
    assert sent.headers["x-api-key"] == "upstream-secret-key"
    assert sent.headers["anthropic-version"]


def test_cache_tokens_are_billed_once(gw: Gateway, client: anthropic.Anthropic) -> None:
    raw = client.messages.with_raw_response.create(
        model="claude-cached",
        max_tokens=50,
        messages=[{"role": "user", "content": "a long prompt " * 40}],
    )
    m = raw.parse()
    ev = gw.usage(raw.headers["x-steward-request-id"])
    u = m.usage
    read = u.cache_read_input_tokens or 0
    assert read > 0
    # Steward's input_tokens is the whole prompt: uncached + cache reads + cache writes
    assert ev.input_tokens == u.input_tokens + read + (u.cache_creation_input_tokens or 0)
    assert ev.cached_tokens == read
    expected = (u.input_tokens * 3.0 + read * 0.3 + u.output_tokens * 15.0) / 1e6
    assert float(ev.cost_usd) == pytest.approx(expected, rel=1e-9)
