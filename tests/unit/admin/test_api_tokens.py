"""Admin API for token signing keys: list and rotate, admins only for changes, audited."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from steward.admin.api import create_admin_app
from steward.admin.routes_tokens import mount_tokens
from steward.identity.tokens_settings import AgentTokenSettings
from steward.store.db import session_factory
from steward.store.models import AuditEvent
from tests.unit.admin.conftest import AdminEnv


def test_rotate_and_list_keys(env: AdminEnv) -> None:
    admin = create_admin_app(env.service)
    mount_tokens(admin, AgentTokenSettings(), session_factory(env.engine))
    with TestClient(admin) as client:
        assert client.get("/admin/v1/tokens/keys", headers=env.headers()).json() == []
        first = client.post("/admin/v1/tokens/rotate-key", headers=env.headers(),
                            json={"reason": "initial"})  # fmt: skip
        assert first.status_code == 201, first.text
        second = client.post("/admin/v1/tokens/rotate-key", headers=env.headers()).json()
        assert second["retired"] == [first.json()["kid"]]
        keys = client.get("/admin/v1/tokens/keys", headers=env.headers(env.auditor_key)).json()
        assert [(k["kid"], k["status"]) for k in keys] == [
            (second["kid"], "active"), (first.json()["kid"], "retired"),
        ]  # fmt: skip
        assert all("private" not in str(k) for k in keys)
        refused = client.post("/admin/v1/tokens/rotate-key", headers=env.headers(env.auditor_key))
        assert refused.status_code == 403
        bad = client.post("/admin/v1/tokens/rotate-key", headers=env.headers(), json={"x": 1})
        assert bad.status_code == 400
    with Session(env.engine) as s:
        rows = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "token_key.rotate")))
    assert len(rows) == 2 and {r.actor_type for r in rows} == {"admin"}
    assert any(r.reason == "initial" for r in rows)
