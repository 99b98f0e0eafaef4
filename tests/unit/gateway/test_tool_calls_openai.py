"""OpenAI answers: tool calls found, strictly parsed, withheld, and streamed calls reassembled
from fragments cut anywhere; the official SDK still reads every answer Steward rewrites."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from openai.lib.streaming.chat._completions import ChatCompletionStreamState
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from steward.gateway.stages import _tool_calls_openai as wire
from steward.gateway.stages._tool_calls_model import (
    DENIED_FIELD,
    INVALID_ARGUMENTS,
    INVALID_TOOL_CALL,
    TOOL_NOT_ALLOWED,
    Denial,
    ToolCall,
    parse_arguments,
)
from tests.unit.gateway._tool_calls_fixtures import openai_answer, openai_chunks


def deny(call: ToolCall, reason: str = "forbidden here.") -> tuple[ToolCall, Denial]:
    return call, Denial(TOOL_NOT_ALLOWED, reason, ("p1",))


def test_parse_arguments_is_strict() -> None:
    assert parse_arguments('{"a": 1, "b": [true, null]}') == ({"a": 1, "b": [True, None]}, None)
    assert parse_arguments("  ") == ({}, None)
    assert parse_arguments('{"url": "https://x:8080/a", "n": {"t": "12:30"}}') == (
        {"url": "https://x:8080/a", "n": {"t": "12:30"}},
        None,
    )
    assert parse_arguments('{"n": 123456789012345678901234567890}')[0] == {
        "n": 123456789012345678901234567890
    }
    assert parse_arguments('{"e": "\\ud83d\\ude00"}') == ({"e": "\U0001f600"}, None)
    for bad, why in [
        ('{"a": 1', "not valid JSON"),
        ("[1, 2]", "must be a JSON object, not list"),
        ('"x"', "not str"),
        ('{"amount": 5, "amount": 5000}', "'amount' appears twice"),
        ('{"note": "a:b", "amount": 5, "amount": 5000}', "'amount' appears twice"),
        ('{"a": {"k": 1, "k": 2}, "b": [{"x": "1:2"}]}', "'k' appears twice"),
        ('{"amount": NaN}', "NaN is not valid JSON"),
        ('{"a": Infinity}', "Infinity is not valid JSON"),
        ('{"note": "\\ud800"}', "unpaired surrogate"),
    ]:
        args, error = parse_arguments(bad)
        assert args is None and error is not None and why in error, (bad, error)


def test_calls_reads_functions_custom_tools_and_legacy_function_call() -> None:
    body = openai_answer(("get_weather", '{"city": "Oslo"}'), ("refund", "{oops"))
    msg = body["choices"][0]["message"]
    msg["tool_calls"].append(
        {"id": "c2", "type": "custom", "custom": {"name": "sql", "input": "DROP"}}
    )
    msg["tool_calls"].append({"id": "c3", "type": "computer", "computer": {}})
    msg["tool_calls"].append({"id": "c4", "type": "function", "function": {"arguments": "{}"}})
    msg["function_call"] = {"name": "legacy", "arguments": '{"x": 1}'}
    found = wire.calls(body)
    assert [(c.name, c.arguments, c.kind) for c in found] == [
        ("get_weather", {"city": "Oslo"}, "function"),
        ("refund", None, "function"),
        ("sql", {"input": "DROP"}, "custom"),
        ("", None, "function"),
        ("", None, "function"),
        ("legacy", {"x": 1}, "function"),
    ]
    assert found[1].error_code == INVALID_ARGUMENTS and "not valid JSON" in (found[1].error or "")
    assert found[3].error_code == INVALID_TOOL_CALL and "'computer'" in (found[3].error or "")
    assert found[4].error == "the tool call has no name"
    assert found[0].location == "choices[0].message.tool_calls[0]"
    assert found[5].location == "choices[0].message.function_call"


def test_withhold_keeps_allowed_calls_and_explains_the_rest() -> None:
    body = openai_answer(("get_weather", '{"city": "Oslo"}'), ("refund", '{"amount": 900}'))
    found = wire.calls(body)
    wire.withhold(body, [deny(found[1], "refund is forbidden.")])
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert [c["function"]["name"] for c in choice["message"]["tool_calls"]] == ["get_weather"]
    [entry] = choice["message"][DENIED_FIELD]
    assert entry["id"] == "call_1" and entry["name"] == "refund"
    assert entry["code"] == TOOL_NOT_ALLOWED and entry["policies"] == ["p1"]
    assert entry["reason"] == "refund is forbidden."
    assert len(entry["arguments_sha256"]) == 64 and "approval" not in entry
    assert "refund (call_1) was not delivered: refund is forbidden." in choice["message"]["content"]
    parsed = ChatCompletion.model_validate(body)
    assert parsed.choices[0].message.tool_calls is not None
    assert len(parsed.choices[0].message.tool_calls) == 1
    assert parsed.choices[0].message.model_extra == {DENIED_FIELD: [entry]}


def test_withhold_every_call_finishes_with_stop_and_content() -> None:
    body = openai_answer(("refund", '{"amount": 900}'), content="Refunding now.")
    wire.withhold(body, [deny(c) for c in wire.calls(body)])
    choice = body["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert "tool_calls" not in choice["message"]
    assert choice["message"]["content"].startswith(
        "Refunding now.\n\n[steward] The tool call refund"
    )
    parsed = ChatCompletion.model_validate(body)
    assert parsed.choices[0].message.tool_calls is None
    assert parsed.choices[0].finish_reason == "stop"


def test_withhold_keeps_content_parts() -> None:
    body = openai_answer(("refund", "{}"))
    body["choices"][0]["message"]["content"] = [{"type": "text", "text": "Refunding."}]
    wire.withhold(body, [deny(c) for c in wire.calls(body)])
    parts = body["choices"][0]["message"]["content"]
    assert parts[0] == {"type": "text", "text": "Refunding."}
    assert parts[1]["text"].startswith("[steward] The tool call refund")


def test_withhold_legacy_function_call() -> None:
    body = openai_answer()
    body["choices"][0]["message"]["function_call"] = {"name": "legacy", "arguments": "{}"}
    body["choices"][0]["finish_reason"] = "function_call"
    wire.withhold(body, [deny(c) for c in wire.calls(body)])
    assert "function_call" not in body["choices"][0]["message"]
    assert body["choices"][0]["finish_reason"] == "stop"


def _run_stream(
    chunks: list[dict[str, Any]], denied_names: set[str]
) -> tuple[list[dict[str, Any]], list[ToolCall]]:
    stream = wire.OpenAIStream()
    out: list[dict[str, Any]] = []
    seen: list[ToolCall] = []
    for event in chunks:
        chunk, finished = stream.feed(event)
        for idx, calls in finished:
            seen += calls
            denied = [deny(c) for c in calls if c.name in denied_names]
            assert chunk is not None
            out += stream.release(chunk, idx, calls, denied)
        if chunk is not None:
            out.append(chunk)
    return out, seen


def _accumulate(out: list[dict[str, Any]]) -> Any:
    state = ChatCompletionStreamState()
    for event in out:
        state.handle_chunk(ChatCompletionChunk.model_validate(event))
    return state.get_final_completion()


def test_stream_holds_calls_until_the_choice_finishes() -> None:
    chunks = openai_chunks([("get_weather", '{"city": "Oslo"}')], [[3, 9]], content="Hi")
    stream = wire.OpenAIStream()
    outputs = [stream.feed(c) for c in chunks]
    # the call's fragments are held: nothing of them reaches the client before the finish
    assert all(
        "tool_calls" not in ch["delta"]
        for chunk, _ in outputs[:-1]
        if chunk is not None
        for ch in chunk["choices"]
    )
    assert sum(1 for chunk, _ in outputs if chunk is None) == 4
    final_chunk, finished = outputs[-1]
    [(idx, [call])] = finished
    assert idx == 0 and call.arguments == {"city": "Oslo"} and call.id == "call_0"


def test_stream_all_denied_becomes_stop_with_explanation() -> None:
    chunks = openai_chunks([("refund", '{"amount": 5}')], [[4]], content="Sure.")
    out, _ = _run_stream(chunks, {"refund"})
    final = _accumulate(out)
    msg = final.choices[0].message
    assert final.choices[0].finish_reason == "stop"
    assert not msg.tool_calls
    assert msg.content.startswith("Sure.\n\n[steward] The tool call refund (call_0)")
    denial_chunks = [c for c in out for ch in c["choices"] if DENIED_FIELD in ch["delta"]]
    [entry] = denial_chunks[0]["choices"][0]["delta"][DENIED_FIELD]
    assert entry["name"] == "refund" and entry["code"] == TOOL_NOT_ALLOWED


_NAMES = st.sampled_from(["get_weather", "refund", "lookup", "send_mail"])
_ARGS = st.dictionaries(
    st.text("abcxyz_", min_size=1, max_size=6),
    st.one_of(st.integers(-(10**6), 10**6), st.text(max_size=12), st.booleans(), st.none()),
    max_size=4,
)


@settings(max_examples=150, deadline=None)
@given(
    calls=st.lists(st.tuples(_NAMES, _ARGS), min_size=1, max_size=4),
    cuts=st.lists(st.lists(st.integers(0, 80), max_size=12), min_size=4, max_size=4),
    deny_names=st.sets(_NAMES),
    content=st.text(max_size=20),
)
def test_stream_reassembly_matches_the_whole_answer(
    calls: list[tuple[str, dict[str, Any]]],
    cuts: list[list[int]],
    deny_names: set[str],
    content: str,
) -> None:
    """However the arguments are cut, the client gets exactly the allowed calls, whole and
    densely indexed, and one denial entry per denied call."""
    texts = [(n, json.dumps(a)) for n, a in calls]
    out, seen = _run_stream(openai_chunks(texts, cuts, content=content), deny_names)
    assert [(c.name, c.arguments) for c in seen] == calls
    final = _accumulate(out)
    msg = final.choices[0].message
    allowed = [(n, a) for n, a in calls if n not in deny_names]
    got = [(c.function.name, json.loads(c.function.arguments)) for c in msg.tool_calls or []]
    assert got == allowed
    denied_entries = [
        e for c in out for ch in c["choices"] for e in ch["delta"].get(DENIED_FIELD, [])
    ]
    assert [e["name"] for e in denied_entries] == [n for n, _ in calls if n in deny_names]
    expected_finish = "tool_calls" if allowed else "stop"
    assert final.choices[0].finish_reason == expected_finish
    assert (msg.content or "").startswith(content)


def test_stream_two_choices_are_independent() -> None:
    first = openai_chunks([("refund", "{}")], [[]], choice=0)
    second = openai_chunks([("get_weather", '{"city": "Rome"}')], [[5]], choice=1)
    out, seen = _run_stream(first[:-1] + second[:-1] + [first[-1], second[-1]], {"refund"})
    assert {c.name for c in seen} == {"refund", "get_weather"}
    finishes = {
        ch["index"]: ch["finish_reason"] for c in out for ch in c["choices"] if ch["finish_reason"]
    }
    assert finishes == {0: "stop", 1: "tool_calls"}
    calls1 = [
        tc
        for c in out
        for ch in c["choices"]
        if ch["index"] == 1
        for tc in ch["delta"].get("tool_calls", [])
    ]
    assert calls1 == [
        {
            "index": 0,
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'},
            "id": "call_0",
        }
    ]


def test_stream_usage_chunk_and_fragment_only_chunks() -> None:
    chunks = openai_chunks([("lookup", '{"q": 1}')], [[2]])
    usage = {
        **chunks[0],
        "choices": [],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
    }
    out, _ = _run_stream([*chunks, usage], set())
    assert out[-1] == usage  # a usage chunk passes untouched
    # every chunk that reaches the client still has something in it
    assert all(c["choices"] or c.get("usage") for c in out)
