"""Golden datasets: parsing with clear errors, runs through the simulator stored with their
items and records, the RunResult gate, and the comparison of two runs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from steward.config.models import StewardConfig
from steward.evals.datasets import DatasetError, load_dataset
from steward.evals.evaluators import build_evaluators
from steward.evals.queries import EvalQueries, NotFound, RecordFilter
from steward.evals.runs import run_dataset
from steward.evals.settings import EvaluationSettings
from steward.evals.targets import DirectTarget, TargetError
from steward.store.db import make_engine, session_factory, upgrade
from steward.store.models_evals import EvalRecord, EvalRunItem

GOLDEN = Path(__file__).resolve().parents[2] / "data" / "evals" / "golden.jsonl"
CONFIG = StewardConfig.model_validate(
    {
        "providers": {"sim": {"kind": "sim"}},
        "models": [
            {"name": "sim-chat", "provider": "sim", "upstream_model": "sim-1"},
            {"name": "emb", "provider": "sim", "kind": "embedding"},
        ],
    }
)


@pytest.fixture
def sessions(sqlite_url: str) -> Iterator[sessionmaker[Session]]:
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    yield session_factory(engine)
    engine.dispose()


def test_dataset_loads() -> None:
    ds = load_dataset(GOLDEN)
    assert len(ds.items) == 5 and len(ds.sha256) == 64
    assert ds.items[0].messages == [
        {"role": "user", "content": "What is the capital of France and why is it important?"}
    ]
    assert ds.items[1].metadata == {"topic": "it"} and ds.items[1].messages[0]["role"] == "system"
    assert ds.items[4].response_format is not None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"expected": "x"}', "needs 'messages'"),
        ('{"input": "x", "colour": 1}', "unknown field(s) colour"),
        ('{"messages": [{"role": "robot", "content": "x"}]}', "needs a role"),
        ('{"messages": [{"role": "user", "content": 3}]}', "content must be a string"),
        ("[1]", "must be a JSON object"),
    ],
)
def test_dataset_errors_name_the_line(tmp_path: Path, line: str, message: str) -> None:
    f = tmp_path / "d.jsonl"
    f.write_text('{"input": "ok"}\n' + line + "\n")
    with pytest.raises(DatasetError, match=rf"d.jsonl:2: .*{re.escape(message)}"):
        load_dataset(f)


def test_missing_and_empty_datasets(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="cannot read dataset"):
        load_dataset(tmp_path / "nope.jsonl")
    (tmp_path / "e.jsonl").write_text("\n// nothing\n")
    with pytest.raises(DatasetError, match="no items"):
        load_dataset(tmp_path / "e.jsonl")


def test_target_errors() -> None:
    with pytest.raises(TargetError, match="not configured"):
        DirectTarget(CONFIG, "nope")
    with pytest.raises(TargetError, match="not a chat model"):
        DirectTarget(CONFIG, "emb")


async def test_run_compare_and_gate(sessions: sessionmaker[Session]) -> None:
    ds = load_dataset(GOLDEN)
    settings = EvaluationSettings()
    evs = build_evaluators(settings, "http://127.0.0.1:1", ["refusal", "json", "language"])
    target = DirectTarget(CONFIG, "sim-chat")
    a = await run_dataset(sessions, ds, target, evs, model="sim-chat", label="baseline")
    b = await run_dataset(sessions, ds, target, evs[:1], model="sim-chat")
    await target.aclose()
    assert a.items == 5 and a.errors == 0
    assert a.metrics["refusal"].pass_rate == 1.0
    assert a.metrics["json"].evaluated == 1 and a.metrics["json"].passed == 1
    # the simulator answers in English: the French question fails the language check
    assert (
        a.metrics["language"].evaluated >= 2
        and a.metrics["language"].passed < a.metrics["language"].evaluated
    )
    assert a.failing(0.9) == {"language": a.metrics["language"].pass_rate}
    assert a.failing({"refusal": 1.0}) == {}
    assert a.pass_rates["refusal"] == 1.0 and set(a.pass_rates) == {"refusal", "json", "language"}
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(EvalRunItem)) == 10
        assert s.scalar(
            select(func.count()).select_from(EvalRecord).where(EvalRecord.run_id == a.run_id)
        ) == sum(m.evaluated + m.errors for m in a.metrics.values())
    q = EvalQueries(sessions)
    diff = q.compare(a.run_id, b.run_id)
    by_name = {m["name"]: m for m in diff["metrics"]}
    assert by_name["refusal"]["pass_rate_delta"] == 0.0
    assert by_name["json"]["b"] is None and by_name["json"]["pass_rate_delta"] is None
    shown = q.run(a.run_id, items=True)
    assert shown["label"] == "baseline" and len(shown["items"]) == 5
    assert shown["items"][3]["records"][0]["name"] in ("language", "refusal")
    assert [r["id"] for r in q.runs()] == [b.run_id, a.run_id]
    assert len(q.records(RecordFilter(run_id=a.run_id, name="json"))) == 1
    with pytest.raises(NotFound):
        q.run("missing-run")
