"""The catalogue's vocabulary as plain immutable values: model states and their transitions,
the snapshot view every gateway process holds, and the deterministic canary split."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

State = Literal["proposed", "approved", "deprecated", "blocked"]
Kind = Literal["alias", "upstream"]

STATES: tuple[State, ...] = ("proposed", "approved", "deprecated", "blocked")
# states requests may be routed to; deprecated models are served with a warning header
ROUTABLE: frozenset[str] = frozenset({"approved", "deprecated"})
# state -> the states it may move to. A blocked model goes back through review (proposed) or
# straight to approved when the block was a mistake; nothing moves back to proposed otherwise.
TRANSITIONS: dict[str, frozenset[str]] = {
    "proposed": frozenset({"approved", "blocked"}),
    "approved": frozenset({"deprecated", "blocked"}),
    "deprecated": frozenset({"approved", "blocked"}),
    "blocked": frozenset({"proposed", "approved"}),
}
SPLIT_BUCKETS = 10_000  # canary shares have a resolution of 0.01 %


def can_move(old: str | None, new: str) -> bool:
    """May a model in state `old` (None: not in the catalogue yet) move to state `new`?"""
    if new not in TRANSITIONS:
        return False
    if old is None:
        return True  # a new entry may start in any state
    return new in TRANSITIONS.get(old, frozenset())


@dataclass(frozen=True, slots=True)
class Entry:
    """One model's catalogue record, as the gateway sees it."""

    kind: Kind
    name: str
    state: State
    owner_id: str | None = None
    data_classes: frozenset[str] | None = None  # None: not restricted
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Split:
    """An alias's deployment: a promoted upstream (`primary`, None: the configured one) and a
    candidate receiving `percent` of the traffic."""

    alias: str
    primary: str | None = None
    candidate: str | None = None
    percent: float = 0.0

    @property
    def canary(self) -> bool:
        return self.candidate is not None and self.percent > 0


@dataclass(frozen=True, slots=True)
class CatalogueView:
    """The snapshot section "catalogue": model entries and alias deployments."""

    aliases: dict[str, Entry] = field(default_factory=dict)
    upstreams: dict[str, Entry] = field(default_factory=dict)  # "provider/model" -> entry
    splits: dict[str, Split] = field(default_factory=dict)

    def entry(self, kind: str, name: str) -> Entry | None:
        return (self.aliases if kind == "alias" else self.upstreams).get(name)

    @property
    def empty(self) -> bool:
        return not (self.aliases or self.upstreams or self.splits)


def bucket(alias: str, request_id: str) -> int:
    """The request's split bucket in [0, SPLIT_BUCKETS): a stable hash of alias and request
    id, so the same request id always lands on the same side of a split."""
    digest = hashlib.blake2b(f"{alias}\x1f{request_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % SPLIT_BUCKETS


def to_candidate(split: Split, request_id: str) -> bool:
    """Does this request go to the split's candidate?"""
    if not split.canary:
        return False
    return bucket(split.alias, request_id) < round(split.percent * SPLIT_BUCKETS / 100)


def upstream_ref(provider: str, model: str) -> str:
    """The catalogue name of an upstream model: `provider/model`."""
    return f"{provider}/{model}"


__all__ = [
    "ROUTABLE",
    "SPLIT_BUCKETS",
    "STATES",
    "TRANSITIONS",
    "CatalogueView",
    "Entry",
    "Kind",
    "Split",
    "State",
    "bucket",
    "can_move",
    "to_candidate",
    "upstream_ref",
]
