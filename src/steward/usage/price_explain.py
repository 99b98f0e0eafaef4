"""`steward prices show`: which price Steward uses for a model and why. The rates shown are the
Pricer's own, so the explanation cannot drift from what requests are billed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from steward.config.models import ModelConfig, ProviderConfig, StewardConfig
from steward.providers.base import Usage
from steward.usage._price_rules import model_names
from steward.usage.pricing import Pricer, Rates, genai_lookup

MTOK = 1_000_000


class PriceTargetError(ValueError):
    """The model or provider asked about is not one the configuration can price."""


@dataclass(frozen=True)
class RateLine:
    """USD per million tokens of one kind: the list rate and the rate used after discounts.
    `inherited` marks a cache rate the source does not give, billed at the input rate."""

    kind: str
    list_rate: Decimal | None
    rate: Decimal | None
    inherited: bool = False


@dataclass(frozen=True)
class GenaiSource:
    model_id: str
    model_name: str | None
    provider_id: str
    provider_name: str
    price_since: date | None = None
    next_change: date | None = None
    tiered: bool = False
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PriceExplanation:
    model: str
    provider: str | None
    upstream_model: str
    price_ref: str
    configured: bool
    source: str  # config | config-override | genai-prices | unknown
    rule: str | None
    genai: GenaiSource | None
    rates: list[RateLine]
    discount_percent: Decimal | None
    discount_rule: str | None
    example_usage: dict[str, int]
    example_cost: Decimal | None
    notes: list[str] = field(default_factory=list)


def targets(
    config: StewardConfig, model: str, provider: str | None
) -> list[tuple[ModelConfig, str, ProviderConfig, bool]]:
    """(model config, provider name, provider config, configured) for what `model` names: an
    alias; else the configured aliases whose upstream or price model it is; else the bare model
    name on `provider` (or on whichever provider genai-prices knows it for)."""
    if provider is not None and provider not in config.providers:
        known = ", ".join(sorted(config.providers)) or "none"
        raise PriceTargetError(
            f"provider '{provider}' is not configured (providers: {known}); give one of those, "
            "or leave --provider out to let genai-prices find the provider from the model name"
        )
    alias = config.model(model)
    if alias is not None and provider in (None, alias.provider):
        return [(alias, alias.provider, config.providers[alias.provider], True)]
    found = [
        (m, m.provider, config.providers[m.provider], True)
        for m in config.models
        if model in model_names(m)[1:] and provider in (None, m.provider)
    ]
    if found:
        return found
    bare = ModelConfig(name=model, provider=provider or "-")
    if provider is not None:
        return [(bare, provider, config.providers[provider], False)]
    # no provider: genai-prices picks it from the model name; kind openai just enables lookup
    stand_in = ProviderConfig.model_construct(kind="openai", base_url=None)
    return [(bare, "", stand_in, False)]


def _rule_text(kind: str, index: int, rule: Any) -> str:
    parts = [f"model '{rule.model}'"]
    if rule.provider:
        parts.append(f"provider '{rule.provider}'")
    return f"pricing.{kind}[{index}] ({', '.join(parts)})"


def _dates(model_info: Any, today: date) -> tuple[date | None, date | None, list[str]]:
    """(the active price's start date, the next scheduled change, notes) from genai-prices'
    conditional prices, when it has them."""
    from genai_prices.types import StartDateConstraint, TimeOfDateConstraint

    prices = getattr(model_info, "prices", None)
    if not isinstance(prices, list):
        return None, None, []
    since: date | None = None
    upcoming: list[date] = []
    notes: list[str] = []
    for cp in prices:
        c = cp.constraint
        if isinstance(c, StartDateConstraint):
            if c.start_date <= today:
                since = max(since, c.start_date) if since else c.start_date
            else:
                upcoming.append(c.start_date)
        elif isinstance(c, TimeOfDateConstraint):
            notes.append(
                f"time-of-day price {c.start_time:%H:%M}-{c.end_time:%H:%M} UTC; Steward uses "
                "the price in effect when a process first prices the model"
            )
    return since, min(upcoming) if upcoming else None, notes


_GENAI_FIELDS = ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok")


def _tier_rates(model_price: Any) -> tuple[Rates, list[str]]:
    """Base rates (below the first tier) of a tiered genai-prices price, and one note per
    tiered kind."""
    from genai_prices.types import TieredPrices

    values: list[Decimal | None] = []
    notes: list[str] = []
    for name in _GENAI_FIELDS:
        v = getattr(model_price, name, None)
        if isinstance(v, TieredPrices):
            steps = "; ".join(
                f"{_usd(t.price)} once input reaches {t.start:,} tokens" for t in v.tiers
            )
            kind = name.removesuffix("_mtok").replace("_", " ")
            notes.append(f"{kind} {_usd(v.base)}; {steps}")
            v = v.base
        values.append(None if v is None else Decimal(str(v)))
    inp, out, read, write = values
    return Rates(inp or Decimal(0), out or Decimal(0), read, write, "genai-prices-tiered"), notes


def _genai(ref: str, provider: ProviderConfig, today: date) -> tuple[GenaiSource, Rates] | None:
    """Where genai-prices' price comes from, and its base rates when the price is tiered."""
    calc = genai_lookup(ref, provider.base_url)
    if calc is None:
        return None
    since, upcoming, notes = _dates(calc.model, today)
    base, tiers = _tier_rates(calc.model_price)
    tiered = bool(tiers)
    if tiered:
        notes.append(
            "tiered prices (the whole request moves to a tier's rates once its input "
            "reaches the threshold); the rates shown are the base rates"
        )
        notes.extend(f"tier {t}" for t in tiers)
    source = GenaiSource(
        model_id=calc.model.id,
        model_name=calc.model.name,
        provider_id=calc.provider.id,
        provider_name=calc.provider.name,
        price_since=since,
        next_change=upcoming,
        tiered=tiered,
        notes=notes,
    )
    return source, base


def _lines(listed: Rates | None, used: Rates | None) -> list[RateLine]:
    out: list[RateLine] = []
    for kind in ("input", "output", "cache_read", "cache_write"):
        lst = None if listed is None else getattr(listed, kind)
        use = None if used is None else getattr(used, kind)
        inherited = kind.startswith("cache") and used is not None and use is None
        if inherited and used is not None and listed is not None:
            lst, use = listed.input, used.input
        out.append(RateLine(kind, lst, use, inherited))
    return out


def explain(
    pricer: Pricer,
    model: ModelConfig,
    provider_name: str,
    provider: ProviderConfig,
    *,
    configured: bool = True,
    today: date | None = None,
) -> PriceExplanation:
    """Why `model` on `provider_name` costs what it does, with a worked 1M + 1M example."""
    today = today or datetime.now(UTC).date()
    used = pricer.rates(model, provider_name, provider)
    listed = None if used is None else pricer.list_rates(model, provider_name, provider)
    ref = model.price_model or model.target
    rule: str | None = None
    genai: GenaiSource | None = None
    notes: list[str] = []
    source = "unknown" if used is None else used.source
    if source == "config":
        rule = f"models[].price of '{model.name}'"
    elif source == "config-override":
        found = pricer.rules.override(provider_name, model)
        rule = None if found is None else _rule_text("overrides", found[0], found[1])
    elif source.startswith("genai-prices"):
        found_genai = _genai(ref, provider, today)
        if found_genai is not None:
            genai = found_genai[0]
            if source == "genai-prices-tiered":  # the Pricer keeps tiers opaque: show the base
                listed = found_genai[1]
                pct = used.discount_percent if used is not None else Decimal(0)
                used = listed.discounted(pct) if pct else listed
        source = "genai-prices"
    elif provider.kind == "sim":
        notes.append("sim models are not looked up in genai-prices; give them a price")
    discount = pricer.rules.discount(provider_name, model) if used is not None else None
    example = Usage(input_tokens=MTOK, output_tokens=MTOK)
    cost = pricer.cost(model, provider_name, provider, example)[0] if used is not None else None
    if used is None:
        notes.append(
            "no price known: requests are recorded with cost null, never as free; add "
            "models[].price or a pricing.overrides entry"
        )
    return PriceExplanation(
        model=model.name,
        provider=provider_name or (genai.provider_id if genai else None),
        upstream_model=model.target,
        price_ref=ref,
        configured=configured,
        source=source,
        rule=rule,
        genai=genai,
        rates=_lines(listed, used),
        discount_percent=None if discount is None else Decimal(str(discount[1].percent)),
        discount_rule=None if discount is None else _rule_text("discounts", *discount),
        example_usage={"input_tokens": MTOK, "output_tokens": MTOK},
        example_cost=cost,
        notes=notes,
    )


def _usd(value: Decimal | None) -> str:
    """At least two decimals, at most six, no trailing zeros beyond two: 2.50, 1.0625."""
    if value is None:
        return "-"
    whole, _, frac = f"{value:.6f}".partition(".")
    return f"{whole}.{frac.rstrip('0').ljust(2, '0')}"


def _source_line(e: PriceExplanation) -> str:
    if e.source == "unknown":
        return "unknown (cost is recorded as null)"
    if e.genai is not None:
        g = e.genai
        text = f"genai-prices: model '{g.model_id}'"
        text += f" ({g.model_name})" if g.model_name else ""
        text += f" of provider '{g.provider_id}' ({g.provider_name})"
        if g.price_since:
            text += f", price since {g.price_since.isoformat()}"
        if g.next_change:
            text += f", changes on {g.next_change.isoformat()}"
        return text
    return f"{e.source}: {e.rule}" if e.rule else e.source


def format_explanation(e: PriceExplanation) -> list[str]:
    """The explanation as text lines for the terminal."""
    head = f"{e.model}" + (f" on provider {e.provider}" if e.provider else "")
    if e.configured:
        head += f" (upstream model {e.upstream_model}"
        head += f", priced as {e.price_ref})" if e.price_ref != e.upstream_model else ")"
    else:
        head += " (not a configured model)"
    lines = [head, f"  source       {_source_line(e)}"]
    if e.source != "unknown":
        lines.append("  rates        USD per million tokens (list -> used)")
        for r in e.rates:
            label = r.kind.replace("_", " ")
            extra = " (no rate given: billed at the input rate)" if r.inherited else ""
            if r.kind == "output":
                extra = " (reasoning tokens are output)"
            if r.kind == "cache_read" and not r.inherited:
                extra = " (cached input, instead of the input rate)"
            lines.append(f"    {label:<12} {_usd(r.list_rate):>12} -> {_usd(r.rate)}{extra}")
    if e.discount_percent is not None:
        lines.append(f"  discount     {e.discount_percent.normalize():f}% from {e.discount_rule}")
    else:
        lines.append("  discount     none")
    if e.example_cost is not None and e.genai is not None and e.genai.tiered:
        lines.append(
            f"  example      1,000,000 input + 1,000,000 output tokens = {_usd(e.example_cost)} "
            "USD (at the tier rates that apply to a 1M-token prompt)"
        )
    elif e.example_cost is not None:
        inp = next(r for r in e.rates if r.kind == "input").rate
        out = next(r for r in e.rates if r.kind == "output").rate
        lines.append(
            f"  example      1,000,000 input x {_usd(inp)} + 1,000,000 output x {_usd(out)} "
            f"= {_usd(e.example_cost)} USD"
        )
    notes = [*(e.genai.notes if e.genai else []), *e.notes]
    lines.extend(f"  note         {n}" for n in notes)
    return lines


__all__ = [
    "GenaiSource",
    "PriceExplanation",
    "PriceTargetError",
    "RateLine",
    "explain",
    "format_explanation",
    "targets",
]
