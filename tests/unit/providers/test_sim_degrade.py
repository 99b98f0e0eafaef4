"""The simulator's scripted degradation (`sim.degrade`): normal answers first, then refusals the
refusal evaluator recognises and off-topic prose, deterministically; nothing changes without it."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from steward.config.models import SimSettings
from steward.evals.evaluators.base import Subject
from steward.evals.evaluators.heuristic import Refusal
from steward.evals.settings import EvaluatorConfig
from steward.providers._sim_content import answer_text
from steward.providers.base import CallInfo
from steward.providers.sim import SimProvider
from steward.providers.sim_degrade import Degradation, SimDegradeSettings

CALL = CallInfo(upstream_model="sim-test-1", timeout_s=30.0, request_id="req-1")
QUESTION = "How do I reset my password?"
REFUSAL = Refusal(EvaluatorConfig(name="refusal", kind="refusal"))


def sim(**degrade: Any) -> SimProvider:
    return SimProvider("sim-test", SimSettings(degrade=degrade or None))


async def answers(provider: SimProvider, n: int, question: str = QUESTION) -> list[str]:
    out = []
    for _ in range(n):
        body = {"model": "m", "messages": [{"role": "user", "content": question}]}
        resp = await provider.chat(body, CALL)
        out.append(resp.body["choices"][0]["message"]["content"])
    return out


async def refused(text: str) -> bool:
    verdict = await REFUSAL.evaluate(Subject(question=QUESTION, answer=text))
    assert verdict is not None
    return verdict.score == 0.0


async def test_without_degrade_every_answer_is_the_usual_one() -> None:
    got = await answers(sim(), 30)
    assert got == [answer_text(QUESTION, 0)] * 30


async def test_answers_are_normal_until_after_requests_then_refuse_or_drift() -> None:
    got = await answers(sim(after_requests=5, refusal_rate=0.5, off_topic=True), 45)
    normal = answer_text(QUESTION, 0)
    assert got[:5] == [normal] * 5
    later = got[5:]
    assert normal not in later
    refusals = [a for a in later if await refused(a)]
    off_topic = [a for a in later if a not in refusals]
    assert 10 <= len(refusals) <= 30  # about half of 40
    assert all('"reset password"' in a for a in refusals)  # they name the question's topic
    assert off_topic and all("password" not in a.lower() for a in off_topic)
    assert not any([await refused(a) for a in off_topic])


async def test_refusal_rate_one_refuses_everything_after_the_start() -> None:
    got = await answers(sim(after_requests=2, refusal_rate=1.0), 12)
    assert [await refused(a) for a in got] == [False] * 2 + [True] * 10


async def test_refusals_only_leave_the_other_answers_normal() -> None:
    got = await answers(sim(after_requests=0, refusal_rate=0.3), 40)
    normal = answer_text(QUESTION, 0)
    flags = [await refused(a) for a in got]
    assert 0 < sum(flags) < 40
    assert all(a == normal for a, f in zip(got, flags, strict=True) if not f)


async def test_the_pattern_repeats_with_the_seed_and_changes_with_another() -> None:
    settings = {"after_requests": 3, "refusal_rate": 0.5, "off_topic": True}
    first = await answers(sim(**settings), 30)
    assert await answers(sim(**settings), 30) == first
    other = SimProvider("sim-test", SimSettings(seed=7, degrade=SimDegradeSettings(**settings)))
    assert await answers(other, 30) != first


async def test_streamed_answers_degrade_too() -> None:
    provider = sim(after_requests=1, refusal_rate=1.0)
    body = {"model": "m", "messages": [{"role": "user", "content": QUESTION}]}
    texts = []
    for _ in range(2):
        chunks = [c async for c in provider.chat_stream(body, CALL)]
        texts.append("".join(c["choices"][0]["delta"].get("content") or "" for c in chunks))
    assert not await refused(texts[0]) and await refused(texts[1])


def test_degradation_counts_positions() -> None:
    d = Degradation(SimDegradeSettings(after_requests=1, refusal_rate=1.0), seed=0)
    assert d.next_text(QUESTION) is None
    assert d.next_text(QUESTION) is not None
    assert d.answered == 2


@pytest.mark.parametrize(
    "bad",
    [{"after_requests": -1}, {"refusal_rate": 1.5}, {"refusal_rate": -0.1}, {"unknown": 1}],
)
def test_invalid_settings_are_rejected(bad: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError):
        SimSettings(degrade=bad)
