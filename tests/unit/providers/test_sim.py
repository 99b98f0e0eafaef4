"""The built-in simulator: OpenAI answers, tools, JSON output, streams, embeddings, faults."""

from __future__ import annotations

import base64
import importlib.util
import json
import math
import struct
import time
from collections.abc import Callable
from typing import Any

import pytest
from openai.types import CreateEmbeddingResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from steward.config.models import SimSettings
from steward.providers.base import CallInfo, UpstreamError
from steward.providers.sim import SimProvider
from steward.providers.tokens import count_tokens, estimate_chat_tokens

CALL = CallInfo(upstream_model="sim-test-1", timeout_s=30.0, request_id="req-1")
HAS_JSONSCHEMA = importlib.util.find_spec("jsonschema") is not None

WEATHER: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "minLength": 2},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
            },
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
    },
}
SEARCH: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "search",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}},
            "required": ["query"],
        },
    },
}

SimFactory = Callable[..., SimProvider]


@pytest.fixture
def make_sim() -> SimFactory:
    """A simulator with the given SimSettings fields."""

    def make(**settings: Any) -> SimProvider:
        return SimProvider("sim-test", SimSettings(**settings))

    return make


def ask(question: str, **extra: Any) -> dict[str, Any]:
    return {"model": "sim-test-1", "messages": [{"role": "user", "content": question}], **extra}


def check_schema(instance: Any, schema: dict[str, Any]) -> None:
    """Validate with `jsonschema` when it is installed (it is a test-only nicety)."""
    if not HAS_JSONSCHEMA:
        return
    import jsonschema

    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    validator.validate(instance)


async def collect(sim: SimProvider, body: dict[str, Any]) -> list[dict[str, Any]]:
    chunks = [chunk async for chunk in sim.chat_stream(body, CALL)]
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
    return chunks


def streamed_text(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


# --- chat ---------------------------------------------------------------------------------------


async def test_chat_is_an_openai_completion_with_real_token_counts(make_sim: SimFactory) -> None:
    body = ask("What is the capital of France?")
    resp = await make_sim().chat(body, CALL)
    completion = ChatCompletion.model_validate(resp.body)
    assert completion.id.startswith("chatcmpl-sim-")
    assert completion.model == "sim-test-1"
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    content = choice.message.content or ""
    assert "capital France" in content  # the question's topic is echoed
    usage = resp.body["usage"]
    assert usage["prompt_tokens"] == estimate_chat_tokens(body)
    assert usage["completion_tokens"] == count_tokens(content)
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens_details"] == {"cached_tokens": 0}
    assert usage["completion_tokens_details"] == {"reasoning_tokens": 0}
    assert resp.usage is not None
    assert (resp.usage.input_tokens, resp.usage.output_tokens) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
    )


async def test_answers_are_deterministic_and_depend_on_prompt_and_seed(
    make_sim: SimFactory,
) -> None:
    def text(resp: Any) -> str:
        return str(resp.body["choices"][0]["message"]["content"])

    sim = make_sim(seed=1)
    first = text(await sim.chat(ask("How do I bake sourdough bread?"), CALL))
    again = text(await make_sim(seed=1).chat(ask("How do I bake sourdough bread?"), CALL))
    other = text(await sim.chat(ask("Explain quantum entanglement simply"), CALL))
    assert first == again
    assert first != other
    assert "sourdough" in first and "quantum" in other
    answers = {text(await make_sim(seed=s).chat(ask("Same question"), CALL)) for s in range(8)}
    assert len(answers) > 1


async def test_parts_content_and_system_messages(make_sim: SimFactory) -> None:
    body = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Tell me about volcanoes"}]},
        ]
    }
    resp = await make_sim().chat(body, CALL)
    assert "volcanoes" in resp.body["choices"][0]["message"]["content"]


@pytest.mark.parametrize("limit", [1, 3, 10, 25])
@pytest.mark.parametrize("key", ["max_tokens", "max_completion_tokens"])
async def test_max_tokens_truncates_with_finish_reason_length(
    make_sim: SimFactory, limit: int, key: str
) -> None:
    sim = make_sim()
    full = (await sim.chat(ask("Describe the water cycle"), CALL)).body["choices"][0]
    resp = await sim.chat(ask("Describe the water cycle", **{key: limit}), CALL)
    choice = resp.body["choices"][0]
    assert choice["finish_reason"] == "length"
    content = choice["message"]["content"]
    assert full["message"]["content"].startswith(content)
    assert 0 < resp.body["usage"]["completion_tokens"] == count_tokens(content) <= limit


async def test_generous_max_tokens_does_not_truncate(make_sim: SimFactory) -> None:
    resp = await make_sim().chat(ask("Describe the water cycle", max_tokens=4096), CALL)
    assert resp.body["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize("stop", [".", ["zzz", "."], "\u2603never"])
async def test_stop_sequences_end_the_answer(make_sim: SimFactory, stop: Any) -> None:
    sim = make_sim()
    full = (await sim.chat(ask("Why is the sky blue?"), CALL)).body["choices"][0]["message"]
    resp = await sim.chat(ask("Why is the sky blue?", stop=stop), CALL)
    content = resp.body["choices"][0]["message"]["content"]
    assert resp.body["choices"][0]["finish_reason"] == "stop"
    if stop == "\u2603never":
        assert content == full["content"]
    else:
        assert content == full["content"].split(".")[0]
        assert "." not in content


async def test_json_object_mode_answers_a_json_object(make_sim: SimFactory) -> None:
    body = ask("List three fruits", response_format={"type": "json_object"})
    content = (await make_sim().chat(body, CALL)).body["choices"][0]["message"]["content"]
    value = json.loads(content)
    assert isinstance(value, dict) and value


SCHEMAS: list[dict[str, Any]] = [
    {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer", "minimum": 18, "maximum": 99},
            "score": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
            "active": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 3},
            "role": {"type": "string", "enum": ["admin", "user", "guest"]},
            "nickname": {"type": ["string", "null"]},
        },
        "required": ["name", "age", "score", "active", "tags", "role", "nickname"],
        "additionalProperties": False,
    },
    {
        "type": "object",
        "properties": {
            "address": {
                "type": "object",
                "properties": {
                    "street": {"type": "string", "minLength": 30},
                    "zip": {"type": "string", "maxLength": 5},
                    "country": {"const": "FR"},
                },
                "required": ["street", "zip", "country"],
            },
            "price": {"type": "number", "multipleOf": 0.01, "minimum": 1, "maximum": 2},
            "step": {"type": "integer", "multipleOf": 5, "minimum": 11},
            "half": {"type": "number", "multipleOf": 0.5},
            "when": {"type": "string", "format": "date-time"},
            "day": {"type": "string", "format": "date"},
            "email": {"type": "string", "format": "email"},
            "id": {"type": "string", "format": "uuid"},
        },
        "required": ["address", "price", "step", "half", "when", "day", "email", "id"],
    },
    {
        "$defs": {
            "item": {
                "type": "object",
                "properties": {"sku": {"type": "string"}, "qty": {"type": "integer", "minimum": 1}},
                "required": ["sku", "qty"],
            }
        },
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/$defs/item"}, "maxItems": 1},
            "either": {"anyOf": [{"type": "null"}, {"type": "integer", "maximum": -5}]},
            "one": {"oneOf": [{"type": "string", "maxLength": 3}, {"type": "boolean"}]},
            "both": {
                "allOf": [
                    {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                    {"properties": {"b": {"type": "integer"}}, "required": ["b"]},
                ]
            },
            "pair": {
                "type": "array",
                "prefixItems": [{"type": "string"}, {"type": "number"}],
                "minItems": 2,
                "maxItems": 2,
            },
            "unique": {
                "type": "array",
                "items": {"enum": ["x", "y"]},
                "uniqueItems": True,
                "minItems": 1,
            },
        },
        "required": ["items", "either", "one", "both", "pair", "unique"],
    },
    {
        # Recursive: optional children stop being generated past a small depth.
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "children": {"type": "array", "items": {"$ref": "#"}},
        },
        "required": ["name"],
    },
]


@pytest.mark.parametrize("schema", SCHEMAS)
@pytest.mark.parametrize("question", ["Give me a record", "Another one please"])
async def test_json_schema_answers_conform(
    make_sim: SimFactory, schema: dict[str, Any], question: str
) -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "out", "schema": schema, "strict": True}}
    resp = await make_sim().chat(ask(question, response_format=fmt), CALL)
    content = resp.body["choices"][0]["message"]["content"]
    value = json.loads(content)
    assert isinstance(value, dict)
    assert set(schema["required"]) <= set(value)
    check_schema(value, schema)


# --- tools --------------------------------------------------------------------------------------


async def test_offered_tools_are_called_with_conforming_arguments(make_sim: SimFactory) -> None:
    body = ask("What's the weather in Paris?", tools=[WEATHER, SEARCH])
    resp = await make_sim().chat(body, CALL)
    completion = ChatCompletion.model_validate(resp.body)
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = choice.message.tool_calls or []
    assert len(calls) == 1
    call = calls[0]
    assert call.id.startswith("call_") and int(call.id[5:], 16) >= 0
    fn = getattr(call, "function")  # noqa: B009 - a union of function and custom calls
    assert fn.name == "get_weather"
    arguments = json.loads(fn.arguments)
    check_schema(arguments, WEATHER["function"]["parameters"])
    assert {"city", "unit"} <= set(arguments)
    assert resp.body["usage"]["completion_tokens"] == count_tokens("get_weather") + count_tokens(
        fn.arguments
    )
    again = await make_sim().chat(body, CALL)
    assert (
        again.body["choices"][0]["message"]["tool_calls"]
        == resp.body["choices"][0]["message"]["tool_calls"]
    )


async def test_tool_choice_selects_or_suppresses_tools(make_sim: SimFactory) -> None:
    sim = make_sim()
    named = {"type": "function", "function": {"name": "search"}}
    resp = await sim.chat(ask("Find cats", tools=[WEATHER, SEARCH], tool_choice=named), CALL)
    call = resp.body["choices"][0]["message"]["tool_calls"][0]
    assert call["function"]["name"] == "search"
    check_schema(json.loads(call["function"]["arguments"]), SEARCH["function"]["parameters"])
    for choice in ("auto", "required"):
        resp = await sim.chat(ask("Find cats", tools=[SEARCH], tool_choice=choice), CALL)
        assert resp.body["choices"][0]["finish_reason"] == "tool_calls"
    resp = await sim.chat(ask("Find cats", tools=[SEARCH], tool_choice="none"), CALL)
    assert resp.body["choices"][0]["finish_reason"] == "stop"
    assert "tool_calls" not in resp.body["choices"][0]["message"]


async def test_unknown_named_tool_is_a_bad_request(make_sim: SimFactory) -> None:
    choice = {"type": "function", "function": {"name": "nope"}}
    with pytest.raises(UpstreamError) as err:
        await make_sim().chat(ask("x", tools=[SEARCH], tool_choice=choice), CALL)
    assert (err.value.status, err.value.kind) == (400, "invalid_request")
    assert "nope" in err.value.message


async def test_a_tool_result_is_answered_in_text(make_sim: SimFactory) -> None:
    sim = make_sim()
    first = await sim.chat(ask("Weather in Paris?", tools=[WEATHER]), CALL)
    call = first.body["choices"][0]["message"]["tool_calls"][0]
    body = {
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {
                "role": "tool",
                "tool_call_id": call["id"],
                "content": '{"temp_c": 21, "sky": "clear"}',
            },
        ],
        "tools": [WEATHER],
    }
    resp = await sim.chat(body, CALL)
    choice = ChatCompletion.model_validate(resp.body).choices[0]
    assert choice.finish_reason == "stop"
    assert not choice.message.tool_calls
    content = choice.message.content or ""
    assert "get_weather" in content and "temp_c" in content and "21" in content


# --- streaming ----------------------------------------------------------------------------------


@pytest.mark.parametrize("include_usage", [True, False, None])
async def test_stream_matches_the_completion(
    make_sim: SimFactory, include_usage: bool | None
) -> None:
    sim = make_sim()
    extra = {} if include_usage is None else {"stream_options": {"include_usage": include_usage}}
    body = ask("Summarise the French revolution", **extra)
    full = await sim.chat(body, CALL)
    chunks = await collect(sim, body)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert len({c["id"] for c in chunks}) == 1
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert all(c["model"] == "sim-test-1" for c in chunks)
    assert streamed_text(chunks) == full.body["choices"][0]["message"]["content"]
    content_chunks = [c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")]
    assert len(content_chunks) > 5  # streamed in small pieces
    assert all(count_tokens(c["choices"][0]["delta"]["content"]) <= 8 for c in content_chunks)
    if include_usage:
        finish, last = chunks[-2], chunks[-1]
        assert last["choices"] == []
        assert last["usage"] == full.body["usage"]
        assert all(c["usage"] is None for c in chunks[:-1])
    else:
        finish = chunks[-1]
        assert all("usage" not in c or c["usage"] is None for c in chunks)
    assert finish["choices"][0]["finish_reason"] == "stop"
    assert finish["choices"][0]["delta"] == {}


async def test_stream_honours_max_tokens(make_sim: SimFactory) -> None:
    body = ask("Summarise the French revolution", max_tokens=7)
    body["stream_options"] = {"include_usage": True}
    chunks = await collect(make_sim(), body)
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["usage"]["completion_tokens"] == count_tokens(streamed_text(chunks)) <= 7


async def test_stream_tool_call_deltas(make_sim: SimFactory) -> None:
    sim = make_sim()
    body = ask("What's the weather in Oslo?", tools=[WEATHER])
    full = (await sim.chat(body, CALL)).body["choices"][0]["message"]["tool_calls"][0]
    chunks = await collect(sim, body)
    deltas = [c["choices"][0]["delta"] for c in chunks]
    head = deltas[1]["tool_calls"][0]
    assert head["index"] == 0 and head["id"] == full["id"] and head["type"] == "function"
    assert head["function"] == {"name": "get_weather", "arguments": ""}
    pieces = [d["tool_calls"][0]["function"]["arguments"] for d in deltas[2:-1]]
    assert len(pieces) >= 2
    assert all("id" not in d["tool_calls"][0] for d in deltas[2:-1])
    assert "".join(pieces) == full["function"]["arguments"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


async def test_latency_settings_delay_the_answer(make_sim: SimFactory) -> None:
    sim = make_sim(latency_ms=30, token_latency_ms=2)
    started = time.perf_counter()
    chunks = await collect(sim, ask("Hello there"))
    elapsed = time.perf_counter() - started
    assert elapsed >= 0.030 + 0.002 * (len(chunks) - 2) * 0.9


async def test_latency_beyond_the_timeout_times_out(make_sim: SimFactory) -> None:
    call = CallInfo(upstream_model="m", timeout_s=0.01, request_id="r")
    with pytest.raises(UpstreamError) as err:
        await make_sim(latency_ms=5_000).chat(ask("Hi"), call)
    assert (err.value.status, err.value.kind, err.value.retryable) == (504, "timeout", True)


# --- failures -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "retryable"), [(503, True), (429, True), (400, False)])
async def test_error_rate_one_always_fails_before_any_output(
    make_sim: SimFactory, status: int, retryable: bool
) -> None:
    sim = make_sim(error_rate=1.0, error_status=status)
    for _ in range(3):
        with pytest.raises(UpstreamError) as err:
            await sim.chat(ask("Hi"), CALL)
        assert err.value.status == status
        assert err.value.retryable is retryable
        assert err.value.kind == "upstream_error"
        assert err.value.message == "simulated upstream error (sim provider 'sim-test')"
    stream = sim.chat_stream(ask("Hi"), CALL)
    with pytest.raises(UpstreamError):
        await anext(stream)
    with pytest.raises(UpstreamError):
        await sim.embed({"input": "hi"}, CALL)


async def test_error_rate_zero_never_fails(make_sim: SimFactory) -> None:
    sim = make_sim(error_rate=0.0)
    for i in range(50):
        await sim.chat(ask(f"question {i}"), CALL)


async def test_error_draws_are_reproducible_per_seed(make_sim: SimFactory) -> None:
    async def outcomes(sim: SimProvider) -> list[bool]:
        result = []
        for i in range(60):
            try:
                await sim.chat(ask(f"q{i}"), CALL)
                result.append(True)
            except UpstreamError:
                result.append(False)
        return result

    first = await outcomes(make_sim(error_rate=0.3, seed=7))
    assert first == await outcomes(make_sim(error_rate=0.3, seed=7))
    assert first != await outcomes(make_sim(error_rate=0.3, seed=8))
    assert 5 <= first.count(False) <= 35


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"messages": []},
        {"messages": "hello"},
        {"messages": [1]},
        {"messages": [{"content": "no role"}]},
        {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 0},
        {"messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": "5"},
        {"messages": [{"role": "user", "content": "hi"}], "tools": {"not": "a list"}},
    ],
)
async def test_malformed_bodies_are_bad_requests(
    make_sim: SimFactory, body: dict[str, Any]
) -> None:
    sim = make_sim()
    with pytest.raises(UpstreamError) as err:
        await sim.chat(body, CALL)
    assert (err.value.status, err.value.kind, err.value.retryable) == (
        400,
        "invalid_request",
        False,
    )
    with pytest.raises(UpstreamError):
        await anext(sim.chat_stream(body, CALL))


async def test_odd_but_valid_bodies_do_not_crash(make_sim: SimFactory) -> None:
    sim = make_sim()
    for body in (
        {"messages": [{"role": "system", "content": "only a system prompt"}]},
        {"messages": [{"role": "user", "content": None}]},
        {"messages": [{"role": "user", "content": [{"type": "image_url"}, 3]}]},
        {"messages": [{"role": "user", "content": ""}], "stop": [None, ""], "tools": []},
        {"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "custom"}]},
        {"messages": [{"role": "tool", "content": "42"}]},
    ):
        ChatCompletion.model_validate((await sim.chat(body, CALL)).body)


async def test_lone_surrogates_and_malformed_schemas_do_not_crash(make_sim: SimFactory) -> None:
    sim = make_sim()
    odd = "Broken \ud800 text"
    resp = await sim.chat(ask(odd, tools=[SEARCH]), CALL)
    assert resp.body["choices"][0]["finish_reason"] == "tool_calls"
    for schema in (
        {"type": "object", "properties": {"x": {"type": "number", "multipleOf": 1e-300}}},
        {"type": "object", "properties": [1, 2], "required": "x"},
        {"allOf": [{"properties": 5}], "type": "object"},
        {"$ref": "#/$defs/missing"},
        {"type": "object", "properties": {"n": {"type": "integer", "minimum": "a"}}},
    ):
        fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
        content = (await sim.chat(ask(odd, response_format=fmt), CALL)).body["choices"][0]
        json.loads(content["message"]["content"])
    await sim.embed({"input": [odd]}, CALL)


# --- embeddings ---------------------------------------------------------------------------------


async def test_embeddings_are_deterministic_unit_vectors(make_sim: SimFactory) -> None:
    sim = make_sim(embedding_dimensions=32)
    body = {"model": "e", "input": ["alpha", "beta", "alpha"]}
    resp = await sim.embed(body, CALL)
    parsed = CreateEmbeddingResponse.model_validate(resp.body)
    assert parsed.model == "sim-test-1"
    vectors = [d.embedding for d in parsed.data]
    assert [d.index for d in parsed.data] == [0, 1, 2]
    assert all(len(v) == 32 for v in vectors)
    assert all(math.isclose(math.hypot(*v), 1.0) for v in vectors)
    assert vectors[0] == vectors[2] != vectors[1]
    assert (await make_sim(embedding_dimensions=32).embed(body, CALL)).body == resp.body
    other_seed = await make_sim(embedding_dimensions=32, seed=5).embed(body, CALL)
    assert other_seed.body["data"][0]["embedding"] != vectors[0]
    tokens = count_tokens("alpha") * 2 + count_tokens("beta")
    assert parsed.usage.prompt_tokens == parsed.usage.total_tokens == tokens
    assert resp.usage is not None and resp.usage.input_tokens == tokens


async def test_embedding_input_forms_dimensions_and_base64(make_sim: SimFactory) -> None:
    sim = make_sim()
    single = (await sim.embed({"input": "hello"}, CALL)).body
    assert len(single["data"]) == 1 and len(single["data"][0]["embedding"]) == 64
    tokens = (await sim.embed({"input": [[1, 2, 3], [4, 5]]}, CALL)).body
    assert len(tokens["data"]) == 2 and tokens["usage"]["prompt_tokens"] == 5
    one_array = (await sim.embed({"input": [1, 2, 3]}, CALL)).body
    assert len(one_array["data"]) == 1
    sized = (await sim.embed({"input": "hello", "dimensions": 8}, CALL)).body
    assert len(sized["data"][0]["embedding"]) == 8
    b64 = (await sim.embed({"input": "hello", "encoding_format": "base64"}, CALL)).body
    raw = base64.b64decode(b64["data"][0]["embedding"])
    floats = struct.unpack(f"<{len(raw) // 4}f", raw)
    assert len(floats) == 64
    assert all(
        math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-7)
        for a, b in zip(floats, single["data"][0]["embedding"], strict=True)
    )


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"input": []},
        {"input": 5},
        {"input": ["a", 1]},
        {"input": [[1], []]},
        {"input": "x", "dimensions": 0},
        {"input": "x", "dimensions": 10_000},
        {"input": "x", "encoding_format": "hex"},
    ],
)
async def test_malformed_embedding_requests_are_bad_requests(
    make_sim: SimFactory, body: dict[str, Any]
) -> None:
    with pytest.raises(UpstreamError) as err:
        await make_sim().embed(body, CALL)
    assert (err.value.status, err.value.kind) == (400, "invalid_request")
