"""The built-in simulator (provider kind `sim`): an OpenAI-format upstream that answers in-process.

Answers are deterministic (a hash of the last user message and the seed picks canned prose, tool
arguments and JSON instances), token counts are real estimates from `tokens`, and latency and
failures are configurable, so demos, tests and benchmarks run without any network. Answers can
also degrade mid-run (`sim.degrade`: refusals, off-topic prose) to exercise evaluation and SLOs.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import random
import re
import secrets
import struct
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from steward.config.models import SimSettings
from steward.providers._sim_content import (
    answer_text,
    rng_for,
    schema_instance,
    tool_result_text,
    topic_of,
)
from steward.providers.base import (
    CallInfo,
    ProviderAdapter,
    UpstreamError,
    UpstreamResponse,
    Usage,
    WireFormat,
    is_retryable_status,
)
from steward.providers.sim_degrade import Degradation
from steward.providers.tokens import (
    count_tokens,
    estimate_chat_tokens,
    estimate_embedding_tokens,
)
from steward.providers.translate.usage import usage_to_openai

__all__ = ["SimProvider"]

_PIECE = re.compile(r"\s*(?:\w+|[^\w\s]+)")  # about a token: the grain of max_tokens cuts
_WORD = re.compile(r"\S+")
_WORDS_PER_CHUNK = 2
_ARGUMENT_CHARS_PER_CHUNK = 16
_MAX_DIMENSIONS = 4096
_FINGERPRINT = "fp_steward_sim"
_TOOL_ROLES = ("tool", "function")

Message = Mapping[str, Any]


@dataclass(slots=True)
class _ToolCall:
    id: str
    name: str
    arguments: str


@dataclass(slots=True)
class _Answer:
    content: str | None
    tool_call: _ToolCall | None
    finish_reason: str
    usage: Usage


class SimProvider(ProviderAdapter):
    """The built-in simulator: answers OpenAI chat and embeddings requests without a network."""

    native: WireFormat = "openai"

    def __init__(self, name: str, settings: SimSettings) -> None:
        self.name = name
        self._settings = settings
        self._seed = settings.seed
        self._seed_bytes = f"{settings.seed}\x00".encode()
        # One draw per request from a seeded generator: a run's pattern of failures repeats.
        self._rng = random.Random(settings.seed)
        degrade = settings.degrade
        self._degrade = Degradation(degrade, settings.seed) if degrade is not None else None

    async def chat(self, body: dict[str, Any], call: CallInfo) -> UpstreamResponse:
        answer = self._answer(body)
        await self._before_answer(call)
        message: dict[str, Any] = {"role": "assistant", "content": answer.content, "refusal": None}
        if answer.tool_call is not None:
            message["tool_calls"] = [_tool_call_json(answer.tool_call)]
        out = {
            "id": _completion_id(),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": call.upstream_model,
            "system_fingerprint": _FINGERPRINT,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": answer.finish_reason,
                }
            ],
            "usage": usage_to_openai(answer.usage),
        }
        return UpstreamResponse(body=out, usage=answer.usage)

    async def chat_stream(
        self, body: dict[str, Any], call: CallInfo
    ) -> AsyncIterator[dict[str, Any]]:
        answer = self._answer(body)
        await self._before_answer(call)
        options = body.get("stream_options")
        with_usage = isinstance(options, Mapping) and options.get("include_usage") is True
        base = {
            "id": _completion_id(),
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": call.upstream_model,
            "system_fingerprint": _FINGERPRINT,
        }
        pause = self._settings.token_latency_ms / 1000
        yield _chunk(base, {"role": "assistant", "content": ""}, None, with_usage)
        for delta in _deltas(answer):
            if pause > 0:
                await asyncio.sleep(pause)
            yield _chunk(base, delta, None, with_usage)
        yield _chunk(base, {}, answer.finish_reason, with_usage)
        if with_usage:
            yield {**base, "choices": [], "usage": usage_to_openai(answer.usage)}

    async def embed(self, body: dict[str, Any], call: CallInfo) -> UpstreamResponse:
        keys, dims, as_base64 = _embedding_request(body, self._settings.embedding_dimensions)
        await self._before_answer(call)
        data = []
        for index, key in enumerate(keys):
            vector = self._vector(key, dims)
            value: list[float] | str = _base64_floats(vector) if as_base64 else vector
            data.append({"object": "embedding", "index": index, "embedding": value})
        tokens = estimate_embedding_tokens(body["input"])
        out = {
            "object": "list",
            "data": data,
            "model": call.upstream_model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return UpstreamResponse(body=out, usage=Usage(input_tokens=tokens))

    # --- behaviour ----------------------------------------------------------------------------

    async def _before_answer(self, call: CallInfo) -> None:
        """Wait `latency_ms`, then fail with probability `error_rate` (or time out)."""
        s = self._settings
        failing = s.error_rate >= 1 or (s.error_rate > 0 and self._rng.random() < s.error_rate)
        delay = s.latency_ms / 1000
        if delay > call.timeout_s > 0:
            await asyncio.sleep(call.timeout_s)
            raise UpstreamError(
                504,
                f"upstream timed out after {call.timeout_s:g}s ('{self.name}')",
                kind="timeout",
                retryable=True,
            )
        if delay > 0:
            await asyncio.sleep(delay)
        if failing:
            message = f"simulated upstream error (sim provider '{self.name}')"
            raise UpstreamError(
                s.error_status,
                message,
                kind="upstream_error",
                retryable=is_retryable_status(s.error_status),
                body={"error": {"message": message, "type": "sim_error", "code": None}},
            )

    def _answer(self, body: dict[str, Any]) -> _Answer:
        messages = _messages(body)
        limit = _max_tokens(body)
        prompt_tokens = estimate_chat_tokens(body)
        question = _last_user_text(messages)
        tool = _chosen_tool(body, messages)
        if tool is not None:
            call, cut = self._tool_call(tool, question, len(messages), limit)
            usage = Usage(prompt_tokens, count_tokens(call.name) + count_tokens(call.arguments))
            return _Answer(None, call, "length" if cut else "tool_calls", usage)
        degraded = self._degrade.next_text(question) if self._degrade is not None else None
        text = degraded if degraded is not None else self._text(body, messages, question)
        text = _cut_at_stop(text, body.get("stop"))
        text, cut = _truncate(text, limit)
        usage = Usage(prompt_tokens, count_tokens(text))
        return _Answer(text, None, "length" if cut else "stop", usage)

    def _tool_call(
        self, tool: tuple[str, Any], question: str, turn: int, limit: int | None
    ) -> tuple[_ToolCall, bool]:
        """A call to `tool` with arguments drawn from its parameters schema; whether cut short."""
        name, params = tool
        schema = params if isinstance(params, Mapping) and params else {"type": "object"}
        value = schema_instance(schema, rng_for(self._seed, "args", name, question))
        arguments, cut = _truncate(_dumps(value if isinstance(value, dict) else {}), limit)
        # Deterministic, yet distinct for each turn of a conversation.
        call_id = rng_for(self._seed, "call", turn, question).getrandbits(96)
        return _ToolCall(f"call_{call_id:024x}", name, arguments), cut

    def _text(self, body: dict[str, Any], messages: list[Message], question: str) -> str:
        last = messages[-1]
        if last.get("role") in _TOOL_ROLES:
            result = _content_text(last.get("content"))
            return tool_result_text(_tool_name(messages, last), result, self._seed)
        fmt = body.get("response_format")
        kind = fmt.get("type") if isinstance(fmt, Mapping) else None
        if kind == "json_schema" and isinstance(fmt, Mapping):
            spec = fmt.get("json_schema")
            schema = spec.get("schema") if isinstance(spec, Mapping) else None
            schema = schema if isinstance(schema, Mapping) and schema else {"type": "object"}
            return _dumps(schema_instance(schema, rng_for(self._seed, "json", question)))
        if kind == "json_object":
            answer = answer_text(question, self._seed)
            return _dumps({"topic": topic_of(question), "answer": answer})
        return answer_text(question, self._seed)

    def _vector(self, key: bytes, dims: int) -> list[float]:
        """A deterministic unit vector for one input."""
        raw = struct.unpack(f"<{dims}i", hashlib.shake_256(self._seed_bytes + key).digest(4 * dims))
        norm = math.hypot(*raw) or 1.0
        return [v / norm for v in raw]


# --- request parsing ---------------------------------------------------------------------------


def _invalid(message: str) -> UpstreamError:
    return UpstreamError(400, message, kind="invalid_request")


def _messages(body: Any) -> list[Message]:
    if not isinstance(body, Mapping):
        raise _invalid("the request body must be a JSON object")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _invalid("'messages' must be a non-empty list of messages")
    for i, msg in enumerate(messages):
        if not isinstance(msg, Mapping) or not isinstance(msg.get("role"), str):
            raise _invalid(f"messages[{i}] must be an object with a string 'role'")
    return messages


def _max_tokens(body: Mapping[str, Any]) -> int | None:
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise _invalid(f"'{key}' must be a positive integer (got {value!r})")
        return value
    return None


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    texts = (p.get("text") if isinstance(p, Mapping) else p for p in content)
    return "\n".join(t for t in texts if isinstance(t, str))


def _last_user_text(messages: list[Message]) -> str:
    for msg in reversed(messages):
        if msg.get("role") == "user":
            return _content_text(msg.get("content"))
    return _content_text(messages[-1].get("content"))


def _tool_name(messages: list[Message], result: Message) -> str | None:
    """The function a tool result answers: its `name`, or the call its `tool_call_id` names."""
    if isinstance(result.get("name"), str):
        return str(result["name"])
    call_id = result.get("tool_call_id")
    for msg in reversed(messages):
        calls = msg.get("tool_calls")
        for call in calls if isinstance(calls, list) else []:
            fn = call.get("function") if isinstance(call, Mapping) else None
            if isinstance(fn, Mapping) and call.get("id") == call_id:
                name = fn.get("name")
                return name if isinstance(name, str) else None
    return None


def _function_tools(body: Mapping[str, Any]) -> dict[str, Any]:
    """Offered function tools: name -> parameters schema, in order."""
    tools = body.get("tools")
    if tools is None:
        return {}
    if not isinstance(tools, list):
        raise _invalid("'tools' must be a list of tool definitions")
    out: dict[str, Any] = {}
    for tool in tools:
        fn = tool.get("function") if isinstance(tool, Mapping) else None
        if isinstance(fn, Mapping) and isinstance(fn.get("name"), str):
            out.setdefault(fn["name"], fn.get("parameters"))
    return out


def _chosen_tool(body: Mapping[str, Any], messages: list[Message]) -> tuple[str, Any] | None:
    """The tool to call: none after a tool result or with tool_choice "none", else the named
    one or the first offered."""
    tools = _function_tools(body)
    choice = body.get("tool_choice")
    if not tools or choice == "none" or messages[-1].get("role") in _TOOL_ROLES:
        return None
    name = _named_choice(choice)
    if name is None:
        name = next(iter(tools))
    elif name not in tools:
        raise _invalid(f"tool_choice names function '{name}', which is not among 'tools'")
    return name, tools[name]


def _named_choice(choice: Any) -> str | None:
    if not isinstance(choice, Mapping):
        return None
    if choice.get("type") == "function":
        fn = choice.get("function")
        name = fn.get("name") if isinstance(fn, Mapping) else None
        return name if isinstance(name, str) else None
    allowed = choice.get("allowed_tools")
    if choice.get("type") == "allowed_tools" and isinstance(allowed, Mapping):
        for tool in allowed.get("tools") or []:
            if isinstance(tool, Mapping) and tool.get("type") == "function":
                found = _named_choice(tool)
                if found is not None:
                    return found
    return None


def _embedding_request(body: Any, default_dims: int) -> tuple[list[bytes], int, bool]:
    """Hash keys of each input, the vector size and whether to answer in base64."""
    if not isinstance(body, Mapping):
        raise _invalid("the request body must be a JSON object")
    dims = body.get("dimensions")
    if dims is None:
        dims = default_dims
    elif isinstance(dims, bool) or not isinstance(dims, int) or not 1 <= dims <= _MAX_DIMENSIONS:
        raise _invalid(f"'dimensions' must be an integer from 1 to {_MAX_DIMENSIONS}")
    fmt = body.get("encoding_format")
    if fmt not in (None, "float", "base64"):
        raise _invalid("'encoding_format' must be 'float' or 'base64'")
    return _embedding_keys(body.get("input")), dims, fmt == "base64"


def _embedding_keys(raw: Any) -> list[bytes]:
    if isinstance(raw, str):
        return [raw.encode("utf-8", "surrogatepass")]
    if isinstance(raw, list) and raw:
        if all(isinstance(x, str) for x in raw):
            return [x.encode("utf-8", "surrogatepass") for x in raw]
        if _is_token_array(raw):
            return [_token_key(raw)]
        if all(_is_token_array(x) for x in raw):
            return [_token_key(x) for x in raw]
    raise _invalid(
        "'input' must be a string, a non-empty list of strings, or token arrays (lists of integers)"
    )


def _is_token_array(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(t, int) and not isinstance(t, bool) for t in value)
    )


def _token_key(tokens: list[int]) -> bytes:
    return b"\x00tokens:" + ",".join(map(str, tokens)).encode()


# --- answer shaping ----------------------------------------------------------------------------


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _cut_at_stop(text: str, stop: Any) -> str:
    """The text before the first of the `stop` sequences."""
    if isinstance(stop, str):
        stops = [stop]
    elif isinstance(stop, list):
        stops = [s for s in stop if isinstance(s, str) and s]
    else:
        stops = []
    cut = min((i for s in stops if s and (i := text.find(s)) >= 0), default=-1)
    return text[:cut] if cut >= 0 else text


def _truncate(text: str, limit: int | None) -> tuple[str, bool]:
    """The longest prefix (cut between ~token pieces) within `limit` tokens; and whether cut."""
    if limit is None or count_tokens(text) <= limit:
        return text, False
    ends = [m.end() for m in _PIECE.finditer(text)]
    fits, over = 0, len(ends)  # a prefix of `fits` pieces is within the limit
    while fits < over:
        mid = (fits + over + 1) // 2
        if count_tokens(text[: ends[mid - 1]]) <= limit:
            fits = mid
        else:
            over = mid - 1
    return (text[: ends[fits - 1]] if fits else ""), True


def _tool_call_json(call: _ToolCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }


def _completion_id() -> str:
    return f"chatcmpl-sim-{secrets.token_hex(12)}"


def _chunk(
    base: dict[str, Any], delta: dict[str, Any], finish: str | None, with_usage: bool
) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    out = {**base, "choices": [choice]}
    if with_usage:
        out["usage"] = None  # as OpenAI does: only the final chunk carries usage
    return out


def _deltas(answer: _Answer) -> list[dict[str, Any]]:
    """The stream's deltas between the opening and finishing chunks."""
    call = answer.tool_call
    if call is not None:
        head = _tool_call_json(call)
        head["function"] = {"name": call.name, "arguments": ""}
        step = _ARGUMENT_CHARS_PER_CHUNK
        pieces = [call.arguments[i : i + step] for i in range(0, len(call.arguments), step)]
        return [{"tool_calls": [{"index": 0, **head}]}] + [
            {"tool_calls": [{"index": 0, "function": {"arguments": p}}]} for p in pieces
        ]
    text = answer.content or ""
    starts = [m.start() for m in _WORD.finditer(text)][_WORDS_PER_CHUNK::_WORDS_PER_CHUNK]
    bounds = [0, *starts, len(text)]
    return [{"content": text[a:b]} for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


def _base64_floats(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
