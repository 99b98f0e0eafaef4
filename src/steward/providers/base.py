"""The provider adapter interface. An adapter speaks one wire format over one transport; it knows
nothing of policy, keys or accounting. Translation between wire formats lives in `translate`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

WireFormat = Literal["openai", "anthropic"]


@dataclass(slots=True)
class Usage:
    """Token counts as the provider reported them, normalised.

    `input_tokens` is the whole prompt, cached parts included (OpenAI's `prompt_tokens`;
    Anthropic's `input_tokens + cache_read_input_tokens + cache_creation_input_tokens`).
    `output_tokens` is the whole completion, reasoning included.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(slots=True)
class CallInfo:
    """What an adapter needs to place one upstream attempt."""

    upstream_model: str
    timeout_s: float
    request_id: str
    extra_headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class UpstreamResponse:
    """A complete (non-streamed) answer in the adapter's native wire format."""

    body: dict[str, Any]
    usage: Usage | None
    status: int = 200


class UpstreamError(Exception):
    """An upstream attempt failed. `retryable` marks 429, 5xx, timeouts and connection errors."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        kind: str = "upstream_error",
        retryable: bool = False,
        retry_after_s: float | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.retryable = retryable
        self.retry_after_s = retry_after_s
        self.body = body


def is_retryable_status(status: int) -> bool:
    return status == 429 or status == 408 or status >= 500


class ProviderAdapter(ABC):
    """One configured upstream. `native` is the wire format its requests and answers use.

    Streams yield native events: for `openai`, each `chat.completion.chunk` dict; for
    `anthropic`, each event's data dict (its `type` is the SSE event name). The gateway reads
    the usage from the events themselves (see steward.gateway.relay).
    """

    native: WireFormat
    name: str

    @abstractmethod
    async def chat(self, body: dict[str, Any], call: CallInfo) -> UpstreamResponse: ...

    @abstractmethod
    def chat_stream(self, body: dict[str, Any], call: CallInfo) -> AsyncIterator[dict[str, Any]]:
        """Open a stream. Raises UpstreamError before the first event if the upstream refuses."""

    async def embed(self, body: dict[str, Any], call: CallInfo) -> UpstreamResponse:
        raise UpstreamError(
            400, f"provider '{self.name}' has no embeddings API", kind="invalid_request"
        )

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release pooled connections."""
