"""The `pricing` section's rules: price overrides and contract discounts matched by glob on the
provider's name and the model's names. Matched once per (provider, model) by the Pricer."""

from __future__ import annotations

import fnmatch
from typing import TypeVar

from steward.config.models import DiscountConfig, ModelConfig, PriceOverrideConfig, PricingConfig

_Rule = TypeVar("_Rule", PriceOverrideConfig, DiscountConfig)


def model_names(model: ModelConfig) -> tuple[str, ...]:
    """The names a rule's `model` glob is tried against: alias, upstream model, price model."""
    names = [model.name, model.target]
    if model.price_model:
        names.append(model.price_model)
    return tuple(dict.fromkeys(names))


def _matches(pattern: str | None, values: tuple[str, ...]) -> bool:
    return pattern is None or any(fnmatch.fnmatchcase(v, pattern) for v in values)


def _first(rules: list[_Rule], provider_name: str, model: ModelConfig) -> tuple[int, _Rule] | None:
    names = model_names(model)
    for i, rule in enumerate(rules):
        if _matches(rule.provider, (provider_name,)) and _matches(rule.model, names):
            return i, rule
    return None


class PriceRules:
    """The first matching override and the first matching discount for a (provider, model)."""

    def __init__(self, pricing: PricingConfig | None = None) -> None:
        self._pricing = pricing or PricingConfig()

    def override(
        self, provider_name: str, model: ModelConfig
    ) -> tuple[int, PriceOverrideConfig] | None:
        return _first(self._pricing.overrides, provider_name, model)

    def discount(self, provider_name: str, model: ModelConfig) -> tuple[int, DiscountConfig] | None:
        return _first(self._pricing.discounts, provider_name, model)


__all__ = ["PriceRules", "model_names"]
