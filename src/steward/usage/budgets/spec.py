"""A budget as the hot path sees it: an immutable record carried in the gateway's snapshot, with
its amount in integer nano-dollars so that reservations and settlements are exact sums."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any, Final

from steward.usage.budgets.periods import describe_window

SCOPES: Final[tuple[str, ...]] = ("key", "user", "team", "app", "agent", "org")
NANO: Final = Decimal(1_000_000_000)  # counters hold nano-USD (1e-9 USD) as integers


def to_nano(usd: Decimal) -> int:
    """USD -> nano-USD, rounded up (a cost is never under-counted)."""
    return int((usd * NANO).to_integral_value(rounding=ROUND_CEILING))


def from_nano(nano: int) -> Decimal:
    return Decimal(nano) / NANO


@dataclass(frozen=True, slots=True)
class BudgetSpec:
    """One budget. `scope` names the principal kind it limits (`org`: every request); `model`
    and `provider`, when set, narrow it to requests for that model alias or provider."""

    id: str
    name: str
    scope: str
    target_id: str | None
    target_name: str | None
    amount_usd: Decimal
    period: str  # day | week | month | rolling
    window_s: int | None  # rolling windows only
    model: str | None
    provider: str | None
    alerts: tuple[int, ...]  # percentages, ascending
    hard: bool

    @property
    def amount_nano(self) -> int:
        return to_nano(self.amount_usd)

    def principal(self) -> str:
        """`team support`, `key sk-stw-ab12`, `the organisation`."""
        if self.scope == "org":
            return "the organisation"
        return f"{self.scope} {self.target_name or self.target_id}"

    def per(self) -> str:
        """`a month`, `a rolling 7d`."""
        if self.period == "rolling":
            return f"a rolling {describe_window(self.window_s or 0)}"
        return f"a {self.period}"

    def describe(self) -> str:
        """`budget 'support' (team support, 100 USD a month, model gpt-4o)`."""
        parts = [self.principal(), f"{self.amount_usd.normalize():f} USD {self.per()}"]
        if self.model:
            parts.append(f"model {self.model}")
        if self.provider:
            parts.append(f"provider {self.provider}")
        return f"budget '{self.name}' ({', '.join(parts)})"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "scope": self.scope,
            "target_id": self.target_id,
            "target_name": self.target_name,
            "amount_usd": str(self.amount_usd),
            "period": self.period,
            "window_s": self.window_s,
            "model": self.model,
            "provider": self.provider,
            "alerts": list(self.alerts),
            "hard": self.hard,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> BudgetSpec:
        return cls(
            id=str(d["id"]),
            name=str(d["name"]),
            scope=str(d["scope"]),
            target_id=d.get("target_id"),
            target_name=d.get("target_name"),
            amount_usd=Decimal(str(d["amount_usd"])),
            period=str(d["period"]),
            window_s=d.get("window_s"),
            model=d.get("model"),
            provider=d.get("provider"),
            alerts=tuple(int(a) for a in d.get("alerts", ())),
            hard=bool(d.get("hard", True)),
        )


__all__ = ["NANO", "SCOPES", "BudgetSpec", "from_nano", "to_nano"]
