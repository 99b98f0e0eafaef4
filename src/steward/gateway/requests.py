"""Parse and check request bodies before the pipeline: malformed input gets a clear 400 that says
which field is wrong and what was expected."""

from __future__ import annotations

from typing import Any

import orjson

from steward.gateway.context import RequestContext
from steward.gateway.errors import bad_request

_CHAT_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_MESSAGES_ROLES = frozenset({"user", "assistant"})
_MAX_TAGS = 20
_MAX_TAG_LEN = 200


def decode_json(raw: bytes) -> dict[str, Any]:
    if not raw:
        raise bad_request("request body is empty; send a JSON object", code="invalid_json")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"request body is not valid JSON: {exc}", code="invalid_json") from None
    if not isinstance(body, dict):
        raise bad_request(
            f"request body must be a JSON object, got {type(body).__name__}", code="invalid_json"
        )
    return body


def _require_model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad_request(
            "'model' is required and must be a non-empty string", code="invalid_model"
        )
    return model


def _check_messages(body: dict[str, Any], roles: frozenset[str]) -> None:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request("'messages' is required and must be a non-empty array")
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise bad_request(f"'messages[{i}]' must be an object")
        role = m.get("role")
        if role not in roles:
            raise bad_request(
                f"'messages[{i}].role' must be one of {', '.join(sorted(roles))}, got {role!r}"
            )


def _check_int(body: dict[str, Any], name: str, *, required: bool = False) -> None:
    value = body.get(name)
    if value is None:
        if required:
            raise bad_request(f"'{name}' is required and must be a positive integer")
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise bad_request(f"'{name}' must be a positive integer, got {value!r}")


def _check_stream(body: dict[str, Any]) -> bool:
    stream = body.get("stream", False)
    if stream is None:
        return False
    if not isinstance(stream, bool):
        raise bad_request(f"'stream' must be true or false, got {stream!r}")
    return stream


def _tags(headers: dict[str, str], metadata: Any) -> dict[str, str]:
    tags: dict[str, str] = {}
    header = headers.get("x-steward-tags")
    if header:
        for part in header.split(","):
            k, sep, v = part.strip().partition("=")
            if k:
                tags[k.strip()[:_MAX_TAG_LEN]] = (v.strip() if sep else "true")[:_MAX_TAG_LEN]
    if isinstance(metadata, dict):
        for k, v in metadata.items():
            if isinstance(v, str | int | float | bool):
                tags[str(k)[:_MAX_TAG_LEN]] = str(v)[:_MAX_TAG_LEN]
    if len(tags) > _MAX_TAGS:
        raise bad_request(f"at most {_MAX_TAGS} tags per request (x-steward-tags and metadata)")
    return tags


def _end_user(headers: dict[str, str], from_body: Any) -> str | None:
    value = headers.get("x-steward-end-user") or (from_body if isinstance(from_body, str) else None)
    return value[:200] if value else None


def parse_chat(ctx: RequestContext, body: dict[str, Any]) -> None:
    """OpenAI `POST /v1/chat/completions`."""
    ctx.model_alias = _require_model(body)
    _check_messages(body, _CHAT_ROLES)
    _check_int(body, "max_tokens")
    _check_int(body, "max_completion_tokens")
    ctx.stream = _check_stream(body)
    opts = body.get("stream_options")
    if opts is not None and not isinstance(opts, dict):
        raise bad_request("'stream_options' must be an object")
    ctx.client_wants_usage = bool(opts and opts.get("include_usage"))
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise bad_request("'tools' must be an array")
    ctx.tags = _tags(ctx.headers, body.get("metadata"))
    ctx.end_user = _end_user(ctx.headers, body.get("user"))
    ctx.body = body


def parse_messages(ctx: RequestContext, body: dict[str, Any]) -> None:
    """Anthropic `POST /v1/messages`."""
    ctx.model_alias = _require_model(body)
    _check_messages(body, _MESSAGES_ROLES)
    _check_int(body, "max_tokens", required=True)
    ctx.stream = _check_stream(body)
    ctx.client_wants_usage = True
    ctx.tags = _tags(ctx.headers, body.get("metadata"))
    meta = body.get("metadata")
    ctx.end_user = _end_user(ctx.headers, meta.get("user_id") if isinstance(meta, dict) else None)
    ctx.body = body


def parse_embeddings(ctx: RequestContext, body: dict[str, Any]) -> None:
    """OpenAI `POST /v1/embeddings`."""
    ctx.model_alias = _require_model(body)
    value = body.get("input")
    ok = isinstance(value, str) and value != ""
    if isinstance(value, list) and value:
        ok = all(isinstance(v, str | int | list) for v in value)
    if not ok:
        raise bad_request("'input' is required: a non-empty string or array of strings or tokens")
    ctx.tags = _tags(ctx.headers, body.get("metadata"))
    ctx.end_user = _end_user(ctx.headers, body.get("user"))
    ctx.body = body


PARSERS = {"chat": parse_chat, "messages": parse_messages, "embeddings": parse_embeddings}
