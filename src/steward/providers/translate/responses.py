"""Complete (non-streamed) answers: Anthropic `message` <-> OpenAI `chat.completion`."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from steward.providers.base import Usage
from steward.providers.translate._util import as_dict
from steward.providers.translate.usage import (
    usage_from_anthropic,
    usage_from_openai,
    usage_to_anthropic,
    usage_to_openai,
)

_FINISH_FROM_STOP = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
_STOP_FROM_FINISH = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def finish_reason_from_anthropic(stop_reason: Any) -> str:
    """OpenAI `finish_reason` for an Anthropic `stop_reason` (unknown or missing -> "stop")."""
    return _FINISH_FROM_STOP.get(stop_reason, "stop") if isinstance(stop_reason, str) else "stop"


def stop_reason_from_openai(finish_reason: Any, has_tool_calls: bool) -> str:
    """Anthropic `stop_reason` for an OpenAI `finish_reason`.

    Some OpenAI-compatible servers answer "stop" with tool calls; Anthropic clients only run
    tools on "tool_use", so tool calls win over a plain stop.
    """
    reason = _STOP_FROM_FINISH.get(finish_reason, "end_turn") if finish_reason else "end_turn"
    return "tool_use" if has_tool_calls and reason == "end_turn" else reason


def chat_id_for(message_id: Any) -> str:
    """A `chatcmpl-` id derived from an Anthropic message id (random when there is none)."""
    if isinstance(message_id, str) and message_id:
        return "chatcmpl-" + message_id.removeprefix("msg_")
    return "chatcmpl-" + uuid.uuid4().hex


def message_id_for(chat_id: Any) -> str:
    """A `msg_` id derived from an OpenAI completion id (random when there is none)."""
    if isinstance(chat_id, str) and chat_id:
        return "msg_" + chat_id.removeprefix("chatcmpl-")
    return "msg_" + uuid.uuid4().hex


def arguments_to_input(raw: Any) -> dict[str, Any]:
    """Tool call arguments from an upstream answer as an Anthropic `input` object.

    A model can emit broken JSON (for instance when cut off by max_tokens); the raw string is kept
    under `_raw_arguments` so the client still sees it.
    """
    if isinstance(raw, dict):
        return raw
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    try:
        value = json.loads(raw) if isinstance(raw, str) else None
    except json.JSONDecodeError:
        value = None
    return value if isinstance(value, dict) else {"_raw_arguments": str(raw)}


def messages_response_to_chat(resp: dict[str, Any], model: str) -> dict[str, Any]:
    """Translate an Anthropic `message` into an OpenAI `chat.completion`."""
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in resp.get("content") or []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text":
            texts.append(str(block.get("text") or ""))
        elif block.get("type") == "tool_use":
            calls.append(
                {
                    "id": str(block.get("id") or ""),
                    "type": "function",
                    "function": {
                        "name": str(block.get("name") or ""),
                        "arguments": json.dumps(block.get("input") or {}, ensure_ascii=False),
                    },
                }
            )
    text = "".join(texts)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": text if text or not calls else None,
        "refusal": None,
    }
    if calls:
        message["tool_calls"] = calls
    out: dict[str, Any] = {
        "id": chat_id_for(resp.get("id")),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": finish_reason_from_anthropic(resp.get("stop_reason")),
                "logprobs": None,
            }
        ],
    }
    usage = usage_from_anthropic(resp.get("usage"))
    if usage is not None:
        out["usage"] = usage_to_openai(usage)
    return out


def _message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        parts = [p.get("text") or p.get("refusal") for p in content if isinstance(p, dict)]
        content = "".join(p for p in parts if isinstance(p, str))
    text = content if isinstance(content, str) else ""
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal:
        text = f"{text}\n\n{refusal}" if text else refusal
    return text


def _tool_use_blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for j, call in enumerate(message.get("tool_calls") or []):
        if not isinstance(call, dict):
            continue
        fn = as_dict(call.get("function"))
        blocks.append(
            {
                "type": "tool_use",
                "id": str(call.get("id") or f"toolu_{uuid.uuid4().hex[:20]}{j}"),
                "name": str(fn.get("name") or ""),
                "input": arguments_to_input(fn.get("arguments")),
            }
        )
    return blocks


def chat_response_to_messages(resp: dict[str, Any], model: str) -> dict[str, Any]:
    """Translate an OpenAI `chat.completion` (its first choice) into an Anthropic `message`."""
    choices = resp.get("choices") or []
    choice = choices[0] if choices and isinstance(choices[0], dict) else {}
    message = as_dict(choice.get("message"))
    content: list[dict[str, Any]] = []
    text = _message_text(message)
    if text:
        content.append({"type": "text", "text": text})
    tool_blocks = _tool_use_blocks(message)
    content.extend(tool_blocks)
    usage = usage_from_openai(resp.get("usage")) or Usage()
    return {
        "id": message_id_for(resp.get("id")),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason_from_openai(choice.get("finish_reason"), bool(tool_blocks)),
        "stop_sequence": None,
        "usage": usage_to_anthropic(usage),
    }
