"""Small helpers for reading loosely typed JSON."""

from __future__ import annotations

from typing import Any


def as_dict(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object, else an empty dict (so lookups on bad input stay safe)."""
    return value if isinstance(value, dict) else {}
