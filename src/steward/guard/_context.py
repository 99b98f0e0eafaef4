"""Context scoring: label words shortly before or after a candidate move its score."""

from __future__ import annotations

import re

from ._spec import ContextRule


def _nearest_before(rx: re.Pattern[str] | None, text: str, lo: int, start: int) -> int | None:
    last = None
    if rx is not None:
        for m in rx.finditer(text, lo, start):
            last = m
    return None if last is None else start - last.end()


def adjust(rule: ContextRule, text: str, start: int, end: int, window: int, base: float) -> float:
    """Return ``base`` moved by the nearest label word within ``window`` characters.

    A damp word counts only before the value (labels precede values: "order no. 4111...");
    a boost word before it, or failing that up to half the window after it. When a boost and
    a damp word both precede the value, the closer one wins ("card ... order no. 4111..." is
    an order); a damp word before beats a boost word after ("NHS no: 943... Phone: ...").
    Searches run on the original string with bounds, so no substring is copied.
    """
    lo = max(0, start - window)
    boost = _nearest_before(rule.boost, text, lo, start)
    damp = _nearest_before(rule.damp, text, lo, start)
    score = base
    if damp is not None and (boost is None or damp < boost):
        score -= rule.damp_by
    elif boost is not None or (
        rule.boost is not None
        and rule.boost.search(text, end, min(len(text), end + window // 2)) is not None
    ):
        score += rule.boost_by
    return round(min(1.0, max(0.0, score)), 4)
