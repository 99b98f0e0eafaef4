"""Errors raised while translating between wire formats."""

from __future__ import annotations


class TranslationError(ValueError):
    """A request that cannot be expressed in the other wire format (an HTTP 400 for the client)."""


class UpstreamStreamError(Exception):
    """The upstream reported an error inside a stream (an Anthropic `error` event)."""

    def __init__(self, message: str, *, kind: str = "api_error") -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
