"""The status of an SLO as JSON, shared by `steward slo status --json` and GET /admin/v1/slos."""

from __future__ import annotations

from typing import Any

from steward.slo.burn import SloStatus


def status_json(st: SloStatus, state: Any) -> dict[str, Any]:
    """The status of one SLO as JSON."""
    return {
        **st.evidence(),
        "window": st.window,
        "events": st.total,
        "bad_events": st.bad,
        "alerting": st.severity,
        "stored_state": None if state is None else state.state,
        "alerting_since": None if state is None or state.since is None else state.since,
        "checks": [
            {"long": c.alert.long, "short": c.alert.short, "factor": c.alert.factor,
             "severity": c.alert.severity, "firing": c.firing, "why": c.why}
            for c in st.checks
        ],
    }  # fmt: skip


__all__ = ["status_json"]
