"""Request bodies: Anthropic Messages -> OpenAI Chat Completions (public via `requests`)."""

from __future__ import annotations

import json
from typing import Any

from steward.providers.translate._util import as_dict
from steward.providers.translate.errors import TranslationError

Block = dict[str, Any]


def stop_list(stop: Any) -> list[str]:
    """Stop sequences as a list of usable strings (a lone string becomes a list of one)."""
    items = [stop] if isinstance(stop, str) else stop if isinstance(stop, list) else []
    # Anthropic rejects empty or whitespace-only stop sequences; they would never match anyway.
    return [s for s in items if isinstance(s, str) and s.strip()]


def messages_request_to_chat(body: dict[str, Any], upstream_model: str) -> dict[str, Any]:
    """Translate an Anthropic Messages request into an OpenAI chat completion request."""
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise TranslationError("'messages' must be a non-empty array of messages")
    messages: list[dict[str, Any]] = []
    system = _anthropic_system_text(body.get("system"))
    if system:
        messages.append({"role": "system", "content": system})
    for i, msg in enumerate(raw):
        messages.extend(_anthropic_message_to_chat(msg, f"messages[{i}]"))
    out: dict[str, Any] = {"model": upstream_model, "messages": messages}
    for key in ("max_tokens", "temperature", "top_p"):
        if body.get(key) is not None:
            out[key] = body[key]
    stops = stop_list(body.get("stop_sequences"))
    if stops:
        out["stop"] = stops
    if body.get("stream") is not None:
        out["stream"] = bool(body["stream"])
        if out["stream"]:
            out["stream_options"] = {"include_usage": True}
    meta = as_dict(body.get("metadata"))
    if isinstance(meta.get("user_id"), str) and meta["user_id"]:
        out["user"] = meta["user_id"]
    out.update(_tools_to_chat(body))
    return out


def _anthropic_blocks(content: Any, where: str) -> list[Block]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list) or not all(isinstance(b, dict) for b in content):
        raise TranslationError(f"{where}.content must be a string or an array of content blocks")
    return content


def _anthropic_system_text(system: Any) -> str:
    if system is None or isinstance(system, str):
        return system or ""
    blocks = _anthropic_blocks(system, "system")
    if any(b.get("type") != "text" for b in blocks):
        raise TranslationError("system may contain only text blocks")
    return "\n\n".join(str(b.get("text") or "") for b in blocks)


def _anthropic_message_to_chat(msg: Any, where: str) -> list[dict[str, Any]]:
    role = msg.get("role") if isinstance(msg, dict) else None
    if role == "user":
        return _user_to_chat(msg.get("content"), where)
    if role == "assistant":
        return [_assistant_to_chat(msg.get("content"), where)]
    raise TranslationError(f"{where}.role must be 'user' or 'assistant'")


def _user_to_chat(content: Any, where: str) -> list[dict[str, Any]]:
    """Tool results become `tool` messages (which must follow the assistant turn directly)."""
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    tool_messages: list[dict[str, Any]] = []
    moved_images: list[Block] = []
    parts: list[Block] = []
    for j, block in enumerate(_anthropic_blocks(content, where)):
        block_where = f"{where}.content[{j}]"
        if block.get("type") == "tool_result":
            message, images = _tool_result_to_chat(block, block_where)
            tool_messages.append(message)
            moved_images.extend(images)
        else:
            parts.append(_user_part_to_chat(block, block_where))
    parts = moved_images + parts
    if not parts:
        return tool_messages
    if len(parts) == 1 and parts[0]["type"] == "text":
        return [*tool_messages, {"role": "user", "content": parts[0]["text"]}]
    return [*tool_messages, {"role": "user", "content": parts}]


def _user_part_to_chat(block: Block, where: str) -> Block:
    kind = block.get("type")
    if kind == "text":
        return {"type": "text", "text": str(block.get("text") or "")}
    if kind == "image":
        return _image_to_chat(block, where)
    if kind == "document":
        return _document_to_chat(block, where)
    raise TranslationError(
        f"{where}: content block '{kind}' is not supported for this model; "
        "use text, image, document or tool_result"
    )


def _image_to_chat(block: Block, where: str) -> Block:
    source = as_dict(block.get("source"))
    if source.get("type") == "base64":
        url = f"data:{source.get('media_type')};base64,{source.get('data')}"
    elif source.get("type") == "url" and isinstance(source.get("url"), str):
        url = source["url"]
    else:
        raise TranslationError(f"{where}: images must have a base64 or url source for this model")
    return {"type": "image_url", "image_url": {"url": url}}


def _document_to_chat(block: Block, where: str) -> Block:
    source = as_dict(block.get("source"))
    if source.get("type") == "text":
        return {"type": "text", "text": str(source.get("data") or "")}
    if source.get("type") == "base64" and source.get("media_type") == "application/pdf":
        return {
            "type": "file",
            "file": {
                "filename": str(block.get("title") or "document.pdf"),
                "file_data": f"data:application/pdf;base64,{source.get('data')}",
            },
        }
    raise TranslationError(f"{where}: documents must be a base64 PDF or plain text for this model")


def _tool_result_to_chat(block: Block, where: str) -> tuple[dict[str, Any], list[Block]]:
    """OpenAI tool messages carry text only, so images move to the user message that follows."""
    tool_use_id = block.get("tool_use_id")
    if not isinstance(tool_use_id, str) or not tool_use_id:
        raise TranslationError(f"{where}.tool_use_id is required")
    content = block.get("content")
    texts: list[str] = []
    images: list[Block] = []
    for k, item in enumerate(_anthropic_blocks(content, where) if content is not None else []):
        if item.get("type") == "text":
            texts.append(str(item.get("text") or ""))
        elif item.get("type") == "image":
            images.append(_image_to_chat(item, f"{where}.content[{k}]"))
        else:
            raise TranslationError(f"{where}: tool results may contain only text and images")
    if images:
        texts.append(f"[{len(images)} image(s) attached in the following user message]")
    text = "\n".join(texts)
    if block.get("is_error"):
        text = f"[tool error] {text}".rstrip()
    return {"role": "tool", "tool_call_id": tool_use_id, "content": text}, images


def _assistant_to_chat(content: Any, where: str) -> dict[str, Any]:
    texts: list[str] = []
    calls: list[Block] = []
    for j, block in enumerate(_anthropic_blocks(content, where)):
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text") or ""))
        elif kind == "tool_use":
            calls.append(
                {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {
                        "name": block.get("name"),
                        "arguments": json.dumps(block.get("input") or {}, ensure_ascii=False),
                    },
                }
            )
        elif kind not in ("thinking", "redacted_thinking"):
            raise TranslationError(
                f"{where}.content[{j}]: block '{kind}' cannot be sent to this model; "
                "use text and tool_use blocks"
            )
    text = "".join(texts)
    message: dict[str, Any] = {"role": "assistant", "content": text or (None if calls else "")}
    if calls:
        message["tool_calls"] = calls
    return message


def _tools_to_chat(body: dict[str, Any]) -> dict[str, Any]:
    tools = body.get("tools") or []
    if not isinstance(tools, list):
        raise TranslationError("'tools' must be an array of tools")
    if not tools:
        return {}
    out: dict[str, Any] = {"tools": [_tool_to_chat(t, f"tools[{i}]") for i, t in enumerate(tools)]}
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        out["tool_choice"] = _tool_choice_to_chat(choice)
        if choice.get("disable_parallel_tool_use") is True:
            out["parallel_tool_calls"] = False
    return out


def _tool_to_chat(tool: Any, where: str) -> Block:
    if not isinstance(tool, dict) or tool.get("type", "custom") != "custom":
        kind = tool.get("type") if isinstance(tool, dict) else None
        raise TranslationError(
            f"{where}: server tool '{kind}' is not available on this model; remove it or "
            "define a custom tool with name and input_schema"
        )
    if not isinstance(tool.get("name"), str) or not tool["name"]:
        raise TranslationError(f"{where}.name is required")
    fn: Block = {
        "name": tool["name"],
        "parameters": tool.get("input_schema") or {"type": "object", "properties": {}},
    }
    if tool.get("description"):
        fn["description"] = tool["description"]
    return {"type": "function", "function": fn}


def _tool_choice_to_chat(choice: Block) -> Any:
    kind = choice.get("type")
    simple = {"auto": "auto", "any": "required", "none": "none"}
    if kind in simple:
        return simple[kind]
    if kind == "tool" and isinstance(choice.get("name"), str):
        return {"type": "function", "function": {"name": choice["name"]}}
    raise TranslationError("tool_choice.type must be 'auto', 'any', 'none' or 'tool' (with name)")
