"""The catalogue on the request path: the route stage asks `CatalogueRouting.apply` to turn an
alias's configured route into the one to serve. It refuses aliases that are not approved, sends
a canary share of traffic to a candidate, serves a promoted primary, and skips deployments whose
upstream model is not approved. With `catalogue.enforce: false` and an empty catalogue it
returns the route unchanged (the behaviour before the catalogue existed)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from steward.catalogue.section import NAME
from steward.catalogue.spec import ROUTABLE, CatalogueView, Entry, Split, to_candidate, upstream_ref
from steward.gateway.context import Deployment
from steward.gateway.errors import forbidden

if TYPE_CHECKING:
    from steward.config.models import ModelConfig, StewardConfig
    from steward.gateway.context import RequestContext
    from steward.identity.snapshot import SnapshotHolder
    from steward.providers.registry import ProviderRegistry

log = logging.getLogger("steward.catalogue")
WARNING_HEADER = b"x-steward-model-warning"


def deployment_ref(dep: Deployment) -> str:
    """The catalogue name of the upstream model a deployment calls."""
    return upstream_ref(dep.provider_name, dep.model.target)


def build_deployment(
    config: StewardConfig, registry: ProviderRegistry, base: Deployment, ref: str
) -> Deployment | None:
    """`base` (an alias's configured deployment) re-pointed at upstream model `ref`
    (`provider/model`), priced like a configured alias on the same upstream model (else by the
    price table); None when the provider is not configured."""
    provider, _, model = ref.partition("/")
    if provider not in config.providers or not model:
        log.warning("deployment of '%s' names unknown upstream '%s'", base.model.name, ref)
        return None
    if deployment_ref(base) == ref:
        return base
    twin = next(
        (
            m
            for m in config.models
            if m.provider == provider and m.target == model and m.kind == base.model.kind
        ),
        None,
    )
    cfg = base.model.model_copy(
        update={
            "provider": provider,
            "upstream_model": model,
            "price": twin.price if twin else None,
            "price_model": twin.price_model if twin else None,
        }
    )
    return Deployment(
        model=cfg,
        provider_name=provider,
        provider=config.providers[provider],
        adapter=registry.get(provider),
    )


def configured_deployment(
    config: StewardConfig, registry: ProviderRegistry, alias: ModelConfig
) -> Deployment:
    """An alias's deployment as configured (what `build_routes` puts first)."""
    return Deployment(
        model=alias,
        provider_name=alias.provider,
        provider=config.providers[alias.provider],
        adapter=registry.get(alias.provider),
    )


def routable(entry: Entry | None, enforce: bool) -> bool:
    """May requests go to a model with this catalogue entry (None: not listed)?"""
    return (not enforce) if entry is None else entry.state in ROUTABLE


class CatalogueRouting:
    """Applies the catalogue's states and an alias's deployment to its configured route."""

    def __init__(
        self, config: StewardConfig, registry: ProviderRegistry, snapshots: SnapshotHolder
    ) -> None:
        self._config = config
        self._registry = registry
        self._snapshots = snapshots
        self.enforce = config.catalogue.enforce
        self._built: dict[tuple[str, str], Deployment | None] = {}

    def view(self) -> CatalogueView:
        """The catalogue of the current snapshot."""
        value: CatalogueView = self._snapshots.current.section(NAME)
        return value

    def apply(self, ctx: RequestContext, route: list[Deployment]) -> list[Deployment]:
        """The deployments to try, in order, for this request."""
        view = self.view()
        if view.empty and not self.enforce:
            return route
        alias = route[0].model.name
        self._check_alias(view, alias)
        split = view.splits.get(alias)
        if split is not None:
            route = self._split(route, split, ctx.request_id)
        allowed = [
            d for d in route if routable(view.upstreams.get(deployment_ref(d)), self.enforce)
        ]
        if not allowed:
            raise forbidden(self._refusal(view, alias, route), code="model_not_approved")
        for entry in (view.aliases.get(alias), view.upstreams.get(deployment_ref(allowed[0]))):
            if entry is not None and entry.state == "deprecated":
                ctx.response_headers.append(
                    (WARNING_HEADER, f"model {entry.name} is deprecated".encode())
                )
        return allowed

    def _check_alias(self, view: CatalogueView, alias: str) -> None:
        entry = view.aliases.get(alias)
        if routable(entry, self.enforce):
            return
        if entry is None:
            why = "is not in the model catalogue, and only approved models may be used"
        else:
            why = f"is {entry.state} in the model catalogue" + (
                f" ({entry.reason})" if entry.reason else ""
            )
        raise forbidden(
            f"model '{alias}' {why}; ask an admin to approve it "
            f"(steward catalogue set-state {alias} approved)",
            code="model_not_approved",
        )

    def _refusal(self, view: CatalogueView, alias: str, route: list[Deployment]) -> str:
        parts = []
        for d in route:
            ref = deployment_ref(d)
            entry = view.upstreams.get(ref)
            parts.append(f"{ref} is {entry.state if entry else 'not in the catalogue'}")
        return (
            f"model '{alias}' cannot be served: no upstream model behind it is approved "
            f"({'; '.join(parts)}); ask an admin to approve one "
            "(steward catalogue set-state PROVIDER/MODEL approved)"
        )

    def _split(self, route: list[Deployment], split: Split, request_id: str) -> list[Deployment]:
        primary = route[0]
        if split.primary is not None:
            promoted = self.deployment(primary, split.primary)
            if promoted is not None:
                primary = promoted
        out = [primary, *route[1:]]
        if split.canary and split.candidate and to_candidate(split, request_id):
            candidate = self.deployment(route[0], split.candidate)
            if candidate is not None and deployment_ref(candidate) != deployment_ref(primary):
                out.insert(0, candidate)  # the primary stays next: a failing candidate falls back
        return out

    def deployment(self, base: Deployment, ref: str) -> Deployment | None:
        """`base` (an alias's configured deployment) re-pointed at upstream model `ref`."""
        key = (base.model.name, ref)
        if key in self._built:
            return self._built[key]
        built = build_deployment(self._config, self._registry, base, ref)
        self._built[key] = built
        return built


__all__ = [
    "WARNING_HEADER",
    "CatalogueRouting",
    "build_deployment",
    "configured_deployment",
    "deployment_ref",
    "routable",
]
