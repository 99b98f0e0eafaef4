"""Complete answers: Anthropic `message` <-> OpenAI `chat.completion`."""

from __future__ import annotations

import json
from typing import Any

import anthropic.types
import pytest
from openai.types.chat import ChatCompletion

from steward.providers.translate import chat_response_to_messages, messages_response_to_chat


def anthropic_tool_message() -> dict[str, Any]:
    return {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [
            {"type": "thinking", "thinking": "Need the weather.", "signature": "EqQB"},
            {"type": "text", "text": "Let me check "},
            {"type": "text", "text": "the weather."},
            {
                "type": "tool_use",
                "id": "toolu_01A09q90qw90lq917835lq9",
                "name": "get_weather",
                "input": {"city": "Paris", "unit": "c"},
            },
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 20,
            "cache_read_input_tokens": 2048,
            "cache_creation_input_tokens": 100,
            "output_tokens": 61,
        },
    }


def openai_tool_completion() -> dict[str, Any]:
    return {
        "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "object": "chat.completion",
        "created": 1741569952,
        "model": "gpt-4.1-2025-04-14",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Checking both cities.",
                    "refusal": None,
                    "tool_calls": [
                        {
                            "id": "call_abc",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                        },
                        {
                            "id": "call_def",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Lyon"}'},
                        },
                    ],
                },
                "logprobs": None,
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {
            "prompt_tokens": 3000,
            "completion_tokens": 400,
            "total_tokens": 3400,
            "prompt_tokens_details": {"cached_tokens": 2048, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 320, "audio_tokens": 0},
        },
        "system_fingerprint": "fp_1",
    }


def test_anthropic_message_becomes_chat_completion() -> None:
    out = messages_response_to_chat(anthropic_tool_message(), "claude-sonnet")
    ChatCompletion.model_validate(out)
    assert out["id"] == "chatcmpl-01XFDUDYJgAACzvnptvVoYEL"
    assert out["object"] == "chat.completion" and out["model"] == "claude-sonnet"
    assert isinstance(out["created"], int)
    choice = out["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "Let me check the weather."
    [call] = choice["message"]["tool_calls"]
    assert call["id"] == "toolu_01A09q90qw90lq917835lq9"
    assert call["type"] == "function" and call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris", "unit": "c"}
    assert out["usage"] == {
        "prompt_tokens": 2168,
        "completion_tokens": 61,
        "total_tokens": 2229,
        "prompt_tokens_details": {"cached_tokens": 2048, "cache_write_tokens": 100},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def test_tool_only_answer_has_null_content() -> None:
    msg = anthropic_tool_message()
    msg["content"] = msg["content"][3:]
    out = messages_response_to_chat(msg, "m")
    ChatCompletion.model_validate(out)
    assert out["choices"][0]["message"]["content"] is None


def test_text_only_answer_has_no_tool_calls_key() -> None:
    msg = anthropic_tool_message()
    msg["content"] = [{"type": "text", "text": "Hi!"}]
    msg["stop_reason"] = "end_turn"
    message = messages_response_to_chat(msg, "m")["choices"][0]["message"]
    assert message == {"role": "assistant", "content": "Hi!", "refusal": None}


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "stop"),
        ("model_context_window_exceeded", "length"),
        (None, "stop"),
    ],
)
def test_stop_reason_maps_to_finish_reason(stop_reason: Any, finish_reason: str) -> None:
    msg = anthropic_tool_message()
    msg["stop_reason"] = stop_reason
    out = messages_response_to_chat(msg, "m")
    ChatCompletion.model_validate(out)
    assert out["choices"][0]["finish_reason"] == finish_reason


def test_chat_completion_becomes_anthropic_message() -> None:
    out = chat_response_to_messages(openai_tool_completion(), "gpt-4.1")
    anthropic.types.Message.model_validate(out)
    assert out == {
        "id": "msg_B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "type": "message",
        "role": "assistant",
        "model": "gpt-4.1",
        "content": [
            {"type": "text", "text": "Checking both cities."},
            {
                "type": "tool_use",
                "id": "call_abc",
                "name": "get_weather",
                "input": {"city": "Paris"},
            },
            {
                "type": "tool_use",
                "id": "call_def",
                "name": "get_weather",
                "input": {"city": "Lyon"},
            },
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 952,
            "output_tokens": 400,
            "cache_read_input_tokens": 2048,
            "cache_creation_input_tokens": 0,
            "output_tokens_details": {"thinking_tokens": 320},
        },
    }


@pytest.mark.parametrize(
    ("finish_reason", "has_tools", "stop_reason"),
    [
        ("stop", False, "end_turn"),
        ("length", False, "max_tokens"),
        ("tool_calls", True, "tool_use"),
        ("content_filter", False, "refusal"),
        ("stop", True, "tool_use"),  # some compatible servers say "stop" with tool calls
        (None, False, "end_turn"),
    ],
)
def test_finish_reason_maps_to_stop_reason(
    finish_reason: Any, has_tools: bool, stop_reason: str
) -> None:
    resp = openai_tool_completion()
    resp["choices"][0]["finish_reason"] = finish_reason
    if not has_tools:
        del resp["choices"][0]["message"]["tool_calls"]
    out = chat_response_to_messages(resp, "m")
    anthropic.types.Message.model_validate(out)
    assert out["stop_reason"] == stop_reason


def test_broken_tool_arguments_are_kept_raw() -> None:
    resp = openai_tool_completion()
    resp["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = '{"city": "Par'
    resp["choices"][0]["finish_reason"] = "length"
    out = chat_response_to_messages(resp, "m")
    anthropic.types.Message.model_validate(out)
    assert out["content"][1]["input"] == {"_raw_arguments": '{"city": "Par'}
    assert out["stop_reason"] == "max_tokens"


def test_refusal_and_missing_usage() -> None:
    resp = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "refusal": "I can't help."},
                "finish_reason": "stop",
            }
        ],
    }
    out = chat_response_to_messages(resp, "m")
    anthropic.types.Message.model_validate(out)
    assert out["content"] == [{"type": "text", "text": "I can't help."}]
    assert out["usage"] == {
        "input_tokens": 0,
        "output_tokens": 0,
        "cache_read_input_tokens": 0,
        "cache_creation_input_tokens": 0,
    }


def test_empty_choices_give_an_empty_message() -> None:
    out = chat_response_to_messages({"id": "x", "choices": []}, "m")
    anthropic.types.Message.model_validate(out)
    assert out["content"] == [] and out["stop_reason"] == "end_turn"


def test_response_round_trips() -> None:
    original = anthropic_tool_message()
    back = chat_response_to_messages(messages_response_to_chat(original, "m"), "m")
    assert back["id"] == original["id"]
    assert back["content"] == [
        {"type": "text", "text": "Let me check the weather."},
        original["content"][3],
    ]
    assert back["stop_reason"] == "tool_use"
    assert back["usage"] == original["usage"]

    completion = openai_tool_completion()
    again = messages_response_to_chat(chat_response_to_messages(completion, "m"), "m")
    assert again["id"] == completion["id"]
    assert again["choices"][0]["message"]["tool_calls"] == [
        {
            **c,
            "function": {
                **c["function"],
                "arguments": json.dumps(json.loads(c["function"]["arguments"])),
            },
        }
        for c in completion["choices"][0]["message"]["tool_calls"]
    ]
    assert again["usage"] == {
        **completion["usage"],
        "prompt_tokens_details": {"cached_tokens": 2048},
        "completion_tokens_details": {"reasoning_tokens": 320},
    }
