"""The clearance stage (after guard input): a model may not see data classes it is not cleared
for. The guard input stage records what it found in the request; data it redacted, masked,
hashed or pseudonymized never reaches the model, so only findings it let through (action
`log`) count. Deployments whose alias or upstream model is not cleared for such a class are
skipped; when none is left the request is refused with 403 `data_class_not_cleared`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from steward.catalogue.routing import deployment_ref
from steward.catalogue.spec import CatalogueView
from steward.gateway.errors import forbidden
from steward.gateway.stages.base import Stage
from steward.identity.records import DATA_CLASSES

if TYPE_CHECKING:
    from steward.catalogue.routing import CatalogueRouting
    from steward.gateway.context import Deployment, RequestContext

# guard actions that let the value through to the model unchanged
_PASSED = frozenset({"allow", "log"})
_CLASSES = frozenset(DATA_CLASSES)


def seen_classes(ctx: RequestContext) -> frozenset[str]:
    """The data classes in the request that the model would see (guard input findings)."""
    state = ctx.guard
    if state is None or not state.findings:
        return frozenset()
    out = set()
    for key in state.findings:
        direction, _loc, _entity, data_class, _det, action = key[:6]
        if direction == "input" and action in _PASSED and data_class in _CLASSES:
            out.add(str(data_class))
    return frozenset(out)


def uncleared(view: CatalogueView, dep: Deployment, classes: frozenset[str]) -> set[str]:
    """The classes among `classes` that the deployment's alias or upstream may not see."""
    missing: set[str] = set()
    for entry in (view.aliases.get(dep.model.name), view.upstreams.get(deployment_ref(dep))):
        if entry is not None and entry.data_classes is not None:
            missing |= classes - entry.data_classes
    return missing


class Clearance(Stage):
    name = "clearance"

    def __init__(self, routing: CatalogueRouting) -> None:
        self._routing = routing

    async def on_request(self, ctx: RequestContext) -> None:
        if not ctx.route:
            return
        view = self._routing.view()
        if view.empty:
            return
        classes = seen_classes(ctx)
        if not classes:
            return
        kept = [d for d in ctx.route if not uncleared(view, d, classes)]
        if kept:
            ctx.route = kept
            return
        missing = sorted(set().union(*(uncleared(view, d, classes) for d in ctx.route)))
        raise forbidden(
            f"the request contains {', '.join(missing)} data that model '{ctx.model_alias}' is "
            "not cleared to see (model catalogue); remove the data, or ask an admin to clear the "
            f"model (steward catalogue set-data-classes)",
            code="data_class_not_cleared",
        )


__all__ = ["Clearance", "seen_classes", "uncleared"]
