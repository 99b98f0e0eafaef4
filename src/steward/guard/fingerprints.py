"""Document fingerprints: find passages of registered confidential documents in text.

A document is reduced to a set of 64-bit hashes (never its text): the text is normalised
(casefold, punctuation and whitespace collapsed to single spaces), cut into overlapping word
k-grams (shingles), each shingle hashed, and *winnowing* keeps the minimum hash of every window
of ``w`` consecutive shingles. Any shared passage of at least ``w + k - 1`` words is guaranteed
to share a fingerprint, and small edits only disturb the shingles that touch them.

Shingle hashes are a rolling polynomial over per-word BLAKE2b-64 hashes (then a 64-bit mixer),
so each word is hashed once instead of each k-gram: ~10x faster than BLAKE2b per shingle, and
stable across processes (unlike ``hash()``), so stored fingerprints stay valid.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from hashlib import blake2b

from .findings import Finding

K = 8
W = 4
_MASK = (1 << 64) - 1
_BASE = 0x100000001B3  # FNV-64 prime: odd, well spread
_WORD = re.compile(r"\w+")


def _mix(x: int) -> int:
    """SplitMix64 finaliser: spreads the polynomial hash over all 64 bits."""
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _word_hash(word: str) -> int:
    return int.from_bytes(blake2b(word.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
                          "little")


def _shingles(text: str, k: int) -> tuple[list[int], list[tuple[int, int]]]:
    """Shingle hashes and, for each, the str span of its k words."""
    spans = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    if len(spans) < k:
        return [], []
    cache: dict[str, int] = {}
    words = []
    for s, e in spans:
        w = text[s:e].casefold()
        h = cache.get(w)
        if h is None:
            h = cache[w] = _word_hash(w)
        words.append(h)
    top = pow(_BASE, k - 1, 1 << 64)
    h = 0
    for x in words[:k]:
        h = (h * _BASE + x) & _MASK
    hashes = [_mix(h)]
    for i in range(k, len(words)):
        h = ((h - words[i - k] * top) * _BASE + words[i]) & _MASK
        hashes.append(_mix(h))
    shingle_spans = [(spans[i][0], spans[i + k - 1][1]) for i in range(len(hashes))]
    return hashes, shingle_spans


def _winnow(hashes: list[int], w: int) -> list[int]:
    """Indices of the selected fingerprints (rightmost minimum of each window, deduplicated)."""
    n = len(hashes)
    if n == 0:
        return []
    if n <= w:
        return [n - 1 - hashes[::-1].index(min(hashes))]
    picked: list[int] = []
    best = -1
    for right in range(w - 1, n):
        left = right - w + 1
        if best < left:
            # The minimum left the window: rescan it (rightmost minimum wins ties).
            best = left
            for j in range(left + 1, right + 1):
                if hashes[j] <= hashes[best]:
                    best = j
        elif hashes[right] <= hashes[best]:
            best = right
        if not picked or picked[-1] != best:
            picked.append(best)
    return picked


def fingerprint(text: str, k: int = K, w: int = W) -> set[int]:
    """The winnowed fingerprint set of ``text`` (what a document store keeps)."""
    hashes, _ = _shingles(text, k)
    return {hashes[i] for i in _winnow(hashes, w)}


@dataclass(frozen=True, slots=True)
class DocumentMatch:
    """A passage of ``text`` that comes from document ``doc_id``."""

    doc_id: str
    name: str
    shared: int  # fingerprints of the passage found in the document
    coverage: float  # share of the passage's fingerprints found in the document
    start: int
    end: int


class FingerprintIndex:
    """In-memory index hash -> document ids. Persist ``doc_id, name, hashes`` elsewhere."""

    def __init__(self, k: int = K, w: int = W) -> None:
        self.k, self.w = k, w
        self._postings: dict[int, set[str]] = {}
        self._names: dict[str, str] = {}
        self._hashes: dict[str, frozenset[int]] = {}

    def __len__(self) -> int:
        return len(self._hashes)

    def add(self, doc_id: str, hashes: Iterable[int], name: str | None = None) -> None:
        """Register (or replace) a document by its fingerprint hashes."""
        self.remove(doc_id)
        frozen = frozenset(hashes)
        self._hashes[doc_id] = frozen
        self._names[doc_id] = name or doc_id
        for h in frozen:
            self._postings.setdefault(h, set()).add(doc_id)

    def add_text(self, doc_id: str, text: str, name: str | None = None) -> frozenset[int]:
        """Fingerprint ``text`` and register it; returns the hashes to persist."""
        hashes = frozenset(fingerprint(text, self.k, self.w))
        self.add(doc_id, hashes, name)
        return hashes

    def remove(self, doc_id: str) -> None:
        """Forget a document."""
        for h in self._hashes.pop(doc_id, frozenset()):
            docs = self._postings.get(h)
            if docs is not None:
                docs.discard(doc_id)
                if not docs:
                    del self._postings[h]
        self._names.pop(doc_id, None)

    def passages(
        self, text: str, min_coverage: float = 0.5, min_words: int = 30
    ) -> list[DocumentMatch]:
        """Passages of ``text`` whose fingerprints mostly come from one registered document.

        Matching fingerprints of a document are clustered (gap <= k + w words); a cluster is
        reported when it spans >= ``min_words`` words and >= ``min_coverage`` of the text's
        fingerprints inside its span belong to the document.
        """
        hashes, spans = _shingles(text, self.k)
        picked = _winnow(hashes, self.w)
        hits: dict[str, list[int]] = {}
        for i in picked:
            for doc in self._postings.get(hashes[i], ()):
                hits.setdefault(doc, []).append(i)
        out = []
        for doc, positions in hits.items():
            for cluster in self._clusters(positions):
                first, last = cluster[0], cluster[-1]
                words = last - first + self.k
                total = sum(1 for i in picked if first <= i <= last)
                coverage = len(cluster) / total
                if words >= min_words and coverage >= min_coverage:
                    out.append(DocumentMatch(doc, self._names[doc], len(cluster), coverage,
                                             spans[first][0], spans[last][1]))
        return out

    def _clusters(self, positions: list[int]) -> list[list[int]]:
        gap = self.k + self.w
        clusters: list[list[int]] = [[positions[0]]]
        for p in positions[1:]:
            if p - clusters[-1][-1] <= gap:
                clusters[-1].append(p)
            else:
                clusters.append([p])
        return clusters

    def match(self, text: str, min_coverage: float = 0.5,
              min_words: int = 30) -> list[tuple[str, int, float]]:
        """``(doc_id, shared, coverage)`` per document with a leaked passage, best first."""
        best: dict[str, tuple[int, float]] = {}
        for m in self.passages(text, min_coverage, min_words):
            shared, cov = best.get(m.doc_id, (0, 0.0))
            best[m.doc_id] = (shared + m.shared, max(cov, m.coverage))
        return sorted(((d, s, c) for d, (s, c) in best.items()), key=lambda t: -t[2])

    def findings(self, text: str, min_coverage: float = 0.5, min_words: int = 30) -> list[Finding]:
        """``DOCUMENT`` findings for the scanner (score = coverage, label = document name)."""
        return [
            Finding("DOCUMENT", "confidential", "fingerprint", m.start, m.end,
                    min(1.0, m.coverage), m.name)
            for m in self.passages(text, min_coverage, min_words)
        ]
