"""Where a dataset run sends its prompts.

- `DirectTarget` (the default): straight to the alias's provider through Steward's own provider
  registry and wire translation, no gateway needed; `upstream_model` can name a candidate
  upstream model for a deployment gate. Not recorded in the usage ledger.
- `GatewayTarget`: through a running gateway's /v1/chat/completions with an API key, so the
  whole pipeline applies (guard, budgets) and the cost is recorded for that key's app."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from steward.config.models import StewardConfig
from steward.evals.content import answer_text
from steward.events.ids import new_id


class TargetError(RuntimeError):
    """The model could not be asked (unknown alias, upstream error)."""


@dataclass(frozen=True, slots=True)
class Completion:
    """A model's answer to one item."""

    answer: str
    finish_reason: str | None
    latency_ms: float
    response_id: str | None


def _completion(body: dict[str, Any], started: float) -> Completion:
    choices = body.get("choices") or [{}]
    first = choices[0] if isinstance(choices[0], dict) else {}
    rid = body.get("id")
    return Completion(
        answer=answer_text(body, "openai"),
        finish_reason=first.get("finish_reason"),
        latency_ms=round((time.perf_counter() - started) * 1000.0, 3),
        response_id=rid if isinstance(rid, str) else None,
    )


def chat_body(
    model: str, messages: list[dict[str, str]], fmt: dict[str, Any] | None
) -> dict[str, Any]:
    """The chat-completions request for one item."""
    body: dict[str, Any] = {"model": model, "messages": messages}
    if fmt is not None:
        body["response_format"] = fmt
    return body


class Target(Protocol):
    """Asks a model one item."""

    name: str

    async def complete(
        self, messages: list[dict[str, str]], fmt: dict[str, Any] | None
    ) -> Completion: ...

    async def aclose(self) -> None: ...


class DirectTarget:
    """The alias's provider, called directly."""

    name = "direct"

    def __init__(
        self, config: StewardConfig, alias: str, upstream_model: str | None = None
    ) -> None:
        from steward.gateway.context import Deployment
        from steward.providers.registry import ProviderRegistry

        model = config.model(alias)
        if model is None:
            known = ", ".join(m.name for m in config.models) or "none"
            raise TargetError(f"model '{alias}' is not configured (models: {known})")
        if model.kind != "chat":
            raise TargetError(f"model '{alias}' is an {model.kind} model, not a chat model")
        if upstream_model:
            model = model.model_copy(update={"upstream_model": upstream_model})
        self.registry = ProviderRegistry(config.providers)
        self.deployment = Deployment(
            model=model,
            provider_name=model.provider,
            provider=config.providers[model.provider],
            adapter=self.registry.get(model.provider),
        )

    async def complete(
        self, messages: list[dict[str, str]], fmt: dict[str, Any] | None
    ) -> Completion:
        from steward.gateway.upstream import client_response, native_request
        from steward.providers.base import CallInfo, UpstreamError

        dep = self.deployment
        info = CallInfo(
            upstream_model=dep.model.target,
            timeout_s=dep.model.timeout_s or dep.provider.timeout_s,
            request_id=new_id(),
        )
        started = time.perf_counter()
        body = chat_body(dep.model.name, messages, fmt)
        try:
            resp = await dep.adapter.chat(native_request(dep, "openai", body), info)
        except UpstreamError as exc:
            raise TargetError(f"upstream {exc.status}: {exc.message}") from exc
        return _completion(client_response(dep, "openai", resp.body), started)

    async def aclose(self) -> None:
        await self.registry.aclose()


class GatewayTarget:
    """A running gateway, with an API key."""

    name = "gateway"

    def __init__(self, base_url: str, api_key: str, alias: str, timeout_s: float = 120.0) -> None:
        self.url = base_url.rstrip("/") + "/v1/chat/completions"
        self.alias = alias
        self.client = httpx.AsyncClient(
            timeout=timeout_s, headers={"authorization": f"Bearer {api_key}"}
        )

    async def complete(
        self, messages: list[dict[str, str]], fmt: dict[str, Any] | None
    ) -> Completion:
        started = time.perf_counter()
        try:
            r = await self.client.post(self.url, json=chat_body(self.alias, messages, fmt))
        except httpx.HTTPError as exc:
            raise TargetError(f"gateway unreachable: {type(exc).__name__}: {exc}") from exc
        if r.status_code != 200:
            raise TargetError(f"gateway answered {r.status_code}: {r.text[:300]}")
        return _completion(r.json(), started)

    async def aclose(self) -> None:
        await self.client.aclose()
