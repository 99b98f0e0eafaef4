"""Rate limits on tool calls (`mcp.rate_limits`): calls per minute per principal and tool, on
the same counters as the model rate limits (in process, or Redis across gateways)."""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from steward.agents.mcp.settings import McpRateLimit
from steward.gateway.errors import GatewayError
from steward.usage.counters.base import Counters, Outcome, RateSlot
from steward.usage.ratelimit.window import duration, retry_after_ms

if TYPE_CHECKING:
    from steward.identity.snapshot import Principal
    from steward.usage.limits.engine import Limits

WINDOW_MS = 60_000


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a call was refused by a rate limit, and when it may be retried."""

    message: str
    retry_after_s: float | None


def _ident(rule: McpRateLimit, p: Principal) -> str | None:
    value: str | None = p.key_id if rule.scope == "key" else getattr(p, f"{rule.scope}_id")
    return value


def _named(rule: McpRateLimit, p: Principal, ident: str, names: Mapping[str, str]) -> bool:
    if rule.name is None:
        return True
    if rule.name in (ident, names.get(ident)):
        return True
    return rule.scope == "key" and p.key_prefix.removesuffix("…") == rule.name.removesuffix("…")


def _label(rule: McpRateLimit, p: Principal, ident: str, names: Mapping[str, str]) -> str:
    if rule.scope == "key":
        return f"key {p.key_prefix}"
    return f"{rule.scope} {names.get(ident, ident)}"


class ToolRateLimits:
    """Which `mcp.rate_limits` apply to a call, and the atomic check-and-count."""

    def __init__(self, rules: Sequence[McpRateLimit], limits: Limits) -> None:
        self.rules = tuple(rules)
        self._limits = limits

    def slots(
        self, principal: Principal, tool: str, names: Mapping[str, str], now_ms: int
    ) -> list[tuple[RateSlot, str]]:
        """The counters a call of `tool` by `principal` must pass, with a label for each."""
        window, elapsed = divmod(now_ms, WINDOW_MS)
        out: list[tuple[RateSlot, str]] = []
        for i, rule in enumerate(self.rules):
            ident = _ident(rule, principal)
            if ident is None or not fnmatch.fnmatchcase(tool, rule.tool):
                continue
            if not _named(rule, principal, ident, names):
                continue
            counted = tool if rule.per_tool else f"rule{i}"
            key = f"mcp:{rule.scope}:{ident}:{counted}:r"
            what = tool if rule.per_tool else rule.tool
            label = (
                f"{_label(rule, principal, ident, names)} may call {what} {rule.rpm} times a minute"
            )
            out.append((RateSlot(key, rule.rpm, 1, window, elapsed, WINDOW_MS), label))
        return out

    async def admit(
        self, principal: Principal, tool: str, names: Mapping[str, str]
    ) -> Refusal | None:
        """Count the call in every applicable limit, or refuse it (nothing is counted)."""
        if not self.rules:
            return None
        now_ms = int(time.time() * 1000)
        slots = self.slots(principal, tool, names, now_ms)
        if not slots:
            return None
        rates = [s for s, _ in slots]

        async def admit(counters: Counters) -> Outcome:
            return await counters.admit(rates, [], 0, now_ms, 1)

        try:
            outcome, _ = await self._limits.backends.run(admit)
        except GatewayError as exc:  # the counters are unavailable and limits fail closed
            return Refusal(exc.message, None)
        if outcome.ok:
            return None
        slot, label = slots[outcome.refused]
        prev, cur = outcome.rates[outcome.refused]
        wait = retry_after_ms(slot.limit, 1, prev, cur, slot.elapsed_ms, WINDOW_MS)
        hint = f"retry in {duration(wait)}" if wait is not None else "it can never fit"
        return Refusal(
            f"rate limit exceeded: {label}; {hint}", wait / 1000 if wait is not None else None
        )


__all__ = ["Refusal", "ToolRateLimits"]
