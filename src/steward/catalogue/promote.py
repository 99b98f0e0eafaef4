"""Promotion with its gate: run the golden dataset on the candidate upstream model (a stored
evaluation run), judge the pass rates against the thresholds, and promote only when every metric
passes. Shared by `steward deploy promote` and POST /admin/v1/deployments/{alias}/promote."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from steward.catalogue.deploy import DeploymentService, GateRefused
from steward.catalogue.gate import Verdict, judge
from steward.catalogue.golden import ANSWERED, EXPECTED, GateRun, check_evaluators
from steward.catalogue.golden import evaluate_candidate as _evaluate
from steward.catalogue.records import DeploymentInfo
from steward.catalogue.routing import build_deployment, configured_deployment
from steward.evals.datasets import Dataset
from steward.identity.errors import Invalid
from steward.identity.records import Actor
from steward.providers.registry import ProviderRegistry


@dataclass(frozen=True)
class GateOptions:
    """The gate for one promotion: configuration defaults overridden by the caller."""

    evaluators: tuple[str, ...]
    thresholds: Mapping[str, float]
    default_threshold: float
    min_items: int
    explicit: bool  # evaluators were named (each must then be measured)


@dataclass(frozen=True)
class Promotion:
    """The outcome: the stored run, the verdict, and the new deployment when promoted."""

    candidate: str
    run: GateRun
    verdict: Verdict
    deployment: DeploymentInfo | None


def parse_thresholds(values: Sequence[str]) -> tuple[dict[str, float], float | None]:
    """`--threshold expected=0.95` per metric, or `--threshold 0.9` for every other metric."""
    per: dict[str, float] = {}
    default: float | None = None
    for value in values:
        name, sep, rate = value.partition("=")
        text = rate if sep else name
        try:
            number = float(text)
        except ValueError:
            raise Invalid(
                f"threshold '{value}' is not METRIC=RATE or RATE (a pass rate from 0 to 1)",
                code="invalid_threshold",
            ) from None
        if not 0 <= number <= 1:
            raise Invalid(
                f"threshold '{value}': give a pass rate from 0 to 1", code="invalid_threshold"
            )
        if sep:
            per[name.strip()] = number
        else:
            default = number
    return per, default


def gate_options(
    service: DeploymentService,
    evaluators: Sequence[str] = (),
    thresholds: Sequence[str] = (),
    min_items: int | None = None,
) -> GateOptions:
    """The configured gate (`catalogue.promotion`) with the caller's overrides."""
    conf = service.config.catalogue.promotion
    per, default = parse_thresholds(thresholds)
    asked = list(evaluators) or conf.evaluators
    names = check_evaluators(service.config, asked)
    return GateOptions(
        evaluators=tuple(names),
        thresholds={**conf.thresholds, **per},
        default_threshold=conf.default_threshold if default is None else default,
        min_items=conf.min_items if min_items is None else min_items,
        explicit=bool(asked),
    )


def _required(options: GateOptions, dataset: Dataset) -> list[str]:
    """Metrics that fail when not measured: the named ones (`expected` only when some item
    expects something), or `answered` alone for the default set."""
    has_expected = any(i.expected is not None for i in dataset.items)
    if not options.explicit:
        return [ANSWERED]
    return [m for m in options.evaluators if m != EXPECTED or has_expected]


async def promote(
    service: DeploymentService,
    registry: ProviderRegistry,
    alias: str,
    to: str,
    dataset: Dataset,
    options: GateOptions,
    *,
    actor: Actor,
) -> Promotion:
    """Evaluate `to` as a deployment of `alias` on `dataset`; promote it if the gate passes.
    A refused promotion is audited and returned with `deployment` None."""
    cfg = service.alias(alias)
    ref = service.target(alias, to, promoting=True)
    base = configured_deployment(service.config, registry, cfg)
    dep = build_deployment(service.config, registry, base, ref.name)
    if dep is None:  # target() checked the provider; the configuration changed meanwhile
        raise Invalid(f"{ref.name} cannot be built as a deployment", code="unknown_model")
    run = await _evaluate(
        service.sessions,
        service.config,
        dep,
        dataset,
        options.evaluators,
        label=f"promotion gate: {alias} -> {ref.name}",
    )
    rates = {m: r for m, r in run.pass_rates.items() if m in options.evaluators}
    measured = _Measured(rates, run.items)
    verdict = judge(
        measured,
        {m: t for m, t in options.thresholds.items() if m in options.evaluators},
        options.default_threshold,
        min_items=options.min_items,
        required=_required(options, dataset),
    )
    try:
        info = service.promote(alias, ref.name, verdict, actor=actor, run_id=run.run.run_id)
    except GateRefused:
        return Promotion(ref.name, run, verdict, None)
    return Promotion(ref.name, run, verdict, info)


@dataclass(frozen=True)
class _Measured:
    pass_rates: Mapping[str, float]
    items: int


__all__ = ["GateOptions", "Promotion", "gate_options", "parse_thresholds", "promote"]
