"""The rate-limit side of a request: its counter slots (requests and tokens per limit) and the
OpenAI-style `x-ratelimit-*` headers for the tightest limits."""

from __future__ import annotations

from steward.usage.counters.base import Outcome, RateSlot
from steward.usage.limits.plan import Plan
from steward.usage.ratelimit.rules import AppliedLimit
from steward.usage.ratelimit.window import duration, reset_ms, used

WINDOW_MS = 60_000


def rate_slots(plan: Plan, tokens_in: int, now_ms: int) -> list[RateSlot]:
    """One requests slot (cost 1) and one tokens slot (cost: the input estimate) per limit."""
    window, elapsed = divmod(now_ms, WINDOW_MS)
    slots: list[RateSlot] = []
    for limit in plan.limits:
        if limit.rpm:
            slots.append(RateSlot(f"{limit.key}:r", limit.rpm, 1, window, elapsed, WINDOW_MS))
        if limit.tpm:
            slots.append(
                RateSlot(f"{limit.key}:t", limit.tpm, tokens_in, window, elapsed, WINDOW_MS)
            )
    return slots


def limit_of(plan: Plan, slot: RateSlot) -> AppliedLimit:
    """The limit a slot counts for (to name it in a refusal)."""
    base = slot.key.rsplit(":", 1)[0]
    return next(limit for limit in plan.limits if limit.key == base)


_HEADER_NAMES = {
    kind: tuple(f"x-ratelimit-{what}-{kind}".encode() for what in ("limit", "remaining", "reset"))
    for kind in ("requests", "tokens")
}


def rate_headers(rates: list[RateSlot], outcome: Outcome) -> list[tuple[bytes, bytes]]:
    """x-ratelimit-* for the tightest requests limit and the tightest tokens limit."""
    if not rates:
        return []
    best: dict[bool, tuple[int, int, RateSlot, int, int]] = {}  # tokens? -> tightest
    for i, slot in enumerate(rates):
        prev, cur = outcome.rates[i]
        if outcome.ok:
            cur += slot.cost
        left = slot.limit - used(prev, cur, slot.elapsed_ms, WINDOW_MS)
        tokens = slot.key[-1] == "t"
        known = best.get(tokens)
        if known is None or (left, slot.limit) < known[:2]:
            best[tokens] = (left, slot.limit, slot, prev, cur)
    out: list[tuple[bytes, bytes]] = []
    for tokens, (left, limit, slot, prev, cur) in best.items():
        names = _HEADER_NAMES["tokens" if tokens else "requests"]
        reset = reset_ms(prev, cur, slot.elapsed_ms, WINDOW_MS)
        out += [
            (names[0], str(limit).encode()),
            (names[1], str(max(0, left)).encode()),
            (names[2], duration(reset).encode()),
        ]
    return out


__all__ = ["WINDOW_MS", "limit_of", "rate_headers", "rate_slots"]
