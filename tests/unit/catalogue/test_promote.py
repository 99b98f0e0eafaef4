"""The promotion gate end to end in-process: a golden dataset run on the candidate through the
simulator (a stored evaluation run), refused with the failing metrics or promoted."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from steward.catalogue.deploy import DeploymentService
from steward.catalogue.golden import ExpectedContains, dataset_of, load_dataset
from steward.catalogue.promote import Promotion, gate_options, parse_thresholds, promote
from steward.evals.evaluators.base import Subject
from steward.identity.errors import Invalid
from steward.identity.records import Actor
from steward.providers.registry import ProviderRegistry
from steward.store.models_evals import EvalRun

DATASET = Path(__file__).parents[2] / "data" / "catalogue" / "golden.jsonl"
ACTOR = Actor("cli", "tester")


def run(
    deploy: DeploymentService, to: str, *args: str, evaluators: tuple[str, ...] = ()
) -> Promotion:
    registry = ProviderRegistry(deploy.config.providers)
    options = gate_options(deploy, list(evaluators), list(args))

    async def go() -> Promotion:
        try:
            return await promote(
                deploy, registry, "chat", to, load_dataset(DATASET), options, actor=ACTOR
            )
        finally:
            await registry.aclose()

    return asyncio.run(go())


def test_a_failing_candidate_is_refused_with_its_metrics(deploy: DeploymentService) -> None:
    p = run(deploy, "down/sim-down-1")
    assert p.deployment is None and not p.verdict.passed
    failing = {c.name: c.pass_rate for c in p.verdict.failing}
    assert failing == {"answered": 0.0}
    assert deploy.status("chat").primary == "sim/sim-fast-1"
    with deploy.sessions() as s:
        stored = s.get(EvalRun, p.run.run.run_id)
    assert stored is not None and stored.upstream_model == "sim-down-1"


def test_a_passing_candidate_is_promoted(deploy: DeploymentService) -> None:
    p = run(deploy, "smart", "expected=1.0", evaluators=("answered", "expected", "refusal"))
    assert p.verdict.passed, p.verdict.reason()
    assert {c.name for c in p.verdict.checks} == {"answered", "expected", "refusal"}
    assert p.deployment is not None and p.deployment.primary == "sim/sim-smart-1"
    evaluation = p.deployment.history[0].evaluation or {}
    assert evaluation["run_id"] == p.run.run.run_id
    with deploy.sessions() as s:
        assert s.scalar(select(EvalRun.id).where(EvalRun.id == p.run.run.run_id))


def test_an_unreachable_threshold_refuses(deploy: DeploymentService) -> None:
    opts = gate_options(deploy, [], [], 100)
    registry = ProviderRegistry(deploy.config.providers)
    result = asyncio.run(
        promote(deploy, registry, "chat", "smart", load_dataset(DATASET), opts, actor=ACTOR)
    )
    asyncio.run(registry.aclose())
    assert result.deployment is None and "only 6 item(s)" in result.verdict.reason()


def test_bad_gate_input(deploy: DeploymentService) -> None:
    with pytest.raises(Invalid, match="unknown evaluator"):
        gate_options(deploy, ["vibes"])
    with pytest.raises(Invalid, match="pass rate from 0 to 1"):
        parse_thresholds(["expected=1.5"])
    with pytest.raises(Invalid, match="METRIC=RATE"):
        parse_thresholds(["expected=high"])
    assert parse_thresholds(["expected=0.5", "0.8"]) == ({"expected": 0.5}, 0.8)
    with pytest.raises(Invalid, match="no items"):
        dataset_of([], "x")
    with pytest.raises(Invalid, match="items\\[0\\]"):
        dataset_of([{"nothing": 1}], "x")
    with pytest.raises(Invalid, match="cannot read dataset"):
        load_dataset("/nonexistent.jsonl")


@pytest.mark.parametrize(
    ("expected", "answer", "passed"),
    [
        ("refund", "Our REFUND policy is simple", True),
        ('["refund", "annual"]', "refunds on annual plans", True),
        ('["refund", "annual"]', "refunds on monthly plans", False),
        ("[not json", "x [not json y", True),
    ],
)
def test_expected_contains(expected: str, answer: str, passed: bool) -> None:
    ev = ExpectedContains()
    verdict = asyncio.run(ev.evaluate(Subject(question="q", answer=answer, expected=expected)))
    assert verdict is not None and (ev.label(verdict).label == "pass") is passed
    assert asyncio.run(ev.evaluate(Subject(question="q", answer="a"))) is None
