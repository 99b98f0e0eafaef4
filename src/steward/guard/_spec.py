"""What one compiled pattern means: its entity, how a candidate is validated and scored."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

# A value check sees the candidate's text (after any refinement) and accepts or rejects it.
Check = Callable[[str], bool]
# A refinement sees the whole text and the candidate span and returns the span of the value
# (trimmed to the secret after a keyword, or extended to a PEM block's end), or None to reject.
Refine = Callable[[str, int, int], tuple[int, int] | None]


@dataclass(frozen=True, slots=True)
class ContextRule:
    """Words near a candidate that raise (``boost``) or lower (``damp``) its score."""

    boost: re.Pattern[str] | None
    damp: re.Pattern[str] | None
    boost_by: float = 0.3
    damp_by: float = 0.4


@lru_cache(maxsize=256)
def _words_re(words: tuple[str, ...]) -> re.Pattern[str] | None:
    if not words:
        return None
    alternation = "|".join(re.escape(w).replace(r"\ ", r"[\s_-]*") for w in words)
    return re.compile(rf"(?<![a-z])(?:{alternation})(?![a-z])", re.IGNORECASE)


def context(
    boost: Iterable[str] = (),
    damp: Iterable[str] = (),
    boost_by: float = 0.3,
    damp_by: float = 0.4,
) -> ContextRule:
    """A context rule from plain words; multi-word entries match across space, _ or -."""
    return ContextRule(_words_re(tuple(boost)), _words_re(tuple(damp)), boost_by, damp_by)


@dataclass(frozen=True, slots=True)
class Spec:
    """One pattern in the hyperscan database and what a match of it means."""

    entity: str
    data_class: str
    detector: str
    pattern: str
    score: float
    check: Check | None = None
    refine: Refine | None = None
    context: ContextRule | None = None
    caseless: bool = False
    ucp: bool = False
    # Reject candidates glued to a letter or digit on either side (checked on the str, so it
    # is Unicode-aware, unlike hyperscan's \b without UCP).
    bounded: bool = False
    # The longest span a finding of this spec can have (used for stream hold-back).
    max_len: int = 128
    # How many end offsets to validate for one start, longest first (for greedy patterns that
    # can swallow a following token, e.g. an IBAN followed by a word).
    tries: int = 1
    label: str | None = None


def group_refine(pattern: str, flags: int = re.IGNORECASE) -> Refine:
    """A refinement that narrows the candidate to the named group ``v`` of ``pattern``."""
    rx = re.compile(pattern, flags)

    def refine(text: str, start: int, end: int) -> tuple[int, int] | None:
        m = rx.search(text, start, end)
        if m is None or m.start("v") == m.end("v"):
            return None
        return m.start("v"), m.end("v")

    return refine


def all_of(*checks: Check) -> Check:
    """A check that passes when every check passes."""

    def check(value: str) -> bool:
        return all(c(value) for c in checks)

    return check
