"""Running a golden dataset on a candidate deployment for the promotion gate, through the
evaluation package (`steward.evals.runs.run_dataset`): the run, its items and records are stored
like any `steward eval run` and can be compared with other runs. The candidate is called directly
through its provider adapter (clients cannot reach it yet). Datasets are the evaluation
package's JSONL golden sets (docs/evaluation.md)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import orjson
from sqlalchemy.orm import Session, sessionmaker

from steward.config.models import StewardConfig
from steward.evals.datasets import Dataset, DatasetError, Item, parse_item
from steward.evals.datasets import load_dataset as _load_dataset
from steward.evals.evaluators import EvaluatorUnavailable, build_evaluators, close_evaluators
from steward.evals.evaluators.base import Evaluator, Subject, Verdict
from steward.evals.runs import RunResult, run_dataset
from steward.evals.settings import EvaluatorKind
from steward.evals.targets import Completion, TargetError, chat_body
from steward.evals.worker import judge_url
from steward.events.ids import new_id
from steward.gateway.context import Deployment
from steward.gateway.errors import GatewayError
from steward.gateway.upstream import client_response, native_request
from steward.identity.errors import Invalid
from steward.providers.base import CallInfo, UpstreamError

MAX_ITEMS = 10_000
ANSWERED = "answered"  # computed from the run: items the candidate answered without an error
EXPECTED = "expected"  # the gate's own evaluator: the answer contains the expected text
GATE_METRICS: dict[str, str] = {
    ANSWERED: "the candidate answered without an error",
    EXPECTED: "the answer contains the item's expected text (each of a list), case-insensitive",
}
# the gate's evaluators when none are configured or given
DEFAULT_EVALUATORS: tuple[str, ...] = (ANSWERED, "refusal", "empty", "truncated", EXPECTED)


class ExpectedContains(Evaluator):
    """Golden items' `expected`: the answer must contain it (a JSON list: each element),
    ignoring case. Items without `expected` are not scored."""

    kind: ClassVar[str] = EXPECTED

    def __init__(self) -> None:  # not a live-traffic kind: no EvaluatorConfig
        self.name = EXPECTED
        self.threshold = 1.0

    def applies(self, subject: Subject, app_name: str | None) -> bool:
        return True

    async def evaluate(self, subject: Subject) -> Verdict | None:
        if subject.expected is None:
            return None
        wanted = _expected(subject.expected)
        answer = subject.answer.lower()
        missing = [w for w in wanted if w.lower() not in answer]
        score = (len(wanted) - len(missing)) / len(wanted) if wanted else 1.0
        if missing:
            return Verdict(score, "missing: " + ", ".join(repr(m) for m in missing[:5]))
        return Verdict(score, "every expected text is in the answer")


def _expected(text: str) -> list[str]:
    if text.startswith("["):
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            return [text]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    return [text]


class CandidateTarget:
    """A candidate deployment asked directly (the evaluation package's Target protocol)."""

    name = "direct"

    def __init__(self, dep: Deployment) -> None:
        self.dep = dep

    async def complete(
        self, messages: list[dict[str, str]], fmt: dict[str, Any] | None
    ) -> Completion:
        dep = self.dep
        call = CallInfo(
            upstream_model=dep.model.target,
            timeout_s=dep.model.timeout_s or dep.provider.timeout_s,
            request_id=new_id(),
        )
        started = time.perf_counter()
        try:
            resp = await dep.adapter.chat(
                native_request(dep, "openai", chat_body(dep.model.name, messages, fmt)), call
            )
            body = client_response(dep, "openai", resp.body)
        except UpstreamError as exc:
            raise TargetError(f"upstream {exc.status}: {exc.message}") from exc
        except GatewayError as exc:
            raise TargetError(exc.message) from exc
        from steward.evals.content import answer_text

        choices = body.get("choices") or [{}]
        first = choices[0] if isinstance(choices[0], dict) else {}
        return Completion(
            answer=answer_text(body, "openai"),
            finish_reason=first.get("finish_reason"),
            latency_ms=round((time.perf_counter() - started) * 1000.0, 3),
            response_id=body.get("id") if isinstance(body.get("id"), str) else None,
        )

    async def aclose(self) -> None:
        """The registry belongs to the caller."""


@dataclass(frozen=True)
class GateRun:
    """A stored evaluation run seen by the gate: pass rate per metric, `answered` included."""

    run: RunResult

    @property
    def items(self) -> int:
        return self.run.items

    @property
    def pass_rates(self) -> Mapping[str, float]:
        rates = dict(self.run.pass_rates)
        if self.run.items:
            rates[ANSWERED] = (self.run.items - self.run.errors) / self.run.items
        return rates


def load_dataset(path: str | Path) -> Dataset:
    """A golden dataset (JSONL) from a file; a bad file or line is an Invalid error."""
    try:
        data = _load_dataset(path)
    except DatasetError as exc:
        raise Invalid(str(exc), code="invalid_dataset") from None
    if len(data.items) > MAX_ITEMS:
        raise Invalid(f"the dataset has more than {MAX_ITEMS} items", code="invalid_dataset")
    return data


def dataset_of(items: Sequence[Any], name: str) -> Dataset:
    """A dataset from decoded JSONL objects (the admin API's `items`)."""
    if not items:
        raise Invalid("the dataset has no items", code="invalid_dataset")
    parsed: list[Item] = []
    for n, raw in enumerate(items):
        try:
            parsed.append(parse_item(raw, n, f"items[{n}]"))
        except DatasetError as exc:
            raise Invalid(str(exc), code="invalid_dataset") from None
    digest = hashlib.sha256(orjson.dumps(list(items))).hexdigest()
    return Dataset(name=name, sha256=digest, items=parsed)


def known_evaluators(config: StewardConfig) -> list[str]:
    """Metric names the gate accepts: its own and the evaluation package's kinds and names."""
    from typing import get_args

    configured = [c.name for c in config.evaluation.evaluators]
    return list(dict.fromkeys([*GATE_METRICS, *get_args(EvaluatorKind), *configured]))


def check_evaluators(config: StewardConfig, names: Sequence[str]) -> list[str]:
    """The metrics to compute (the defaults when none are given); unknown names are an error."""
    known = known_evaluators(config)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise Invalid(
            f"unknown evaluator(s) {', '.join(unknown)}; known: {', '.join(known)}",
            code="invalid_evaluator",
        )
    return list(dict.fromkeys(names)) or list(DEFAULT_EVALUATORS)


async def evaluate_candidate(
    sessions: sessionmaker[Session],
    config: StewardConfig,
    dep: Deployment,
    dataset: Dataset,
    metrics: Sequence[str],
    *,
    label: str,
) -> GateRun:
    """Run `dataset` on the candidate with the evaluators behind `metrics`; the run is stored."""
    if dep.model.kind != "chat":
        raise Invalid(
            f"'{dep.model.name}' is an {dep.model.kind} model; the golden-set gate evaluates "
            "chat models",
            code="model_kind_mismatch",
        )
    names = [m for m in metrics if m not in GATE_METRICS]
    try:
        evaluators: list[Evaluator] = (
            build_evaluators(
                config.evaluation,
                judge_url(config.server.host, config.server.port),
                names,
                strict=True,
            )
            if names
            else []
        )
    except EvaluatorUnavailable as exc:
        raise Invalid(str(exc), code="evaluator_unavailable") from None
    if EXPECTED in metrics:
        evaluators.append(ExpectedContains())
    try:
        run = await run_dataset(
            sessions,
            dataset,
            CandidateTarget(dep),
            evaluators,
            model=dep.model.name,
            upstream_model=dep.model.target,
            label=label,
        )
    finally:
        await close_evaluators(evaluators)
    return GateRun(run)


__all__ = [
    "ANSWERED",
    "DEFAULT_EVALUATORS",
    "EXPECTED",
    "GATE_METRICS",
    "CandidateTarget",
    "ExpectedContains",
    "GateRun",
    "check_evaluators",
    "dataset_of",
    "evaluate_candidate",
    "known_evaluators",
    "load_dataset",
]
