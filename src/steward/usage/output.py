"""Report rows as JSON objects and CSV, shared by the CLI and the admin API so both say the same."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from steward.usage.reports import ReportRow

# metric columns in output order (CSV header names and JSON keys)
METRIC_FIELDS = (
    "requests",
    "errors",
    "blocked",
    "priced_requests",
    "unpriced_requests",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "unpriced_input_tokens",
    "unpriced_output_tokens",
    "cost_usd",
    "latency_avg_ms",
    "latency_p50_ms",
    "latency_p95_ms",
)


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def row_json(row: ReportRow) -> dict[str, Any]:
    """One row: bucket, group (display values), ids (stored identifiers) and the metrics;
    cost_usd is a number (USD), latencies in milliseconds."""
    out: dict[str, Any] = {"bucket": iso(row.bucket), "group": row.group, "ids": row.ids}
    for name in METRIC_FIELDS:
        value = getattr(row, name)
        if name == "cost_usd":
            value = float(value)
        elif name.startswith("latency_"):
            value = _ms(value)
        out[name] = value
    return out


def to_csv(rows: Sequence[ReportRow], by: Sequence[str], bucketed: bool) -> str:
    """Header then one line per row: [bucket,] the dimensions, the metrics (exact cost)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow([*(["bucket"] if bucketed else []), *by, *METRIC_FIELDS])
    for row in rows:
        values: list[Any] = []
        for name in METRIC_FIELDS:
            value = getattr(row, name)
            if name == "cost_usd":
                value = f"{value:.10f}"
            elif name.startswith("latency_"):
                value = "" if value is None else f"{value:.1f}"
            values.append(value)
        lead = [iso(row.bucket)] if bucketed else []
        w.writerow([*lead, *(row.group[d] for d in by), *values])
    return out.getvalue()


__all__ = ["METRIC_FIELDS", "iso", "row_json", "to_csv"]
