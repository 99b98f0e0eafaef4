"""Which configured rate limits apply to a request: per key, user, team, app, agent and model.
An entry with a `name` replaces the scope's general entry for that one principal or model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from steward.usage.limits.settings import RateLimitConfig

if TYPE_CHECKING:
    from steward.identity.snapshot import Principal

SCOPES: tuple[str, ...] = ("key", "user", "team", "app", "agent", "model")


@dataclass(frozen=True, slots=True)
class AppliedLimit:
    """The limits one principal (or model) has: its counters are shared by every request it
    makes, on every gateway process."""

    scope: str
    ident: str  # the principal's id, or the model alias
    label: str  # for messages: "team support", "model gpt-4o"
    rpm: int | None
    tpm: int | None

    @property
    def key(self) -> str:
        return f"rl:{self.scope}:{self.ident}"


def _ident(scope: str, p: Principal, alias: str | None) -> str | None:
    if scope == "model":
        return alias
    value: str | None = getattr(p, f"{scope}_id")
    return value


def _matches(
    rule: RateLimitConfig, scope: str, ident: str, p: Principal, names: Mapping[str, str]
) -> bool:
    name = rule.name
    if name is None:
        return False
    if name == ident or (scope not in ("key", "model") and names.get(ident) == name):
        return True
    if scope == "key":
        stem = name.removesuffix("…").removesuffix("...")
        return p.key_prefix.removesuffix("…") == stem
    return False


def _label(scope: str, ident: str, p: Principal, names: Mapping[str, str]) -> str:
    if scope == "key":
        return f"key {p.key_prefix}"
    if scope == "model":
        return f"model {ident}"
    return f"{scope} {names.get(ident, ident)}"


def _smallest(values: Sequence[int | None]) -> int | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def applicable(
    rules: Sequence[RateLimitConfig],
    principal: Principal,
    alias: str | None,
    names: Mapping[str, str],
) -> tuple[AppliedLimit, ...]:
    """The limits a request by `principal` for model `alias` must pass, one per scope."""
    out: list[AppliedLimit] = []
    for scope in SCOPES:
        scoped = [r for r in rules if r.scope == scope]
        if not scoped:
            continue
        ident = _ident(scope, principal, alias)
        if ident is None:
            continue
        chosen = [r for r in scoped if _matches(r, scope, ident, principal, names)]
        if not chosen:
            chosen = [r for r in scoped if r.name is None]
        if not chosen:
            continue
        rpm = _smallest([r.rpm for r in chosen])
        tpm = _smallest([r.tpm for r in chosen])
        if rpm is None and tpm is None:
            continue
        out.append(AppliedLimit(scope, ident, _label(scope, ident, principal, names), rpm, tpm))
    return tuple(out)


__all__ = ["SCOPES", "AppliedLimit", "applicable"]
