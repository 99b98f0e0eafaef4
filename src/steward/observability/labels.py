"""Bounded Prometheus label values: every label has a small, known set of values, so that a
scrape stays small however many users, keys or names there are."""

from __future__ import annotations

from collections.abc import Iterable

OTHER = "other"  # a value past the limit, or one that is not configured
NONE = "none"  # the request never got that far (no key, no model, no deployment)
_MAX_LEN = 100


class BoundedLabel:
    """Maps raw values to label values: the first `limit` distinct values pass as they are,
    later ones become "other". With `allowed`, only those values pass at all."""

    __slots__ = ("_allowed", "_limit", "_seen")

    def __init__(self, limit: int, allowed: Iterable[str] | None = None) -> None:
        self._limit = limit
        self._allowed = frozenset(allowed) if allowed is not None else None
        self._seen: set[str] = set()

    def __call__(self, value: str | None) -> str:
        if value is None:
            return NONE
        value = value[:_MAX_LEN]
        if value in self._seen:
            return value
        if self._allowed is not None and value not in self._allowed:
            return OTHER
        if len(self._seen) >= self._limit:
            return OTHER
        self._seen.add(value)
        return value

    def __len__(self) -> int:
        return len(self._seen)


def status_class(status: int) -> str:
    """'2xx', '4xx', '5xx' (and so on) for an HTTP status."""
    return f"{status // 100}xx"
