"""Running a golden dataset on a candidate deployment for the promotion gate. Each JSONL line
is `{"input": "..."}` or `{"messages": [...]}` with an optional `expected` (a string or a list
of strings the answer must contain, case-insensitively) and `id`. The candidate is called
directly through its provider adapter (it is not an alias clients can reach yet)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from steward.events.ids import new_id
from steward.gateway.context import Deployment
from steward.gateway.errors import GatewayError
from steward.gateway.upstream import client_response, native_request
from steward.identity.errors import Invalid
from steward.providers.base import CallInfo, UpstreamError

# metric -> what it checks; `expected` applies only to items that say what they expect
EVALUATORS: dict[str, str] = {
    "answered": "the candidate answered without an error",
    "non_empty": "the answer has text",
    "complete": "the answer was not cut off (finish_reason is not length)",
    "expected": "the answer contains every expected string (case-insensitive)",
}
MAX_ITEMS = 10_000
_CONCURRENCY = 4


@dataclass(frozen=True, slots=True)
class GoldenItem:
    id: str
    messages: list[dict[str, Any]]
    expected: tuple[str, ...] = ()


@dataclass(slots=True)
class RunResult:
    """Pass rate per metric over the dataset, and the failures by item id."""

    items: int = 0
    passed: dict[str, int] = field(default_factory=dict)
    applicable: dict[str, int] = field(default_factory=dict)
    failures: dict[str, list[str]] = field(default_factory=dict)  # metric -> item ids

    @property
    def pass_rates(self) -> Mapping[str, float]:
        return {m: self.passed.get(m, 0) / n for m, n in self.applicable.items() if n}

    def note(self, metric: str, ok: bool, item_id: str) -> None:
        self.applicable[metric] = self.applicable.get(metric, 0) + 1
        if ok:
            self.passed[metric] = self.passed.get(metric, 0) + 1
        else:
            self.failures.setdefault(metric, []).append(item_id)


def _item(n: int, raw: Any) -> GoldenItem:
    if not isinstance(raw, dict):
        raise Invalid(f"line {n}: expected a JSON object", code="invalid_dataset")
    if isinstance(raw.get("messages"), list) and raw["messages"]:
        messages = raw["messages"]
    elif isinstance(raw.get("input"), str) and raw["input"].strip():
        messages = [{"role": "user", "content": raw["input"]}]
    else:
        raise Invalid(
            f"line {n}: give 'input' (text) or 'messages' (a list)", code="invalid_dataset"
        )
    expected = raw.get("expected", ())
    if isinstance(expected, str):
        expected = (expected,)
    if not isinstance(expected, list | tuple) or not all(isinstance(e, str) for e in expected):
        raise Invalid(
            f"line {n}: 'expected' must be a string or a list of strings", code="invalid_dataset"
        )
    return GoldenItem(str(raw.get("id") or n), messages, tuple(expected))


def parse_dataset(lines: Sequence[str]) -> list[GoldenItem]:
    """Golden items from JSONL lines (blank lines skipped); a bad line names its number."""
    items = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise Invalid(f"line {n}: not JSON ({exc.msg})", code="invalid_dataset") from None
        items.append(_item(n, raw))
        if len(items) > MAX_ITEMS:
            raise Invalid(f"the dataset has more than {MAX_ITEMS} items", code="invalid_dataset")
    if not items:
        raise Invalid("the dataset has no items", code="invalid_dataset")
    return items


def load_dataset(path: str | Path) -> list[GoldenItem]:
    """Read a JSONL golden dataset from a file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise Invalid(
            f"cannot read dataset {path}: {exc.strerror}", code="invalid_dataset"
        ) from None
    return parse_dataset(text.splitlines())


def check_evaluators(names: Sequence[str]) -> list[str]:
    """The evaluator names to run (all when none are given); unknown names are an error."""
    unknown = [n for n in names if n not in EVALUATORS]
    if unknown:
        raise Invalid(
            f"unknown evaluator(s) {', '.join(unknown)}; known: {', '.join(EVALUATORS)}",
            code="invalid_evaluator",
        )
    return list(dict.fromkeys(names)) or list(EVALUATORS)


async def _ask(dep: Deployment, item: GoldenItem) -> tuple[str, str | None] | None:
    """(answer text, finish_reason), or None when the candidate failed."""
    body = {"model": dep.model.name, "messages": item.messages}
    call = CallInfo(
        upstream_model=dep.model.target,
        timeout_s=dep.model.timeout_s or dep.provider.timeout_s,
        request_id=new_id(),
    )
    try:
        resp = await dep.adapter.chat(native_request(dep, "openai", body), call)
        out = client_response(dep, "openai", resp.body)
    except (UpstreamError, GatewayError):
        return None
    choices = out.get("choices") or [{}]
    message = choices[0].get("message") or {}
    content = message.get("content")
    return (content if isinstance(content, str) else "", choices[0].get("finish_reason"))


def _score(
    result: RunResult,
    item: GoldenItem,
    got: tuple[str, str | None] | None,
    evaluators: Sequence[str],
) -> None:
    text, finish = got if got is not None else ("", None)
    for metric in evaluators:
        if metric == "answered":
            result.note(metric, got is not None, item.id)
        elif metric == "non_empty":
            result.note(metric, got is not None and bool(text.strip()), item.id)
        elif metric == "complete":
            result.note(metric, got is not None and finish != "length", item.id)
        elif metric == "expected" and item.expected:
            low = text.lower()
            result.note(metric, all(e.lower() in low for e in item.expected), item.id)


async def run_dataset(
    dep: Deployment, items: Sequence[GoldenItem], evaluators: Sequence[str]
) -> RunResult:
    """Ask the candidate every item (a few at a time) and score the answers."""
    if dep.model.kind != "chat":
        raise Invalid(
            f"'{dep.model.name}' is an {dep.model.kind} model; the golden-set gate evaluates "
            "chat models",
            code="model_kind_mismatch",
        )
    names = check_evaluators(evaluators)
    gate = asyncio.Semaphore(_CONCURRENCY)

    async def one(item: GoldenItem) -> tuple[str, str | None] | None:
        async with gate:
            return await _ask(dep, item)

    answers = await asyncio.gather(*(one(i) for i in items))
    result = RunResult(items=len(items))
    for item, got in zip(items, answers, strict=True):
        _score(result, item, got, names)
    return result


__all__ = [
    "EVALUATORS",
    "GoldenItem",
    "RunResult",
    "check_evaluators",
    "load_dataset",
    "parse_dataset",
    "run_dataset",
]
