"""What a scan reports, and the error a bad detector configuration raises."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Finding:
    """One detected value: what it is, where it is (str offsets, end exclusive), how sure.

    ``label`` names the term list, custom regex or document that matched; None otherwise.
    ``detector`` names the rule that fired (e.g. ``"card"``, ``"injection.dan"``).
    """

    entity: str
    data_class: str
    detector: str
    start: int
    end: int
    score: float
    label: str | None = None


class GuardConfigError(ValueError):
    """The detector configuration cannot be compiled; the message names the culprit."""
