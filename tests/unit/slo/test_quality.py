"""Quality SLOs and drift on evaluation records and sampled prompts (engineer E's tables)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from steward.drift.detect import run_drift
from steward.drift.settings import DriftSettings
from steward.events.ids import new_id
from steward.slo.evaluate import evaluate_slo
from steward.slo.settings import SLOConfig
from steward.store.models_evals import EvalRecord, EvalSample
from tests.unit.slo.conftest import T0, usage_row

NOW = T0 + timedelta(days=1)


def _record(ts: datetime, label: str, **kw: object) -> EvalRecord:
    values: dict[str, object] = {
        "id": new_id(),
        "ts": ts,
        "name": "refusal",
        "evaluator": "refusal",
        "score_value": 1.0 if label == "pass" else 0.0,
        "score_label": label,
        "model": "chat",
        "app_id": "app1",
    }
    values.update(kw)
    return EvalRecord(**values)


def test_quality_sli_counts_live_pass_and_fail(sessions: sessionmaker[Session]) -> None:
    at = NOW - timedelta(minutes=2)
    with sessions() as s, s.begin():
        s.add_all([_record(at, "pass") for _ in range(60)])
        s.add_all([_record(at, "fail") for _ in range(40)])
        s.add_all([_record(at, "error") for _ in range(30)])  # not counted either way
        s.add_all([_record(at, "fail", run_id="run1") for _ in range(30)])  # offline run
        s.add_all([_record(at, "fail", name="json", evaluator="json") for _ in range(10)])
    slo = SLOConfig(name="q", kind="quality", objective=0.9, model="chat")
    with sessions() as s:
        status = evaluate_slo(s, slo, NOW)
    assert (status.windows["5m"].total, status.windows["5m"].bad) == (110, 50)
    # 45% bad of a 90% objective: 4.5x (Wilson lower bound 3.6x): the 1x ticket, no page
    assert status.severity == "ticket"
    only = SLOConfig(name="q", kind="quality", objective=0.9, model="chat", evaluator="refusal")
    with sessions() as s:
        status = evaluate_slo(s, only, NOW)
    assert (status.windows["5m"].total, status.windows["5m"].bad) == (100, 40)
    # 40% bad burns at 4x: the Wilson lower bound (30.9%) is 3.1x: the 6x page is not reached
    assert status.windows["5m"].bound < 6 < 14.4
    assert status.severity == "ticket"


def _spread(n: int, minutes: int, end: datetime) -> list[datetime]:
    return [end - timedelta(seconds=(i * minutes * 60) / n + 1) for i in range(n)]


def test_refusal_rate_and_score_drift(sessions: sessionmaker[Session]) -> None:
    cfg = DriftSettings(current="1h", baseline="6h", min_samples=100, by=["model"],
                        metrics=["refusal_rate", "eval_score"])  # fmt: skip
    rng = np.random.default_rng(4)
    base_end = NOW - timedelta(hours=1)
    with sessions() as s, s.begin():
        s.add(usage_row(NOW - timedelta(minutes=1)))  # the scope has traffic
        for ts in _spread(600, 360, base_end):
            s.add(_record(ts, "fail" if rng.random() < 0.02 else "pass"))
            s.add(_record(ts, "pass", name="relevance", evaluator="relevance",
                          score_value=float(rng.normal(0.8, 0.05))))  # fmt: skip
        for ts in _spread(300, 60, NOW):
            s.add(_record(ts, "fail" if rng.random() < 0.25 else "pass"))
            s.add(_record(ts, "pass", name="relevance", evaluator="relevance",
                          score_value=float(rng.normal(0.6, 0.05))))  # fmt: skip
    events = run_drift(sessions, cfg, NOW)
    got = {e.metric: e for e in events}
    assert set(got) >= {"refusal_rate", "score:relevance"}
    assert got["refusal_rate"].statistic > 0.15
    assert got["score:relevance"].severity == "alert"


def test_prompt_embedding_drift(sessions: sessionmaker[Session]) -> None:
    cfg = DriftSettings(current="1h", baseline="6h", min_samples=100, by=["model"],
                        metrics=["prompt_embedding"], embedding_samples=60,
                        permutations=200)  # fmt: skip

    def embed(texts: Sequence[str]) -> list[list[float]]:
        # a stand-in for the sentence encoder: topic words mapped to fixed directions
        out = []
        for t in texts:
            v = np.zeros(8)
            v[0 if "invoice" in t else 1] = 1.0
            v[2 + len(t) % 6] += 0.3
            out.append((v / np.linalg.norm(v)).tolist())
        return out

    def sample(ts: datetime, text: str) -> EvalSample:
        return EvalSample(id=new_id(), ts=ts, request_id=new_id(), endpoint="chat",
                          model="chat", messages=[{"role": "user", "content": text}],
                          answer="")  # fmt: skip

    with sessions() as s, s.begin():
        s.add(usage_row(NOW - timedelta(minutes=1)))
        for i, ts in enumerate(_spread(60, 360, NOW - timedelta(hours=1))):
            s.add(sample(ts, f"where is my invoice number {i}"))
        for i, ts in enumerate(_spread(60, 60, NOW)):
            text = f"where is my invoice {i}" if i % 3 else f"tell me a joke about cats {i}"
            s.add(sample(ts, text))
    assert run_drift(sessions, cfg, NOW, embed=None) == []  # no encoder: not compared
    events = run_drift(sessions, cfg, NOW, embed=embed)
    assert [e.metric for e in events] == ["prompt_embedding"]
    assert events[0].test == "permutation" and (events[0].p_value or 1) < 0.01
