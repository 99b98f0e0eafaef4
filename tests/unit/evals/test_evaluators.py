"""Each evaluator on known inputs: refusals, empty and truncated answers, JSON and schemas,
guard findings, language mismatch, latency, and the judge's grade parsing."""

from __future__ import annotations

import pytest

from steward.evals.evaluators import EvaluatorUnavailable, Subject, build_evaluators
from steward.evals.evaluators.heuristic import (
    Empty,
    GuardFindings,
    JsonValid,
    Latency,
    Refusal,
    Truncated,
)
from steward.evals.evaluators.judge import parse_grade, render, scale
from steward.evals.evaluators.language import LanguageMismatch, detect
from steward.evals.settings import EvaluationSettings, EvaluatorConfig


def subject(answer: str, **kw: object) -> Subject:
    return Subject(
        question=str(kw.pop("question", "What is the capital of France?")), answer=answer, **kw
    )  # type: ignore[arg-type]


async def label(cls: type, answer: str, **kw: object) -> str | None:
    ev = cls(EvaluatorConfig(name=cls.kind, kind=cls.kind))
    verdict = await ev.evaluate(subject(answer, **kw))
    return None if verdict is None else ev.label(verdict).label


@pytest.mark.parametrize(
    "answer",
    [
        "I'm sorry, but I can't help with that.",
        "I cannot assist with this request.",
        "As an AI language model, I cannot provide medical advice.",
        "I must decline to answer.",
        "Sorry. I am unable to help with requests like this one.",
        "I won't help with that.",
    ],
)
async def test_refusals_fail(answer: str) -> None:
    assert await label(Refusal, answer) == "fail"


@pytest.mark.parametrize(
    "answer",
    [
        "The capital of France is Paris.",
        "You cannot go wrong with Paris; it has been the capital for centuries.",
        "Paris. " + "It is a large city. " * 30 + "I can't help noticing how big it is.",
    ],
)
async def test_answers_are_not_refusals(answer: str) -> None:
    assert await label(Refusal, answer) == "pass"


async def test_empty() -> None:
    assert await label(Empty, "") == "fail"
    assert await label(Empty, "  \n ... ") == "fail"
    assert await label(Empty, "Paris") == "pass"


async def test_truncated() -> None:
    assert await label(Truncated, "Paris is", finish_reason="length") == "fail"
    assert await label(Truncated, "Paris is", finish_reason="max_tokens") == "fail"
    assert await label(Truncated, "Paris.", finish_reason="stop") == "pass"


SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "city",
        "schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
            "required": ["city", "population"],
            "additionalProperties": False,
        },
    },
}


async def test_json_only_when_requested() -> None:
    assert await label(JsonValid, "not json") is None


async def test_json_validity_and_schema() -> None:
    obj = {"type": "json_object"}
    assert await label(JsonValid, '{"a": 1}', response_format=obj) == "pass"
    assert await label(JsonValid, "[1, 2]", response_format=obj) == "fail"
    assert await label(JsonValid, '{"a": 1', response_format=obj) == "fail"
    good = '{"city": "Paris", "population": 2100000}'
    assert await label(JsonValid, good, response_format=SCHEMA) == "pass"
    ev = JsonValid(EvaluatorConfig(name="json", kind="json"))
    verdict = await ev.evaluate(subject('{"city": "Paris"}', response_format=SCHEMA))
    assert verdict is not None and verdict.score == 0.0
    assert "population" in verdict.explanation
    bad_type = '{"city": "Paris", "population": "many"}'
    assert await label(JsonValid, bad_type, response_format=SCHEMA) == "fail"


async def test_guard_findings() -> None:
    assert await label(GuardFindings, "ok", answer_findings=None) == "pass"
    assert await label(GuardFindings, "ok", answer_findings={"EMAIL_ADDRESS": 2}) == "fail"


async def test_latency_lower_is_better() -> None:
    ev = Latency(EvaluatorConfig(name="slow", kind="latency", threshold=500))
    fast = await ev.evaluate(subject("x", latency_ms=120.0))
    slow = await ev.evaluate(subject("x", latency_ms=900.0))
    assert fast is not None and ev.label(fast).label == "pass"
    assert slow is not None and ev.label(slow).label == "fail"
    assert await ev.evaluate(subject("x")) is None


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("What is the best way to learn a new language if you have little time?", "en"),
        ("Quelle est la meilleure façon d'apprendre une langue quand on est pressé ?", "fr"),
        ("Wie kann ich das Problem mit der Datenbank lösen, wenn sie nicht startet?", "de"),
        ("¿Cuál es la mejor manera de aprender un idioma si no tengo tiempo?", "es"),
        ("ok", None),
    ],
)
def test_language_detection(text: str, lang: str | None) -> None:
    assert detect(text) == lang


async def test_language_mismatch() -> None:
    q = "What is the best way to learn a new language if you have little time?"
    fr = "La meilleure façon est de pratiquer un peu chaque jour et de parler avec des gens."
    en = "The best way is to practise a little every day and to talk with people you meet."
    assert await label(LanguageMismatch, fr, question=q) == "fail"
    assert await label(LanguageMismatch, en, question=q) == "pass"
    assert await label(LanguageMismatch, "Paris.", question=q) is None  # too short to call


@pytest.mark.parametrize(
    ("reply", "grade"),
    [
        ('{"score": 4, "explanation": "good"}', 4.0),
        ("Score: 2\nThe answer misses the point.", 2.0),
        ("I would rate this 5/5.", 5.0),
        ("3 - adequate", 3.0),
        ("Grade = 4.5", 4.5),
    ],
)
def test_judge_grade_parsing(reply: str, grade: float) -> None:
    parsed = parse_grade(reply)
    assert parsed is not None and parsed[0] == grade


@pytest.mark.parametrize("reply", ["no idea", '{"score": 9}', "Score: 0", ""])
def test_judge_grade_rejects_garbage(reply: str) -> None:
    assert parse_grade(reply) is None


def test_judge_scale_and_render() -> None:
    assert scale(1) == 0.0 and scale(5) == 1.0 and scale(3) == 0.5
    s = Subject(question="Q?", answer="A.", expected="R.")
    assert render("{question}|{answer}|{reference}|{unknown}", s) == "Q?|A.|R.|"


def test_default_set_and_named_kinds() -> None:
    settings = EvaluationSettings()
    names = [e.name for e in build_evaluators(settings, "http://127.0.0.1:1")]
    assert names == ["refusal", "empty", "truncated", "json", "guard_findings", "language"]
    only = build_evaluators(settings, "http://127.0.0.1:1", names=["latency", "refusal"])
    assert [e.kind for e in only] == ["latency", "refusal"]
    with pytest.raises(EvaluatorUnavailable, match="unknown evaluator"):
        build_evaluators(settings, "http://127.0.0.1:1", names=["nope"])


def test_judge_without_key_is_unavailable() -> None:
    settings = EvaluationSettings.model_validate(
        {"judge": {"model": "m"}, "evaluators": [{"name": "j", "kind": "judge"}]}
    )
    with pytest.raises(EvaluatorUnavailable, match="api_key"):
        build_evaluators(settings, "http://127.0.0.1:1", strict=True)
    assert build_evaluators(settings, "http://127.0.0.1:1") == []  # skipped, with a log line


def test_config_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="needs topics"):
        EvaluationSettings.model_validate({"evaluators": [{"name": "t", "kind": "topic"}]})
    with pytest.raises(ValueError, match="not in"):
        EvaluationSettings.model_validate({"sampling": {"apps": {"a": 1.5}}})
