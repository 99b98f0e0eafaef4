"""Redaction of content kept for evaluation with the guard's own detectors: every finding of a
configured data class (PII, secrets...) becomes an `[ENTITY]` mark, whatever the profiles do to
live traffic, so no sampled text keeps those values."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from steward.guard import Scanner

log = logging.getLogger("steward.evals")


@dataclass(slots=True)
class Redaction:
    """The redacted text and what was found in it (entity -> count, all classes)."""

    text: str
    redacted: int = 0
    findings: Counter[str] = field(default_factory=Counter)


class HasScanner(Protocol):
    """The guard runtime (its scanner is rebuilt when registered documents change)."""

    scanner: Scanner


class Redactor:
    """Scans text with the guard's current scanner and masks findings of the given classes."""

    def __init__(self, guard: HasScanner, classes: Iterable[str]) -> None:
        self.guard = guard
        self.classes = frozenset(classes)

    def redact(self, text: str) -> Redaction:
        """Mask every finding of a redacted class; an unscannable text is withheld entirely."""
        if not text:
            return Redaction(text)
        try:
            found = self.guard.scanner.scan(text)
        except Exception:
            log.exception("guard scan failed on sampled content; the text is withheld")
            return Redaction("[WITHHELD]", redacted=1)
        out = Redaction(text)
        spans = []
        for f in found:
            out.findings[f.entity] += 1
            if f.data_class in self.classes:
                spans.append((f.start, f.end, f.entity))
        if not spans:
            return out
        spans.sort()
        pieces: list[str] = []
        pos = 0
        for start, end, entity in spans:
            if start < pos:  # overlaps the previous mark: already covered
                if end > pos:
                    pos = end
                continue
            pieces.append(text[pos:start])
            pieces.append(f"[{entity}]")
            out.redacted += 1
            pos = end
        pieces.append(text[pos:])
        out.text = "".join(pieces)
        return out
