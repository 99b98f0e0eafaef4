"""route: model alias -> an ordered list of deployments (the model, then its fallbacks)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from steward.gateway.context import Deployment, RequestContext
from steward.gateway.errors import bad_request, not_found
from steward.gateway.stages.base import Stage

if TYPE_CHECKING:
    from steward.catalogue.routing import CatalogueRouting

_ENDPOINT_KIND = {"chat": "chat", "messages": "chat", "embeddings": "embedding"}


class Route(Stage):
    name = "route"

    def __init__(
        self, routes: dict[str, list[Deployment]], catalogue: CatalogueRouting | None = None
    ) -> None:
        self._routes = routes
        self._catalogue = catalogue  # model states and alias deployments (docs/catalogue.md)

    async def on_request(self, ctx: RequestContext) -> None:
        alias = ctx.model_alias
        route = self._routes.get(alias) if alias else None
        if not route:
            raise not_found(
                f"model '{alias}' does not exist; GET /v1/models lists the models you may use",
                code="model_not_found",
            )
        want = _ENDPOINT_KIND.get(ctx.endpoint)
        kind = route[0].model.kind
        if want and kind != want:
            article = "an" if kind == "embedding" else "a"
            hint = (
                "/v1/embeddings" if kind == "embedding" else "/v1/chat/completions or /v1/messages"
            )
            raise bad_request(
                f"model '{alias}' is {article} {kind} model; use {hint}",
                code="model_kind_mismatch",
            )
        ctx.route = self._catalogue.apply(ctx, route) if self._catalogue else route
