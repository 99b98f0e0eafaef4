"""One tick of the SLO scheduler, at an instant the caller chooses (an injectable clock): SLOs
are evaluated every tick, drift every `drift_interval_s`, then the remediation rules. Returns
the notifications to deliver and records the run in `slo_runs`."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from steward.drift.detect import Embed, event_evidence, run_drift
from steward.events.ids import new_id
from steward.identity.service import IdentityService
from steward.remediation.actions import action_context
from steward.remediation.engine import Notice, Remediator
from steward.slo.audit import jsonable
from steward.slo.evaluate import evaluate_all
from steward.store.models_slo import SloRun

if TYPE_CHECKING:
    from steward.config.models import StewardConfig

log = logging.getLogger("steward.slo")


def holder_name() -> str:
    """host:pid of this process, recorded with each run."""
    return f"{socket.gethostname()}:{os.getpid()}"


class LazyEmbedder:
    """The local sentence encoder for prompt-embedding drift, loaded on the first drift pass
    that needs it (not at start: a gateway process may never lead the scheduler)."""

    def __init__(self) -> None:
        self._model: Any = None
        self._failed = False

    def available(self) -> bool:
        """Load the encoder once; False (logged once) when the optional extra is missing."""
        if self._model is None and not self._failed:
            try:
                from steward.embeddings import MiniLMEmbedder

                self._model = MiniLMEmbedder.load()
            except Exception as exc:  # the other drift metrics still run
                log.info("prompt-embedding drift is off: %s", exc)
                self._failed = True
        return self._model is not None

    def __call__(self, texts: Sequence[str]) -> list[list[float]]:
        if not self.available():
            raise RuntimeError("the sentence encoder is not available")
        return [list(map(float, v)) for v in self._model.encode(list(texts))]


def load_embedder(metrics: Sequence[str]) -> Embed | None:
    """An encoder for prompt-embedding drift when that metric is enabled (loaded lazily)."""
    return LazyEmbedder() if "prompt_embedding" in metrics else None


@dataclass
class TickResult:
    notices: list[Notice] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


class Jobs:
    """The SLO, drift and remediation passes over one store."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        config: StewardConfig,
        *,
        identity: IdentityService | None = None,
        embed: Embed | None = None,
        holder: str | None = None,
    ) -> None:
        self._sessions = sessions
        self.config = config
        self.embed = embed
        self.holder = holder or holder_name()
        self.remediator = Remediator(
            sessions,
            config.remediation.rules,
            config.slos,
            action_context(config, identity),
        )
        self._last_drift: datetime | None = None

    def tick(self, now: datetime) -> TickResult:
        """Evaluate SLOs, drift when due, and the rules, as of `now`."""
        out = TickResult()
        statuses, transitions = evaluate_all(self._sessions, self.config.slos, now)
        out.notices += [(t.event, jsonable(t.status.evidence())) for t in transitions]
        drift_events = 0
        cfg = self.config.drift
        interval = self.config.slo_worker.drift_interval_s
        due = self._last_drift is None or (now - self._last_drift).total_seconds() >= interval
        if cfg.enabled and due:
            self._last_drift = now
            events = run_drift(self._sessions, cfg, now, self.embed)
            out.notices += [("drift.detected", jsonable(event_evidence(e))) for e in events]
            drift_events = len(events)
        out.notices += self.remediator.run(now)
        out.summary = {
            "slos": len(statuses),
            "alerting": sorted(s.name for s in statuses if s.severity),
            "transitions": [f"{t.slo}:{t.event}" for t in transitions],
            "drift_events": drift_events,
            "notices": len(out.notices),
        }
        with self._sessions() as s, s.begin():
            s.add(
                SloRun(
                    id=new_id(),
                    holder=self.holder,
                    started_at=now,
                    finished_at=now,
                    summary=out.summary,
                )
            )
        return out


__all__ = [
    "Jobs",
    "LazyEmbedder",
    "TickResult",
    "action_context",
    "holder_name",
    "load_embedder",
]
