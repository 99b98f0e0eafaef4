"""Notification bodies: the generic JSON shape and a Slack incoming-webhook message, and the
HMAC-SHA256 signature receivers verify them with."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

_SLACK_FIELDS = 10  # Slack allows at most 10 fields in a section block
_SLACK_FIELD_CHARS = 1900
_SLACK_HEADER_CHARS = 150
_SLACK_TEXT_CHARS = 2900


@dataclass(frozen=True, slots=True)
class Notification:
    """One event to deliver; `id` is the same on every attempt and at every webhook."""

    id: str
    event: str
    at: datetime
    payload: dict[str, Any]


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, default=_default, option=orjson.OPT_NON_STR_KEYS)


def json_body(n: Notification) -> dict[str, Any]:
    """`{"id", "event", "at", "payload"}`: the generic shape."""
    return {"id": n.id, "event": n.event, "at": n.at.isoformat(), "payload": n.payload}


def _title(n: Notification) -> str:
    title = n.payload.get("title")
    if isinstance(title, str) and title:
        return title
    return "Steward: " + n.event.replace(".", " ").replace("_", " ")


def _plain(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list | tuple | set | frozenset):
        return dumps(value).decode()
    return str(value)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_body(n: Notification) -> dict[str, Any]:
    """A Slack-compatible incoming-webhook message: `text` (the fallback shown in
    notifications) and Block Kit `blocks`: a header, the message, the payload's fields and a
    context line with the event type, time and id."""
    title = _title(n)
    message = n.payload.get("message")
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _clip(title, _SLACK_HEADER_CHARS)},
        }
    ]
    if isinstance(message, str) and message:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _clip(message, _SLACK_TEXT_CHARS)},
            }
        )
    fields = [
        {"type": "mrkdwn", "text": _clip(f"*{key}*\n{_plain(value)}", _SLACK_FIELD_CHARS)}
        for key, value in n.payload.items()
        if key not in ("title", "message") and value is not None
    ]
    if fields:
        blocks.append({"type": "section", "fields": fields[:_SLACK_FIELDS]})
    blocks.append(
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": f"`{n.event}` · {n.at.isoformat()} · id {n.id}"}
            ],
        }
    )
    text = f"{title}: {message}" if isinstance(message, str) and message else title
    return {"text": _clip(text, _SLACK_TEXT_CHARS), "blocks": blocks}


def render(fmt: str, n: Notification) -> bytes:
    """The request body for a webhook of format `json` or `slack`."""
    return dumps(slack_body(n) if fmt == "slack" else json_body(n))


def sign(secret: str, body: bytes) -> str:
    """The x-steward-signature value: `sha256=` and the hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str) -> bool:
    """What a receiver does (constant-time comparison); used by the tests and documented."""
    return hmac.compare_digest(sign(secret, body), signature)


__all__ = ["Notification", "json_body", "render", "sign", "slack_body", "verify"]
