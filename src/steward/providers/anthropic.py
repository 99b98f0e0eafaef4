"""The Anthropic Messages adapter. `base_url` is the API root (https://api.anthropic.com)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from steward.config.models import ProviderConfig
from steward.providers._http import SKIP, HTTPAdapter, Skip, decode_json_event, stream_error
from steward.providers.base import CallInfo, UpstreamResponse, WireFormat
from steward.providers.translate.usage import usage_from_anthropic

# Error event types that mean "try again" rather than "this request is wrong".
_TRANSIENT_ERRORS = frozenset(
    {"overloaded_error", "api_error", "rate_limit_error", "timeout_error"}
)


class AnthropicProvider(HTTPAdapter):
    """POSTs `/v1/messages` with the upstream model name substituted."""

    native: WireFormat = "anthropic"

    def __init__(self, name: str, cfg: ProviderConfig) -> None:
        headers = {"anthropic-version": cfg.anthropic_version}
        if cfg.api_key:
            headers["x-api-key"] = cfg.api_key
        super().__init__(name, cfg, {**headers, **cfg.headers})
        root = self._base_url.removesuffix("/v1")  # tolerate a base_url given with /v1
        self._messages_url = f"{root}/v1/messages"

    async def chat(self, body: dict[str, Any], call: CallInfo) -> UpstreamResponse:
        payload = {**body, "model": call.upstream_model}
        payload.pop("stream", None)
        data = await self._post_json(self._messages_url, payload, call)
        return UpstreamResponse(body=data, usage=usage_from_anthropic(data.get("usage")))

    def chat_stream(self, body: dict[str, Any], call: CallInfo) -> AsyncIterator[dict[str, Any]]:
        """Stream each event's data dict (`message_start` ... `message_stop`, pings included)."""
        payload = {**body, "model": call.upstream_model, "stream": True}
        return self._stream_events(self._messages_url, payload, call)

    def _decode_event(self, event: str | None, data: str) -> dict[str, Any] | Skip:
        if not data:
            return SKIP
        obj = decode_json_event(self.name, data)
        kind = obj.get("type")
        if kind is None and event is not None:
            obj["type"] = kind = event
        if kind == "error" or event == "error":
            err = obj.get("error")
            err_type = err.get("type") if isinstance(err, dict) else None
            raise stream_error(self.name, obj, retryable=err_type in _TRANSIENT_ERRORS)
        return obj
