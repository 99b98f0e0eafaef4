"""Admin API /slos, /drift-events and /remediation: status, actions confirmed and reverted by an
admin key (auditors may read, not act), overrides."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from steward.admin.api import create_admin_app
from steward.admin.routes_slo import slo_router
from steward.config.models import StewardConfig
from steward.events.ids import new_id
from steward.identity import IdentityService
from steward.slo.jobs import Jobs
from steward.store.db import make_engine, session_factory, upgrade
from steward.store.models import UsageEvent

CONFIG = {
    "providers": {"sim": {"kind": "sim"}},
    "models": [
        {"name": "chat", "provider": "sim", "fallbacks": ["backup"]},
        {"name": "backup", "provider": "sim"},
    ],
    "slos": [{"name": "avail", "kind": "availability", "objective": 0.99, "model": "chat"}],
    "drift": {"enabled": False},
    "remediation": {"rules": [{"name": "r", "trigger": {"kind": "slo_burn", "slo": "avail"},
                               "action": {"kind": "reroute"}}]},
}  # fmt: skip


@pytest.fixture
def client(sqlite_url: str) -> Iterator[tuple[TestClient, dict[str, str], dict[str, str], Jobs]]:
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    sessions: sessionmaker[Session] = session_factory(engine)
    service = IdentityService(sessions)
    _, admin = service.create_admin_key("ops", "admin")
    _, auditor = service.create_admin_key("audit", "auditor")
    config = StewardConfig.model_validate(CONFIG)
    now = datetime.now(UTC)
    with sessions() as s, s.begin():
        for i in range(60):
            ts = now - timedelta(seconds=10 + i)
            status = 503 if i % 2 else 200
            s.add(UsageEvent(id=new_id(), ts=ts, request_id=new_id(), endpoint="chat",
                             model="chat", status=status))  # fmt: skip
    app = create_admin_app(service, extra_routers=[slo_router(sessions, config, service)])
    with TestClient(app) as c:
        yield (
            c,
            {"Authorization": f"Bearer {admin}"},
            {"Authorization": f"Bearer {auditor}"},
            Jobs(sessions, config),
        )
    engine.dispose()


def test_status_actions_and_overrides(
    client: tuple[TestClient, dict[str, str], dict[str, str], Jobs],
) -> None:
    c, admin, auditor, jobs = client
    r = c.get("/admin/v1/slos", headers=auditor)
    assert r.status_code == 200
    (slo,) = r.json()["slos"]
    assert slo["slo"] == "avail" and slo["alerting"] == "page"
    assert slo["windows"]["5m"]["bad"] == 30
    jobs.tick(datetime.now(UTC))
    (action,) = c.get("/admin/v1/remediation/actions?status=proposed", headers=auditor).json()[
        "actions"
    ]
    path = f"/admin/v1/remediation/actions/{action['action_id']}"
    assert c.post(path + "/confirm", json={}, headers=auditor).status_code == 403
    r = c.post(path + "/confirm", json={"note": "go"}, headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "applied"
    assert c.post(path + "/confirm", json={}, headers=admin).status_code == 409
    (o,) = c.get("/admin/v1/remediation/overrides", headers=admin).json()["overrides"]
    assert (o["kind"], o["target"], o["value"]["to"]) == ("routing", "chat", "backup")
    r = c.post(path + "/revert", json={"note": "ok"}, headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "reverted"
    assert c.get("/admin/v1/remediation/overrides", headers=admin).json()["overrides"] == []
    r = c.post("/admin/v1/remediation/actions/nope/reject", json={}, headers=admin)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = c.get("/admin/v1/remediation/actions?status=odd", headers=admin)
    assert r.status_code == 400
    assert c.get("/admin/v1/drift-events", headers=auditor).json() == {"events": []}
