"""Secrets out of stored and notified arguments: the guard's detectors over every string value.
The binding is computed over the arguments as sent; only the copy that is kept is redacted."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from steward.guard.runtime import GuardRuntime

Redactor = Callable[[str], str]
_REDACTED_CLASSES = frozenset({"secret"})


def redact_values(value: Any, redact: Redactor) -> Any:
    """A copy of a JSON value with every string (and object key) passed through `redact`."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(str(k)): redact_values(v, redact) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_values(v, redact) for v in value]
    return value


def secret_redactor(guard: GuardRuntime) -> Redactor:
    """Replace what the guard's scanner finds as secrets with `[REDACTED:<entity>]` (the
    scanner is read at each call: it is rebuilt when registered documents change)."""

    def redact(text: str) -> str:
        findings = [f for f in guard.scanner.scan(text) if f.data_class in _REDACTED_CLASSES]
        for f in sorted(findings, key=lambda f: f.start, reverse=True):
            text = f"{text[: f.start]}[REDACTED:{f.entity}]{text[f.end :]}"
        return text

    return redact


__all__ = ["Redactor", "redact_values", "secret_redactor"]
