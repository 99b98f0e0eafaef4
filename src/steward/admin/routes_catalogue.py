"""Admin API routes for the model catalogue and alias deployments: the same service as
`steward catalogue` and `steward deploy`. The gateway mounts them (they need its configuration
and providers): `create_admin_app(..., extra_routers=[catalogue_router(...)])`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from steward.admin.auth import ActorDep, authenticate
from steward.catalogue.deploy import DeploymentService
from steward.catalogue.golden import MAX_ITEMS, dataset_of
from steward.catalogue.promote import gate_options, promote
from steward.catalogue.records import DeploymentInfo, ModelInfo
from steward.cli._common import to_jsonable
from steward.providers.registry import ProviderRegistry

if TYPE_CHECKING:
    from steward.gateway.state import Gateway


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StateBody(_Body):
    state: str = Field(description="proposed, approved, deprecated or blocked")
    reason: str = ""


class OwnerBody(_Body):
    owner: str | None = Field(None, description="User name or id; null clears the owner.")


class DataClassesBody(_Body):
    data_classes: list[str] | None = Field(description="null: not restricted")


class SyncBody(_Body):
    state: str = "proposed"


class CanaryBody(_Body):
    to: str
    percent: float


class PromoteBody(_Body):
    """The gate's inputs: the golden dataset's items (objects as in its JSONL lines) and
    overrides of `catalogue.promotion`."""

    to: str
    items: list[dict[str, Any]] = Field(max_length=MAX_ITEMS)
    evaluators: list[str] = Field(default_factory=list)
    thresholds: dict[str, float] = Field(default_factory=dict)
    default_threshold: float | None = Field(None, ge=0, le=1)
    min_items: int | None = Field(None, ge=1)


def catalogue_router(service: DeploymentService, registry: ProviderRegistry) -> APIRouter:
    """Routes over `service`; promotions call candidates through `registry`."""
    router = APIRouter(tags=["catalogue"])
    _model_routes(router, service)
    _deployment_routes(router, service, registry)
    return router


def mount_catalogue(app: FastAPI, gw: Gateway) -> None:
    """Mount the routes on the gateway's admin app (admin key required; auditors read)."""
    from steward.admin.api import PREFIX

    service = DeploymentService(gw.sessions, gw.config)
    app.include_router(
        catalogue_router(service, gw.registry),
        prefix=PREFIX,
        dependencies=[Depends(authenticate)],
    )


def _model_routes(router: APIRouter, service: DeploymentService) -> None:

    @router.get("/catalogue/models")
    def list_models(state: str | None = None) -> list[ModelInfo]:
        """Every model the configuration uses or the catalogue lists."""
        return service.list_models(state)

    @router.post("/catalogue/sync")
    def sync(body: SyncBody, actor: ActorDep) -> list[ModelInfo]:
        """Add every configured model missing from the catalogue in `state`."""
        return service.sync(body.state, actor=actor)

    @router.put("/catalogue/models/{model:path}/state")
    def set_state(model: str, body: StateBody, actor: ActorDep) -> ModelInfo:
        """Move a model to another state."""
        return service.set_state(model, body.state, reason=body.reason, actor=actor)

    @router.put("/catalogue/models/{model:path}/owner")
    def set_owner(model: str, body: OwnerBody, actor: ActorDep) -> ModelInfo:
        """Set or clear a model's owner."""
        return service.set_owner(model, body.owner, actor=actor)

    @router.put("/catalogue/models/{model:path}/data-classes")
    def set_data_classes(model: str, body: DataClassesBody, actor: ActorDep) -> ModelInfo:
        """Set the data classes a model may see."""
        return service.set_data_classes(model, body.data_classes, actor=actor)

    @router.get("/catalogue/models/{model:path}")
    def get_model(model: str) -> ModelInfo:
        """One model (an alias or provider/model)."""
        return service.get_model(model)


def _deployment_routes(
    router: APIRouter, service: DeploymentService, registry: ProviderRegistry
) -> None:
    @router.get("/deployments/{alias}")
    def status(alias: str) -> DeploymentInfo:
        """The alias's deployment and recent changes."""
        return service.status(alias)

    @router.post("/deployments/{alias}/canary")
    def canary(alias: str, body: CanaryBody, actor: ActorDep) -> DeploymentInfo:
        """Send `percent` of the alias's traffic to `to`."""
        return service.canary(alias, body.to, body.percent, actor=actor)

    @router.post("/deployments/{alias}/rollback")
    def rollback(alias: str, actor: ActorDep) -> DeploymentInfo:
        """Undo the alias's latest deployment change."""
        return service.rollback(alias, actor=actor)

    @router.post("/deployments/{alias}/promote", response_model=None)
    async def promote_alias(alias: str, body: PromoteBody, actor: ActorDep) -> Any:
        """Run the gate on `items` and promote `to` if every metric passes; 422
        `promotion_refused` with the evaluation otherwise."""
        data = dataset_of(body.items, f"admin-api:{alias}")
        per = [f"{k}={v}" for k, v in body.thresholds.items()]
        if body.default_threshold is not None:
            per.append(str(body.default_threshold))
        options = gate_options(service, body.evaluators, per, body.min_items)
        result = await promote(service, registry, alias, body.to, data, options, actor=actor)
        payload = {
            "promoted": result.deployment is not None,
            "candidate": result.candidate,
            "evaluation": {**result.verdict.to_json(), "run_id": result.run.run.run_id},
            "deployment": to_jsonable(result.deployment),
        }
        if result.deployment is None:
            message = f"promotion of {result.candidate} refused: {result.verdict.reason()}"
            payload["error"] = {
                "message": message,
                "type": "invalid_request_error",
                "code": "promotion_refused",
            }
            return JSONResponse(payload, status_code=422)
        return JSONResponse(payload)


__all__ = ["catalogue_router", "mount_catalogue"]
