"""Identity through the real gateway: key lifecycle changes reach the data plane within a second,
suspensions stop keys (an agent's with its owner), /v1/models shows a key its own models, and the
admin API enforces roles and audits what it does."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import anthropic
import httpx
import openai
import pytest

from tests.e2e._gateway import ADMIN_KEY, Gateway

RID = "x-steward-request-id"
HELLO = [{"role": "user", "content": "hello"}]
PROPAGATION_S = 1.0  # a change made through the admin API is in force this soon


def chat(gw: Gateway, key: str) -> httpx.Response:
    """One chat request on a fresh connection."""
    return httpx.post(
        f"{gw.url}/v1/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json={"model": "gpt-test", "messages": HELLO},
        timeout=30,  # generous: a loaded CI machine must not turn slowness into a failure
    )


def code_of(r: httpx.Response) -> str | None:
    if r.status_code == 200:
        return None
    code: str | None = r.json()["error"]["code"]
    return code


def time_until(check: Callable[[], bool], timeout_s: float = 5.0) -> float:
    """Seconds until `check()` first holds (polled every 20 ms); fails after timeout_s."""
    t0 = time.monotonic()
    while not check():
        if time.monotonic() - t0 > timeout_s:
            raise AssertionError(f"condition not met within {timeout_s}s")
        time.sleep(0.02)
    return time.monotonic() - t0


def becomes(gw: Gateway, key: str, code: str | None) -> float:
    """Time until a chat request with `key` answers 200 (code None) or fails with `code`."""
    return time_until(lambda: code_of(chat(gw, key)) == code)


def admin(gw: Gateway, key: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{gw.url}/admin/v1", headers={"authorization": f"Bearer {key}"}, timeout=10
    )


# -- key lifecycle ---------------------------------------------------------------------------


def test_new_key_works_within_a_second(gw: Gateway) -> None:
    org = gw.org()
    created = gw.key(wait=False, user=org["user"], team=org["team"])
    assert becomes(gw, created["key"], None) < PROPAGATION_S
    with openai.OpenAI(base_url=gw.url + "/v1", api_key=created["key"], max_retries=0) as c:
        resp = c.chat.completions.with_raw_response.create(model="gpt-test", messages=HELLO)
    row = gw.usage(resp.headers[RID])
    assert (row.key_id, row.status) == (created["api_key"]["id"], 200)
    assert row.user_id == created["api_key"]["user_id"]


def test_revoked_key_is_refused_within_a_second(gw: Gateway) -> None:
    key, _org, created = gw.user_key()
    key_id = created["api_key"]["id"]
    revoked = gw.api("DELETE", f"/keys/{key_id}")
    assert revoked["status"] == "revoked"
    assert becomes(gw, key, "invalid_api_key") < PROPAGATION_S
    with (
        anthropic.Anthropic(base_url=gw.url, api_key=key, max_retries=0) as c,
        pytest.raises(anthropic.AuthenticationError) as exc,
    ):
        c.messages.create(model="claude-test", max_tokens=5, messages=HELLO)
    rid = exc.value.response.headers[RID]
    assert gw.usage(rid).error_type == "invalid_api_key"
    assert gw.audit(rid).action == "gateway.authenticate"
    # revocation is for good
    r = gw.admin.post(f"{gw.url}/admin/v1/keys/{key_id}/unsuspend")
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "already_revoked"


def test_key_can_be_revoked_by_its_display_prefix(gw: Gateway) -> None:
    key, _org, created = gw.user_key()
    prefix = created["api_key"]["prefix"]
    assert key.startswith(prefix.rstrip("…"))
    assert gw.api("DELETE", f"/keys/{prefix.rstrip('…')}")["id"] == created["api_key"]["id"]
    assert becomes(gw, key, "invalid_api_key") < PROPAGATION_S
    r = gw.admin.delete(f"{gw.url}/admin/v1/keys/{created['api_key']['id']}")
    assert (r.status_code, r.json()["error"]["code"]) == (409, "already_revoked")


def test_suspended_key_is_refused_then_resumed(gw: Gateway) -> None:
    key, _org, created = gw.user_key()
    key_id = created["api_key"]["id"]
    gw.api("POST", f"/keys/{key_id}/suspend", {"reason": "e2e"})
    assert becomes(gw, key, "principal_suspended") < PROPAGATION_S
    gw.api("POST", f"/keys/{key_id}/unsuspend")
    assert becomes(gw, key, None) < PROPAGATION_S


def test_expired_key_is_refused(gw: Gateway) -> None:
    org = gw.org()
    created = gw.key(user=org["user"], team=org["team"], expires_in="2s")  # waits until usable
    key = created["key"]
    expires_at = datetime.fromisoformat(created["api_key"]["expires_at"])
    assert chat(gw, key).status_code == 200
    time.sleep(max(0.0, (expires_at - datetime.now(UTC)).total_seconds()) + 0.05)
    with (
        openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0) as c,
        pytest.raises(openai.AuthenticationError) as exc,
    ):
        c.chat.completions.create(model="gpt-test", messages=HELLO)
    assert exc.value.code == "key_expired"
    rid = exc.value.response.headers[RID]
    row = gw.usage(rid)
    assert (row.status, row.error_type, row.key_id) == (
        401,
        "key_expired",
        created["api_key"]["id"],
    )
    assert gw.audit(rid).action == "gateway.authenticate"
    assert gw.api("GET", f"/keys/{created['api_key']['id']}")["status"] == "expired"
    # /v1/models refuses it too
    r = httpx.get(f"{gw.url}/v1/models", headers={"authorization": f"Bearer {key}"})
    assert (r.status_code, code_of(r)) == (401, "key_expired")


def test_expiry_in_the_past_is_refused_by_the_admin_api(gw: Gateway) -> None:
    org = gw.org()
    r = gw.admin.post(
        f"{gw.url}/admin/v1/keys",
        json={"user": org["user"], "expires_at": "2020-01-01T00:00:00Z"},
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_expiry"


# -- suspensions -----------------------------------------------------------------------------


def test_suspending_the_user_stops_the_key_and_resuming_restores_it(gw: Gateway) -> None:
    key, org, _ = gw.user_key()
    gw.api("POST", f"/users/{org['user']}/suspend", {"reason": "left the company"})
    assert becomes(gw, key, "principal_suspended") < PROPAGATION_S
    with (
        openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0) as c,
        pytest.raises(openai.PermissionDeniedError) as exc,
    ):
        c.chat.completions.create(model="gpt-test", messages=HELLO)
    assert exc.value.code == "principal_suspended"
    rid = exc.value.response.headers[RID]
    assert gw.usage(rid).error_type == "principal_suspended"
    audit = gw.audit(rid)
    assert (audit.action, audit.outcome) == ("gateway.authorize", "denied")

    gw.api("POST", f"/users/{org['user']}/unsuspend")
    assert becomes(gw, key, None) < PROPAGATION_S


def test_suspending_the_app_stops_keys_attributed_to_it(gw: Gateway) -> None:
    key, org, _ = gw.user_key()  # a user key attributed to the org's app
    gw.api("POST", f"/apps/{org['app']}/suspend")
    assert becomes(gw, key, "principal_suspended") < PROPAGATION_S
    gw.api("POST", f"/apps/{org['app']}/unsuspend")
    assert becomes(gw, key, None) < PROPAGATION_S


def test_leaving_the_team_revokes_the_users_key(gw: Gateway) -> None:
    key, org, created = gw.user_key()
    gw.api("DELETE", f"/users/{org['user']}/teams/{org['team']}")
    assert becomes(gw, key, "invalid_api_key") < PROPAGATION_S
    assert gw.api("GET", f"/keys/{created['api_key']['id']}")["status"] == "revoked"


def test_deleting_the_app_removes_its_keys(gw: Gateway) -> None:
    key, org, _ = gw.user_key()
    gw.api("DELETE", f"/apps/{org['app']}")
    assert becomes(gw, key, "invalid_api_key") < PROPAGATION_S


def test_agent_key_stops_with_its_owner(gw: Gateway) -> None:
    org = gw.org()
    agent = f"agent-{uuid.uuid4().hex[:8]}"
    gw.api("POST", "/agents", {"name": agent, "owner": org["user"], "team": org["team"]})
    created = gw.key(agent=agent)
    key = created["key"]
    assert created["api_key"]["principal_type"] == "agent"
    assert chat(gw, key).status_code == 200

    gw.api("POST", f"/users/{org['user']}/suspend")
    assert becomes(gw, key, "principal_suspended") < PROPAGATION_S
    with (
        anthropic.Anthropic(base_url=gw.url, api_key=key, max_retries=0) as c,
        pytest.raises(anthropic.PermissionDeniedError),
    ):
        c.messages.create(model="claude-test", max_tokens=5, messages=HELLO)
    gw.api("POST", f"/users/{org['user']}/unsuspend")
    assert becomes(gw, key, None) < PROPAGATION_S

    # and the agent's own kill switch
    gw.api("POST", f"/agents/{agent}/suspend")
    assert becomes(gw, key, "principal_suspended") < PROPAGATION_S
    gw.api("POST", f"/agents/{agent}/unsuspend")
    assert becomes(gw, key, None) < PROPAGATION_S


# -- /v1/models ------------------------------------------------------------------------------


def configured_models(gw: Gateway) -> list[str]:
    import yaml

    return [m["name"] for m in yaml.safe_load(gw.config_path.read_text())["models"]]


def test_models_lists_only_the_keys_models(gw: Gateway) -> None:
    allowed = ["gpt-test", "claude-test", "emb"]
    key, _, _ = gw.user_key(models=allowed)
    with openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0) as c:
        listed = list(c.models.list())
    assert sorted(m.id for m in listed) == sorted(allowed)
    assert all(m.object == "model" for m in listed)

    with anthropic.Anthropic(base_url=gw.url, api_key=key, max_retries=0) as c:
        page = c.models.list()
        amodels = list(page)
    assert sorted(m.id for m in amodels) == sorted(allowed)
    assert all(m.type == "model" and m.display_name == m.id for m in amodels)
    assert page.has_more is False
    assert {page.first_id, page.last_id} <= set(allowed)


def test_models_lists_everything_for_an_unrestricted_key(gw: Gateway) -> None:
    key, _, _ = gw.user_key()
    with openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0) as c:
        ids = [m.id for m in c.models.list()]
    assert ids == configured_models(gw)


def test_models_without_a_valid_key_is_401(gw: Gateway) -> None:
    r = httpx.get(f"{gw.url}/v1/models")
    assert (r.status_code, code_of(r)) == (401, "missing_api_key")
    assert r.headers[RID]
    with (
        anthropic.Anthropic(base_url=gw.url, api_key="sk-stw-nope", max_retries=0) as c,
        pytest.raises(anthropic.AuthenticationError) as exc,
    ):
        c.models.list()
    body = exc.value.response.json()
    assert body["type"] == "error"
    assert body["error"]["code"] == "invalid_api_key"
    # a refusal to list models is audited (though listing is not usage)
    rid = exc.value.response.headers[RID]
    assert gw.audit(rid).action == "gateway.authenticate"


# -- admin API -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def auditor(gw: Gateway) -> Iterator[httpx.Client]:
    created = gw.api("POST", "/admin-keys", {"name": "e2e-auditor", "role": "auditor"})
    assert created["admin_key"]["role"] == "auditor"
    with admin(gw, created["key"]) as c:
        yield c


def test_auditor_can_read(gw: Gateway, auditor: httpx.Client) -> None:
    org = gw.org()
    for path in (
        "/teams",
        "/users",
        "/keys",
        "/audit",
        "/admin-keys",
        "/whoami",
        f"/users/{org['user']}",
    ):
        r = auditor.get(path)
        assert r.status_code == 200, (path, r.text)
        assert r.headers[RID]
    assert auditor.get("/whoami").json()["role"] == "auditor"


def test_auditor_cannot_write(gw: Gateway, auditor: httpx.Client) -> None:
    org = gw.org()
    writes = [
        ("POST", "/teams", {"name": f"t-{uuid.uuid4().hex[:8]}"}),
        ("POST", "/keys", {"user": org["user"]}),
        ("POST", f"/users/{org['user']}/suspend", {}),
        ("DELETE", f"/users/{org['user']}", None),
        ("POST", "/admin-keys", {"role": "admin"}),
    ]
    for method, path, body in writes:
        r = auditor.request(method, path, json=body)
        assert r.status_code == 403, (method, path, r.text)
        err = r.json()["error"]
        assert (err["type"], err["code"]) == ("permission_error", "insufficient_role")
        assert "auditor" in err["message"]
        denied = [
            e
            for e in gw.api("GET", "/audit?action=admin.auth")
            if e["request_id"] == r.headers[RID]
        ]
        assert len(denied) == 1 and denied[0]["outcome"] == "denied"
    # nothing changed
    assert gw.api("GET", f"/users/{org['user']}")["suspended"] is False
    assert gw.api("GET", f"/keys?user={org['user']}") == []


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_admin_key"),
        ({"authorization": "Bearer sk-stw-adm-not-a-real-key"}, "invalid_admin_key"),
        ({"x-steward-admin-key": "wrong"}, "invalid_admin_key"),
        ({"authorization": "Basic " + "x" * 20}, "missing_admin_key"),
    ],
)
def test_bad_admin_key_is_401(gw: Gateway, headers: dict[str, str], code: str) -> None:
    r = httpx.get(f"{gw.url}/admin/v1/teams", headers=headers)
    assert r.status_code == 401
    assert r.json() == {
        "error": {
            "message": r.json()["error"]["message"],
            "type": "authentication_error",
            "code": code,
        }
    }
    assert r.headers[RID]
    assert r.headers.get("www-authenticate") == "Bearer"


def test_an_api_key_is_not_an_admin_key(gw: Gateway) -> None:
    key, _, _ = gw.user_key()
    with admin(gw, key) as c:
        r = c.get("/teams")
    assert (r.status_code, r.json()["error"]["code"]) == (401, "invalid_admin_key")


def test_admin_actions_are_audited(gw: Gateway) -> None:
    name = f"team-{uuid.uuid4().hex[:8]}"
    with admin(gw, ADMIN_KEY) as c:
        r = c.post("/teams", json={"name": name})
        assert r.status_code == 201
        team_id = r.json()["id"]
        entries = c.get("/audit", params={"action": "team.create", "limit": 500}).json()
    mine = [e for e in entries if e["target_id"] == team_id]
    assert len(mine) == 1
    entry = mine[0]
    assert (entry["actor_type"], entry["outcome"], entry["target_type"]) == (
        "admin",
        "succeeded",
        "team",
    )
    assert entry["request_id"] == r.headers[RID]
    assert entry["details"]["name"] == name

    # a prefix filter finds it too, and every entry is of that family
    family = gw.api("GET", "/audit?action=team.*&limit=500")
    assert any(e["id"] == entry["id"] for e in family)
    assert all(e["action"].startswith("team.") for e in family)


def test_key_lifecycle_is_audited(gw: Gateway) -> None:
    key, org, created = gw.user_key()
    key_id = created["api_key"]["id"]
    gw.api("DELETE", f"/keys/{key_id}?reason=rotated")
    entries = gw.api("GET", "/audit?action=key.*&limit=500")
    actions = {e["action"] for e in entries if e["target_id"] == key_id}
    assert actions == {"key.create", "key.revoke"}
    revoke = next(e for e in entries if e["target_id"] == key_id and e["action"] == "key.revoke")
    assert revoke["reason"] == "rotated"
    assert key not in str(entries)  # the plaintext key never reaches the audit trail
    assert org["user"] in str([e for e in entries if e["target_id"] == key_id])
