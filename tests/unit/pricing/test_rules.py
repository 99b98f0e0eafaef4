"""Prices with known values: per-model prices, glob overrides, contract discounts, cache reads
and writes at their own rates, reasoning inside output, tiered genai-prices prices."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from steward.config.models import ModelConfig, PricingConfig, ProviderConfig, StewardConfig
from steward.providers.base import Usage
from steward.usage.pricing import Pricer, Rates

OPENAI = ProviderConfig(kind="openai", base_url="https://api.openai.com/v1")
ANTHROPIC = ProviderConfig(kind="anthropic", base_url="https://api.anthropic.com")
SIM = ProviderConfig(kind="sim")
M = Decimal(1_000_000)
M_INT = 1_000_000


def model(name: str, provider: str = "openai", **kw: Any) -> ModelConfig:
    return ModelConfig(name=name, provider=provider, **kw)


def pricing(**kw: Any) -> PricingConfig:
    return PricingConfig.model_validate(kw)


def test_each_token_billed_once_at_its_rate() -> None:
    rates = Rates(Decimal("2.5"), Decimal("10"), Decimal("1.25"), Decimal("3.125"), "config")
    # 1,000 prompt tokens of which 600 cache reads and 100 cache writes; 200 output tokens of
    # which 50 reasoning (reasoning is part of output, not added to it)
    u = Usage(
        input_tokens=1000,
        output_tokens=200,
        cached_tokens=600,
        cache_write_tokens=100,
        reasoning_tokens=50,
    )
    expected = (300 * Decimal("2.5") + 600 * Decimal("1.25") + 100 * Decimal("3.125")) + (
        200 * Decimal("10")
    )
    assert rates.cost(u) == expected / M == Decimal("0.0038125")


def test_cache_rates_default_to_input_rate() -> None:
    rates = Rates(Decimal("2"), Decimal("8"), None, None, "config")
    u = Usage(input_tokens=1000, output_tokens=0, cached_tokens=400, cache_write_tokens=100)
    assert rates.cost(u) == Decimal("0.002")


def test_cached_count_larger_than_input_is_clamped() -> None:
    rates = Rates(Decimal("2"), Decimal("8"), Decimal("1"), Decimal("4"), "config")
    u = Usage(input_tokens=100, output_tokens=0, cached_tokens=150, cache_write_tokens=50)
    assert rates.cost(u) == 100 * Decimal("1") / M


def test_model_price_first() -> None:
    p = Pricer(pricing(overrides=[{"model": "*", "input_per_mtok": 9, "output_per_mtok": 9}]))
    m = model("a", price={"input_per_mtok": 1, "output_per_mtok": 2})
    cost, source = p.cost(m, "openai", OPENAI, Usage(input_tokens=M_INT, output_tokens=M_INT))
    assert (cost, source) == (Decimal(3), "config")


@pytest.mark.parametrize(
    ("m", "provider_name", "expected"),
    [
        (model("chat", upstream_model="gpt-4o-2024-08-06"), "openai", Decimal("3")),  # upstream
        (model("gpt-4o-mini"), "openai", Decimal("1")),  # the alias, first match wins
        (model("x", price_model="gpt-4o-audio"), "openai", Decimal("3")),  # the price model
        (model("gpt-4o"), "openai-eu", Decimal("3")),  # provider glob
        (model("gpt-4o"), "azure", None),  # provider does not match: genai-prices
    ],
)
def test_override_globs(m: ModelConfig, provider_name: str, expected: Decimal | None) -> None:
    p = Pricer(
        pricing(
            overrides=[
                {"model": "gpt-4o-mini*", "input_per_mtok": 0.5, "output_per_mtok": 0.5},
                {
                    "model": "gpt-4o*",
                    "provider": "openai*",
                    "input_per_mtok": 1,
                    "output_per_mtok": 2,
                },
            ]
        )
    )
    rates = p.rates(m, provider_name, OPENAI)
    assert rates is not None
    if expected is None:
        assert rates.source == "genai-prices"
    else:
        assert rates.source == "config-override"
        assert rates.input + rates.output == expected


def test_override_prices_sim_models() -> None:
    p = Pricer(pricing(overrides=[{"model": "sim-*", "input_per_mtok": 1, "output_per_mtok": 1}]))
    assert p.cost(model("sim-x", "sim"), "sim", SIM, Usage(input_tokens=M_INT))[0] == 1
    assert Pricer().cost(model("sim-x", "sim"), "sim", SIM, Usage(input_tokens=M_INT)) == (
        None,
        None,
    )


def test_discount_on_genai_prices() -> None:
    p = Pricer(pricing(discounts=[{"provider": "openai", "percent": 15}]))
    rates = p.rates(model("chat", upstream_model="gpt-4o"), "openai", OPENAI)
    assert rates is not None
    assert (rates.input, rates.output, rates.cache_read) == (
        Decimal("2.125"),
        Decimal("8.5"),
        Decimal("1.0625"),
    )
    assert rates.discount_percent == 15 and rates.source == "genai-prices"
    u = Usage(input_tokens=M_INT, output_tokens=M_INT, cached_tokens=500_000)
    cost = p.cost(model("chat", upstream_model="gpt-4o"), "openai", OPENAI, u)[0]
    assert cost == Decimal("0.85") * (
        Decimal("0.5") * Decimal("2.5") + Decimal("0.5") * Decimal("1.25") + Decimal("10")
    )


def test_first_matching_discount_and_discount_on_overrides() -> None:
    p = Pricer(
        pricing(
            overrides=[{"model": "house-*", "input_per_mtok": 10, "output_per_mtok": 20}],
            discounts=[
                {"model": "house-special", "percent": 50},
                {"provider": "openai", "percent": 10},
            ],
        )
    )
    special = p.rates(model("house-special"), "openai", OPENAI)
    plain = p.rates(model("house-plain"), "openai", OPENAI)
    other = p.rates(model("house-plain"), "azure", OPENAI)
    assert special is not None and plain is not None and other is not None
    assert (special.input, special.output) == (Decimal(5), Decimal(10))
    assert (plain.input, plain.output) == (Decimal(9), Decimal(18))
    assert (other.input, other.output, other.discount_percent) == (Decimal(10), Decimal(20), 0)


def test_tiered_genai_price_with_discount() -> None:
    m = model("sonnet", "anthropic", upstream_model="claude-sonnet-4-5")
    p = Pricer(pricing(discounts=[{"provider": "anthropic", "model": "claude-*", "percent": 10}]))
    small = p.cost(m, "anthropic", ANTHROPIC, Usage(input_tokens=1000, output_tokens=1000))
    assert small == (Decimal("0.9") * Decimal("0.018"), "genai-prices")
    # a 1M-token prompt is in the 200k+ tier: input 6, output 22.5 per Mtok
    big = p.cost(m, "anthropic", ANTHROPIC, Usage(input_tokens=M_INT, output_tokens=M_INT))
    assert big == (Decimal("0.9") * Decimal("28.5"), "genai-prices")


def test_unknown_model_costs_null() -> None:
    p = Pricer(pricing(discounts=[{"percent": 50}]))
    assert p.cost(model("no-such-model-xyz"), "openai", OPENAI, Usage(input_tokens=5)) == (
        None,
        None,
    )


def test_resolved_once_per_provider_and_model() -> None:
    p = Pricer(pricing(discounts=[{"percent": 20}]))
    m = model("chat", upstream_model="gpt-4o")
    assert p.rates(m, "openai", OPENAI) is p.rates(m, "openai", OPENAI)


def test_pricing_config_validation() -> None:
    with pytest.raises(ValidationError):
        PricingConfig.model_validate({"discounts": [{"percent": 0}]})
    with pytest.raises(ValidationError):
        PricingConfig.model_validate({"discounts": [{"percent": 101}]})
    with pytest.raises(ValidationError):
        PricingConfig.model_validate({"overrides": [{"model": "x", "input_per_mtok": 1}]})
    with pytest.raises(ValidationError):
        PricingConfig.model_validate({"overrides": [], "surcharges": []})
    cfg = StewardConfig.model_validate({"pricing": {"discounts": [{"percent": 12.5}]}})
    assert cfg.pricing.discounts[0].model == "*" and cfg.pricing.discounts[0].provider is None
