"""The admin REST API: auth and roles, key shown once, audit rows, error bodies, OpenAPI."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter

from steward.admin.api import create_admin_app
from steward.identity import IdentityService

from .conftest import AdminEnv

V1 = "/admin/v1"


def _error(body: dict[str, Any]) -> dict[str, Any]:
    assert set(body) == {"error"}
    err: dict[str, Any] = body["error"]
    assert set(err) == {"message", "type", "code"}
    assert isinstance(err["message"], str) and err["message"]
    return err


def _seed(env: AdminEnv) -> None:
    h = env.headers()
    assert env.client.post(f"{V1}/teams", json={"name": "support"}, headers=h).status_code == 201
    r = env.client.post(
        f"{V1}/users",
        json={"name": "alice", "email": "alice@example.com", "teams": ["support"]},
        headers=h,
    )
    assert r.status_code == 201
    r = env.client.post(
        f"{V1}/apps", json={"name": "helpdesk", "team": "support", "owner": "alice"}, headers=h
    )
    assert r.status_code == 201


# -- authentication and roles ----------------------------------------------------------------


def test_missing_key_is_401_and_audited_as_denied(env: AdminEnv) -> None:
    r = env.client.get(f"{V1}/teams")
    assert r.status_code == 401
    err = _error(r.json())
    assert (err["type"], err["code"]) == ("authentication_error", "missing_admin_key")
    assert "Authorization: Bearer" in err["message"]
    denied = env.service.list_audit(action="admin.auth")
    assert len(denied) == 1
    assert (denied[0].outcome, denied[0].actor_id) == ("denied", "unknown")
    assert denied[0].target_id == "GET /admin/v1/teams"
    assert denied[0].request_id == r.headers["x-steward-request-id"]


def test_bad_or_revoked_key_is_401(env: AdminEnv) -> None:
    r = env.client.get(f"{V1}/teams", headers=env.headers("sk-stw-adm-not-a-real-key"))
    assert r.status_code == 401
    assert _error(r.json())["code"] == "invalid_admin_key"
    r = env.client.get(f"{V1}/teams", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert r.status_code == 401
    info, plaintext = env.service.create_admin_key("temp", "admin")
    env.service.revoke_admin_key(info.id)
    assert env.client.get(f"{V1}/teams", headers=env.headers(plaintext)).status_code == 401
    assert len(env.service.list_audit(action="admin.auth")) == 3


def test_header_alternative_and_whoami(env: AdminEnv) -> None:
    r = env.client.get(f"{V1}/whoami", headers={"x-steward-admin-key": env.admin_key})
    assert r.status_code == 200
    body = r.json()
    assert (body["id"], body["role"], body["name"]) == (env.admin_key_id, "admin", "ops")
    assert env.admin_key not in r.text


def test_auditor_may_read_but_not_write(env: AdminEnv) -> None:
    _seed(env)
    h = env.headers(env.auditor_key)
    assert env.client.get(f"{V1}/teams", headers=h).status_code == 200
    assert env.client.get(f"{V1}/audit", headers=h).status_code == 200
    assert env.client.get(f"{V1}/whoami", headers=h).json()["role"] == "auditor"
    r = env.client.post(f"{V1}/teams", json={"name": "research"}, headers=h)
    assert r.status_code == 403
    err = _error(r.json())
    assert (err["type"], err["code"]) == ("permission_error", "insufficient_role")
    assert env.client.delete(f"{V1}/teams/support", headers=h).status_code == 403
    assert env.client.post(f"{V1}/keys", json={"user": "alice"}, headers=h).status_code == 403
    assert [t["name"] for t in env.client.get(f"{V1}/teams", headers=h).json()] == ["support"]
    denied = env.service.list_audit(action="admin.auth")
    assert len(denied) == 3
    assert all(
        d.actor_id != "unknown" and d.details and d.details["actor_role"] == "auditor"
        for d in denied
    )


# -- keys: shown once ------------------------------------------------------------------------


def test_key_is_returned_once_and_never_again(env: AdminEnv) -> None:
    _seed(env)
    h = env.headers()
    r = env.client.post(
        f"{V1}/keys",
        json={"user": "alice", "app": "helpdesk", "models": ["sim-fast"], "expires_in": "30d"},
        headers=h,
    )
    assert r.status_code == 201
    body = r.json()
    plaintext = body["key"]
    assert plaintext.startswith("sk-stw-")
    info = body["api_key"]
    assert (info["user"], info["team"], info["app"], info["models"]) == (
        "alice",
        "support",
        "helpdesk",
        ["sim-fast"],
    )
    assert info["expires_at"] is not None
    assert plaintext.startswith(info["prefix"].removesuffix("…"))
    for path in ("/keys", f"/keys/{info['id']}", f"/keys/{info['prefix']}", "/audit"):
        r = env.client.get(V1 + path, headers=h)
        assert r.status_code == 200
        assert plaintext not in r.text
        assert "key_hash" not in r.text
    revoked = env.client.delete(f"{V1}/keys/{info['id']}", headers=h)
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert env.client.get(f"{V1}/keys", headers=h).json() == []
    listed = env.client.get(f"{V1}/keys", params={"include_revoked": "true"}, headers=h).json()
    assert [k["id"] for k in listed] == [info["id"]]


def test_admin_actions_are_audited_with_the_admin_key_id_and_role(env: AdminEnv) -> None:
    _seed(env)
    r = env.client.post(f"{V1}/keys", json={"user": "alice"}, headers=env.headers())
    entry = env.service.list_audit(action="key.create")[0]
    assert (entry.actor_type, entry.actor_id) == ("admin", env.admin_key_id)
    assert entry.details is not None and entry.details["actor_role"] == "admin"
    assert entry.target_id == r.json()["api_key"]["id"]
    assert entry.request_id == r.headers["x-steward-request-id"]
    audit = env.client.get(f"{V1}/audit", params={"action": "team.*"}, headers=env.headers())
    assert [e["action"] for e in audit.json()] == ["team.create"]


def test_admin_keys_endpoints(env: AdminEnv) -> None:
    h = env.headers()
    r = env.client.post(f"{V1}/admin-keys", json={"name": "ci", "role": "auditor"}, headers=h)
    assert r.status_code == 201
    created = r.json()
    assert created["admin_key"]["role"] == "auditor"
    assert env.service.verify_admin_key(created["key"]) == "auditor"
    listed = env.client.get(f"{V1}/admin-keys", headers=h)
    assert created["key"] not in listed.text
    assert len(listed.json()) == 3
    r = env.client.delete(f"{V1}/admin-keys/{created['admin_key']['id']}", headers=h)
    assert r.status_code == 200 and r.json()["revoked_at"] is not None
    r = env.client.delete(f"{V1}/admin-keys/{env.admin_key_id}", headers=h)
    assert r.status_code == 409
    assert _error(r.json())["code"] == "last_admin_key"


# -- principals ------------------------------------------------------------------------------


def test_principal_routes(env: AdminEnv) -> None:
    _seed(env)
    h, c = env.headers(), env.client
    assert c.get(f"{V1}/teams/support", headers=h).json()["members"] == ["alice"]
    assert c.post(f"{V1}/teams", json={"name": "research"}, headers=h).status_code == 201
    r = c.put(f"{V1}/users/alice/teams/research", headers=h)
    assert r.status_code == 200 and r.json()["teams"] == ["research", "support"]
    r = c.delete(f"{V1}/users/alice/teams/research", headers=h)
    assert r.json()["teams"] == ["support"]
    r = c.post(
        f"{V1}/agents", json={"name": "bot", "owner": "alice", "risk_tier": "high"}, headers=h
    )
    assert r.status_code == 201 and r.json()["owner"] == "alice"
    r = c.post(f"{V1}/agents/bot/suspend", json={"reason": "kill switch"}, headers=h)
    assert r.json()["suspended"] is True
    assert env.service.list_audit(action="agent.suspend")[0].reason == "kill switch"
    assert c.post(f"{V1}/agents/bot/unsuspend", headers=h).json()["suspended"] is False
    r = c.post(f"{V1}/service-accounts", json={"name": "nightly", "team": "research"}, headers=h)
    assert r.status_code == 201
    assert [s["name"] for s in c.get(f"{V1}/service-accounts", headers=h).json()] == ["nightly"]
    assert c.post(f"{V1}/users/alice/suspend", headers=h).json()["suspended"] is True
    assert c.post(f"{V1}/apps/helpdesk/suspend", headers=h).json()["suspended"] is True
    assert [
        a["name"] for a in c.get(f"{V1}/agents", params={"owner": "alice"}, headers=h).json()
    ] == ["bot"]
    assert c.delete(f"{V1}/service-accounts/nightly", headers=h).status_code == 200
    assert c.get(f"{V1}/service-accounts/nightly", headers=h).status_code == 404


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": 5}, "name"),
        ({"name": "x", "colour": "red"}, "colour"),
    ],
)
def test_validation_errors_are_400_and_name_the_field(
    env: AdminEnv, body: dict[str, Any], field: str
) -> None:
    r = env.client.post(f"{V1}/teams", json=body, headers=env.headers())
    assert r.status_code == 400
    err = _error(r.json())
    assert err["type"] == "invalid_request_error"
    assert field in err["message"]


def test_malformed_json_and_missing_body_are_400(env: AdminEnv) -> None:
    h = {**env.headers(), "content-type": "application/json"}
    r = env.client.post(f"{V1}/teams", content=b"{not json", headers=h)
    assert r.status_code == 400
    assert "not valid JSON" in _error(r.json())["message"]
    r = env.client.post(f"{V1}/teams", headers=env.headers())
    assert r.status_code == 400
    assert "body is missing" in _error(r.json())["message"]
    r = env.client.post(
        f"{V1}/agents",
        json={"name": "bot", "owner": "x", "risk_tier": "mega"},
        headers=env.headers(),
    )
    assert r.status_code == 400 and "risk_tier" in _error(r.json())["message"]


def test_service_errors_map_to_404_409_422(env: AdminEnv) -> None:
    _seed(env)
    h, c = env.headers(), env.client
    r = c.get(f"{V1}/users/nobody", headers=h)
    assert r.status_code == 404
    assert _error(r.json()) == {
        "message": "user 'nobody' does not exist; check the name or id (list users to see them)",
        "type": "not_found_error",
        "code": "user_not_found",
    }
    r = c.post(f"{V1}/teams", json={"name": "support"}, headers=h)
    assert r.status_code == 409 and _error(r.json())["type"] == "conflict_error"
    r = c.delete(f"{V1}/teams/support", headers=h)
    assert r.status_code == 409 and "still in use" in _error(r.json())["message"]
    r = c.post(f"{V1}/keys", json={"user": "alice", "team": "nope"}, headers=h)
    assert r.status_code == 404
    c.post(f"{V1}/teams", json={"name": "research"}, headers=h)
    r = c.post(f"{V1}/keys", json={"user": "alice", "team": "research"}, headers=h)
    assert r.status_code == 422 and _error(r.json())["code"] == "not_member"
    r = c.post(f"{V1}/keys", json={"user": "alice", "expires_in": "soon"}, headers=h)
    assert r.status_code == 422 and "duration" in _error(r.json())["message"]
    r = c.post(f"{V1}/teams", json={"name": "bad name"}, headers=h)
    assert r.status_code == 422
    r = c.get(f"{V1}/audit", params={"limit": 0}, headers=h)
    assert r.status_code == 422
    r = c.delete(f"{V1}/teams/support", params={"force": "true"}, headers=h)
    assert r.status_code == 200


def test_unknown_route_has_an_error_body(env: AdminEnv) -> None:
    r = env.client.get(f"{V1}/nothing-here", headers=env.headers())
    assert r.status_code == 404
    assert _error(r.json())["type"] == "not_found_error"
    assert "x-steward-request-id" in r.headers


# -- OpenAPI ---------------------------------------------------------------------------------


def test_openapi_document_lists_the_routes(env: AdminEnv) -> None:
    r = env.client.get("/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["info"]["title"] == "Steward admin API"
    paths = doc["paths"]
    for path in (
        "teams",
        "users",
        "users/{user}/teams/{team}",
        "apps",
        "agents",
        "service-accounts",
        "keys",
        "keys/{key}",
        "admin-keys",
        "audit",
        "whoami",
    ):
        assert f"{V1}/{path}" in paths, path
    assert "post" in paths[f"{V1}/keys"] and "get" in paths[f"{V1}/keys"]
    assert "HTTPBearer" in doc["components"]["securitySchemes"]
    assert env.client.get("/docs").status_code == 200


def test_extra_routers_share_auth(env: AdminEnv) -> None:
    extra = APIRouter()

    @extra.get("/ping")
    def ping() -> dict[str, str]:
        return {"pong": "yes"}

    from fastapi.testclient import TestClient

    service: IdentityService = env.service
    with TestClient(create_admin_app(service, extra_routers=[extra])) as client:
        assert client.get(f"{V1}/ping").status_code == 401
        assert client.get(f"{V1}/ping", headers=env.headers()).json() == {"pong": "yes"}
