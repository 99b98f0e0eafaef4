"""The one place Steward calls Cedar on the hot path. cedarpy's public `is_authorized_batch`
re-encodes and decodes JSON with the standard library and wraps every result in objects; the
binding's extension function underneath takes the same pre-parsed handles and returns one JSON
string per request, which orjson reads several microseconds faster. The public API is the
fallback when the extension's layout changes (bench/policy_bench.py measures both)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import cedarpy
import orjson

try:  # cedarpy 4.x: the Rust extension the public wrappers call
    from cedarpy import _internal

    _RAW: Any = _internal.is_authorized_batch
except (ImportError, AttributeError):  # pragma: no cover - another cedarpy layout
    _RAW = None


class Result(NamedTuple):
    allowed: bool
    reasons: tuple[str, ...]
    errors: tuple[str, ...]


def _error_text(e: Any) -> str:
    if isinstance(e, dict):
        return str(e.get("error") or e.get("message") or e)
    return str(e)


def authorize(
    requests: Sequence[dict[str, Any]],
    policies: cedarpy.PolicySet,
    entities: cedarpy.Entities,
    *,
    fast: bool = True,
) -> list[Result]:
    """Decide each request (contexts already JSON strings) with parsed policies and entities."""
    inner = getattr(entities, "_inner", None)
    if fast and _RAW is not None and inner is not None:
        out = []
        for text in _RAW(list(requests), policies, inner, None, False):
            r = orjson.loads(text)
            diag = r.get("diagnostics") or {}
            out.append(
                Result(
                    r["decision"] == "Allow",
                    tuple(diag.get("reason") or ()),
                    tuple(_error_text(e) for e in diag.get("errors") or ()),
                )
            )
        return out
    return [
        Result(
            res.allowed,
            tuple(res.diagnostics.reasons),
            tuple(_error_text(e) for e in res.diagnostics.errors),
        )
        for res in cedarpy.is_authorized_batch(list(requests), policies, entities)
    ]


__all__ = ["Result", "authorize"]
