"""Cost of a request in USD: config overrides first, then `genai-prices`. Cache reads and writes
are parts of the input and reasoning tokens part of the output: each token is billed once.
A model with no known price costs `None`, never a silent 0."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from steward.config.models import ModelConfig, PriceConfig, PricingConfig, ProviderConfig
from steward.providers.base import Usage
from steward.usage._price_rules import PriceRules

log = logging.getLogger("steward.pricing")

_MTOK = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class Rates:
    """USD per million tokens; cache rates default to the input rate when a source has none."""

    input: Decimal
    output: Decimal
    cache_read: Decimal | None
    cache_write: Decimal | None
    source: str
    discount_percent: Decimal = Decimal(0)  # a contract discount already applied to the rates

    def discounted(self, percent: Decimal) -> Rates:
        """These rates after a contract discount of `percent` (0-100)."""
        f = 1 - percent / 100
        return Rates(
            self.input * f,
            self.output * f,
            None if self.cache_read is None else self.cache_read * f,
            None if self.cache_write is None else self.cache_write * f,
            self.source,
            percent,
        )

    def cost(self, u: Usage) -> Decimal:
        cached = min(u.cached_tokens, u.input_tokens)
        written = min(u.cache_write_tokens, u.input_tokens - cached)
        plain = u.input_tokens - cached - written
        total = plain * self.input + u.output_tokens * self.output
        total += cached * (self.cache_read if self.cache_read is not None else self.input)
        total += written * (self.cache_write if self.cache_write is not None else self.input)
        return total / _MTOK


def _flat(value: Any) -> Decimal | None:
    """A genai-prices rate if it is a flat number; None for absent; raises for tiered prices."""
    if value is None:
        return None
    if isinstance(value, Decimal | int | float):
        return Decimal(str(value))
    raise TypeError("tiered price")


def _config_rates(p: PriceConfig, source: str) -> Rates:
    return Rates(
        Decimal(str(p.input_per_mtok)),
        Decimal(str(p.output_per_mtok)),
        Decimal(str(p.cache_read_per_mtok)) if p.cache_read_per_mtok is not None else None,
        Decimal(str(p.cache_write_per_mtok)) if p.cache_write_per_mtok is not None else None,
        source,
    )


def genai_lookup(ref: str, base_url: str | None) -> Any | None:
    """genai-prices' calculation for one token of `ref` (its model, provider and price), first
    for the provider at `base_url`, then for any provider; None when it knows no price."""
    from genai_prices import Usage as GUsage
    from genai_prices import calc_price

    one = GUsage(input_tokens=1, output_tokens=1)
    try:
        return calc_price(one, model_ref=ref, provider_api_url=base_url)
    except LookupError:
        try:
            return calc_price(one, model_ref=ref)
        except LookupError:
            return None


class Pricer:
    """Resolves and caches the rates of each (provider, model) once; pricing a request is then a
    few multiplications."""

    def __init__(self, pricing: PricingConfig | None = None) -> None:
        self.rules = PriceRules(pricing)
        self._cache: dict[tuple[str, str], Rates | None] = {}
        self._fallback: dict[tuple[str, str], Any] = {}

    def rates(
        self, model: ModelConfig, provider_name: str, provider: ProviderConfig
    ) -> Rates | None:
        key = (provider_name, model.name)
        if key not in self._cache:
            self._cache[key] = self._resolve(model, provider_name, provider)
        return self._cache[key]

    def _resolve(
        self, model: ModelConfig, provider_name: str, provider: ProviderConfig
    ) -> Rates | None:
        rates = self.list_rates(model, provider_name, provider)
        found = None if rates is None else self.rules.discount(provider_name, model)
        if rates is None or found is None:
            return rates
        return rates.discounted(Decimal(str(found[1].percent)))

    def list_rates(
        self, model: ModelConfig, provider_name: str, provider: ProviderConfig
    ) -> Rates | None:
        """The rates before any discount: the model's `price`, else the first matching
        `pricing.overrides` entry, else genai-prices (not for `sim` providers). Uncached."""
        if model.price is not None:
            return _config_rates(model.price, "config")
        override = self.rules.override(provider_name, model)
        if override is not None:
            return _config_rates(override[1], "config-override")
        if provider.kind == "sim":
            return None
        return self._from_genai_prices(model, provider_name, provider)

    def _from_genai_prices(
        self, model: ModelConfig, provider_name: str, provider: ProviderConfig
    ) -> Rates | None:
        ref = model.price_model or model.target
        calc = genai_lookup(ref, provider.base_url)
        if calc is None:
            log.warning(
                "no price known for model '%s' (%s); its cost is recorded as null",
                ref,
                provider_name,
            )
            return None
        mp = calc.model_price
        try:
            return Rates(
                _flat(mp.input_mtok) or Decimal(0),
                _flat(mp.output_mtok) or Decimal(0),
                _flat(getattr(mp, "cache_read_mtok", None)),
                _flat(getattr(mp, "cache_write_mtok", None)),
                "genai-prices",
            )
        except TypeError:
            self._fallback[(provider_name, model.name)] = mp
            return Rates(Decimal(0), Decimal(0), None, None, "genai-prices-tiered")

    def cost(
        self, model: ModelConfig, provider_name: str, provider: ProviderConfig, usage: Usage
    ) -> tuple[Decimal | None, str | None]:
        rates = self.rates(model, provider_name, provider)
        if rates is None:
            return None, None
        if rates.source == "genai-prices-tiered":
            total = self._tiered(self._fallback[(provider_name, model.name)], usage)
            return total * (1 - rates.discount_percent / 100), "genai-prices"
        return rates.cost(usage), rates.source

    @staticmethod
    def _tiered(mp: Any, u: Usage) -> Decimal:
        from genai_prices import Usage as GUsage

        result = mp.calc_price(
            GUsage(
                input_tokens=u.input_tokens,
                output_tokens=u.output_tokens,
                cache_read_tokens=u.cached_tokens or None,
                cache_write_tokens=u.cache_write_tokens or None,
            )
        )
        return Decimal(result["total_price"])
