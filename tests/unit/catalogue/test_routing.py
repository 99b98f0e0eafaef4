"""The catalogue on the request path: which deployments a request may use, by model state,
enforcement, canary split and promoted primary; data classes after the guard."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from steward.catalogue.clearance import Clearance
from steward.catalogue.routing import CatalogueRouting, configured_deployment
from steward.catalogue.spec import CatalogueView, Entry, Split, to_candidate
from steward.gateway.context import Deployment, RequestContext
from steward.gateway.errors import GatewayError
from steward.identity.snapshot import Snapshot
from steward.providers.registry import ProviderRegistry
from tests.unit.catalogue.conftest import make_config


def view(*entries: Entry, splits: tuple[Split, ...] = ()) -> CatalogueView:
    return CatalogueView(
        aliases={e.name: e for e in entries if e.kind == "alias"},
        upstreams={e.name: e for e in entries if e.kind == "upstream"},
        splits={s.alias: s for s in splits},
    )


def up(name: str, state: str, classes: tuple[str, ...] | None = None) -> Entry:
    return Entry("upstream", name, state, data_classes=frozenset(classes) if classes else None)  # type: ignore[arg-type]


def routing(v: CatalogueView, enforce: bool = False) -> tuple[CatalogueRouting, list[Deployment]]:
    config = make_config(enforce=enforce)
    registry = ProviderRegistry(config.providers)
    holder: Any = SimpleNamespace(current=Snapshot(1, {}, sections={"catalogue": v}))
    r = CatalogueRouting(config, registry, holder)
    chat = config.model("chat")
    smart = config.model("smart")
    assert chat and smart
    route = [
        configured_deployment(config, registry, chat),
        configured_deployment(config, registry, smart),  # as a fallback
    ]
    return r, route


def ctx(request_id: str = "req-1") -> RequestContext:
    return RequestContext(
        request_id=request_id,
        endpoint="chat",
        wire="openai",
        started=0.0,
        received_at=datetime.now(UTC),
        headers={},
        model_alias="chat",
    )


def targets(route: list[Deployment]) -> list[str]:
    return [f"{d.provider_name}/{d.model.target}" for d in route]


def test_an_empty_catalogue_changes_nothing() -> None:
    r, route = routing(view())
    assert r.apply(ctx(), route) is route


def test_enforcement_refuses_unlisted_models() -> None:
    r, route = routing(view(), enforce=True)
    with pytest.raises(GatewayError) as err:
        r.apply(ctx(), route)
    assert err.value.status == 403 and err.value.code == "model_not_approved"
    assert "not in the model catalogue" in err.value.message
    r, route = routing(
        view(Entry("alias", "chat", "approved"), up("sim/sim-fast-1", "approved")), enforce=True
    )
    assert targets(r.apply(ctx(), route)) == ["sim/sim-fast-1"]  # the unlisted fallback is skipped


def test_a_blocked_upstream_is_skipped_for_its_fallback() -> None:
    r, route = routing(view(up("sim/sim-fast-1", "blocked")))
    assert targets(r.apply(ctx(), route)) == ["sim/sim-smart-1"]
    r, route = routing(view(up("sim/sim-fast-1", "blocked"), up("sim/sim-smart-1", "proposed")))
    with pytest.raises(
        GatewayError, match="sim/sim-fast-1 is blocked; sim/sim-smart-1 is proposed"
    ):
        r.apply(ctx(), route)


def test_a_deprecated_model_is_served_with_a_warning() -> None:
    r, route = routing(view(up("sim/sim-fast-1", "deprecated")))
    c = ctx()
    assert targets(r.apply(c, route))[0] == "sim/sim-fast-1"
    assert c.response_headers == [
        (b"x-steward-model-warning", b"model sim/sim-fast-1 is deprecated")
    ]
    r, route = routing(view(Entry("alias", "chat", "deprecated")))
    c = ctx()
    r.apply(c, route)
    assert c.response_headers == [(b"x-steward-model-warning", b"model chat is deprecated")]


def test_canary_and_promoted_primary() -> None:
    split = Split("chat", primary="sim/sim-new-1", candidate="down/sim-down-1", percent=30)
    r, route = routing(view(splits=(split,)))
    for i in range(200):
        rid = f"r{i}"
        got = targets(r.apply(ctx(rid), route))
        if to_candidate(split, rid):
            assert got == ["down/sim-down-1", "sim/sim-new-1", "sim/sim-smart-1"]
        else:
            assert got == ["sim/sim-new-1", "sim/sim-smart-1"]
    # a blocked candidate is skipped: its share goes to the primary
    r, route = routing(view(up("down/sim-down-1", "blocked"), splits=(split,)))
    assert {targets(r.apply(ctx(f"r{i}"), route))[0] for i in range(50)} == {"sim/sim-new-1"}


def test_clearance_skips_models_not_cleared_for_the_data() -> None:
    v = view(
        up("sim/sim-fast-1", "approved", ("public", "internal")),
        up("sim/sim-smart-1", "approved", ("pii",)),
    )
    r, route = routing(v)
    c = ctx()
    c.route = route
    key = ("input", "messages[0]", "EMAIL_ADDRESS", "pii", "regex", "log", "default", None)
    c.guard = SimpleNamespace(findings={key: [1, "h"]})
    asyncio.run(Clearance(r).on_request(c))
    assert targets(c.route) == ["sim/sim-smart-1"]

    c = ctx()
    c.route = route[:1]
    c.guard = SimpleNamespace(findings={key: [1, "h"]})
    with pytest.raises(GatewayError) as err:
        asyncio.run(Clearance(r).on_request(c))
    assert err.value.code == "data_class_not_cleared" and "pii" in err.value.message

    redacted = ("input", "messages[0]", "EMAIL_ADDRESS", "pii", "regex", "redact", "default", None)
    c = ctx()
    c.route = route[:1]
    c.guard = SimpleNamespace(findings={redacted: [1, "h"]})
    asyncio.run(Clearance(r).on_request(c))  # redacted data never reaches the model
    assert targets(c.route) == ["sim/sim-fast-1"]
