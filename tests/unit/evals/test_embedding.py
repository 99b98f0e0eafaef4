"""Embedding evaluators with the local MiniLM encoder (skipped when the model is missing)."""

from __future__ import annotations

import pytest

from steward.evals.evaluators import Subject
from steward.evals.settings import EvaluatorConfig

embedding = pytest.importorskip("steward.evals.evaluators.embedding")


@pytest.fixture(scope="module")
def relevance() -> object:
    from steward.embeddings.minilm import ModelUnavailableError

    try:
        return embedding.Relevance(EvaluatorConfig(name="rel", kind="relevance"))
    except ModelUnavailableError as exc:
        pytest.skip(str(exc))


async def test_relevance_separates_on_and_off_topic(relevance: object) -> None:
    q = "How do I reset my password on the company laptop?"
    on = Subject(q, "Open Settings, choose Accounts, then Password, and follow the reset steps.")
    off = Subject(q, "Bananas are rich in potassium and grow in tropical climates.")
    v_on = await relevance.evaluate(on)  # type: ignore[attr-defined]
    v_off = await relevance.evaluate(off)  # type: ignore[attr-defined]
    assert v_on.score > 0.3 > v_off.score
    assert relevance.label(v_on).label == "pass"  # type: ignore[attr-defined]
    assert relevance.label(v_off).label == "fail"  # type: ignore[attr-defined]


async def test_topic(relevance: object) -> None:
    topic = embedding.Topic(
        EvaluatorConfig(name="t", kind="topic", topics=["IT support and computer accounts"])
    )
    on = await topic.evaluate(Subject("q", "Restart the laptop and sign in to your account."))
    off = await topic.evaluate(Subject("q", "The recipe needs two eggs and some flour."))
    assert on.score > off.score
    assert "IT support" in on.explanation
