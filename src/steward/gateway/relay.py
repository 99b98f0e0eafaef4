"""Stream relays: native upstream events in, the client's wire-format events out, with the
usage and finish reason tracked on the way (streamed requests are priced like any other)."""

from __future__ import annotations

from typing import Any, Protocol

from steward.providers.base import Usage
from steward.providers.translate import (
    ChatToMessagesStream,
    MessagesToChatStream,
    usage_from_anthropic,
    usage_from_openai,
)


class Relay(Protocol):
    @property
    def usage(self) -> Usage | None: ...

    finish_reason: str | None

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]: ...

    def finish(self) -> list[dict[str, Any]]: ...


class OpenAIPassthrough:
    """OpenAI in, OpenAI out. The usage chunk (always requested upstream) reaches the client
    only if the client asked for it."""

    def __init__(self, client_wants_usage: bool) -> None:
        self._wants_usage = client_wants_usage
        self.usage: Usage | None = None
        self.finish_reason: str | None = None

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        raw_usage = event.get("usage")
        if raw_usage:
            self.usage = usage_from_openai(raw_usage)
        choices = event.get("choices")
        if choices:
            reason = choices[0].get("finish_reason")
            if reason:
                self.finish_reason = reason
        elif raw_usage and not self._wants_usage:
            return []
        if not self._wants_usage and "usage" in event:
            event = {k: v for k, v in event.items() if k != "usage"}
        return [event]

    def finish(self) -> list[dict[str, Any]]:
        return []


class AnthropicPassthrough:
    """Anthropic in, Anthropic out; usage is assembled from message_start and message_delta."""

    def __init__(self) -> None:
        self._raw: dict[str, Any] = {}
        self.usage: Usage | None = None
        self.finish_reason: str | None = None

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        kind = event.get("type")
        if kind == "message_start":
            self._raw.update((event.get("message") or {}).get("usage") or {})
            self.usage = usage_from_anthropic(self._raw)
        elif kind == "message_delta":
            self._raw.update({k: v for k, v in (event.get("usage") or {}).items() if v is not None})
            self.usage = usage_from_anthropic(self._raw)
            reason = (event.get("delta") or {}).get("stop_reason")
            if reason:
                self.finish_reason = reason
        return [event]

    def finish(self) -> list[dict[str, Any]]:
        return []


class _Translating:
    def __init__(self, inner: ChatToMessagesStream | MessagesToChatStream) -> None:
        self._inner = inner
        self.finish_reason: str | None = None

    @property
    def usage(self) -> Usage | None:
        return self._inner.usage

    def _note(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for ev in events:
            for choice in ev.get("choices") or ():
                if choice.get("finish_reason"):
                    self.finish_reason = choice["finish_reason"]
            if ev.get("type") == "message_delta":
                reason = (ev.get("delta") or {}).get("stop_reason")
                if reason:
                    self.finish_reason = reason
        return events

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        return self._note(self._inner.feed(event))

    def finish(self) -> list[dict[str, Any]]:
        return self._note(self._inner.finish())


def make_relay(
    native: str, wire: str, *, model: str, response_id: str, client_wants_usage: bool
) -> Relay:
    if native == wire == "openai":
        return OpenAIPassthrough(client_wants_usage)
    if native == wire == "anthropic":
        return AnthropicPassthrough()
    if native == "openai":
        return _Translating(ChatToMessagesStream(model, response_id))
    return _Translating(MessagesToChatStream(model, response_id, client_wants_usage))
