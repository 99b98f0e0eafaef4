"""Request and usage translation between OpenAI Chat Completions and Anthropic Messages."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from steward.providers.base import Usage
from steward.providers.translate import (
    TranslationError,
    chat_request_to_messages,
    messages_request_to_chat,
    usage_from_anthropic,
    usage_from_openai,
    usage_to_anthropic,
    usage_to_openai,
)

Check = Callable[[dict[str, Any]], None]
PNG_B64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8"
    "z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
            "required": ["city"],
        },
    },
}


def agent_chat_body() -> dict[str, Any]:
    """A realistic multi-turn agent conversation in OpenAI format."""
    return {
        "model": "claude-via-openai",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "developer", "content": [{"type": "text", "text": "Answer briefly."}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in this picture, and the weather there?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/paris.jpg"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_abc",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    },
                    {
                        "id": "call_def",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Lyon"}'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "call_abc", "content": "18C, sunny"},
            {
                "role": "tool",
                "tool_call_id": "call_def",
                "content": [{"type": "text", "text": "9C"}],
            },
            {"role": "user", "content": "Thanks. Which is warmer?"},
        ],
        "tools": [WEATHER_TOOL],
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "max_completion_tokens": 512,
        "temperature": 0.3,
        "top_p": 0.9,
        "stop": "\n\nHuman:",
        "stream": True,
        "stream_options": {"include_usage": True},
        "seed": 7,
        "frequency_penalty": 0.5,
        "presence_penalty": 0.1,
        "logprobs": True,
        "user": "alice@example.com",
    }


# ---------------------------------------------------------------- chat -> messages requests


def test_agent_conversation_translates_to_messages(valid_anthropic_request: Check) -> None:
    out = chat_request_to_messages(agent_chat_body(), "claude-sonnet-4-5")
    valid_anthropic_request(out)
    assert out == {
        "model": "claude-sonnet-4-5",
        "system": "You are a helpful assistant.\n\nAnswer briefly.",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in this picture, and the weather there?"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64},
                    },
                    {
                        "type": "image",
                        "source": {"type": "url", "url": "https://example.com/paris.jpg"},
                    },
                ],
            },
            {
                "role": "assistant",
                "content": [
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
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "call_abc", "content": "18C, sunny"},
                    {"type": "tool_result", "tool_use_id": "call_def", "content": "9C"},
                    {"type": "text", "text": "Thanks. Which is warmer?"},
                ],
            },
        ],
        "max_tokens": 512,
        "temperature": 0.3,
        "top_p": 0.9,
        "stop_sequences": ["\n\nHuman:"],
        "stream": True,
        "tools": [
            {
                "name": "get_weather",
                "description": "Current weather for a city",
                "input_schema": WEATHER_TOOL["function"]["parameters"],  # type: ignore[index]
            }
        ],
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
        "metadata": {"user_id": "alice@example.com"},
    }


def test_minimal_chat_request_gets_default_max_tokens(valid_anthropic_request: Check) -> None:
    out = chat_request_to_messages({"messages": [{"role": "user", "content": "hi"}]}, "m")
    valid_anthropic_request(out)
    assert out == {
        "model": "m",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        "max_tokens": 4096,
    }


def test_max_tokens_prefers_max_completion_tokens() -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 10}
    assert chat_request_to_messages(body, "m")["max_tokens"] == 10
    body["max_completion_tokens"] = 20
    assert chat_request_to_messages(body, "m")["max_tokens"] == 20


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("none", None, {"type": "none"}),
        ("required", None, {"type": "any"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            None,
            {"type": "tool", "name": "get_weather"},
        ),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("none", False, {"type": "none"}),
        (None, True, None),
    ],
)
def test_tool_choice_maps_to_anthropic(choice: Any, parallel: Any, expected: Any) -> None:
    body: dict[str, Any] = {
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [WEATHER_TOOL],
    }
    if choice is not None:
        body["tool_choice"] = choice
    if parallel is not None:
        body["parallel_tool_calls"] = parallel
    assert chat_request_to_messages(body, "m").get("tool_choice") == expected


def test_tool_choice_without_tools_is_dropped() -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "tool_choice": "none", "tools": []}
    out = chat_request_to_messages(body, "m")
    assert "tool_choice" not in out and "tools" not in out


def test_tool_without_parameters_gets_an_empty_object_schema() -> None:
    tool = {"type": "function", "function": {"name": "now"}}
    body = {"messages": [{"role": "user", "content": "time?"}], "tools": [tool]}
    assert chat_request_to_messages(body, "m")["tools"] == [
        {"name": "now", "input_schema": {"type": "object", "properties": {}}}
    ]


def test_consecutive_same_role_messages_are_merged(valid_anthropic_request: Check) -> None:
    body = {
        "messages": [
            {"role": "user", "content": "first"},
            {"role": "user", "content": "second"},
            {"role": "assistant", "content": "a"},
            {"role": "assistant", "content": [{"type": "text", "text": "b"}]},
            {"role": "user", "content": "third"},
        ]
    }
    out = chat_request_to_messages(body, "m")
    valid_anthropic_request(out)
    assert [m["role"] for m in out["messages"]] == ["user", "assistant", "user"]
    assert [b["text"] for b in out["messages"][0]["content"]] == ["first", "second"]
    assert [b["text"] for b in out["messages"][1]["content"]] == ["a", "b"]


def test_tool_results_come_first_in_a_merged_user_turn() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "go"},
            {
                "role": "assistant",
                "content": "Calling.",
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
            {"role": "user", "content": "also this"},
            {"role": "tool", "tool_call_id": "c1", "content": "done"},
        ]
    }
    out = chat_request_to_messages(body, "m")
    assert out["messages"][1]["content"] == [
        {"type": "text", "text": "Calling."},
        {"type": "tool_use", "id": "c1", "name": "f", "input": {}},
    ]
    assert [b["type"] for b in out["messages"][2]["content"]] == ["tool_result", "text"]


def test_tool_ids_are_made_safe_for_anthropic_consistently() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "go"},
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "functions.get:0",
                        "type": "function",
                        "function": {"name": "get", "arguments": ""},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "functions.get:0", "content": "ok"},
        ]
    }
    out = chat_request_to_messages(body, "m")
    assert out["messages"][1]["content"][0]["id"] == "functions_get_0"
    assert out["messages"][2]["content"][0]["tool_use_id"] == "functions_get_0"
    assert out["messages"][1]["content"][0]["input"] == {}


def test_empty_messages_and_parts_are_dropped() -> None:
    body = {
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": ""}, {"type": "text", "text": "x"}],
            },
            {"role": "assistant", "content": ""},
            {"role": "assistant", "content": " \n"},
            {"role": "user", "content": "y"},
        ]
    }
    out = chat_request_to_messages(body, "m")
    assert out["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "x"}, {"type": "text", "text": "y"}]}
    ]


def test_system_cache_control_keeps_blocks() -> None:
    body = {
        "messages": [
            {
                "role": "system",
                "content": [
                    {"type": "text", "text": "long policy", "cache_control": {"type": "ephemeral"}}
                ],
            },
            {"role": "user", "content": "hi"},
        ]
    }
    assert chat_request_to_messages(body, "m")["system"] == [
        {"type": "text", "text": "long policy", "cache_control": {"type": "ephemeral"}}
    ]


def test_pdf_file_part_becomes_document(valid_anthropic_request: Check) -> None:
    part = {
        "type": "file",
        "file": {"filename": "r.pdf", "file_data": "data:application/pdf;base64,JVBERi0="},
    }
    body = {
        "messages": [{"role": "user", "content": [part, {"type": "text", "text": "Summarise"}]}]
    }
    out = chat_request_to_messages(body, "m")
    valid_anthropic_request(out)
    assert out["messages"][0]["content"][0] == {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="},
        "title": "r.pdf",
    }


def test_response_format_json_schema_adds_a_system_instruction() -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    body = {
        "messages": [
            {"role": "system", "content": "Be exact."},
            {"role": "user", "content": "2+2?"},
        ],
        "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": schema}},
    }
    system = chat_request_to_messages(body, "m")["system"]
    assert system.startswith("Be exact.\n\n")
    assert "JSON" in system
    assert json.dumps(schema, sort_keys=True) in system


def test_response_format_json_object_without_system_message() -> None:
    body = {
        "messages": [{"role": "user", "content": "list three colours"}],
        "response_format": {"type": "json_object"},
    }
    assert "JSON object" in chat_request_to_messages(body, "m")["system"]
    body["response_format"] = {"type": "text"}
    assert "system" not in chat_request_to_messages(body, "m")


def test_temperature_above_anthropic_range_is_clamped() -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "temperature": 1.7}
    assert chat_request_to_messages(body, "m")["temperature"] == 1.0


@pytest.mark.parametrize(
    ("stop", "expected"),
    [("END", ["END"]), (["a", "", " ", "b"], ["a", "b"]), (None, None), ([], None)],
)
def test_stop_becomes_stop_sequences(stop: Any, expected: Any) -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "stop": stop}
    assert chat_request_to_messages(body, "m").get("stop_sequences") == expected


def test_metadata_user_id_wins_over_user() -> None:
    body = {
        "messages": [{"role": "user", "content": "hi"}],
        "metadata": {"user_id": "u-meta", "team": "x"},
        "user": "u-field",
    }
    assert chat_request_to_messages(body, "m")["metadata"] == {"user_id": "u-meta"}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"messages": [{"role": "user", "content": "hi"}], "n": 2}, "n=2"),
        ({"messages": []}, "non-empty"),
        ({"messages": [{"role": "function", "name": "f", "content": "x"}]}, "role 'function'"),
        (
            {"messages": [{"role": "user", "content": "hi"}], "functions": [{"name": "f"}]},
            "use 'tools'",
        ),
        (
            {
                "messages": [
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": "c",
                                "type": "function",
                                "function": {"name": "f", "arguments": "{oops"},
                            }
                        ],
                    }
                ]
            },
            "messages[0].tool_calls[0].function.arguments is not valid JSON",
        ),
        (
            {
                "messages": [
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": "c",
                                "type": "function",
                                "function": {"name": "f", "arguments": "[1]"},
                            }
                        ],
                    }
                ]
            },
            "must encode a JSON object",
        ),
        (
            {
                "messages": [
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {"type": "function", "function": {"name": "f", "arguments": "{}"}}
                        ],
                    }
                ]
            },
            "tool call id is required",
        ),
        ({"messages": [{"role": "tool", "content": "x"}]}, "tool call id is required"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "image_url", "image_url": {"url": "data:image/bmp;base64,AA"}}
                        ],
                    }
                ]
            },
            "image/bmp",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "image_url", "image_url": {"url": "data:image/png,raw"}}
                        ],
                    }
                ]
            },
            "base64 data URL",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "ftp://x"}}],
                    }
                ]
            },
            "http(s) URL",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "file", "file": {"file_id": "file-123"}}]}
                ]
            },
            "file_data",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "input_audio", "input_audio": {"data": "", "format": "wav"}}
                        ],
                    }
                ]
            },
            "audio input",
        ),
        (
            {"messages": [{"role": "system", "content": [{"type": "image_url", "image_url": {}}]}]},
            "messages[0].content[0]",
        ),
        (
            {
                "messages": [{"role": "user", "content": "x"}],
                "response_format": {"type": "grammar"},
            },
            "response_format type 'grammar'",
        ),
        (
            {
                "messages": [{"role": "user", "content": "x"}],
                "tools": [{"type": "custom", "custom": {}}],
            },
            "tools[0]",
        ),
        (
            {
                "messages": [{"role": "user", "content": "x"}],
                "tools": [WEATHER_TOOL],
                "tool_choice": "any",
            },
            "tool_choice",
        ),
        ({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}, "positive integer"),
        ({"messages": [{"role": "user", "content": None}]}, "content is required"),
    ],
)
def test_untranslatable_chat_requests_raise(body: dict[str, Any], fragment: str) -> None:
    with pytest.raises(TranslationError) as info:
        chat_request_to_messages(body, "m")
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


# ---------------------------------------------------------------- messages -> chat requests


def agent_messages_body() -> dict[str, Any]:
    """A realistic Anthropic conversation with thinking, tools, images and documents."""
    return {
        "model": "gpt-via-anthropic",
        "system": [
            {"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "Use tools when useful."},
        ],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather where this photo was taken?"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64},
                    },
                    {
                        "type": "image",
                        "source": {"type": "url", "url": "https://example.com/a.jpg"},
                    },
                    {
                        "type": "document",
                        "title": "notes.pdf",
                        "source": {
                            "type": "base64",
                            "media_type": "application/pdf",
                            "data": "JVBE",
                        },
                    },
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "Paris, probably.", "signature": "sig"},
                    {"type": "text", "text": "Checking."},
                    {
                        "type": "tool_use",
                        "id": "toolu_01",
                        "name": "get_weather",
                        "input": {"city": "Paris"},
                    },
                    {"type": "tool_use", "id": "toolu_02", "name": "get_map", "input": {}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_01",
                        "content": [
                            {"type": "text", "text": "18C"},
                            {"type": "text", "text": "sunny"},
                        ],
                    },
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_02",
                        "is_error": True,
                        "content": "map service down",
                    },
                    {"type": "text", "text": "And tomorrow?"},
                ],
            },
        ],
        "tools": [
            {
                "name": "get_weather",
                "description": "Weather",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
            {"name": "get_map", "input_schema": {"type": "object", "properties": {}}},
        ],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        "max_tokens": 1024,
        "temperature": 0.2,
        "top_p": 0.95,
        "top_k": 40,
        "stop_sequences": ["###"],
        "stream": True,
        "metadata": {"user_id": "user-42"},
        "thinking": {"type": "enabled", "budget_tokens": 2048},
    }


def test_anthropic_conversation_translates_to_chat(valid_openai_request: Check) -> None:
    out = messages_request_to_chat(agent_messages_body(), "gpt-4.1")
    valid_openai_request(out)
    assert out == {
        "model": "gpt-4.1",
        "messages": [
            {"role": "system", "content": "You are terse.\n\nUse tools when useful."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather where this photo was taken?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
                    {
                        "type": "file",
                        "file": {
                            "filename": "notes.pdf",
                            "file_data": "data:application/pdf;base64,JVBE",
                        },
                    },
                ],
            },
            {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [
                    {
                        "id": "toolu_01",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    },
                    {
                        "id": "toolu_02",
                        "type": "function",
                        "function": {"name": "get_map", "arguments": "{}"},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "toolu_01", "content": "18C\nsunny"},
            {
                "role": "tool",
                "tool_call_id": "toolu_02",
                "content": "[tool error] map service down",
            },
            {"role": "user", "content": "And tomorrow?"},
        ],
        "max_tokens": 1024,
        "temperature": 0.2,
        "top_p": 0.95,
        "stop": ["###"],
        "stream": True,
        "stream_options": {"include_usage": True},
        "user": "user-42",
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Weather",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                },
            },
            {
                "type": "function",
                "function": {"name": "get_map", "parameters": {"type": "object", "properties": {}}},
            },
        ],
        "tool_choice": "required",
        "parallel_tool_calls": False,
    }


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, "auto"),
        ({"type": "any"}, "required"),
        ({"type": "none"}, "none"),
        (
            {"type": "tool", "name": "get_map"},
            {"type": "function", "function": {"name": "get_map"}},
        ),
    ],
)
def test_anthropic_tool_choice_maps_to_chat(choice: dict[str, Any], expected: Any) -> None:
    body = agent_messages_body()
    body["tool_choice"] = choice
    out = messages_request_to_chat(body, "m")
    assert out["tool_choice"] == expected
    assert "parallel_tool_calls" not in out


def test_simple_anthropic_request_stays_simple(valid_openai_request: Check) -> None:
    body = {
        "model": "x",
        "system": "Be nice.",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "Hello"}],
        "stream": False,
    }
    out = messages_request_to_chat(body, "gpt-4o-mini")
    valid_openai_request(out)
    assert out == {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "Be nice."},
            {"role": "user", "content": "Hello"},
        ],
        "max_tokens": 100,
        "stream": False,
    }


def test_tool_result_images_move_to_a_following_user_message(valid_openai_request: Check) -> None:
    body = {
        "max_tokens": 10,
        "messages": [
            {"role": "user", "content": "screenshot please"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t1", "name": "shot", "input": {}}],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "content": [
                            {"type": "text", "text": "captured"},
                            {
                                "type": "image",
                                "source": {
                                    "type": "base64",
                                    "media_type": "image/png",
                                    "data": "AA",
                                },
                            },
                        ],
                    }
                ],
            },
        ],
    }
    out = messages_request_to_chat(body, "m")
    valid_openai_request(out)
    assistant, tool, user = out["messages"][1:]
    assert assistant == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "t1", "type": "function", "function": {"name": "shot", "arguments": "{}"}}
        ],
    }
    assert tool["role"] == "tool" and tool["content"].startswith("captured\n[1 image(s)")
    assert user == {
        "role": "user",
        "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}],
    }


def test_text_document_becomes_text_part() -> None:
    doc = {
        "type": "document",
        "source": {"type": "text", "media_type": "text/plain", "data": "abc"},
    }
    body = {"max_tokens": 5, "messages": [{"role": "user", "content": [doc]}]}
    assert messages_request_to_chat(body, "m")["messages"] == [{"role": "user", "content": "abc"}]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"messages": []}, "non-empty"),
        ({"messages": [{"role": "system", "content": "x"}]}, "'user' or 'assistant'"),
        (
            {
                "messages": [{"role": "user", "content": "x"}],
                "tools": [{"type": "web_search_20250305", "name": "web_search"}],
            },
            "server tool 'web_search_20250305'",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "search_result", "content": []}]}]},
            "content block 'search_result'",
        ),
        (
            {
                "messages": [
                    {
                        "role": "assistant",
                        "content": [{"type": "server_tool_use", "id": "s", "name": "x"}],
                    }
                ]
            },
            "messages[0].content[0]",
        ),
        ({"messages": [{"role": "user", "content": 5}]}, "content must be"),
        ({"system": [{"type": "image"}], "messages": [{"role": "user", "content": "x"}]}, "system"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}],
                    }
                ]
            },
            "base64 or url source",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "tool_result", "content": "x"}]}]},
            "tool_use_id is required",
        ),
        (
            {
                "messages": [{"role": "user", "content": "x"}],
                "tools": [{"name": "f", "input_schema": {}}],
                "tool_choice": {"type": "maybe"},
            },
            "tool_choice.type",
        ),
    ],
)
def test_untranslatable_anthropic_requests_raise(body: dict[str, Any], fragment: str) -> None:
    with pytest.raises(TranslationError) as info:
        messages_request_to_chat(body, "m")
    assert fragment in str(info.value)


# ---------------------------------------------------------------- round trips


def _normalise_chat_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Compare tool arguments as JSON values, not strings (whitespace may differ)."""
    out = []
    for msg in messages:
        msg = dict(msg)
        if "tool_calls" in msg:
            msg["tool_calls"] = [
                {
                    **c,
                    "function": {
                        **c["function"],
                        "arguments": json.loads(c["function"]["arguments"]),
                    },
                }
                for c in msg["tool_calls"]
            ]
        out.append(msg)
    return out


def test_chat_request_round_trip_keeps_the_conversation() -> None:
    body = {
        "messages": [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": "weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
            {"role": "assistant", "content": "It is 18C."},
            {"role": "user", "content": "thanks"},
        ],
        "tools": [WEATHER_TOOL],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "max_tokens": 300,
        "temperature": 0.5,
        "stop": ["x"],
        "user": "u1",
    }
    back = messages_request_to_chat(chat_request_to_messages(body, "claude"), "gpt")
    assert _normalise_chat_messages(back["messages"]) == _normalise_chat_messages(body["messages"])
    for key in ("tools", "tool_choice", "max_tokens", "temperature", "stop", "user"):
        assert back[key] == body[key], key


def test_messages_request_round_trip_keeps_the_conversation() -> None:
    body = agent_messages_body()
    del body["messages"][0]["content"][3]  # the PDF title survives, but not as a separate block
    back = chat_request_to_messages(messages_request_to_chat(body, "gpt"), "claude")
    assistant = back["messages"][1]["content"]
    assert [b["type"] for b in assistant] == ["text", "tool_use", "tool_use"]  # thinking dropped
    assert assistant[1]["input"] == {"city": "Paris"}
    results = back["messages"][2]["content"]
    assert results[0] == {"type": "tool_result", "tool_use_id": "toolu_01", "content": "18C\nsunny"}
    assert results[1]["content"] == "[tool error] map service down"
    assert back["messages"][0]["content"] == body["messages"][0]["content"]
    assert back["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    assert back["tools"] == body["tools"]
    assert back["metadata"] == {"user_id": "user-42"}


# ---------------------------------------------------------------- usage


def test_usage_from_openai_includes_cached_and_reasoning() -> None:
    u = usage_from_openai(
        {
            "prompt_tokens": 1200,
            "completion_tokens": 300,
            "total_tokens": 1500,
            "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 256},
        }
    )
    assert u == Usage(
        input_tokens=1200, output_tokens=300, cached_tokens=1024, reasoning_tokens=256
    )


def test_usage_from_anthropic_adds_cache_reads_and_writes_to_input() -> None:
    u = usage_from_anthropic(
        {
            "input_tokens": 50,
            "cache_read_input_tokens": 1000,
            "cache_creation_input_tokens": 200,
            "output_tokens": 80,
        }
    )
    assert u == Usage(
        input_tokens=1250, output_tokens=80, cached_tokens=1000, cache_write_tokens=200
    )


@pytest.mark.parametrize("raw", [None, "x", []])
def test_missing_usage_is_none(raw: Any) -> None:
    assert usage_from_openai(raw) is None
    assert usage_from_anthropic(raw) is None


def test_null_and_malformed_counts_read_as_zero() -> None:
    assert (
        usage_from_anthropic(
            {"input_tokens": None, "output_tokens": "7", "cache_read_input_tokens": None}
        )
        == Usage()
    )
    assert usage_from_openai({"prompt_tokens": 3, "prompt_tokens_details": None}) == Usage(
        input_tokens=3
    )


def test_usage_to_wire_formats() -> None:
    u = Usage(input_tokens=1250, output_tokens=80, cached_tokens=1000, cache_write_tokens=200)
    assert usage_to_anthropic(u) == {
        "input_tokens": 50,
        "output_tokens": 80,
        "cache_read_input_tokens": 1000,
        "cache_creation_input_tokens": 200,
    }
    assert usage_to_openai(u) == {
        "prompt_tokens": 1250,
        "completion_tokens": 80,
        "total_tokens": 1330,
        "prompt_tokens_details": {"cached_tokens": 1000, "cache_write_tokens": 200},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


counts = st.integers(min_value=0, max_value=10**7)


@given(uncached=counts, read=counts, write=counts, out=counts, reasoning=counts)
def test_usage_round_trips_through_both_formats(
    uncached: int, read: int, write: int, out: int, reasoning: int
) -> None:
    u = Usage(
        input_tokens=uncached + read + write,
        output_tokens=out + reasoning,
        cached_tokens=read,
        cache_write_tokens=write,
        reasoning_tokens=reasoning,
    )
    assert usage_from_openai(usage_to_openai(u)) == u
    assert usage_from_anthropic(usage_to_anthropic(u)) == u
