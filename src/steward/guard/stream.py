"""Incremental scanning of a streamed channel (one choice's text, one tool call's arguments).

Text is released as soon as it cannot be part of a finding: the stream holds back only a
suspicious tail (the last partial word, a run of digits and separators that may still grow into
a card or phone number, an unterminated private-key block) and never more than `max_hold`
characters. A finding that straddles the release point is held whole, so a secret split across
chunks is still caught; the recent released text is kept as context for the next scan.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Generic, Protocol, TypeVar

_NUMERIC = frozenset("0123456789 -.()+/")
_CONTEXT = 96


def safe_boundary(text: str) -> int:
    """How much of `text` may be released now, before any finding is considered."""
    end = len(text)
    if end == 0:
        return 0
    begin = text.rfind("-----BEGIN")
    if begin >= 0 and text.find("-----END", begin) < 0:
        return begin
    # keep the last (possibly partial) word
    i = end
    while i > 0 and not text[i - 1].isspace():
        i -= 1
    # and a numeric run that may continue (4111 1111 1111 ...)
    j = i
    while j > 0 and text[j - 1] in _NUMERIC:
        j -= 1
    if j < i and any(c.isdigit() for c in text[j:i]):
        i = j
    return i


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
        max_hold: int = 512,
        placeholder_tail: Callable[[str], int] | None = None,
    ) -> None:
        self._scan = scan
        self._emit = emit
        self._max_hold = max_hold
        self._placeholder_tail = placeholder_tail
        self._pending = ""
        self._context = ""

    def push(self, delta: str) -> str:
        if not delta:
            return ""
        self._pending += delta
        cut = safe_boundary(self._pending)
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
        inside = [
            replace(f, start=f.start - base, end=f.end - base)  # type: ignore[type-var]
            for f in findings
            if f.start >= base and f.end - base <= cut
        ]
        out = self._emit(pending[:cut], inside)
        self._context = (ctx + pending[:cut])[-_CONTEXT:]
        self._pending = pending[cut:]
        return out
