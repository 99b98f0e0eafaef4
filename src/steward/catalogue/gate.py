"""The promotion gate: a candidate is promoted only if its evaluation on the golden dataset
passes every configured metric's threshold. Works on any run result that reports pass rates
per metric (the `RunOutcome` protocol), whoever ran the dataset."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class RunOutcome(Protocol):
    """What the gate needs from an evaluation run: pass rate (0-1) per metric and how many
    dataset items were evaluated."""

    @property
    def pass_rates(self) -> Mapping[str, float]: ...

    @property
    def items(self) -> int: ...


@dataclass(frozen=True, slots=True)
class MetricCheck:
    """One metric against its threshold (`pass_rate` None: the run did not measure it)."""

    name: str
    pass_rate: float | None
    threshold: float

    @property
    def passed(self) -> bool:
        return self.pass_rate is not None and self.pass_rate >= self.threshold


@dataclass(frozen=True, slots=True)
class Verdict:
    """The gate's decision with every metric checked, failing ones first in `failing`."""

    checks: tuple[MetricCheck, ...]
    items: int
    min_items: int

    @property
    def passed(self) -> bool:
        return bool(self.checks) and self.items >= self.min_items and not self.failing

    @property
    def failing(self) -> tuple[MetricCheck, ...]:
        return tuple(c for c in self.checks if not c.passed)

    def reason(self) -> str:
        """One line saying why the gate refused (or that it passed)."""
        if not self.checks:
            return "the evaluation reported no metrics"
        if self.items < self.min_items:
            return f"only {self.items} item(s) were evaluated; the gate needs {self.min_items}"
        if not self.failing:
            return "every metric passed its threshold"
        return "failing: " + "; ".join(
            f"{c.name} not measured (needs {c.threshold:.1%})"
            if c.pass_rate is None
            else f"{c.name} {c.pass_rate:.1%} < {c.threshold:.1%}"
            for c in self.failing
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "items": self.items,
            "min_items": self.min_items,
            "reason": self.reason(),
            "metrics": [
                {
                    "name": c.name,
                    "pass_rate": c.pass_rate,
                    "threshold": c.threshold,
                    "passed": c.passed,
                }
                for c in self.checks
            ],
        }


def judge(
    outcome: RunOutcome,
    thresholds: Mapping[str, float],
    default_threshold: float,
    *,
    min_items: int = 1,
    required: Sequence[str] = (),
) -> Verdict:
    """Check every metric the run reported (each against its own threshold or the default),
    plus every metric that has a threshold or is `required` (failing when not measured)."""
    rates = outcome.pass_rates
    names = list(dict.fromkeys([*rates, *thresholds, *required]))
    checks = tuple(
        MetricCheck(name, rates.get(name), float(thresholds.get(name, default_threshold)))
        for name in names
    )
    return Verdict(checks=checks, items=outcome.items, min_items=min_items)


__all__ = ["MetricCheck", "RunOutcome", "Verdict", "judge"]
