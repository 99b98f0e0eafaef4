"""The scanner: every enabled detector in one hyperscan pass, then validation and scoring."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import hyperscan

from ._compile import build_specs, compile_database, start_finder
from ._context import adjust
from ._offsets import char_offsets, encode
from ._resolve import resolve
from ._spec import Spec
from .checksums import luhn_ok
from .config import DetectorConfig
from .findings import Finding

if TYPE_CHECKING:
    from .classifier import InjectionClassifier
    from .fingerprints import FingerprintIndex
    from .ner import NerBackend

_NUMERIC_GLUE = ".,-"
_LEFT_GLUE = ".,- "


def _end_of(span: tuple[int, int]) -> int:
    return span[1]


def edges_ok(text: str, start: int, end: int) -> bool:
    """The value is not glued to a letter or digit, nor part of a longer dotted number."""
    if start > 0:
        c = text[start - 1]
        if c.isalnum() or c == "_" or c == "+":  # "+49 1573..." is a phone, not a card
            return False
        # "FR58 3430 6504 ...": a value cannot start inside a longer group of digits,
        # unless those digits end a complete card ("4111 1111 1111 1111 5555 5555 ...").
        if c in _LEFT_GLUE and start > 1 and text[start - 2].isdigit():
            return _follows_card(text, start - 1)
    if end < len(text):
        c = text[end]
        if c.isalnum() or c == "_":
            return False
        if c in _NUMERIC_GLUE and end + 1 < len(text) and text[end + 1].isdigit():
            return False
    return True


def _follows_card(text: str, sep: int) -> bool:
    """Whether the digits just before `sep` (with their group separators) form a whole card."""
    i = sep
    digits: list[str] = []
    while i > 0 and len(digits) <= 19:
        c = text[i - 1]
        if c.isdigit():
            digits.append(c)
        elif c not in " -":
            break
        i -= 1
    if i > 0 and text[i - 1].isalnum():
        return False
    number = "".join(reversed(digits))
    return 13 <= len(number) <= 19 and luhn_ok(number)


class Scanner:
    """Compiled detectors for one configuration. Thread-safe; build once, scan many times.

    ``max_match_len`` is the longest span (in characters) a pattern finding can have: a stream
    scanner that holds back that many trailing characters never splits a finding. PEM private
    keys are longer; their BEGIN and END markers are each reported together with the adjacent
    key body, capped at this length for hold-back purposes (see ``_secrets.PEM_MAX_LEN``).
    Document (fingerprint), classifier and NER findings are passage-level and not covered.
    """

    def __init__(
        self,
        config: DetectorConfig,
        fingerprints: FingerprintIndex | None = None,
        *,
        ner: NerBackend | None = None,
        classifier: InjectionClassifier | None = None,
    ) -> None:
        self.config = config
        self._specs: tuple[Spec, ...] = tuple(build_specs(config))
        self._finders = tuple(start_finder(s) for s in self._specs)
        self._db: hyperscan.Database | None = (
            compile_database(list(self._specs), [f is None for f in self._finders])
            if self._specs
            else None
        )
        self._local = threading.local()
        self._min_score = config.min_score
        self._window = config.context_window
        self.fingerprints = fingerprints
        self._ner = ner
        if classifier is None and config.injection_classifier:
            from .classifier import InjectionClassifier

            classifier = InjectionClassifier(
                config.injection_classifier_model_dir, config.injection_classifier_threshold
            )
        self._classifier = classifier
        self.max_match_len: int = max((s.max_len for s in self._specs), default=0)

    @property
    def pattern_count(self) -> int:
        """How many patterns the hyperscan database holds."""
        return len(self._specs)

    def scan(self, text: str) -> list[Finding]:
        """All findings in ``text``, sorted by start, overlaps resolved, str offsets."""
        if not text:
            return []
        findings = self._pattern_findings(text) if self._db is not None else []
        if self.fingerprints is not None and len(self.fingerprints):
            findings += self.fingerprints.findings(
                text, self.config.fingerprint_min_coverage, self.config.fingerprint_min_words
            )
        if self._classifier is not None:
            findings += self._classifier.findings(text)
        if self._ner is not None:
            findings += self._ner.findings(text)
        if len(findings) > 1:
            return resolve(findings)
        return findings

    def scan_many(self, texts: list[str]) -> list[list[Finding]]:
        """``scan`` over each text (one database and scratch space for all)."""
        return [self.scan(t) for t in texts]

    def _thread_state(self) -> tuple[Any, list[tuple[int, int, int]], Any]:
        state = getattr(self._local, "state", None)
        if state is None:
            hits: list[tuple[int, int, int]] = []
            append = hits.append

            def on_match(pid: int, start: int, end: int, flags: int, ctx: object) -> None:
                append((pid, start, end))

            state = (hyperscan.Scratch(self._db), hits, on_match)
            self._local.state = state
        return state

    def _pattern_findings(self, text: str) -> list[Finding]:
        data = encode(text)
        scratch, hits, on_match = self._thread_state()
        hits.clear()
        assert self._db is not None
        self._db.scan(data, match_event_handler=on_match, scratch=scratch)
        if not hits:
            return []
        by_pid: dict[int, list[tuple[int, int]]] = {}
        if len(data) == len(text):  # ASCII: byte offsets are str offsets
            for pid, start, end in hits:
                by_pid.setdefault(pid, []).append((start, end))
        else:
            to_char = char_offsets(data, [o for h in hits for o in h[1:]])
            for pid, start, end in hits:
                by_pid.setdefault(pid, []).append((to_char[start], to_char[end]))
        hits.clear()
        findings: list[Finding] = []
        for pid, spans in by_pid.items():
            self._candidates(pid, text, spans, findings)
        return findings

    def _candidates(
        self, pid: int, text: str, spans: list[tuple[int, int]], out: list[Finding]
    ) -> None:
        """Find each match's start, group shorter ends of the same match, validate."""
        spec = self._specs[pid]
        finder = self._finders[pid]
        if len(spans) > 1:
            spans.sort(key=_end_of, reverse=True)
        i, n = 0, len(spans)
        while i < n:
            start, end = spans[i]
            if finder is not None:
                twin, window = finder
                m = twin.search(text, max(0, end - window), end)
                if m is None:
                    i += 1
                    continue
                start = m.start()
            # Ends inside this match are shorter readings of it: validated only as fallbacks.
            ends = [end]
            j = i + 1
            while j < n and spans[j][1] > start:
                if len(ends) < spec.tries:
                    ends.append(spans[j][1])
                j += 1
            found = self._validate(spec, text, start, ends)
            if found is not None:
                out.append(found)
            i = j

    def _validate(self, spec: Spec, text: str, start: int, ends: list[int]) -> Finding | None:
        for end in ends:
            s, e = start, end
            if spec.refine is not None:
                span = spec.refine(text, s, e)
                if span is None:
                    continue
                s, e = span
            if spec.bounded and not edges_ok(text, s, e):
                continue
            if spec.check is not None and not spec.check(text[s:e]):
                continue
            score = spec.score
            if spec.context is not None:
                score = adjust(spec.context, text, s, e, self._window, score)
            if score < self._min_score:
                return None
            return Finding(spec.entity, spec.data_class, spec.detector, s, e, score, spec.label)
        return None
