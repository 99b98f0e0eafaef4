"""Precision, recall and F1 per entity type on a labelled JSONL set.

Records: ``{"text": "...", "spans": [{"start": 0, "end": 5, "entity": "EMAIL_ADDRESS"}]}``
(str offsets, end exclusive). Matching rule: a labelled span is *found* (tp) when a finding of
the same entity overlaps it by at least one character, otherwise it is missed (fn); a finding
that overlaps no labelled span of its entity is a false positive (fp). Precision counts
findings (matched findings / all findings), recall counts labelled spans (tp / (tp + fn)), so
one long finding covering two labels counts once for precision and twice for recall.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

import orjson

from .findings import Finding


class _Scans(Protocol):
    def scan(self, text: str) -> list[Finding]: ...


def load_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSONL evaluation set; a malformed line raises ValueError naming the line."""
    records = []
    with open(path, "rb") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise ValueError(f"{path}:{n}: not JSON: {exc}") from None
            if not isinstance(rec, dict) or not isinstance(rec.get("text"), str):
                raise ValueError(f"{path}:{n}: expected an object with a 'text' string")
            records.append(rec)
    return records


def _overlaps(a_start: int, a_end: int, b_start: int, b_end: int) -> bool:
    return a_start < b_end and b_start < a_end


def _metrics(tp: int, fp: int, fn: int, matched: int) -> dict[str, float]:
    precision = matched / (matched + fp) if matched + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": precision, "recall": recall, "f1": f1}


def evaluate(
    scanner: _Scans,
    records: Iterable[Mapping[str, Any]],
    entities: Iterable[str] | None = None,
) -> dict[str, dict[str, float]]:
    """Per-entity ``{tp, fp, fn, precision, recall, f1}`` over ``records``.

    ``entities`` restricts the report (and the findings counted) to those types; by default
    every type that is labelled or found is reported.
    """
    only = set(entities) if entities is not None else None
    counts: dict[str, list[int]] = {}  # entity -> [tp, fp, fn, matched findings]
    for rec in records:
        gold = [(s["start"], s["end"], s["entity"]) for s in rec.get("spans", ())]
        found = scanner.scan(rec["text"])
        for start, end, entity in gold:
            if only is not None and entity not in only:
                continue
            c = counts.setdefault(entity, [0, 0, 0, 0])
            if any(f.entity == entity and _overlaps(start, end, f.start, f.end) for f in found):
                c[0] += 1
            else:
                c[2] += 1
        for f in found:
            if only is not None and f.entity not in only:
                continue
            c = counts.setdefault(f.entity, [0, 0, 0, 0])
            if any(e == f.entity and _overlaps(s, t, f.start, f.end) for s, t, e in gold):
                c[3] += 1
            else:
                c[1] += 1
    return {e: _metrics(tp, fp, fn, m) for e, (tp, fp, fn, m) in sorted(counts.items())}


def format_table(report: Mapping[str, Mapping[str, float]]) -> str:
    """A plain-text table of an ``evaluate`` report."""
    lines = [f"{'entity':<24} {'tp':>5} {'fp':>5} {'fn':>5} {'P':>6} {'R':>6} {'F1':>6}"]
    for entity, m in report.items():
        lines.append(
            f"{entity:<24} {int(m['tp']):>5} {int(m['fp']):>5} {int(m['fn']):>5} "
            f"{m['precision']:>6.3f} {m['recall']:>6.3f} {m['f1']:>6.3f}"
        )
    return "\n".join(lines)
