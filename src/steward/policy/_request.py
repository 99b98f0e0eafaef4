"""Per-request pieces of a decision: who the Cedar principals are (the acting principal, then
every principal that bounds it: the user it acts for and the other agents of its delegation
chain) and the request context as Cedar JSON."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from steward.identity.snapshot import Principal
from steward.policy.data import PolicyData
from steward.policy.entities import ref

_KIND_TYPES = {"user": "User", "app": "App", "agent": "Agent", "service": "Service"}


class ArgumentTypeError(ValueError):
    """A tool argument that policies read has a value of another type than the schema says."""


@dataclass(frozen=True, slots=True)
class Subject:
    """One principal a request is decided for: `role` is `acting`, `on_behalf_of` or
    `delegator` (another agent of the chain)."""

    type: str
    name: str
    role: str

    @property
    def label(self) -> str:
        return f"{self.type.lower()} '{self.name}'"

    def uid(self) -> dict[str, str]:
        return {"type": self.type, "id": self.name}


def _name(data: PolicyData, kind: str, ref_id: str) -> str:
    if kind == "User":
        u = data.users.get(ref_id)
        return u.name if u else ref_id
    if kind == "Agent":
        a = data.agents.get(ref_id)
        return a.name if a else ref_id
    if kind == "App":
        p = data.apps.get(ref_id)
        return p.name if p else ref_id
    s = data.services.get(ref_id)
    return s.name if s else ref_id


def acting(principal: Principal, data: PolicyData) -> Subject:
    """The Cedar principal of the key or token that made the request."""
    kind = _KIND_TYPES.get(principal.kind, "User")
    ref_id = {
        "User": principal.user_id,
        "App": principal.app_id,
        "Agent": principal.agent_id,
        "Service": principal.service_account_id,
    }[kind]
    return Subject(kind, _name(data, kind, ref_id or principal.key_id), "acting")


def subjects(principal: Principal, data: PolicyData) -> list[Subject]:
    """The acting principal first, then each principal that bounds what it may do."""
    first = acting(principal, data)
    out = [first]
    for agent_id in principal.chain:
        sub = Subject("Agent", _name(data, "Agent", agent_id), "delegator")
        if sub not in out and sub.name != first.name:
            out.append(sub)
    if principal.on_behalf_of:
        out.append(Subject("User", _name(data, "User", principal.on_behalf_of), "on_behalf_of"))
    return out


def time_context(now: float) -> dict[str, int]:
    t = time.gmtime(now)
    return {"epoch": int(now), "hour": t.tm_hour, "weekday": t.tm_wday + 1}


def base_context(
    principal: Principal, data: PolicyData, extra: Mapping[str, Any]
) -> dict[str, Any]:
    """The context attributes every action shares (from the principal and the caller's
    `findings`, `data_classes`, `endpoint` and `now`)."""
    chain = [ref("Agent", _name(data, "Agent", a)) for a in principal.chain]
    ctx: dict[str, Any] = {
        "time": time_context(float(extra.get("now") or time.time())),
        "endpoint": str(extra.get("endpoint") or ""),
        "chain": chain,
        "chain_depth": len(chain),
        "findings": sorted({str(f) for f in extra.get("findings") or ()}),
        "data_classes": [
            ref("DataClass", str(c)) for c in sorted(set(extra.get("data_classes") or ()))
        ],
    }
    if principal.on_behalf_of:
        ctx["on_behalf_of"] = ref("User", _name(data, "User", principal.on_behalf_of))
    if principal.kind == "agent" and principal.agent_id:
        ctx["acting_agent"] = ref("Agent", _name(data, "Agent", principal.agent_id))
    return ctx


def key_models(principal: Principal) -> list[dict[str, Any]] | None:
    if principal.allowed_models is None:
        return None
    return [ref("Model", m) for m in sorted(principal.allowed_models)]


def _decimal(name: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ArgumentTypeError(f"argument '{name}' must be a number")
    try:
        d = Decimal(str(value))
    except InvalidOperation as exc:
        raise ArgumentTypeError(f"argument '{name}' must be a number") from exc
    if not d.is_finite() or abs(d) >= Decimal("922337203685477"):
        raise ArgumentTypeError(f"argument '{name}' is out of range")
    return {"__extn": {"fn": "decimal", "arg": f"{d.quantize(Decimal('0.0001')):f}"}}


def _long(name: str, value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArgumentTypeError(f"argument '{name}' must be a whole number")
    if not -(2**63) <= value < 2**63:
        raise ArgumentTypeError(f"argument '{name}' is out of range")
    return value


def _typed(name: str, kind: str, value: Any) -> Any:
    if kind == "Long":
        return _long(name, value)
    if kind == "Decimal":
        return _decimal(name, value)
    if kind == "String":
        if not isinstance(value, str):
            raise ArgumentTypeError(f"argument '{name}' must be a string")
        return value
    if kind == "Bool":
        if not isinstance(value, bool):
            raise ArgumentTypeError(f"argument '{name}' must be true or false")
        return value
    if not isinstance(value, list):
        raise ArgumentTypeError(f"argument '{name}' must be a list")
    item = "Long" if kind == "Set<Long>" else "String"
    return [_typed(name, item, v) for v in value]


def tool_context(arguments: Mapping[str, Any], types: Mapping[str, str]) -> dict[str, Any]:
    """`arguments` (the typed ones policies read), `argument_names` and `arguments_json` (the
    canonical JSON of every argument, for `like` patterns). Raises ArgumentTypeError."""
    typed = {
        n: _typed(n, types[n], v) for n, v in arguments.items() if n in types and v is not None
    }
    return {
        "arguments": typed,
        "argument_names": sorted(str(n) for n in arguments),
        "arguments_json": orjson.dumps(arguments, option=orjson.OPT_SORT_KEYS).decode(),
    }


def dumps(ctx: Mapping[str, Any]) -> str:
    return orjson.dumps(ctx).decode()


def names(values: Iterable[Subject]) -> str:
    return ", ".join(s.label for s in values)


__all__ = [
    "ArgumentTypeError",
    "Subject",
    "acting",
    "base_context",
    "dumps",
    "key_models",
    "subjects",
    "tool_context",
]


def dumps_list(items: list[dict[str, Any]]) -> str:
    return orjson.dumps(items).decode()
