"""The text of a request and of its answer in either wire format, flattened for evaluation:
messages as (role, text) and the answer's text, without images or other binary parts."""

from __future__ import annotations

from typing import Any


def _text(content: Any) -> str:
    """Text of a message content: a string, or the text parts of a list of parts/blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict):
                text = part.get("text")
                if isinstance(text, str):
                    parts.append(text)
                elif part.get("type") == "tool_result":
                    parts.append(_text(part.get("content")))
            elif isinstance(part, str):
                parts.append(part)
        return "\n".join(p for p in parts if p)
    return ""


def request_messages(body: dict[str, Any], wire: str) -> list[dict[str, str]]:
    """[{role, content}] of a chat request; an Anthropic `system` becomes a system message."""
    out: list[dict[str, str]] = []
    if wire == "anthropic":
        system = _text(body.get("system"))
        if system:
            out.append({"role": "system", "content": system})
    for msg in body.get("messages") or ():
        if isinstance(msg, dict):
            out.append({"role": str(msg.get("role", "user")), "content": _text(msg.get("content"))})
    return out


def answer_text(response: dict[str, Any] | None, wire: str) -> str:
    """The answer's text (the first choice for OpenAI; text blocks for Anthropic)."""
    if not response:
        return ""
    if wire == "anthropic":
        return _text(response.get("content"))
    choices = response.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return ""
    message = choices[0].get("message")
    return _text(message.get("content")) if isinstance(message, dict) else ""


def chunk_text(event: dict[str, Any], wire: str) -> str:
    """Text carried by one streamed event (OpenAI chunk delta or Anthropic text delta)."""
    if wire == "anthropic":
        delta = event.get("delta")
        if event.get("type") == "content_block_delta" and isinstance(delta, dict):
            text = delta.get("text")
            return text if isinstance(text, str) else ""
        return ""
    choices = event.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        delta = choices[0].get("delta")
        if isinstance(delta, dict):
            text = delta.get("content")
            return text if isinstance(text, str) else ""
    return ""


def response_format(body: dict[str, Any]) -> dict[str, Any] | None:
    """The requested structured-output format (OpenAI `response_format`), if JSON was asked."""
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema"):
        return fmt
    return None


def last_user_text(messages: list[dict[str, Any]]) -> str:
    """The question: the last user message's text."""
    for msg in reversed(messages):
        if msg.get("role") == "user":
            content = msg.get("content")
            return content if isinstance(content, str) else _text(content)
    return ""
