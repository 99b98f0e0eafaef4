"""What the fake upstream answers: deterministic echo text or a tool call, with usage, in both
wire formats."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any, Literal

import orjson

Api = Literal["openai", "anthropic"]
CREATED = 1_700_000_000


@dataclass(slots=True)
class Answer:
    """What the fake will say to one chat request, in either wire format."""

    seq: int
    model: str
    words: list[str]  # text answer, one stream chunk per word
    tool: tuple[str, str] | None  # (tool name, JSON arguments) instead of text
    truncated: bool
    prompt_tokens: int
    completion_tokens: int
    cached: int
    cache_write: int
    reasoning: int

    @classmethod
    def plan(cls, body: dict[str, Any], api: Api, seq: int) -> Answer:
        model = str(body["model"])
        messages: list[Any] = body["messages"]
        prompt = sum(
            count_tokens(_text(m.get("content"))) + 4 for m in messages if isinstance(m, dict)
        )
        prompt += count_tokens(_text(body.get("system")))
        tools = body.get("tools")
        if tools:
            prompt += len(orjson.dumps(tools)) // 4
        tool = _tool_call(body, api) if tools and not _after_tool_result(messages, api) else None
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        words = [] if tool else _echo(messages)
        truncated = isinstance(limit, int) and 0 < limit < len(words)
        if truncated:
            words = words[:limit]
        completion = len(words) if tool is None else len(tool[1]) // 4 + 5
        cached = prompt // 2 if "cached" in model else 0
        cache_write = prompt // 2 if "cache-write" in model and not cached else 0
        reasoning = 16 if "reasoning" in model and api == "openai" else 0
        return cls(
            seq=seq,
            model=model,
            words=words,
            tool=tool,
            truncated=truncated,
            prompt_tokens=prompt,
            completion_tokens=completion + reasoning,
            cached=cached,
            cache_write=cache_write,
            reasoning=reasoning,
        )

    @property
    def text(self) -> str:
        return "".join(self.words)

    # ---------------------------------------------------------------- OpenAI

    @property
    def openai_id(self) -> str:
        return f"chatcmpl-fake{self.seq}"

    @property
    def tool_id(self) -> str:
        return f"call_fake{self.seq}" if self.tool else ""

    def finish_reason(self) -> str:
        return "tool_calls" if self.tool else "length" if self.truncated else "stop"

    def openai_usage(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": self.reasoning,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    def openai_completion(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
        if self.tool:
            name, arguments = self.tool
            message["tool_calls"] = [
                {
                    "id": self.tool_id,
                    "type": "function",
                    "function": {"name": name, "arguments": arguments},
                }
            ]
        else:
            message["content"] = self.text
        return {
            "id": self.openai_id,
            "object": "chat.completion",
            "created": CREATED,
            "model": self.model,
            "system_fingerprint": "fp_fake",
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": self.finish_reason(),
                }
            ],
            "usage": self.openai_usage(),
        }

    def openai_chunk(
        self, delta: dict[str, Any], finish: str | None = None, usage: bool = False
    ) -> dict[str, Any]:
        chunk: dict[str, Any] = {
            "id": self.openai_id,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": self.model,
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if usage:
            chunk["usage"] = None
        return chunk

    def openai_deltas(self) -> list[dict[str, Any]]:
        if self.tool:
            name, arguments = self.tool
            first = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "index": 0,
                        "id": self.tool_id,
                        "type": "function",
                        "function": {"name": name, "arguments": ""},
                    }
                ],
            }
            return [first] + [
                {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
                for piece in _pieces(arguments)
            ]
        return [{"role": "assistant", "content": "", "refusal": None}] + [
            {"content": word} for word in self.words
        ]

    # ---------------------------------------------------------------- Anthropic

    def anthropic_usage(self, output_tokens: int) -> dict[str, Any]:
        return {
            "input_tokens": self.prompt_tokens - self.cached - self.cache_write,
            "cache_creation_input_tokens": self.cache_write,
            "cache_read_input_tokens": self.cached,
            "output_tokens": output_tokens,
        }

    def stop_reason(self) -> str:
        return "tool_use" if self.tool else "max_tokens" if self.truncated else "end_turn"

    def anthropic_block(self) -> dict[str, Any]:
        if self.tool:
            name, arguments = self.tool
            return {
                "type": "tool_use",
                "id": f"toolu_fake{self.seq}",
                "name": name,
                "input": orjson.loads(arguments),
            }
        return {"type": "text", "text": self.text}

    def anthropic_message(self, *, streaming: bool = False) -> dict[str, Any]:
        return {
            "id": f"msg_fake{self.seq}",
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [] if streaming else [self.anthropic_block()],
            "stop_reason": None if streaming else self.stop_reason(),
            "stop_sequence": None,
            "usage": self.anthropic_usage(1 if streaming else self.completion_tokens),
        }

    def anthropic_deltas(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The content block as it starts, and its deltas."""
        if self.tool:
            start = {**self.anthropic_block(), "input": {}}
            deltas = [
                {"type": "input_json_delta", "partial_json": p} for p in _pieces(self.tool[1])
            ]
            return start, deltas
        return {"type": "text", "text": ""}, [{"type": "text_delta", "text": w} for w in self.words]


def _text(content: Any) -> str:
    """The text of a message content (a string or a list of parts/blocks)."""
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
        return " ".join(parts)
    return ""


def count_tokens(text: str) -> int:
    """Deterministic token count: words, with long words counting extra."""
    return sum(1 + len(w) // 8 for w in text.split())


def _echo(messages: list[Any]) -> list[str]:
    """The answer: 'Echo: ' and the last user message's text, one word per stream chunk."""
    last = ""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            last = _text(message.get("content"))
            break
    text = "Echo: " + last if last.strip() else "Hello from the fake upstream."
    words = text.split()
    return [w if i == 0 else " " + w for i, w in enumerate(words[:200])]


def _after_tool_result(messages: list[Any], api: Api) -> bool:
    if not messages or not isinstance(messages[-1], dict):
        return False
    last = messages[-1]
    if api == "openai":
        return last.get("role") == "tool"
    content = last.get("content")
    return isinstance(content, list) and any(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in content
    )


def _tool_call(body: dict[str, Any], api: Api) -> tuple[str, str] | None:
    """Call the first offered tool (or the one tool_choice names) with filled-in arguments."""
    choice = body.get("tool_choice")
    if choice == "none" or (isinstance(choice, dict) and choice.get("type") == "none"):
        return None
    tools = [t for t in body["tools"] if isinstance(t, dict)]
    specs = []
    for t in tools:
        fn = t.get("function") if api == "openai" else t
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            schema = fn.get("parameters") if api == "openai" else fn.get("input_schema")
            specs.append((fn["name"], schema if isinstance(schema, dict) else {}))
    if not specs:
        return None
    wanted = None
    if isinstance(choice, dict):
        wanted = choice.get("name") or (choice.get("function") or {}).get("name")
    name, schema = next((s for s in specs if s[0] == wanted), specs[0])
    return name, orjson.dumps(_arguments(schema)).decode()


def _arguments(schema: dict[str, Any]) -> dict[str, Any]:
    samples: dict[str, Any] = {
        "string": "test",
        "integer": 1,
        "number": 1.5,
        "boolean": True,
        "array": [],
        "object": {},
    }
    props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    required = schema.get("required") or list(props or {})
    out: dict[str, Any] = {}
    for key in required:
        prop = (props or {}).get(key) or {}
        enum = prop.get("enum") if isinstance(prop, dict) else None
        kind = prop.get("type") if isinstance(prop, dict) else None
        out[key] = enum[0] if isinstance(enum, list) and enum else samples.get(str(kind), "test")
    return out


def _pieces(text: str, size: int = 8) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def embedding_vector(text: str, dims: int) -> list[float]:
    """A deterministic unit vector for a text."""
    seed = hashlib.sha256(text.encode()).digest()
    raw = [(seed[i % len(seed)] + i * 7 % 13) / 255.0 - 0.5 for i in range(dims)]
    norm = math.sqrt(sum(v * v for v in raw)) or 1.0
    return [round(v / norm, 6) for v in raw]
