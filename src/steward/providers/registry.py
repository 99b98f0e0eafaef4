"""Building provider adapters from configuration, and the set of adapters the gateway uses."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping

from steward.config.models import ProviderConfig
from steward.providers.anthropic import AnthropicProvider
from steward.providers.base import ProviderAdapter
from steward.providers.openai import OpenAIProvider


def build_provider(name: str, cfg: ProviderConfig) -> ProviderAdapter:
    """The adapter for one configured provider, chosen by its `kind`."""
    if cfg.kind == "openai":
        return OpenAIProvider(name, cfg)
    if cfg.kind == "anthropic":
        return AnthropicProvider(name, cfg)
    if cfg.kind == "sim":
        from steward.providers.sim import SimProvider

        sim: ProviderAdapter = SimProvider(name, cfg.sim)
        return sim
    raise ValueError(
        f"provider '{name}': unknown kind '{cfg.kind}' (expected openai, anthropic or sim)"
    )


class ProviderRegistry:
    """Adapters by provider name, each with its own connection pool; `aclose()` releases them."""

    def __init__(self, configs: Mapping[str, ProviderConfig]) -> None:
        self._adapters: dict[str, ProviderAdapter] = {
            name: build_provider(name, cfg) for name, cfg in configs.items()
        }

    def get(self, name: str) -> ProviderAdapter:
        try:
            return self._adapters[name]
        except KeyError:
            known = ", ".join(sorted(self._adapters)) or "none"
            raise KeyError(f"provider '{name}' is not configured (providers: {known})") from None

    def __contains__(self, name: object) -> bool:
        return name in self._adapters

    def __iter__(self) -> Iterator[str]:
        return iter(self._adapters)

    def __len__(self) -> int:
        return len(self._adapters)

    async def aclose(self) -> None:
        """Close every adapter; one failing to close does not keep the others open."""
        results = await asyncio.gather(
            *(adapter.aclose() for adapter in self._adapters.values()), return_exceptions=True
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]
