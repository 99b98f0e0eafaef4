"""The typed per-request context that pipeline stages read and write."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from steward.providers.base import Usage

if TYPE_CHECKING:
    from steward.config.models import ModelConfig, ProviderConfig
    from steward.gateway.errors import GatewayError
    from steward.identity.snapshot import Principal
    from steward.providers.base import ProviderAdapter

Endpoint = Literal["chat", "messages", "embeddings", "models"]


@dataclass(slots=True)
class Deployment:
    """One place a model alias can be served: the alias's config and its provider."""

    model: ModelConfig
    provider_name: str
    provider: ProviderConfig
    adapter: ProviderAdapter


@dataclass(slots=True)
class RequestContext:
    request_id: str
    endpoint: Endpoint
    wire: Literal["openai", "anthropic"]
    started: float  # perf_counter at arrival
    received_at: datetime
    headers: dict[str, str]
    raw_body: bytes = b""
    body: dict[str, Any] = field(default_factory=dict)
    stream: bool = False
    client_wants_usage: bool = False
    # authenticate
    api_key: str | None = None
    principal: Principal | None = None
    # route
    model_alias: str | None = None
    route: list[Deployment] = field(default_factory=list)
    # upstream
    deployment: Deployment | None = None
    attempts: int = 0
    upstream_ms: float = 0.0
    ttft_ms: float | None = None
    response: dict[str, Any] | None = None
    finish_reason: str | None = None
    # account
    usage: Usage | None = None
    cost_usd: Decimal | None = None
    price_source: str | None = None
    # outcome
    status: int = 200
    error: GatewayError | None = None
    error_type: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    end_user: str | None = None  # the app's own end user (x-steward-end-user or the body's user)
    # headers stages add to the response (e.g. x-ratelimit-*), sent on success and on errors
    response_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    # guard: per-request state of the guard stages (None when the guard is off)
    guard: Any = None
    # limit: the budget and rate-limit reservation, settled in the limit stage's on_finish
    limit: Any = None
    # tool calls: the stream's tool-call reassembly state (None until a stream needs it)
    tool_calls: Any = None
    # further event records (kind + row) stages want written with the usage event
    extra_events: list[dict[str, Any]] = field(default_factory=list)
    overhead_ms: float = 0.0
    latency_ms: float = 0.0
