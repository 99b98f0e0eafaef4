"""The approval binding: one SHA-256 over the exact action, resource, arguments and requester,
so an approval granted for one call can never authorise a different one."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any

import orjson

from steward.identity.snapshot import Principal

BINDING_VERSION = 1
_MAX_DEPTH = 64


class BindingError(ValueError):
    """The arguments cannot be bound: not plain JSON (a NaN, a non-string key, an object)."""


def _canonical(value: Any, depth: int = 0) -> Any:
    """Plain JSON values with numbers normalised the way RFC 8785 does: an integral float is
    the integer (1.0 and 1 are the same JSON number), so re-serialising clients agree."""
    if depth > _MAX_DEPTH:
        raise BindingError(f"arguments nest deeper than {_MAX_DEPTH} levels")
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise BindingError("arguments hold a number that is not finite (NaN or infinity)")
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise BindingError(f"argument object keys must be strings, not {key!r}")
            out[key] = _canonical(item, depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [_canonical(item, depth + 1) for item in value]
    raise BindingError(f"arguments hold a {type(value).__name__}, which is not JSON")


def canonical_json(value: Any) -> bytes:
    """Canonical JSON bytes: keys sorted, no whitespace, UTF-8, numbers normalised."""
    return orjson.dumps(_canonical(value), option=orjson.OPT_SORT_KEYS)


def requester_of(principal: Principal) -> dict[str, Any]:
    """Who asks, as bound into the hash: the kind and ids of the principal, the user it acts on
    behalf of and the delegation chain. The key id is left out on purpose: an agent's approval
    holds whichever of its keys presents the call again."""
    return {
        "kind": principal.kind,
        "user": principal.user_id,
        "app": principal.app_id,
        "agent": principal.agent_id,
        "service_account": principal.service_account_id,
        "on_behalf_of": principal.on_behalf_of,
        "chain": list(principal.chain),
    }


def approval_binding(
    action: str, resource: str, arguments: Mapping[str, Any] | None, principal: Principal
) -> str:
    """The sha256 hex binding of (action, resource, canonical arguments, requester)."""
    document = {
        "v": BINDING_VERSION,
        "action": action,
        "resource": resource,
        "arguments": dict(arguments or {}),
        "requester": requester_of(principal),
    }
    return hashlib.sha256(canonical_json(document)).hexdigest()


__all__ = ["BINDING_VERSION", "BindingError", "approval_binding", "canonical_json", "requester_of"]
