"""Incremental scanning of a streamed channel (one choice's text, one tool call's arguments).

Text is released as soon as it cannot be part of a finding: the stream holds back only a
suspicious tail (the last partial word; a run of value-like tokens before it that may still grow
into a card, IBAN, national id or date; the first words of a multi-word confidential term; an
unterminated private-key block) and never more than `max_hold` characters. A finding that
straddles the release point is held whole, so a secret split across chunks is still caught; one
that began in text already released is acted on from the release point on. The recent released
text is kept as context for the next scan.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Generic, Protocol, TypeVar

_CONTEXT = 96
_RUN_LIMIT = 64  # longest multi-token value held back (IBANs with spaces run to ~42)
_MONTHS = frozenset(
    [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
        "dec", "january", "february", "march", "april", "june", "july", "august",
        "september", "october", "november", "december",
    ]
)  # fmt: skip


def _valuelike(token: str, next_valuelike: bool) -> bool:
    """Could this token be part of a value that continues after it (a card, IBAN, NINO, date)?"""
    if any(c.isdigit() for c in token):
        return True
    word = token.strip(".,:;()").lower()
    if word in _MONTHS:
        return next_valuelike
    return next_valuelike and 0 < len(word) <= 3 and word.isalpha()


def safe_boundary(text: str) -> int:
    """How much of `text` may be released now, before any finding is considered: all but the
    last (partial) word, a run of value-like tokens before it, and an unterminated key block."""
    end = len(text)
    if end == 0:
        return 0
    begin = text.rfind("-----BEGIN")
    if begin >= 0 and text.find("-----END", begin) < 0:
        return begin
    i = end
    while i > 0 and not text[i - 1].isspace():
        i -= 1
    next_like = _valuelike(text[i:], True) if i < end else True
    limit = max(0, i - _RUN_LIMIT)
    while i > limit:
        k = i
        while k > 0 and text[k - 1].isspace():
            k -= 1
        t = k
        while t > 0 and not text[t - 1].isspace():
            t -= 1
        if t < limit or t == k or not _valuelike(text[t:k], next_like):
            break
        next_like = True
        i = t
    return i


class TermHold:
    """Moves a stream's release point back over the first words of a multi-word confidential
    term ("Project" while "Project Bluebird" may follow)."""

    def __init__(self, terms: dict[str, list[str]]) -> None:
        prefixes: set[str] = set()
        self._words = 0
        for listed in terms.values():
            for term in listed:
                parts = term.casefold().split()
                for n in range(1, len(parts)):
                    prefixes.add(" ".join(parts[:n]))
                    self._words = max(self._words, n)
        self._prefixes = frozenset(prefixes)

    def __call__(self, text: str, cut: int) -> int:
        if not self._prefixes or cut <= 0:
            return cut
        words: list[tuple[int, str]] = []
        i = cut
        while len(words) < self._words and i > 0:
            k = i
            while k > 0 and text[k - 1].isspace():
                k -= 1
            t = k
            while t > 0 and not text[t - 1].isspace():
                t -= 1
            if t == k:
                break
            words.append((t, text[t:k].strip(".,:;!?()\"'").casefold()))
            i = t
        for n in range(len(words), 0, -1):
            if " ".join(w for _, w in reversed(words[:n])) in self._prefixes:
                return words[n - 1][0]
        return cut


class _Span(Protocol):
    @property
    def start(self) -> int: ...

    @property
    def end(self) -> int: ...


S = TypeVar("S", bound=_Span)


class StreamChannel(Generic[S]):
    """One streamed text channel. `scan(text)` returns findings (with start/end); `emit(text,
    findings)` transforms released text given the findings inside it (offsets relative to it)."""

    def __init__(
        self,
        scan: Callable[[str], list[S]],
        emit: Callable[[str, list[S]], str],
        *,
        max_hold: int = 2048,
        placeholder_tail: Callable[[str], int] | None = None,
        hold: Callable[[str, int], int] | None = None,
    ) -> None:
        self._scan = scan
        self._emit = emit
        self._max_hold = max_hold
        self._placeholder_tail = placeholder_tail
        self._hold = hold
        self._pending = ""
        self._context = ""

    def push(self, delta: str) -> str:
        if not delta:
            return ""
        self._pending += delta
        cut = safe_boundary(self._pending)
        if self._hold is not None:
            cut = self._hold(self._pending, cut)
        if len(self._pending) - cut > self._max_hold:
            cut = len(self._pending) - self._max_hold
        return self._release(cut)

    def flush(self) -> str:
        return self._release(len(self._pending), final=True)

    def _release(self, cut: int, final: bool = False) -> str:
        if cut <= 0 and not final:
            return ""
        pending, ctx = self._pending, self._context
        base = len(ctx)
        findings = self._scan(ctx + pending)
        if not final:
            for f in findings:
                s, e = f.start - base, f.end - base
                if s < cut < e:
                    cut = max(0, s)
            if self._placeholder_tail is not None:
                cut -= self._placeholder_tail(pending[:cut])
        if cut <= 0:
            return ""
        # A finding that began in text already released is handled from the release point on:
        # its start has gone, the rest does not follow it.
        inside = [
            replace(f, start=max(0, f.start - base), end=f.end - base)  # type: ignore[type-var]
            for f in findings
            if f.end > base and f.end - base <= cut
        ]
        out = self._emit(pending[:cut], inside)
        self._context = (ctx + pending[:cut])[-_CONTEXT:]
        self._pending = pending[cut:]
        return out
