"""Prometheus metrics: one registry per gateway (never the module-level default registry),
updated in process by the observe stage and read on scrape.

Labels are bounded: provider (configured names), model (configured aliases, the rest "other"),
team and app by name (at most `label_limit` distinct values each, the rest "other"), endpoint
and status. Never user ids, key ids or e-mail addresses.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from steward.observability.labels import NONE, OTHER, BoundedLabel, status_class

if TYPE_CHECKING:
    from steward.gateway.context import RequestContext

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
# prometheus-client's multi-process mode: each worker writes its values to files here, and a
# scrape (answered by any worker) sums them. Read by prometheus-client when it is first imported.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
TOKEN_KINDS = ("input", "output", "cached", "cache_write", "reasoning")
_SPEND = ("provider", "model", "app", "team")
_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30)
_OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)
_CACHE_LIMIT = 20_000  # distinct label combinations remembered before the cache starts over

# (provider, model alias, team id, app id, endpoint, status): the raw values of one request
_Key = tuple[str | None, str | None, str | None, str | None, str, int]


class StateProbe(Protocol):
    """What the gateway reports on scrape (read then, never per request)."""

    def spool_depth(self) -> int: ...

    def snapshot_version(self) -> int: ...

    def store_reachable(self) -> bool: ...


@dataclass(slots=True)
class _Series:
    """The metric children of one label combination, looked up once and then reused."""

    app: str
    team: str
    requests: Counter
    cost: Counter
    tokens: tuple[Counter, ...]  # in TOKEN_KINDS order
    unpriced: Counter
    duration: Histogram
    ttft: Histogram
    overhead: Histogram


class _StateCollector:
    def __init__(self, probe: StateProbe) -> None:
        self._probe = probe

    def describe(self) -> Iterator[Metric]:
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        depth, version, reachable = self._families()
        depth.add_metric([], float(self._probe.spool_depth()))
        version.add_metric([], float(self._probe.snapshot_version()))
        reachable.add_metric([], 1.0 if self._probe.store_reachable() else 0.0)
        yield from (depth, version, reachable)

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                "steward_spool_depth_bytes", "Event bytes in the local spool not yet shipped."
            ),
            GaugeMetricFamily(
                "steward_snapshot_version", "State version of the in-memory snapshot (-1: none)."
            ),
            GaugeMetricFamily(
                "steward_store_reachable", "1 when the last snapshot refresh reached the store."
            ),
        )


class Metrics:
    """The gateway's Prometheus metrics and the small API other parts record through
    (`rate_limited`, `budget_usage`, `budget_rejected`, `notification`)."""

    def __init__(
        self,
        *,
        models: Iterable[str] = (),
        providers: Iterable[str] = (),
        label_limit: int = 200,
        names: Callable[[], Mapping[str, str]] = dict,
        probe: StateProbe | None = None,
    ) -> None:
        self.registry = CollectorRegistry()
        self._multiproc_dir = os.environ.get(MULTIPROC_ENV)
        self._probe = probe
        self._names = names
        self._model = BoundedLabel(10_000, allowed=models)
        self._provider = BoundedLabel(10_000, allowed=providers)
        self._team = BoundedLabel(label_limit)
        self._app = BoundedLabel(label_limit)
        self._budget = BoundedLabel(label_limit)
        self._scope = BoundedLabel(20)
        self._limit_kind = BoundedLabel(10)
        self._webhook = BoundedLabel(100)
        self._cache: dict[_Key, _Series] = {}
        self._cache_names: Mapping[str, str] | None = None
        r = self.registry
        request = (*_SPEND, "endpoint", "status", "status_class")
        self._requests = Counter(
            "steward_requests", "Requests answered, by outcome.", request, registry=r
        )
        self._tokens = Counter(
            "steward_tokens",
            "Tokens as reported by providers (input includes cached and cache_write; output "
            "includes reasoning).",
            (*_SPEND, "kind"),
            registry=r,
        )
        self._cost = Counter(
            "steward_cost_usd", "Cost of priced requests, USD.", _SPEND, registry=r
        )
        self._unpriced = Counter(
            "steward_unpriced_requests",
            "Answered requests with no known price (their cost is not in steward_cost_usd).",
            ("provider", "model"),
            registry=r,
        )
        self._duration = Histogram(
            "steward_request_duration_seconds",
            "Time from arrival to the end of the answer.",
            ("provider", "model", "endpoint"),
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self._ttft = Histogram(
            "steward_time_to_first_token_seconds",
            "Streamed requests: time from arrival to the first content sent.",
            ("provider", "model"),
            buckets=_TTFT_BUCKETS,
            registry=r,
        )
        self._overhead = Histogram(
            "steward_overhead_seconds",
            "Time Steward itself spent on a request (latency minus upstream time).",
            ("endpoint",),
            buckets=_OVERHEAD_BUCKETS,
            registry=r,
        )
        self._guard = Counter(
            "steward_guard_actions",
            "Requests on which the guard acted, by the strongest action taken.",
            ("action", "app", "team"),
            registry=r,
        )
        self._rate_limited = Counter(
            "steward_rate_limit_hits",
            "Requests refused by a rate limit.",
            ("scope", "limit"),
            registry=r,
        )
        self._budget_usage = Gauge(
            "steward_budget_usage_ratio",
            "Spend / limit of each budget in its current period (1.0 = at the limit).",
            ("budget",),
            registry=r,
            multiprocess_mode="mostrecent",  # with several workers: the latest value set
        )
        self._budget_rejected = Counter(
            "steward_budget_rejections",
            "Requests refused because a budget was exhausted.",
            ("budget",),
            registry=r,
        )
        self._notifications = Counter(
            "steward_notifications",
            "Webhook notifications by final outcome (sent, failed, dropped).",
            ("webhook", "outcome"),
            registry=r,
        )
        if probe is not None and self._multiproc_dir is None:
            r.register(_StateCollector(probe))

    # -- the request path ------------------------------------------------------------------

    def observe(self, ctx: RequestContext) -> None:
        """Count one finished request: a dictionary lookup and a few in-process increments."""
        dep, p = ctx.deployment, ctx.principal
        if dep is not None:
            provider: str | None = dep.provider_name
        else:
            provider = ctx.route[0].provider_name if ctx.route else None
        key: _Key = (
            provider,
            ctx.model_alias,
            p.team_id if p else None,
            p.app_id if p else None,
            ctx.endpoint,
            ctx.status,
        )
        names = self._names()
        if names is not self._cache_names or len(self._cache) >= _CACHE_LIMIT:
            self._cache = {}  # names changed (a new snapshot): resolve them again
            self._cache_names = names
        series = self._cache.get(key)
        if series is None:
            series = self._cache[key] = self._series(key, names)
        series.requests.inc()
        series.duration.observe(ctx.latency_ms / 1000.0)
        series.overhead.observe(ctx.overhead_ms / 1000.0)
        if ctx.ttft_ms is not None:
            series.ttft.observe(ctx.ttft_ms / 1000.0)
        u = ctx.usage
        if u is not None:
            counts = (
                u.input_tokens,
                u.output_tokens,
                u.cached_tokens,
                u.cache_write_tokens,
                u.reasoning_tokens,
            )
            for counter, n in zip(series.tokens, counts, strict=True):
                if n:
                    counter.inc(n)
            if ctx.cost_usd is not None:
                series.cost.inc(float(ctx.cost_usd))
            elif dep is not None:
                series.unpriced.inc()
        guard = ctx.guard
        if guard is not None and guard.worst is not None:
            self._guard.labels(guard.worst, series.app, series.team).inc()

    def _name_label(self, label: BoundedLabel, ident: str | None, names: Mapping[str, str]) -> str:
        if ident is None:
            return NONE
        name = names.get(ident)
        return label(name) if name is not None else OTHER

    def _series(self, key: _Key, names: Mapping[str, str]) -> _Series:
        provider_id, alias, team_id, app_id, endpoint, status = key
        provider, model = self._provider(provider_id), self._model(alias)
        team = self._name_label(self._team, team_id, names)
        app = self._name_label(self._app, app_id, names)
        spend = (provider, model, app, team)
        return _Series(
            app=app,
            team=team,
            requests=self._requests.labels(*spend, endpoint, str(status), status_class(status)),
            cost=self._cost.labels(*spend),
            tokens=tuple(self._tokens.labels(*spend, kind) for kind in TOKEN_KINDS),
            unpriced=self._unpriced.labels(provider, model),
            duration=self._duration.labels(provider, model, endpoint),
            ttft=self._ttft.labels(provider, model),
            overhead=self._overhead.labels(endpoint),
        )

    # -- for other parts of the gateway -----------------------------------------------------

    def rate_limited(self, scope: str, limit: str = "requests") -> None:
        """A request was refused by a rate limit. `scope`: key, user, team, app, agent or model;
        `limit`: requests or tokens."""
        self._rate_limited.labels(self._scope(scope), self._limit_kind(limit)).inc()

    def budget_usage(self, budget: str, ratio: float) -> None:
        """The current spend / limit of a budget (by its configured name)."""
        self._budget_usage.labels(self._budget(budget)).set(ratio)

    def budget_rejected(self, budget: str) -> None:
        """A request was refused because the named budget was exhausted."""
        self._budget_rejected.labels(self._budget(budget)).inc()

    def notification(self, webhook: str, outcome: str) -> None:
        """A notification's final outcome at a webhook: sent, failed or dropped."""
        self._notifications.labels(self._webhook(webhook), outcome).inc()

    # -- scrape -----------------------------------------------------------------------------

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric (blocking: call it off the loop).
        With several workers, the sum over all of them, whichever worker answers."""
        if self._multiproc_dir is None:
            return generate_latest(self.registry)
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry()
        MultiProcessCollector(registry, self._multiproc_dir)  # type: ignore[no-untyped-call]
        if self._probe is not None:
            registry.register(_StateCollector(self._probe))
        return generate_latest(registry)

    def close(self) -> None:
        """With several workers: forget this process's live gauges (its counters stay)."""
        if self._multiproc_dir is not None:
            from prometheus_client.multiprocess import mark_process_dead

            mark_process_dead(os.getpid(), self._multiproc_dir)  # type: ignore[no-untyped-call]


def share_between_workers(directory: Path) -> None:
    """Make the worker processes about to start share their metrics through files in an
    emptied `directory` (call before they start; `steward serve --workers N` does)."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ[MULTIPROC_ENV] = str(directory)


__all__ = ["CONTENT_TYPE", "TOKEN_KINDS", "Metrics", "StateProbe", "share_between_workers"]
