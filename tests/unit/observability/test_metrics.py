"""Prometheus metrics: bounded labels and what a scrape shows after requests."""

from __future__ import annotations

import re
from types import SimpleNamespace

from prometheus_client.parser import text_string_to_metric_families

from steward.observability.labels import NONE, OTHER, BoundedLabel, status_class
from steward.observability.metrics import Metrics
from steward.providers.base import Usage
from tests.unit.observability._ctx import NAMES, deployment, finished


class Probe:
    def spool_depth(self) -> int:
        return 4096

    def snapshot_version(self) -> int:
        return 7

    def store_reachable(self) -> bool:
        return True


def make(**kw: object) -> Metrics:
    names = kw.pop("names", NAMES)
    return Metrics(
        models=["gpt", "claude"],
        providers=["up", "sim"],
        names=lambda: names,  # type: ignore[return-value]
        probe=Probe(),
        **kw,  # type: ignore[arg-type]
    )


def samples(m: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for fam in text_string_to_metric_families(m.render().decode()):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(m: Metrics, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples(m).items() if n == name and want <= ls)


def test_bounded_label_caps_distinct_values() -> None:
    label = BoundedLabel(2)
    assert [label(v) for v in ("a", "b", "c", "a", None)] == ["a", "b", OTHER, "a", NONE]
    assert len(label) == 2


def test_bounded_label_with_allowed_values_buckets_the_rest() -> None:
    label = BoundedLabel(100, allowed=["gpt"])
    assert label("gpt") == "gpt"
    assert label("made-up-model") == OTHER


def test_bounded_label_truncates_long_values() -> None:
    label = BoundedLabel(1)
    assert label("x" * 500) == "x" * 100
    assert label("x" * 500) == "x" * 100  # still the admitted value, not "other"


def test_status_class() -> None:
    assert [status_class(s) for s in (200, 429, 503)] == ["2xx", "4xx", "5xx"]


def test_requests_tokens_and_cost_by_name() -> None:
    m = make()
    m.observe(finished())
    m.observe(finished(usage=Usage(input_tokens=10, output_tokens=5, reasoning_tokens=3)))
    spend = {"provider": "up", "model": "gpt", "team": "payments", "app": "checkout-bot"}
    assert (
        value(
            m, "steward_requests_total", endpoint="chat", status="200", status_class="2xx", **spend
        )
        == 2
    )
    assert value(m, "steward_tokens_total", kind="input", **spend) == 110
    assert value(m, "steward_tokens_total", kind="output", **spend) == 25
    assert value(m, "steward_tokens_total", kind="cached", **spend) == 40
    assert value(m, "steward_tokens_total", kind="reasoning", **spend) == 3
    assert abs(value(m, "steward_cost_usd_total", **spend) - 0.0024) < 1e-12
    assert value(m, "steward_request_duration_seconds_count", model="gpt") == 2
    assert value(m, "steward_overhead_seconds_count", endpoint="chat") == 2


def test_no_user_ids_key_ids_or_emails_in_the_exposition() -> None:
    m = make()
    m.observe(finished())
    m.observe(finished(status=401, alias=None, authenticated=False))
    text = m.render().decode()
    for secret in ("key-secret-id-1", "sk-stw-abc", "user-1", "alice@example.com", "team-1"):
        assert secret not in text
    labels = set(re.findall(r"(\w+)=\"", text))
    assert labels <= {
        "provider", "model", "app", "team", "endpoint", "status", "status_class", "kind",
        "action", "scope", "limit", "budget", "webhook", "outcome", "le",
    }  # fmt: skip


def test_unknown_models_are_other_and_unauthenticated_requests_none() -> None:
    m = make()
    m.observe(finished(alias="no-such-model", status=404))
    m.observe(finished(status=401, alias=None, authenticated=False))
    assert value(m, "steward_requests_total", model=OTHER, status="404") == 1
    assert value(m, "steward_requests_total", model=NONE, team=NONE, app=NONE, status="401") == 1


def test_team_and_app_names_are_capped() -> None:
    names = {f"t{i}": f"team-{i}" for i in range(6)} | {f"a{i}": f"app-{i}" for i in range(6)}
    m = make(label_limit=3, names=names)
    for i in range(6):
        m.observe(finished(team=f"t{i}", app=f"a{i}"))
    teams = {dict(ls)["team"] for (n, ls), _ in samples(m).items() if n == "steward_requests_total"}
    assert teams == {"team-0", "team-1", "team-2", OTHER}
    assert value(m, "steward_requests_total", team=OTHER, app=OTHER) == 3


def test_ids_without_a_name_are_other() -> None:
    m = make()
    m.observe(finished(team="team-unknown"))
    assert value(m, "steward_requests_total", team=OTHER, app="checkout-bot") == 1


def test_a_renamed_team_is_seen_after_a_new_snapshot() -> None:
    current = dict(NAMES)
    m = Metrics(models=["gpt"], providers=["up"], names=lambda: current)
    m.observe(finished())
    current = {**NAMES, "team-1": "payments-eu"}
    m.observe(finished())
    assert value(m, "steward_requests_total", team="payments") == 1
    assert value(m, "steward_requests_total", team="payments-eu") == 1


def test_unpriced_ttft_and_guard_actions() -> None:
    m = make()
    guard = SimpleNamespace(worst="redact")  # the guard stage's per-request state
    m.observe(finished(cost=None, ttft_ms=120.0, stream=True, guard=guard))
    assert value(m, "steward_unpriced_requests_total", model="gpt", provider="up") == 1
    assert value(m, "steward_cost_usd_total") == 0
    assert value(m, "steward_time_to_first_token_seconds_count", model="gpt") == 1
    assert value(m, "steward_time_to_first_token_seconds_bucket", model="gpt", le="0.25") == 1
    assert value(m, "steward_guard_actions_total", action="redact", team="payments") == 1


def test_provider_comes_from_the_route_when_no_deployment_answered() -> None:
    m = make()
    ctx = finished(status=503)
    ctx.model_alias = "gpt"
    ctx.route = [deployment("gpt", provider="sim", kind="sim")]
    m.observe(ctx)
    assert value(m, "steward_requests_total", provider="sim", status_class="5xx") == 1


def test_scrape_time_gauges() -> None:
    m = make()
    assert value(m, "steward_spool_depth_bytes") == 4096
    assert value(m, "steward_snapshot_version") == 7
    assert value(m, "steward_store_reachable") == 1


def test_api_for_limits_budgets_and_notifications() -> None:
    m = make()
    m.rate_limited("team")
    m.rate_limited("key", "tokens")
    m.budget_usage("payments-monthly", 0.85)
    m.budget_rejected("payments-monthly")
    m.notification("ops", "sent")
    assert value(m, "steward_rate_limit_hits_total", scope="team", limit="requests") == 1
    assert value(m, "steward_rate_limit_hits_total", scope="key", limit="tokens") == 1
    assert value(m, "steward_budget_usage_ratio", budget="payments-monthly") == 0.85
    assert value(m, "steward_budget_rejections_total", budget="payments-monthly") == 1
    assert value(m, "steward_notifications_total", webhook="ops", outcome="sent") == 1


def test_each_gateway_has_its_own_registry() -> None:
    a, b = make(), make()
    a.observe(finished())
    assert value(a, "steward_requests_total") == 1
    assert value(b, "steward_requests_total") == 0
