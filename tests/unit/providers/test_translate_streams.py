"""Streams: Anthropic Messages events <-> OpenAI chat.completion.chunk."""

from __future__ import annotations

import json
from typing import Any

import anthropic.types
import pydantic
import pytest
from anthropic.lib.streaming._messages import accumulate_event
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk

from steward.providers.base import Usage
from steward.providers.translate import (
    ChatToMessagesStream,
    MessagesToChatStream,
    UpstreamStreamError,
)

ANTHROPIC_EVENT = pydantic.TypeAdapter(anthropic.types.RawMessageStreamEvent)


def anthropic_tool_stream() -> list[dict[str, Any]]:
    """Events as Anthropic sends them for thinking, then text, then a tool call."""
    return [
        {
            "type": "message_start",
            "message": {
                "id": "msg_01",
                "type": "message",
                "role": "assistant",
                "content": [],
                "model": "claude-sonnet-4-5",
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": 472,
                    "cache_read_input_tokens": 1000,
                    "cache_creation_input_tokens": 28,
                    "output_tokens": 2,
                },
            },
        },
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "thinking", "thinking": "", "signature": ""},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "hmm"},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "signature_delta", "signature": "s"},
        },
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "text_delta", "text": "Okay, let's check"},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "text_delta", "text": " the weather."},
        },
        {"type": "content_block_stop", "index": 1},
        {
            "type": "content_block_start",
            "index": 2,
            "content_block": {
                "type": "tool_use",
                "id": "toolu_01T1",
                "name": "get_weather",
                "input": {},
            },
        },
        {
            "type": "content_block_delta",
            "index": 2,
            "delta": {"type": "input_json_delta", "partial_json": ""},
        },
        {
            "type": "content_block_delta",
            "index": 2,
            "delta": {"type": "input_json_delta", "partial_json": '{"location":'},
        },
        {
            "type": "content_block_delta",
            "index": 2,
            "delta": {"type": "input_json_delta", "partial_json": ' "San Francisco"}'},
        },
        {"type": "content_block_stop", "index": 2},
        {
            "type": "content_block_start",
            "index": 3,
            "content_block": {
                "type": "tool_use",
                "id": "toolu_02",
                "name": "get_time",
                "input": {},
            },
        },
        {
            "type": "content_block_delta",
            "index": 3,
            "delta": {"type": "input_json_delta", "partial_json": "{}"},
        },
        {"type": "content_block_stop", "index": 3},
        {
            "type": "message_delta",
            "delta": {"type": "message_delta", "stop_reason": "tool_use", "stop_sequence": None},
            "usage": {"output_tokens": 89},
        },
        {"type": "message_stop"},
    ]


def run_messages_to_chat(
    events: list[dict[str, Any]], include_usage: bool = True
) -> tuple[MessagesToChatStream, list[dict[str, Any]]]:
    stream = MessagesToChatStream("claude-sonnet", "chatcmpl-xyz", include_usage)
    chunks: list[dict[str, Any]] = []
    for event in events:
        if event["type"] != "ping":  # ping is not part of the SDK's event union
            ANTHROPIC_EVENT.validate_python(event)  # the fixture itself is well-formed
        chunks.extend(stream.feed(event))
    chunks.extend(stream.finish())
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
    return stream, chunks


def openai_accumulate(chunks: list[dict[str, Any]]) -> Any:
    """Rebuild the completion with the OpenAI SDK's own stream accumulator."""
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    for chunk in chunks:
        state.handle_chunk(ChatCompletionChunk.model_validate(chunk))
    return state.get_final_completion()


def test_anthropic_stream_becomes_chat_chunks() -> None:
    stream, chunks = run_messages_to_chat(anthropic_tool_stream())
    assert all(c["id"] == "chatcmpl-xyz" and c["model"] == "claude-sonnet" for c in chunks)
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert sum("role" in c["choices"][0]["delta"] for c in chunks if c["choices"]) == 1
    # the finish chunk, then a usage-only chunk, as OpenAI sends them
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 1500,
        "completion_tokens": 89,
        "total_tokens": 1589,
        "prompt_tokens_details": {"cached_tokens": 1000, "cache_write_tokens": 28},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }
    assert all(c["usage"] is None for c in chunks[:-1])
    assert stream.usage == Usage(
        input_tokens=1500, output_tokens=89, cached_tokens=1000, cache_write_tokens=28
    )

    completion = openai_accumulate(chunks)
    message = completion.choices[0].message
    assert message.content == "Okay, let's check the weather."
    assert [(c.id, c.function.name) for c in message.tool_calls] == [
        ("toolu_01T1", "get_weather"),
        ("toolu_02", "get_time"),
    ]
    assert json.loads(message.tool_calls[0].function.arguments) == {"location": "San Francisco"}
    assert message.tool_calls[1].function.arguments == "{}"
    assert completion.choices[0].finish_reason == "tool_calls"
    assert completion.usage.prompt_tokens == 1500


def test_tool_call_chunks_have_openai_shape() -> None:
    _, chunks = run_messages_to_chat(anthropic_tool_stream())
    tool_deltas = [
        c["choices"][0]["delta"]["tool_calls"][0]
        for c in chunks
        if c["choices"] and "tool_calls" in c["choices"][0]["delta"]
    ]
    assert tool_deltas[0] == {
        "index": 0,
        "id": "toolu_01T1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
    }
    assert tool_deltas[1] == {"index": 0, "function": {"arguments": '{"location":'}}
    assert tool_deltas[3]["index"] == 1 and tool_deltas[3]["id"] == "toolu_02"


def test_without_include_usage_there_is_no_usage_chunk() -> None:
    stream, chunks = run_messages_to_chat(anthropic_tool_stream(), include_usage=False)
    assert all("usage" not in c for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert stream.usage is not None and stream.usage.output_tokens == 89  # still metered


def test_finish_is_idempotent_after_message_stop() -> None:
    stream = MessagesToChatStream("m", "id", True)
    for event in anthropic_tool_stream():
        stream.feed(event)
    assert stream.finish() == []


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("max_tokens", "length"),
        ("stop_sequence", "stop"),
        ("refusal", "content_filter"),
    ],
)
def test_stream_finish_reason_mapping(stop_reason: str, finish_reason: str) -> None:
    events = [
        anthropic_tool_stream()[0],
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "text", "text": "Hi"},
        },
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": 1},
        },
        {"type": "message_stop"},
    ]
    _, chunks = run_messages_to_chat(events)
    assert chunks[1]["choices"][0]["delta"] == {"content": "Hi"}
    assert chunks[-2]["choices"][0]["finish_reason"] == finish_reason


def test_truncated_anthropic_stream_still_finishes() -> None:
    events = anthropic_tool_stream()[:9]  # cut off mid-text, no message_delta or message_stop
    stream, chunks = run_messages_to_chat(events)
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"]["prompt_tokens"] == 1500
    assert stream.usage is not None and stream.usage.output_tokens == 2


def test_anthropic_error_event_raises() -> None:
    stream = MessagesToChatStream("m", "id", False)
    stream.feed(anthropic_tool_stream()[0])
    with pytest.raises(UpstreamStreamError) as info:
        stream.feed(
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        )
    assert info.value.message == "Overloaded" and info.value.kind == "overloaded_error"
    assert str(info.value) == "Overloaded"


def test_unknown_events_are_ignored() -> None:
    stream = MessagesToChatStream("m", "id", False)
    assert stream.feed({"type": "ping"}) == []
    assert stream.feed({"type": "something_new", "data": 1}) == []
    assert stream.usage is None


# ---------------------------------------------------------------- OpenAI chunks -> Anthropic events


def _chunk(
    delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any
) -> dict[str, Any]:
    choices = (
        []
        if delta is None
        else [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]
    )
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1741569952,
        "model": "gpt-4.1",
        "choices": choices,
        "usage": None,
        **extra,
    }


def openai_tool_chunks() -> list[dict[str, Any]]:
    """Chunks as OpenAI streams text, two parallel tool calls, the finish and the usage."""
    return [
        _chunk({"role": "assistant", "content": "", "refusal": None}),
        _chunk({"content": "Checking"}),
        _chunk({"content": " both."}),
        _chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_abc",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ]
            }
        ),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city"'}}]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": ': "Paris"}'}}]}),
        _chunk(
            {
                "tool_calls": [
                    {
                        "index": 1,
                        "id": "call_def",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": '},
                    }
                ]
            }
        ),
        _chunk({"tool_calls": [{"index": 1, "function": {"arguments": '"Lyon"}'}}]}),
        _chunk({}, "tool_calls"),
        _chunk(
            None,
            usage={
                "prompt_tokens": 3000,
                "completion_tokens": 400,
                "total_tokens": 3400,
                "prompt_tokens_details": {"cached_tokens": 2048},
                "completion_tokens_details": {"reasoning_tokens": 320},
            },
        ),
    ]


def run_chat_to_messages(
    chunks: list[dict[str, Any]],
) -> tuple[ChatToMessagesStream, list[dict[str, Any]]]:
    stream = ChatToMessagesStream("gpt-4.1", "msg_abc")
    events: list[dict[str, Any]] = []
    for chunk in chunks:
        events.extend(stream.feed(chunk))
    events.extend(stream.finish())
    for event in events:
        ANTHROPIC_EVENT.validate_python(event)
    return stream, events


def anthropic_accumulate(events: list[dict[str, Any]]) -> Any:
    """Rebuild the message with the Anthropic SDK's own stream accumulator."""
    snapshot = None
    json_bufs: dict[int, bytes] = {}
    for event in events:
        snapshot = accumulate_event(
            event=ANTHROPIC_EVENT.validate_python(event),
            current_snapshot=snapshot,
            json_bufs=json_bufs,
        )
    return snapshot


def test_openai_chunks_become_anthropic_events() -> None:
    stream, events = run_chat_to_messages(openai_tool_chunks())
    assert [e["type"] for e in events] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert events[0]["message"]["id"] == "msg_abc"
    assert events[0]["message"]["usage"] == {"input_tokens": 0, "output_tokens": 0}
    assert events[5]["content_block"] == {
        "type": "tool_use",
        "id": "call_abc",
        "name": "get_weather",
        "input": {},
    }
    assert events[-2] == {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {
            "input_tokens": 952,
            "output_tokens": 400,
            "cache_read_input_tokens": 2048,
            "cache_creation_input_tokens": 0,
            "output_tokens_details": {"thinking_tokens": 320},
        },
    }
    assert stream.usage == Usage(
        input_tokens=3000, output_tokens=400, cached_tokens=2048, reasoning_tokens=320
    )

    message = anthropic_accumulate(events)
    assert message.model == "gpt-4.1" and message.stop_reason == "tool_use"
    assert message.content[0].text == "Checking both."
    assert [(b.id, b.input) for b in message.content[1:]] == [
        ("call_abc", {"city": "Paris"}),
        ("call_def", {"city": "Lyon"}),
    ]
    assert message.usage.input_tokens == 952 and message.usage.output_tokens == 400
    assert message.usage.cache_read_input_tokens == 2048


def test_text_only_stream_ends_with_end_turn() -> None:
    chunks = [
        _chunk({"role": "assistant", "content": "Hel"}),
        _chunk({"content": "lo"}),
        _chunk({}, "stop"),
    ]
    _, events = run_chat_to_messages(chunks)
    message = anthropic_accumulate(events)
    assert message.content[0].text == "Hello" and message.stop_reason == "end_turn"
    assert events[-2]["usage"] == {"output_tokens": 0}  # the upstream never reported usage


def test_usage_in_the_finish_chunk_is_used() -> None:
    usage = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    chunks = [_chunk({"content": "ok"}), _chunk({}, "length", usage=usage)]
    stream, events = run_chat_to_messages(chunks)
    assert events[-2]["delta"]["stop_reason"] == "max_tokens"
    assert events[-2]["usage"]["input_tokens"] == 5 and events[-2]["usage"]["output_tokens"] == 2
    assert stream.usage == Usage(input_tokens=5, output_tokens=2)


def test_stop_with_tool_calls_becomes_tool_use() -> None:
    call = {
        "index": 0,
        "id": "c1",
        "type": "function",
        "function": {"name": "f", "arguments": "{}"},
    }
    _, events = run_chat_to_messages([_chunk({"tool_calls": [call]}), _chunk({}, "stop")])
    assert events[-2]["delta"]["stop_reason"] == "tool_use"


def test_empty_openai_stream_still_forms_a_message() -> None:
    stream = ChatToMessagesStream("m", "msg_1")
    events = stream.finish()
    for event in events:
        ANTHROPIC_EVENT.validate_python(event)
    assert [e["type"] for e in events] == ["message_start", "message_delta", "message_stop"]
    assert stream.finish() == [] and stream.feed(_chunk({"content": "late"})) == []


def test_openai_in_stream_error_raises() -> None:
    stream = ChatToMessagesStream("m", "msg_1")
    with pytest.raises(UpstreamStreamError, match="rate limited"):
        stream.feed({"error": {"message": "rate limited", "type": "rate_limit_error"}})


def test_stream_round_trip_anthropic_to_openai_and_back() -> None:
    _, chunks = run_messages_to_chat(anthropic_tool_stream())
    _, events = run_chat_to_messages(chunks)
    message = anthropic_accumulate(events)
    assert message.content[0].text == "Okay, let's check the weather."
    assert [(b.name, b.input) for b in message.content[1:]] == [
        ("get_weather", {"location": "San Francisco"}),
        ("get_time", {}),
    ]
    assert message.stop_reason == "tool_use"
    assert message.usage.input_tokens == 472
    assert message.usage.cache_read_input_tokens == 1000
    assert message.usage.output_tokens == 89
