"""The OpenAI Chat Completions adapter: OpenAI itself and every compatible server (vLLM, Ollama,
Groq, Together, Mistral, Gemini's OpenAI endpoint). `base_url` already ends in `/v1`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from steward.config.models import ProviderConfig
from steward.providers._http import (
    DONE,
    SKIP,
    HTTPAdapter,
    Skip,
    decode_json_event,
    stream_error,
)
from steward.providers.base import CallInfo, UpstreamResponse, WireFormat
from steward.providers.translate.usage import usage_from_openai


class OpenAIProvider(HTTPAdapter):
    """POSTs `/chat/completions` and `/embeddings` with the upstream model name substituted."""

    native: WireFormat = "openai"

    def __init__(self, name: str, cfg: ProviderConfig) -> None:
        headers = {"authorization": f"Bearer {cfg.api_key}"} if cfg.api_key else {}
        super().__init__(name, cfg, {**headers, **cfg.headers})
        self._chat_url = f"{self._base_url}/chat/completions"
        self._embeddings_url = f"{self._base_url}/embeddings"

    async def chat(self, body: dict[str, Any], call: CallInfo) -> UpstreamResponse:
        payload = {**body, "model": call.upstream_model}
        payload.pop("stream", None)
        payload.pop("stream_options", None)
        data = await self._post_json(self._chat_url, payload, call)
        return UpstreamResponse(body=data, usage=usage_from_openai(data.get("usage")))

    def chat_stream(self, body: dict[str, Any], call: CallInfo) -> AsyncIterator[dict[str, Any]]:
        """Stream `chat.completion.chunk` dicts; usage always comes in the last chunk."""
        options = body.get("stream_options")
        payload = {
            **body,
            "model": call.upstream_model,
            "stream": True,
            "stream_options": {
                **(options if isinstance(options, dict) else {}),
                "include_usage": True,
            },
        }
        return self._stream_events(self._chat_url, payload, call)

    async def embed(self, body: dict[str, Any], call: CallInfo) -> UpstreamResponse:
        payload = {**body, "model": call.upstream_model}
        data = await self._post_json(self._embeddings_url, payload, call)
        return UpstreamResponse(body=data, usage=usage_from_openai(data.get("usage")))

    def _decode_event(self, event: str | None, data: str) -> dict[str, Any] | Skip:
        if data == "[DONE]":
            return DONE
        if not data:
            return SKIP
        chunk = decode_json_event(self.name, data)
        if chunk.get("error") and not chunk.get("choices"):
            # vLLM, OpenRouter and OpenAI itself report failures after a 200 this way.
            raise stream_error(self.name, chunk)
        return chunk
