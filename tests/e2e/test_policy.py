"""Cedar policy through the real gateway and the official openai SDK: a model denied by a
policy file, a stored policy applied by a running gateway within a second, shadow mode, the
admin API refusing an invalid set, and the audit events recorded with the request."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from sqlalchemy import select

from steward.store.models import AuditEvent
from tests.e2e._gateway import Gateway
from tests.fakes.upstream import FakeUpstream

HELLO = [{"role": "user", "content": "hello"}]
FILE_POLICY = """
@id("no-cached-for-agents")
@reason("agents use the standard models")
forbid (principal is Agent, action == Action::"invoke_model", resource == Model::"gpt-cached");
"""


@pytest.fixture(scope="module")
def pgw(
    upstream: FakeUpstream, backend_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """A gateway with a policy directory (one file set) on each backend."""
    root = tmp_path_factory.mktemp("policy-gw")
    policies = root / "policies"
    policies.mkdir()
    (policies / "agents.cedar").write_text(FILE_POLICY)
    g = Gateway(
        root / "gw",
        upstream.base_url,
        backend_url,
        policy={"directory": str(policies), "model_groups": {"standard": ["gpt-test"]}},
    ).start()
    yield g
    g.close()


def _agent_key(gw: Gateway) -> tuple[str, str]:
    org = gw.org()
    name = f"agent-{uuid.uuid4().hex[:8]}"
    gw.api("POST", "/agents", {"name": name, "owner": org["user"], "team": org["team"]})
    return gw.key(agent=name)["key"], name


def _audits(gw: Gateway, request_id: str, action: str, timeout_s: float = 10.0) -> AuditEvent:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with gw._sessions() as s:
            row = s.scalars(
                select(AuditEvent).where(
                    AuditEvent.request_id == request_id, AuditEvent.action == action
                )
            ).first()
        if row is not None:
            return row
        time.sleep(0.05)
    raise AssertionError(f"no {action} audit event for request {request_id}")


def _wait_status(client: httpx.Client, key: str, model: str, status: int, limit_s: float) -> float:
    """Seconds until a chat request with `model` answers `status` (AssertionError after limit)."""
    start = time.monotonic()
    while time.monotonic() - start < limit_s:
        r = client.post(
            "/v1/chat/completions",
            headers={"authorization": f"Bearer {key}"},
            json={"model": model, "messages": HELLO},
        )
        if r.status_code == status:
            return time.monotonic() - start
        time.sleep(0.02)
    raise AssertionError(f"{model} did not answer {status} within {limit_s} s")


def test_file_policy_denies_a_model_to_agents(pgw: Gateway) -> None:
    key, name = _agent_key(pgw)
    with openai.OpenAI(base_url=pgw.url + "/v1", api_key=key, max_retries=0) as c:
        assert c.chat.completions.create(model="gpt-test", messages=HELLO).choices
        listed = [m.id for m in c.models.list()]
        assert "gpt-test" in listed and "gpt-cached" not in listed  # only what it may use
        with pytest.raises(openai.PermissionDeniedError) as denied:
            c.chat.completions.create(model="gpt-cached", messages=HELLO)
    body = denied.value.response.json()["error"]
    assert (body["code"], body["type"]) == ("policy_denied", "permission_error")
    assert f"agent '{name}' may not invoke model 'gpt-cached'" in body["message"]
    assert "agents use the standard models" in body["message"]
    rid = denied.value.response.headers["x-steward-request-id"]
    row = _audits(pgw, rid, "policy.decision")
    assert (row.outcome, row.target_id) == ("denied", "gpt-cached")
    assert row.details["policies"] == ["agents/no-cached-for-agents"]
    assert row.details["mode"] == "enforce" and row.details["agent_id"]
    # people are not agents: the same model is fine for a user key
    user_key = pgw.user_key()[0]
    with openai.OpenAI(base_url=pgw.url + "/v1", api_key=user_key, max_retries=0) as c:
        assert c.chat.completions.create(model="gpt-cached", messages=HELLO).choices
        assert "gpt-cached" in [m.id for m in c.models.list()]


def test_stored_policy_applies_within_a_second_and_goes(pgw: Gateway) -> None:
    key, org, _ = pgw.user_key()
    team = org["team"]
    text = (
        '@id("standard-only")\n'
        f'forbid (principal in Team::"{team}", action == Action::"invoke_model", resource)\n'
        'unless { resource in ModelGroup::"standard" };'
    )
    name = f"team-{uuid.uuid4().hex[:6]}"
    with httpx.Client(base_url=pgw.url, timeout=10) as http:
        assert _wait_status(http, key, "claude-test", 200, 5) >= 0
        pgw.api("POST", "/policies", {"name": name, "text": text})
        took = _wait_status(http, key, "claude-test", 403, 3)
        assert took <= 1.0, f"the policy took {took:.2f} s to apply"
        assert (
            http.post(
                "/v1/chat/completions",
                headers={"authorization": f"Bearer {key}"},
                json={"model": "gpt-test", "messages": HELLO},
            ).status_code
            == 200
        )
        detail = pgw.api("GET", f"/policies/{name}")
        assert detail["version"] == 1 and detail["policies"][0]["id"] == f"{name}/standard-only"
        # shadow mode: recorded, not enforced
        pgw.api("PUT", f"/policies/{name}", {"mode": "shadow"})
        assert _wait_status(http, key, "claude-test", 200, 3) <= 1.0
        r = http.post(
            "/v1/chat/completions",
            headers={"authorization": f"Bearer {key}"},
            json={"model": "claude-test", "messages": HELLO},
        )
        assert r.status_code == 200
        row = _audits(pgw, r.headers["x-steward-request-id"], "policy.decision")
        assert (row.outcome, row.details["mode"], row.details["verdict"]) == (
            "allowed",
            "shadow",
            "deny",
        )
        assert pgw.api("GET", f"/policies/{name}")["version"] == 2
        pgw.admin.delete(f"{pgw.url}/admin/v1/policies/{name}").raise_for_status()
        assert _wait_status(http, key, "claude-test", 200, 3) <= 1.0


def test_invalid_policy_is_refused_and_nothing_changes(pgw: Gateway) -> None:
    r = pgw.admin.post(
        f"{pgw.url}/admin/v1/policies",
        json={"name": "broken", "text": "forbid (principal, action, resource) when { context.x };"},
    )
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "policy_invalid" and "attribute `x` in context" in err["message"]
    assert "broken" not in [s["name"] for s in pgw.api("GET", "/policies")]
    ok = pgw.admin.post(
        f"{pgw.url}/admin/v1/policies/validate",
        json={"text": 'forbid (principal, action, resource == Model::"gpt-test");'},
    )
    assert ok.status_code == 200 and ok.json()["valid"] is True


def test_explain_through_the_admin_api(pgw: Gateway, tmp_path: Path) -> None:
    _key, name = _agent_key(pgw)
    r = pgw.admin.post(
        f"{pgw.url}/admin/v1/policies/explain",
        json={"principal": f"agent:{name}", "action": "invoke_model", "resource": "gpt-cached"},
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["decision"]["verdict"] == "deny"
    matched = [p["id"] for p in out["subjects"][0]["policies"] if p["matched"]]
    assert "agents/no-cached-for-agents" in matched
