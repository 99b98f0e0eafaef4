"""The admin API's guard routes: documents (audited, fingerprints only), the dry run, roles."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from steward.admin.api import create_admin_app
from steward.guard.documents import GuardDocuments
from steward.guard.runtime import GuardRuntime
from steward.guard.settings import GuardSettings
from steward.identity import IdentityService
from steward.identity.snapshot import load_snapshot
from steward.store.db import make_engine, session_factory, upgrade

V1 = "/admin/v1"
PLAN = (
    "Project Bluebird replaces the current checkout service in three waves. The first wave "
    "moves the European storefronts in the second week of March, after the payment provider "
    "finishes its load tests and the fraud team signs off on the new risk rules. The second "
    "wave moves North America in April, once the tax engine integration is certified."
)
TEXT = "Mail bob@example.com, card 4111 1111 1111 1111."


@dataclass
class GuardEnv:
    service: IdentityService
    engine: Engine
    runtime: GuardRuntime
    client: TestClient
    admin: dict[str, str]
    auditor: dict[str, str]

    def reload(self) -> None:
        """What each gateway process does when the state version moves."""
        with Session(self.engine) as s:
            self.runtime.on_snapshot(load_snapshot(s))


@pytest.fixture
def genv(sqlite_url: str, tmp_path: Path) -> Iterator[GuardEnv]:
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    sessions = session_factory(engine)
    service = IdentityService(sessions)
    _, admin = service.create_admin_key("ops", "admin")
    _, auditor = service.create_admin_key("audit", "auditor")
    settings = GuardSettings.model_validate(
        {
            "profiles": {
                "no-pii": {"input": {"pii": "block"}},
                "pseudo": {"input": {"EMAIL_ADDRESS": "pseudonymize"}},
            }
        }
    )
    runtime = GuardRuntime(settings, tmp_path / "data")
    app = create_admin_app(service, guard=runtime, documents=GuardDocuments(sessions))
    with TestClient(app) as client:
        yield GuardEnv(
            service,
            engine,
            runtime,
            client,
            {"Authorization": f"Bearer {admin}"},
            {"Authorization": f"Bearer {auditor}"},
        )
    engine.dispose()


def _error(r: Any) -> dict[str, Any]:
    err: dict[str, Any] = r.json()["error"]
    assert set(err) == {"message", "type", "code"}
    return err


# -- documents -------------------------------------------------------------------------------


def test_document_lifecycle(genv: GuardEnv) -> None:
    c, h = genv.client, genv.admin
    r = c.post(f"{V1}/guard/documents", json={"name": "bluebird", "text": PLAN}, headers=h)
    assert r.status_code == 201, r.text
    info = r.json()
    assert set(info) == {
        "id",
        "name",
        "words",
        "fingerprints",
        "sha256",
        "created_at",
        "created_by",
    }
    assert info["name"] == "bluebird" and info["fingerprints"] > 0
    assert PLAN[:30] not in r.text

    listed = c.get(f"{V1}/guard/documents", headers=h).json()
    assert listed == [info]
    assert c.get(f"{V1}/guard/documents/bluebird", headers=h).json() == info
    assert c.get(f"{V1}/guard/documents/{info['id']}", headers=h).json() == info

    r = c.delete(f"{V1}/guard/documents/bluebird", headers=h)
    assert r.status_code == 200 and r.json()["id"] == info["id"]
    r = c.get(f"{V1}/guard/documents/bluebird", headers=h)
    assert r.status_code == 404 and _error(r)["code"] == "document_not_found"

    audit = genv.service.list_audit(action="guard.document.*")
    assert [(a.action, a.actor_type, a.request_id is not None) for a in audit] == [
        ("guard.document.remove", "admin", True),
        ("guard.document.add", "admin", True),
    ]


def test_document_errors(genv: GuardEnv) -> None:
    c, h = genv.client, genv.admin
    assert c.post(f"{V1}/guard/documents", json={"name": "a", "text": PLAN}, headers=h).is_success
    r = c.post(f"{V1}/guard/documents", json={"name": "a", "text": PLAN + " more"}, headers=h)
    assert r.status_code == 409 and _error(r)["code"] == "document_exists"
    r = c.post(f"{V1}/guard/documents", json={"name": "b", "text": "too short"}, headers=h)
    assert r.status_code == 422 and _error(r)["code"] == "document_too_short"
    r = c.post(f"{V1}/guard/documents", json={"name": "c"}, headers=h)
    assert r.status_code == 400 and "text" in _error(r)["message"]
    r = c.post(f"{V1}/guard/documents", json={"name": "c", "text": PLAN, "x": 1}, headers=h)
    assert r.status_code == 400


def test_auditor_reads_documents_but_cannot_change_them(genv: GuardEnv) -> None:
    c = genv.client
    c.post(f"{V1}/guard/documents", json={"name": "plan", "text": PLAN}, headers=genv.admin)
    assert c.get(f"{V1}/guard/documents", headers=genv.auditor).status_code == 200
    r = c.post(f"{V1}/guard/documents", json={"name": "x", "text": PLAN}, headers=genv.auditor)
    assert r.status_code == 403 and _error(r)["code"] == "insufficient_role"
    r = c.delete(f"{V1}/guard/documents/plan", headers=genv.auditor)
    assert r.status_code == 403


# -- the dry run -----------------------------------------------------------------------------


def test_dry_run_default_profile(genv: GuardEnv) -> None:
    r = genv.client.post(f"{V1}/guard/test", json={"text": TEXT}, headers=genv.admin)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["text"] == "Mail bob@example.com, card [CREDIT_CARD]."
    assert body["outcome"] == "modified" and body["profiles"] == ["default"]
    assert [
        (f["entity"], f["data_class"], f["detector"], f["action"]) for f in body["findings"]
    ] == [("EMAIL_ADDRESS", "pii", "email", "log"), ("CREDIT_CARD", "pii", "card", "redact")]
    first = body["findings"][0]
    assert set(first) == {
        "entity",
        "data_class",
        "detector",
        "start",
        "end",
        "score",
        "label",
        "action",
        "profile",
    }
    assert TEXT[first["start"] : first["end"]] == "bob@example.com"


def test_dry_run_with_profiles_and_direction(genv: GuardEnv) -> None:
    c, h = genv.client, genv.auditor  # a read-only operation: auditors may run it
    r = c.post(f"{V1}/guard/test", json={"text": TEXT, "profile": "pseudo"}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["text"] == "Mail <EMAIL_ADDRESS_1>, card [CREDIT_CARD]."
    r = c.post(f"{V1}/guard/test", json={"text": TEXT, "profile": "no-pii"}, headers=h)
    assert r.json()["outcome"] == "blocked"
    r = c.post(
        f"{V1}/guard/test",
        json={"text": TEXT, "profile": "no-pii", "direction": "output"},
        headers=h,
    )
    assert r.json()["outcome"] == "modified"  # no-pii only has input rules


def test_dry_run_errors(genv: GuardEnv) -> None:
    c, h = genv.client, genv.admin
    r = c.post(f"{V1}/guard/test", json={"text": TEXT, "profile": "nope"}, headers=h)
    assert r.status_code == 422 and _error(r)["code"] == "unknown_profile"
    assert "no-pii" in _error(r)["message"]
    r = c.post(f"{V1}/guard/test", json={"text": TEXT, "direction": "sideways"}, headers=h)
    assert r.status_code == 400 and "direction" in _error(r)["message"]
    r = c.post(f"{V1}/guard/test", json={"text": TEXT})
    assert r.status_code == 401 and _error(r)["code"] == "missing_admin_key"
    r = c.post(f"{V1}/guard/test", json={"text": TEXT}, headers={"Authorization": "Bearer bad"})
    assert r.status_code == 401 and _error(r)["code"] == "invalid_admin_key"
    denied = genv.service.list_audit(action="admin.auth")
    assert [d.target_id for d in denied] == ["POST /admin/v1/guard/test"] * 2


def test_dry_run_sees_registered_documents_after_reload(genv: GuardEnv) -> None:
    c, h = genv.client, genv.admin
    c.post(f"{V1}/guard/documents", json={"name": "bluebird", "text": PLAN}, headers=h)
    genv.reload()
    leak = f"Can you shorten this? {PLAN}"
    body = c.post(f"{V1}/guard/test", json={"text": leak}, headers=h).json()
    assert [(f["entity"], f["label"]) for f in body["findings"]] == [("DOCUMENT", "bluebird")]


def test_guard_routes_answer_503_without_a_guard(genv: GuardEnv) -> None:
    with TestClient(create_admin_app(genv.service)) as client:
        r = client.post(f"{V1}/guard/test", json={"text": "x"}, headers=genv.admin)
        assert r.status_code == 503 and _error(r)["code"] == "guard_unavailable"
        r = client.get(f"{V1}/guard/documents", headers=genv.admin)
        assert r.status_code == 503


def test_openapi_lists_guard_routes(genv: GuardEnv) -> None:
    paths = genv.client.get("/openapi.json").json()["paths"]
    assert {"post", "get"} <= set(paths[f"{V1}/guard/documents"])
    assert {"get", "delete"} <= set(paths[f"{V1}/guard/documents/{{document}}"])
    assert "post" in paths[f"{V1}/guard/test"]
