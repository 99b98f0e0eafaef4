"""Token usage in both wire formats, normalised to `Usage` and back.

OpenAI's `prompt_tokens` already includes cached tokens; Anthropic's `input_tokens` excludes cache
reads and writes, so the normalised `Usage.input_tokens` adds them back.
"""

from __future__ import annotations

from typing import Any

from steward.providers.base import Usage


def _int(value: Any) -> int:
    """A token count from a JSON value; missing, null or malformed counts read as 0."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, float):
        return max(int(value), 0)
    return 0


def _details(u: dict[str, Any], key: str) -> dict[str, Any]:
    value = u.get(key)
    return value if isinstance(value, dict) else {}


def usage_from_openai(u: dict[str, Any] | None) -> Usage | None:
    """Normalise an OpenAI `usage` object (cached and reasoning tokens are already included)."""
    if not isinstance(u, dict):
        return None
    prompt = _details(u, "prompt_tokens_details")
    completion = _details(u, "completion_tokens_details")
    return Usage(
        input_tokens=_int(u.get("prompt_tokens")),
        output_tokens=_int(u.get("completion_tokens")),
        cached_tokens=_int(prompt.get("cached_tokens")),
        # Not part of OpenAI's schema; some compatible servers report cache writes here.
        cache_write_tokens=_int(prompt.get("cache_write_tokens")),
        reasoning_tokens=_int(completion.get("reasoning_tokens")),
    )


def usage_from_anthropic(u: dict[str, Any] | None) -> Usage | None:
    """Normalise an Anthropic `usage` object: input = input + cache reads + cache writes."""
    if not isinstance(u, dict):
        return None
    cache_read = _int(u.get("cache_read_input_tokens"))
    cache_write = _int(u.get("cache_creation_input_tokens"))
    return Usage(
        input_tokens=_int(u.get("input_tokens")) + cache_read + cache_write,
        output_tokens=_int(u.get("output_tokens")),
        cached_tokens=cache_read,
        cache_write_tokens=cache_write,
        reasoning_tokens=_int(_details(u, "output_tokens_details").get("thinking_tokens")),
    )


def usage_to_openai(u: Usage) -> dict[str, Any]:
    """An OpenAI `usage` object (CompletionUsage shape) for normalised usage."""
    prompt_details: dict[str, Any] = {"cached_tokens": u.cached_tokens}
    if u.cache_write_tokens:
        prompt_details["cache_write_tokens"] = u.cache_write_tokens
    return {
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.input_tokens + u.output_tokens,
        "prompt_tokens_details": prompt_details,
        "completion_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
    }


def usage_to_anthropic(u: Usage) -> dict[str, Any]:
    """An Anthropic `usage` object: uncached input, with cache reads and writes split out."""
    out: dict[str, Any] = {
        "input_tokens": max(u.input_tokens - u.cached_tokens - u.cache_write_tokens, 0),
        "output_tokens": u.output_tokens,
        "cache_read_input_tokens": u.cached_tokens,
        "cache_creation_input_tokens": u.cache_write_tokens,
    }
    if u.reasoning_tokens:
        out["output_tokens_details"] = {"thinking_tokens": u.reasoning_tokens}
    return out


def merge_anthropic_usage(base: dict[str, Any], update: dict[str, Any] | None) -> dict[str, Any]:
    """Anthropic stream usage: `message_delta` counts are cumulative and override the start's."""
    merged = dict(base)
    if isinstance(update, dict):
        merged.update({k: v for k, v in update.items() if v is not None})
    return merged
