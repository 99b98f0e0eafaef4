"""Admin API routes for Cedar policy sets: list, show (any version), create, update, delete,
validate without storing, and explain a request. A thin front end over PolicyService; the
gateway mounts it (`create_admin_app(..., extra_routers=[policies_router(...)])`)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from steward.admin.auth import ActorDep
from steward.admin.errors import ApiError
from steward.policy.explain import Explanation, explain
from steward.policy.requests import RequestError, RequestSpec
from steward.policy.service import PolicyService, PolicySetDetail, PolicySetInfo, Validation

Mode = Literal["enforce", "shadow"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PolicySetCreate(_Body):
    name: str = Field(description="Unique name: letters, digits, '.', '_', '-'.")
    text: str = Field(description="The set's Cedar policies.")
    mode: Mode = "enforce"
    description: str = ""


class PolicySetUpdate(_Body):
    text: str | None = Field(None, description="New Cedar text (a new version).")
    mode: Mode | None = Field(None, description="New mode (a new version).")
    description: str | None = None


class PolicyValidate(_Body):
    name: str = "candidate"
    text: str
    mode: Mode = "enforce"


class PolicyExplain(_Body):
    principal: str = Field(description="KIND:NAME, e.g. agent:support-bot.")
    action: Literal["invoke_model", "call_tool"]
    resource: str = Field(description="Model alias or tool name.")
    server: str | None = None
    arguments: dict[str, Any] = Field(default_factory=dict)
    on_behalf_of: str | None = Field(None, description="The user (name) the agent acts for.")
    chain: list[str] = Field(default_factory=list, description="Agent names, outermost first.")
    key_models: list[str] | None = None
    context: dict[str, Any] = Field(
        default_factory=dict, description="time (ISO 8601), findings, data_classes, endpoint."
    )


def policies_router(service: PolicyService) -> APIRouter:
    """`/policies` routes over `service` (auditors read; admins write, validate, explain)."""
    router = APIRouter(tags=["policies"])

    @router.get("/policies")
    def list_policy_sets() -> list[PolicySetInfo]:
        """Every stored policy set with its mode and current version."""
        return service.list()

    @router.post("/policies", status_code=201)
    def create_policy_set(body: PolicySetCreate, actor: ActorDep) -> PolicySetInfo:
        """Store a new set (version 1) after validating it against the schema; a set that
        does not validate is refused (422 `policy_invalid`, with Cedar's messages)."""
        return service.create(
            body.name, body.text, mode=body.mode, description=body.description, actor=actor
        )

    @router.post("/policies/validate")
    def validate_policy_set(body: PolicyValidate) -> Validation:
        """Validate a set without storing it."""
        return service.validate(body.name, body.text, body.mode)

    @router.post("/policies/explain")
    def explain_request(body: PolicyExplain) -> Explanation:
        """Decide a request against the stored policies and show which policies matched."""
        try:
            spec = RequestSpec.from_dict(body.model_dump())
            return explain(service.live_engine(), spec)
        except RequestError as exc:
            raise ApiError(422, str(exc), "invalid_policy_request") from exc

    @router.get("/policies/{name}")
    def get_policy_set(name: str, version: int | None = None) -> PolicySetDetail:
        """A set's text and policies at its current version (or `version`), and its history."""
        return service.get(name, version)

    @router.put("/policies/{name}")
    def update_policy_set(name: str, body: PolicySetUpdate, actor: ActorDep) -> PolicySetInfo:
        """Store a new version (text and/or mode); validated first, all or nothing."""
        return service.update(
            name, body.text, mode=body.mode, description=body.description, actor=actor
        )

    @router.delete("/policies/{name}")
    def delete_policy_set(name: str, actor: ActorDep) -> PolicySetInfo:
        """Delete a set and its versions; gateways stop applying it within a second."""
        return service.delete(name, actor=actor)

    return router


__all__ = ["policies_router"]
