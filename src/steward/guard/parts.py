"""Where text flows in a request or an answer, in either wire format: every message part,
system prompts, tool-call arguments, tool results, Anthropic content blocks, embeddings input."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# keys whose string values are text a model reads or writes
_TEXT_KEYS = frozenset({"content", "text", "arguments", "system", "input", "partial_json"})
# subtrees that never hold conversation text (binary data, identifiers)
_SKIP_KEYS = frozenset(
    {
        "image_url",
        "source",
        "id",
        "tool_call_id",
        "tool_use_id",
        "role",
        "type",
        "name",
        "model",
        "metadata",
        "cache_control",
        "signature",
        "stream_options",
        "response_format",
        "tools",
        "tool_choice",
        "stop",
        "stop_sequences",
        "usage",
        "logprobs",
    }
)


@dataclass(slots=True)
class Slot:
    """One string inside a JSON body, addressable for rewriting."""

    container: dict[str, Any] | list[Any]
    key: str | int
    location: str
    from_tool: bool  # text that came back from a tool (indirect injection lives here)

    @property
    def text(self) -> str:
        value = self.container[self.key]  # type: ignore[index]
        return value if isinstance(value, str) else ""

    def set(self, value: str) -> None:
        self.container[self.key] = value  # type: ignore[index]


def _is_tool_result(node: dict[str, Any]) -> bool:
    return node.get("role") == "tool" or node.get("type") == "tool_result"


def _walk(node: Any, path: str, out: list[Slot], free: bool, tool: bool) -> None:
    if isinstance(node, dict):
        tool = tool or _is_tool_result(node)
        # Anthropic tool_use input is a free-form object: every string leaf is text
        free_child = free or node.get("type") == "tool_use"
        for k, v in node.items():
            if k in _SKIP_KEYS and not free:
                continue
            where = f"{path}.{k}" if path else k
            if isinstance(v, str):
                if free or k in _TEXT_KEYS:
                    out.append(Slot(node, k, where, tool))
            elif isinstance(v, dict | list):
                _walk(v, where, out, free_child and k == "input" or free, tool)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            where = f"{path}[{i}]"
            if isinstance(v, str):
                if free or path.endswith(("content", "input", "system")):
                    out.append(Slot(node, i, where, tool))
            elif isinstance(v, dict | list):
                _walk(v, where, out, free, tool)


def request_slots(body: dict[str, Any], endpoint: str) -> list[Slot]:
    """Text of a request: messages (every part), system, and embeddings input."""
    out: list[Slot] = []
    if endpoint == "embeddings":
        value = body.get("input")
        if isinstance(value, str):
            out.append(Slot(body, "input", "input", False))
        elif isinstance(value, list):
            out.extend(
                Slot(value, i, f"input[{i}]", False)
                for i, v in enumerate(value)
                if isinstance(v, str)
            )
        return out
    system = body.get("system")
    if isinstance(system, str):
        out.append(Slot(body, "system", "system", False))
    elif isinstance(system, list):
        _walk(system, "system", out, False, False)
    messages = body.get("messages")
    if isinstance(messages, list):
        _walk(messages, "messages", out, False, False)
    return out


def response_slots(body: dict[str, Any]) -> list[Slot]:
    """Text of a complete answer: OpenAI choices (content, tool-call arguments) or Anthropic
    content blocks (text, tool_use input)."""
    out: list[Slot] = []
    choices = body.get("choices")
    if isinstance(choices, list):
        for i, choice in enumerate(choices):
            message = choice.get("message") if isinstance(choice, dict) else None
            if isinstance(message, dict):
                _walk(message, f"choices[{i}].message", out, False, False)
        return out
    content = body.get("content")
    if isinstance(content, list):
        _walk(content, "content", out, False, False)
    return out
