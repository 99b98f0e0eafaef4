"""Human durations such as `30d`, `12h`, `90m`, shared by the CLI and the admin API."""

from __future__ import annotations

import re
from datetime import timedelta

from steward.identity.errors import Invalid

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_PATTERN = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)


def parse_duration(text: str) -> timedelta:
    """Parse `<number><unit>` with unit s, m, h, d or w (e.g. `30d`, `12h`, `90m`)."""
    match = _PATTERN.match(text)
    if match is None:
        raise Invalid(
            f"'{text}' is not a duration; write a number and a unit, e.g. 30d, 12h, 90m "
            "(units: s, m, h, d, w)",
            code="invalid_duration",
        )
    amount = int(match.group(1))
    if amount <= 0:
        raise Invalid(f"duration '{text}' must be greater than zero", code="invalid_duration")
    try:
        return timedelta(**{_UNITS[match.group(2).lower()]: amount})
    except OverflowError:
        raise Invalid(f"duration '{text}' is too long", code="invalid_duration") from None


__all__ = ["parse_duration"]
