"""The official OpenAI SDK against Steward: chat, streaming, tools, embeddings, fallbacks, and
translation to an Anthropic upstream, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import openai
import pytest

from tests.e2e._gateway import Gateway
from tests.fakes.upstream import FakeUpstream

TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


@pytest.fixture
def client(gw: Gateway) -> openai.OpenAI:
    key, _, _ = gw.user_key()
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0)


def test_chat_completion_is_answered_and_recorded(
    gw: Gateway, client: openai.OpenAI, upstream: FakeUpstream
) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-test", messages=[{"role": "user", "content": "What is Steward?"}]
    )
    r = raw.parse()
    assert r.choices[0].message.content
    assert r.usage is not None and r.usage.prompt_tokens > 0
    request_id = raw.headers["x-steward-request-id"]
    assert float(raw.headers["x-steward-overhead-ms"]) >= 0
    sent = [q for q in upstream.requests if q.path == "/v1/chat/completions"][-1]
    assert sent.body["model"] == "gpt-4o-mini"  # the alias is mapped to the upstream model
    assert sent.headers["authorization"] == "Bearer upstream-secret-key"  # our key never leaks
    ev = gw.usage(request_id)
    assert (ev.status, ev.model, ev.provider, ev.upstream_model) == (
        200,
        "gpt-test",
        "up-openai",
        "gpt-4o-mini",
    )
    assert (
        ev.input_tokens == r.usage.prompt_tokens and ev.output_tokens == r.usage.completion_tokens
    )
    assert ev.cost_usd is not None and ev.cost_usd > 0  # priced by genai-prices


def test_streaming_asks_upstream_for_usage_but_hides_it_unless_asked(
    gw: Gateway, client: openai.OpenAI, upstream: FakeUpstream
) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-test", messages=[{"role": "user", "content": "Stream please"}], stream=True
    )
    chunks = list(raw.parse())
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert all(c.usage is None for c in chunks)
    sent = [q for q in upstream.requests if q.path == "/v1/chat/completions"][-1]
    assert sent.body["stream_options"] == {"include_usage": True}
    ev = gw.usage(raw.headers["x-steward-request-id"])
    assert ev.stream and ev.input_tokens > 0 and ev.output_tokens > 0 and ev.cost_usd
    assert ev.ttft_ms is not None

    with_usage = list(
        client.chat.completions.create(
            model="gpt-test",
            messages=[{"role": "user", "content": "Stream please"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert with_usage[-1].usage is not None and with_usage[-1].usage.total_tokens > 0


def test_tool_calls_pass_through(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(
        model="gpt-test",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[TOOL],  # type: ignore[list-item]
    )
    call = r.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert isinstance(json.loads(call.function.arguments), dict)  # type: ignore[union-attr]
    assert r.choices[0].finish_reason == "tool_calls"


@pytest.mark.parametrize("model", ["claude-test", "sim-fast"])
def test_chat_translated_to_other_providers_with_tools_and_streaming(
    gw: Gateway, client: openai.OpenAI, model: str
) -> None:
    r = client.chat.completions.create(
        model=model,
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Oslo?"},
        ],
        tools=[TOOL],  # type: ignore[list-item]
    )
    call = r.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    follow = client.chat.completions.create(
        model=model,
        messages=[
            {"role": "user", "content": "Weather in Oslo?"},
            {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},  # type: ignore[union-attr,typeddict-item]
            {"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 3}'},
        ],
        tools=[TOOL],  # type: ignore[list-item]
    )
    assert follow.choices[0].message.content
    raw = client.chat.completions.with_raw_response.create(
        model=model,
        messages=[{"role": "user", "content": "Tell me a story"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(raw.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    ev = gw.usage(raw.headers["x-steward-request-id"])
    assert ev.stream and ev.output_tokens == chunks[-1].usage.completion_tokens


def test_embeddings(gw: Gateway, client: openai.OpenAI) -> None:
    raw = client.embeddings.with_raw_response.create(model="emb", input=["one", "two"])
    e = raw.parse()
    assert len(e.data) == 2 and len(e.data[0].embedding) > 0
    ev = gw.usage(raw.headers["x-steward-request-id"])
    assert ev.endpoint == "embeddings" and ev.input_tokens > 0


def test_retry_then_fallback(gw: Gateway, client: openai.OpenAI, upstream: FakeUpstream) -> None:
    upstream.reset()  # the flaky model fails once per counter (Steward forwards no client headers)
    raw = client.chat.completions.with_raw_response.create(
        model="flaky", messages=[{"role": "user", "content": "retry me"}]
    )
    assert raw.parse().choices[0].message.content
    ev = gw.usage(raw.headers["x-steward-request-id"])
    assert ev.attempts == 2 and ev.status == 200

    raw = client.chat.completions.with_raw_response.create(
        model="broken", messages=[{"role": "user", "content": "fall back"}]
    )
    r = raw.parse()
    assert r.choices[0].message.content
    ev = gw.usage(raw.headers["x-steward-request-id"])
    # two attempts on the broken upstream (1 + 1 retry), then the Anthropic fallback
    assert (ev.model, ev.provider, ev.attempts, ev.status) == ("broken", "up-anthropic", 3, 200)


def test_tags_from_header_and_metadata(gw: Gateway, client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="sim-fast",
        messages=[{"role": "user", "content": "tag me"}],
        metadata={"feature": "search"},
        extra_headers={"x-steward-tags": "env=prod, release=42"},
    )
    ev = gw.usage(raw.headers["x-steward-request-id"])
    assert ev.tags == {"env": "prod", "release": "42", "feature": "search"}


def test_unpriced_model_costs_null_not_zero(gw: Gateway, client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="unpriced", messages=[{"role": "user", "content": "what do I cost?"}]
    )
    ev = gw.usage(raw.headers["x-steward-request-id"])
    assert ev.status == 200 and ev.input_tokens > 0
    assert ev.cost_usd is None and ev.price_source is None
