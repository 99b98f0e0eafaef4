"""Request bodies: OpenAI Chat Completions -> Anthropic Messages (and the reverse, re-exported).

Anything one format can say and the other cannot raises `TranslationError` (an HTTP 400 that
tells the client what to change) rather than being dropped silently; sampling knobs that only one
side has (seed, penalties, logprobs...) are left out.
"""

from __future__ import annotations

import json
import re
from typing import Any

from steward.providers.translate._request_to_chat import messages_request_to_chat, stop_list
from steward.providers.translate._util import as_dict
from steward.providers.translate.errors import TranslationError

__all__ = ["DEFAULT_MAX_TOKENS", "chat_request_to_messages", "messages_request_to_chat"]

DEFAULT_MAX_TOKENS = 4096
_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_DATA_URL = re.compile(r"data:([^;,]+)((?:;[^;,]*)*),(.*)", re.DOTALL)
_TOOL_ID_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")
_JSON_ONLY = (
    "Respond with a single valid JSON object and nothing else: no prose, no Markdown code fences."
)
Block = dict[str, Any]

# --------------------------------------------------------------------------- OpenAI -> Anthropic


def chat_request_to_messages(body: dict[str, Any], upstream_model: str) -> dict[str, Any]:
    """Translate an OpenAI chat completion request into an Anthropic Messages request."""
    _reject_unsupported_chat(body)
    system, messages = _split_chat_messages(body.get("messages"))
    instruction = _response_format_instruction(body.get("response_format"))
    if instruction:
        system.append({"type": "text", "text": instruction})
    out: dict[str, Any] = {
        "model": upstream_model,
        "messages": messages,
        "max_tokens": _max_tokens(body),
    }
    if system:
        out["system"] = _system_value(system)
    out.update(_sampling_to_messages(body))
    out.update(_tools_to_messages(body))
    user_id = _chat_user_id(body)
    if user_id:
        out["metadata"] = {"user_id": user_id}
    return out


def _reject_unsupported_chat(body: dict[str, Any]) -> None:
    n = body.get("n")
    if n is not None and n != 1:
        raise TranslationError(
            f"n={n} is not supported: Anthropic models return one choice per request; "
            "send n=1 and repeat the request for more choices"
        )
    if body.get("functions") is not None or body.get("function_call") is not None:
        raise TranslationError(
            "the legacy 'functions'/'function_call' parameters are not supported for this model; "
            "use 'tools' and 'tool_choice'"
        )
    modalities = body.get("modalities")
    if isinstance(modalities, list) and "audio" in modalities:
        raise TranslationError(
            "audio output is not supported by this model; use modalities ['text']"
        )


def _split_chat_messages(raw: Any) -> tuple[list[Block], list[dict[str, Any]]]:
    """System/developer text goes to `system`; the rest become alternating user/assistant turns."""
    if not isinstance(raw, list) or not raw:
        raise TranslationError("'messages' must be a non-empty array of chat messages")
    system: list[Block] = []
    turns: list[tuple[str, list[Block]]] = []
    for i, msg in enumerate(raw):
        where = f"messages[{i}]"
        if not isinstance(msg, dict):
            raise TranslationError(f"{where} must be an object with 'role' and 'content'")
        role = msg.get("role")
        if role in ("system", "developer"):
            system.extend(_text_blocks(msg.get("content"), where))
        elif role == "user":
            turns.append(("user", _user_blocks(msg.get("content"), where)))
        elif role == "assistant":
            turns.append(("assistant", _assistant_blocks(msg, where)))
        elif role == "tool":
            turns.append(("user", [_tool_result_block(msg, where)]))
        else:
            raise TranslationError(
                f"{where}.role '{role}' is not supported; use system, developer, user, "
                "assistant or tool"
            )
    return system, _merge_turns(turns)


def _merge_turns(turns: list[tuple[str, list[Block]]]) -> list[dict[str, Any]]:
    """Anthropic needs alternating roles and tool results first in a user turn."""
    merged: list[dict[str, Any]] = []
    for role, blocks in turns:
        if not blocks:
            continue
        if merged and merged[-1]["role"] == role:
            merged[-1]["content"].extend(blocks)
        else:
            merged.append({"role": role, "content": list(blocks)})
    for msg in merged:
        if msg["role"] == "user":
            msg["content"].sort(key=lambda b: b.get("type") != "tool_result")
    return merged


def _text_of_part(part: Any, where: str, allowed: tuple[str, ...]) -> Block:
    if not isinstance(part, dict) or part.get("type") not in allowed:
        kind = part.get("type") if isinstance(part, dict) else type(part).__name__
        raise TranslationError(f"{where}: content part '{kind}' is not allowed here; send text")
    key = "refusal" if part["type"] == "refusal" else "text"
    block: Block = {"type": "text", "text": str(part.get(key) or "")}
    if "cache_control" in part:
        block["cache_control"] = part["cache_control"]
    return block


def _text_blocks(content: Any, where: str, allowed: tuple[str, ...] = ("text",)) -> list[Block]:
    """Text content (a string or text parts) as Anthropic text blocks.

    Anthropic rejects empty or whitespace-only text blocks, so those are dropped.
    """
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content.strip() else []
    if not isinstance(content, list):
        raise TranslationError(f"{where}.content must be a string or an array of content parts")
    blocks = [_text_of_part(p, f"{where}.content[{j}]", allowed) for j, p in enumerate(content)]
    return [b for b in blocks if b["text"].strip()]


def _system_value(blocks: list[Block]) -> str | list[Block]:
    if any("cache_control" in b for b in blocks):
        return blocks
    return "\n\n".join(b["text"] for b in blocks)


def _user_blocks(content: Any, where: str) -> list[Block]:
    if content is None:
        raise TranslationError(f"{where}.content is required for a user message")
    if isinstance(content, str):
        return _text_blocks(content, where)
    if not isinstance(content, list):
        raise TranslationError(f"{where}.content must be a string or an array of content parts")
    blocks: list[Block] = []
    for j, part in enumerate(content):
        part_where = f"{where}.content[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "image_url":
            blocks.append(_image_block(part, part_where))
        elif kind == "file":
            blocks.append(_file_block(part, part_where))
        elif kind == "input_audio":
            raise TranslationError(f"{part_where}: audio input is not supported by this model")
        else:
            block = _text_of_part(part, part_where, ("text",))
            if block["text"].strip():
                blocks.append(block)
    return blocks


def _parse_data_url(url: str, where: str) -> tuple[str, str]:
    match = _DATA_URL.fullmatch(url)
    if not match or ";base64" not in match.group(2):
        raise TranslationError(f"{where}: expected a base64 data URL (data:<type>;base64,...)")
    return match.group(1).lower(), match.group(3)


def _image_block(part: Block, where: str) -> Block:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str) or not url:
        raise TranslationError(f"{where}.image_url.url is required")
    if url.startswith("data:"):
        media_type, data = _parse_data_url(url, where)
        if media_type not in _IMAGE_TYPES:
            raise TranslationError(
                f"{where}: image type '{media_type}' is not supported; use JPEG, PNG, GIF or WebP"
            )
        source: Block = {"type": "base64", "media_type": media_type, "data": data}
    elif url.startswith(("http://", "https://")):
        source = {"type": "url", "url": url}
    else:
        raise TranslationError(f"{where}.image_url.url must be an http(s) URL or a data URL")
    return {"type": "image", "source": source}


def _file_block(part: Block, where: str) -> Block:
    file = as_dict(part.get("file"))
    data_url = file.get("file_data")
    if not isinstance(data_url, str):
        raise TranslationError(
            f"{where}: only inline files are supported for this model; send the PDF as "
            "file.file_data (a base64 data URL) instead of a file_id"
        )
    media_type, data = _parse_data_url(data_url, where)
    if media_type != "application/pdf":
        raise TranslationError(f"{where}: file type '{media_type}' is not supported; send a PDF")
    block: Block = {
        "type": "document",
        "source": {"type": "base64", "media_type": media_type, "data": data},
    }
    if isinstance(file.get("filename"), str) and file["filename"]:
        block["title"] = file["filename"]
    return block


def _tool_id(value: Any, where: str) -> str:
    """Anthropic tool ids allow only [a-zA-Z0-9_-]; the mapping is stable so results still match."""
    if not isinstance(value, str) or not value:
        raise TranslationError(f"{where}: a tool call id is required")
    return _TOOL_ID_UNSAFE.sub("_", value)


def _parse_arguments(raw: Any, where: str) -> dict[str, Any]:
    """Tool call arguments (a JSON object string) as a dict; anything else is a TranslationError."""
    if isinstance(raw, dict):
        return raw
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    if not isinstance(raw, str):
        raise TranslationError(f"{where}.function.arguments must be a JSON object string")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise TranslationError(
            f"{where}.function.arguments is not valid JSON ({exc.msg} at position {exc.pos}); "
            "send the tool call arguments as a JSON object string"
        ) from None
    if not isinstance(value, dict):
        raise TranslationError(f"{where}.function.arguments must encode a JSON object")
    return value


def _assistant_blocks(msg: dict[str, Any], where: str) -> list[Block]:
    blocks = _text_blocks(msg.get("content"), where, allowed=("text", "refusal"))
    calls = msg.get("tool_calls") or []
    if not isinstance(calls, list):
        raise TranslationError(f"{where}.tool_calls must be an array")
    for j, call in enumerate(calls):
        call_where = f"{where}.tool_calls[{j}]"
        if not isinstance(call, dict) or call.get("type", "function") != "function":
            raise TranslationError(f"{call_where}: only function tool calls are supported")
        fn = as_dict(call.get("function"))
        if not isinstance(fn.get("name"), str) or not fn["name"]:
            raise TranslationError(f"{call_where}.function.name is required")
        blocks.append(
            {
                "type": "tool_use",
                "id": _tool_id(call.get("id"), call_where),
                "name": fn["name"],
                "input": _parse_arguments(fn.get("arguments"), call_where),
            }
        )
    return blocks


def _tool_result_block(msg: dict[str, Any], where: str) -> Block:
    text = "".join(b["text"] for b in _text_blocks(msg.get("content"), where))
    block: Block = {"type": "tool_result", "tool_use_id": _tool_id(msg.get("tool_call_id"), where)}
    if text:
        block["content"] = text
    return block


def _max_tokens(body: dict[str, Any]) -> int:
    value = body.get("max_completion_tokens")
    if value is None:
        value = body.get("max_tokens")
    if value is None:
        return DEFAULT_MAX_TOKENS
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TranslationError("max_tokens / max_completion_tokens must be a positive integer")
    return value


def _sampling_to_messages(body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    temperature = body.get("temperature")
    if isinstance(temperature, int | float):
        # OpenAI allows 0..2, Anthropic 0..1: clamp rather than fail on a valid OpenAI value.
        out["temperature"] = min(max(float(temperature), 0.0), 1.0)
    if body.get("top_p") is not None:
        out["top_p"] = body["top_p"]
    stops = stop_list(body.get("stop"))
    if stops:
        out["stop_sequences"] = stops
    if body.get("stream") is not None:
        out["stream"] = bool(body["stream"])
    return out


def _chat_user_id(body: dict[str, Any]) -> str | None:
    meta = as_dict(body.get("metadata"))
    for candidate in (meta.get("user_id"), body.get("user"), body.get("safety_identifier")):
        if isinstance(candidate, str) and candidate:
            return candidate
    return None


def _response_format_instruction(fmt: Any) -> str | None:
    """Anthropic has no JSON mode: ask for JSON (and the schema) in the system prompt instead."""
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind in (None, "text"):
        return None
    if kind == "json_object":
        return _JSON_ONLY
    if kind == "json_schema":
        spec = as_dict(fmt.get("json_schema"))
        schema = json.dumps(spec.get("schema", {}), ensure_ascii=False, sort_keys=True)
        return f"{_JSON_ONLY} The object must conform to this JSON Schema:\n{schema}"
    raise TranslationError(
        f"response_format type '{kind}' is not supported; use text, json_object or json_schema"
    )


def _tools_to_messages(body: dict[str, Any]) -> dict[str, Any]:
    tools = body.get("tools") or []
    if not isinstance(tools, list):
        raise TranslationError("'tools' must be an array of function tools")
    if not tools:
        return {}
    out: dict[str, Any] = {
        "tools": [_tool_to_messages(t, f"tools[{i}]") for i, t in enumerate(tools)]
    }
    choice = _tool_choice_to_messages(body.get("tool_choice"))
    if body.get("parallel_tool_calls") is False and (choice is None or choice["type"] != "none"):
        choice = choice or {"type": "auto"}
        choice["disable_parallel_tool_use"] = True
    if choice is not None:
        out["tool_choice"] = choice
    return out


def _tool_to_messages(tool: Any, where: str) -> Block:
    if not isinstance(tool, dict) or tool.get("type", "function") != "function":
        raise TranslationError(f"{where}: only tools of type 'function' are supported")
    fn = as_dict(tool.get("function"))
    if not isinstance(fn.get("name"), str) or not fn["name"]:
        raise TranslationError(f"{where}.function.name is required")
    out: Block = {
        "name": fn["name"],
        "input_schema": fn.get("parameters") or {"type": "object", "properties": {}},
    }
    if fn.get("description"):
        out["description"] = fn["description"]
    return out


def _tool_choice_to_messages(choice: Any) -> Block | None:
    simple = {"auto": "auto", "none": "none", "required": "any"}
    if choice is None:
        return None
    if isinstance(choice, str) and choice in simple:
        return {"type": simple[choice]}
    if isinstance(choice, dict) and choice.get("type") == "function":
        fn = as_dict(choice.get("function"))
        if isinstance(fn.get("name"), str) and fn["name"]:
            return {"type": "tool", "name": fn["name"]}
    raise TranslationError(
        "tool_choice must be 'auto', 'none', 'required' or "
        '{"type": "function", "function": {"name": ...}}'
    )
