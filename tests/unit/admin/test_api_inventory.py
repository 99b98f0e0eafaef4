"""Admin API: PATCH /apps/{app} and /agents/{agent}, and GET /inventory (auditors may read)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from steward.admin.api import create_admin_app
from steward.admin.routes_inventory import inventory_router
from steward.config.models import StewardConfig
from steward.inventory import InventoryService
from steward.store.db import session_factory
from tests.unit.admin.conftest import AdminEnv

CONFIG = StewardConfig.model_validate(
    {
        "providers": {"sim": {"kind": "sim"}},
        "models": [{"name": "sim-fast", "provider": "sim", "owner": "alice"}],
    }
)


@pytest.fixture
def client(env: AdminEnv) -> Iterator[TestClient]:
    inventory = InventoryService(session_factory(env.engine), CONFIG)
    app = create_admin_app(env.service, extra_routers=[inventory_router(inventory)])
    with TestClient(app) as c:
        yield c


def test_patch_app(env: AdminEnv) -> None:
    env.service.create_user("alice")
    env.client.post("/admin/v1/apps", json={"name": "helpdesk"}, headers=env.headers())
    r = env.client.patch(
        "/admin/v1/apps/helpdesk",
        json={"owner": "alice", "data_classes": ["pii", "public"], "risk_tier": "high"},
        headers=env.headers(),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["owner"], body["data_classes"], body["risk_tier"], body["managed"]) == (
        "alice",
        ["pii", "public"],
        "high",
        True,
    )
    bad = env.client.patch(
        "/admin/v1/apps/helpdesk", json={"data_classes": ["gossip"]}, headers=env.headers()
    )
    assert bad.status_code == 400
    empty = env.client.patch("/admin/v1/apps/helpdesk", json={}, headers=env.headers())
    assert empty.status_code == 422 and empty.json()["error"]["code"] == "nothing_to_update"
    denied = env.client.patch(
        "/admin/v1/apps/helpdesk", json={"purpose": "x"}, headers=env.headers(env.auditor_key)
    )
    assert denied.status_code == 403
    missing = env.client.patch("/admin/v1/apps/nope", json={"purpose": "x"}, headers=env.headers())
    assert missing.status_code == 404


def test_create_app_with_inventory_fields(env: AdminEnv) -> None:
    r = env.client.post(
        "/admin/v1/apps",
        json={
            "name": "scoring",
            "purpose": "credit",
            "data_classes": ["financial"],
            "risk_tier": "prohibited",
        },
        headers=env.headers(),
    )
    assert r.status_code == 201 and r.json()["risk_tier"] == "prohibited"
    key = env.client.post("/admin/v1/keys", json={"app": "scoring"}, headers=env.headers())
    assert key.status_code == 422 and key.json()["error"]["code"] == "app_prohibited"


def test_patch_agent(env: AdminEnv) -> None:
    env.service.create_user("alice")
    env.service.create_user("bob")
    env.service.create_agent("refund-bot", "alice")
    r = env.client.patch(
        "/admin/v1/agents/refund-bot",
        json={"owner": "bob", "data_classes": ["financial"], "purpose": "refunds"},
        headers=env.headers(),
    )
    assert r.status_code == 200, r.text
    assert (r.json()["owner"], r.json()["data_classes"]) == ("bob", ["financial"])


def test_inventory_route(env: AdminEnv, client: TestClient) -> None:
    env.service.create_app("orphan")
    r = client.get("/admin/v1/inventory", headers=env.headers(env.auditor_key))
    assert r.status_code == 200, r.text
    body = r.json()
    assert [a["name"] for a in body["apps"]] == ["orphan"]
    assert body["models"][0]["name"] == "sim-fast" and body["models"][0]["owner"] == "alice"
    flag_codes = {(f["name"], f["code"]) for f in body["flags"]}
    assert ("orphan", "app_without_owner") in flag_codes
    assert ("sim-fast", "model_owner_unknown") in flag_codes  # no user alice yet
    only = client.get("/admin/v1/inventory?flags_only=true", headers=env.headers()).json()
    assert only["models"] and only["apps"] and only["agents"] == []
    assert client.get("/admin/v1/inventory").status_code == 401
    schema = client.get("/openapi.json").json()
    assert "/admin/v1/inventory" in schema["paths"]
