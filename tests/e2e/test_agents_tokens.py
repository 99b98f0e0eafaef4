"""Agents' delegation tokens through the real gateway: RFC 8693 exchange over HTTP, the JWKS,
the official openai SDK with a token as its API key, usage and audit events that name the agent,
on whose behalf and the accountable owner, sub-agents, rotation, expiry, and the kill switch."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import anthropic
import httpx
import jwt
import openai
import pytest
from sqlalchemy import select

from steward.store.models import AuditEvent
from tests.e2e._gateway import Gateway

RID = "x-steward-request-id"
HELLO = [{"role": "user", "content": "hello"}]
GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"


def _setup(gw: Gateway) -> dict[str, Any]:
    """alice (a user with a key), olga (the owner) and agents bot and helper with keys."""
    tag = uuid.uuid4().hex[:8]
    team = f"team-{tag}"
    gw.api("POST", "/teams", {"name": team})
    alice = gw.api("POST", "/users", {"name": f"alice-{tag}", "teams": [team]})
    olga = gw.api("POST", "/users", {"name": f"olga-{tag}", "teams": [team]})
    bot = gw.api("POST", "/agents", {"name": f"bot-{tag}", "owner": olga["name"], "team": team})
    helper = gw.api("POST", "/agents", {"name": f"helper-{tag}", "owner": olga["name"]})
    return {
        "alice": alice,
        "olga": olga,
        "bot": bot,
        "helper": helper,
        "alice_key": gw.key(user=alice["name"], team=team)["key"],
        "bot_key": gw.key(agent=bot["name"]),
        "helper_key": gw.key(agent=helper["name"])["key"],
    }


def exchange(
    gw: Gateway, subject: str, actor: str, *, json: bool = False, **extra: str
) -> httpx.Response:
    params = {"grant_type": GRANT, "subject_token": subject, "subject_token_type": ACCESS,
              "actor_token": actor, "actor_token_type": ACCESS, **extra}  # fmt: skip
    url = f"{gw.url}/v1/agents/token"
    if json:
        return httpx.post(url, json=params, timeout=30)
    return httpx.post(url, data=params, timeout=30)


def _chat(gw: Gateway, token: str) -> Any:
    with openai.OpenAI(base_url=gw.url + "/v1", api_key=token, max_retries=0) as client:
        return client.chat.completions.with_raw_response.create(model="gpt-test", messages=HELLO)


def _until(check: Any, timeout_s: float = 5.0) -> float:
    t0 = time.monotonic()
    while not check():
        if time.monotonic() - t0 > timeout_s:
            raise AssertionError(f"condition not met within {timeout_s}s")
        time.sleep(0.02)
    return time.monotonic() - t0


def _status(gw: Gateway, token: str) -> tuple[int, str | None]:
    r = httpx.post(
        f"{gw.url}/v1/chat/completions",
        headers={"authorization": f"Bearer {token}"},
        json={"model": "gpt-test", "messages": HELLO},
        timeout=30,
    )
    return r.status_code, None if r.status_code == 200 else r.json()["error"]["code"]


def _exchange_audit(gw: Gateway, jti: str) -> AuditEvent:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with gw._sessions() as s:
            row = s.scalars(select(AuditEvent).where(AuditEvent.target_id == jti)).first()
        if row is not None:
            return row
        time.sleep(0.05)
    raise AssertionError(f"no audit event for token {jti}")


def test_agent_acts_for_a_user_through_the_openai_sdk(gw: Gateway) -> None:
    o = _setup(gw)
    r = exchange(gw, o["alice_key"], o["bot_key"]["key"])
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["token_type"] == "Bearer" and body["issued_token_type"] == ACCESS
    assert body["expires_in"] == 900  # agents.token_ttl_s by default
    token = body["access_token"]
    # anyone can verify it with the published JWKS
    jwks = httpx.get(f"{gw.url}/.well-known/jwks.json").json()
    kid = jwt.get_unverified_header(token)["kid"]
    jwk = next(k for k in jwks["keys"] if k["kid"] == kid)
    claims = jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["EdDSA"], audience="steward")
    assert claims["sub"] == o["alice"]["id"] and claims["act"] == {"sub": o["bot"]["id"]}
    assert claims["owner"] == o["olga"]["id"] and claims["iss"] == "steward"

    resp = _chat(gw, token)
    assert resp.parse().choices[0].message.content
    row = gw.usage(resp.headers[RID])
    assert (row.status, row.agent_id, row.on_behalf_of, row.owner_id) == (
        200, o["bot"]["id"], o["alice"]["id"], o["olga"]["id"],
    )  # fmt: skip
    assert row.chain == [o["bot"]["id"]] and row.token_id == claims["jti"]
    assert row.key_id == o["bot_key"]["api_key"]["id"]  # the agent's key: its limits apply
    audit = _exchange_audit(gw, claims["jti"])
    assert (audit.action, audit.outcome) == ("agent.token.exchange", "succeeded")
    assert (audit.agent_id, audit.on_behalf_of, audit.owner_id) == (
        o["bot"]["id"], o["alice"]["id"], o["olga"]["id"],
    )  # fmt: skip


def test_anthropic_sdk_takes_a_token_as_its_api_key(gw: Gateway) -> None:
    o = _setup(gw)
    token = exchange(gw, o["alice_key"], o["bot_key"]["key"]).json()["access_token"]
    with anthropic.Anthropic(base_url=gw.url, api_key=token, max_retries=0) as client:
        resp = client.messages.with_raw_response.create(
            model="claude-test", max_tokens=5, messages=HELLO
        )
    row = gw.usage(resp.headers[RID])
    assert (row.status, row.agent_id, row.on_behalf_of) == (
        200, o["bot"]["id"], o["alice"]["id"],
    )  # fmt: skip
    # the other endpoints take it too: the models it may use, and its key's own usage
    auth = {"authorization": f"Bearer {token}"}
    models = httpx.get(f"{gw.url}/v1/models", headers=auth, timeout=30)
    assert models.status_code == 200 and models.json()["data"]
    me = httpx.get(f"{gw.url}/v1/usage/self", headers=auth, timeout=30)
    assert me.status_code == 200 and me.json()["key"]["id"] == o["bot_key"]["api_key"]["id"]


def test_sub_agent_token_nests_the_chain(gw: Gateway) -> None:
    o = _setup(gw)
    parent = exchange(gw, o["alice_key"], o["bot_key"]["key"]).json()["access_token"]
    r = exchange(gw, parent, o["helper_key"], json=True, requested_lifetime="120")
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    assert r.json()["expires_in"] == 120
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["act"] == {"sub": o["helper"]["id"], "act": {"sub": o["bot"]["id"]}}
    row = gw.usage(_chat(gw, token).headers[RID])
    assert row.chain == [o["helper"]["id"], o["bot"]["id"]]
    assert (row.agent_id, row.on_behalf_of) == (o["helper"]["id"], o["alice"]["id"])
    # the default depth limit is 3: helper -> bot -> helper is a cycle, refused
    r = exchange(gw, token, o["bot_key"]["key"])
    assert (r.status_code, r.json()["error"], r.json()["code"]) == (
        400, "invalid_grant", "delegation_cycle",
    )  # fmt: skip


def test_refusals_are_oauth_errors(gw: Gateway) -> None:
    o = _setup(gw)
    r = exchange(gw, o["alice_key"], "sk-stw-not-a-key")
    assert (r.status_code, r.json()["error"]) == (401, "invalid_client")
    r = exchange(gw, o["alice_key"], o["alice_key"])
    assert (r.status_code, r.json()["error"], r.json()["code"]) == (
        400, "unauthorized_client", "actor_not_agent",
    )  # fmt: skip
    r = httpx.post(f"{gw.url}/v1/agents/token", data={"grant_type": "password"})
    assert (r.status_code, r.json()["error"]) == (400, "unsupported_grant_type")
    r = exchange(gw, o["alice_key"], o["bot_key"]["key"], requested_lifetime="86400")
    assert (r.status_code, r.json()["code"]) == (400, "lifetime_too_long")
    assert httpx.get(f"{gw.url}/v1/agents/token").status_code == 405
    r = _status(gw, "eyJhbGciOiJFZERTQSJ9.e30.c2ln")
    assert r == (401, "invalid_token")


def test_expired_token_is_refused(gw: Gateway) -> None:
    o = _setup(gw)
    r = exchange(gw, o["alice_key"], o["bot_key"]["key"], requested_lifetime="4")
    token = r.json()["access_token"]
    assert _status(gw, token) == (200, None)  # cached as verified from here on
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    time.sleep(max(0.0, exp - time.time()) + 0.1)
    assert _status(gw, token) == (401, "token_expired")
    with pytest.raises(openai.AuthenticationError) as exc:
        _chat(gw, token)
    assert exc.value.code == "token_expired"


def test_suspension_stops_tokens_within_a_second(gw: Gateway) -> None:
    o = _setup(gw)
    token = exchange(gw, o["alice_key"], o["bot_key"]["key"]).json()["access_token"]
    assert _status(gw, token) == (200, None)
    gw.api("POST", f"/agents/{o['bot']['name']}/suspend", {"reason": "e2e"})
    assert _until(lambda: _status(gw, token) == (403, "principal_suspended")) < 1.0
    with pytest.raises(openai.PermissionDeniedError):
        _chat(gw, token)
    r = exchange(gw, o["alice_key"], o["bot_key"]["key"])
    assert (r.json()["error"], r.json()["code"]) == ("unauthorized_client", "agent_suspended")
    gw.api("POST", f"/agents/{o['bot']['name']}/unsuspend")
    assert _until(lambda: _status(gw, token) == (200, None)) < 1.0
    # the user the agent acts for
    gw.api("POST", f"/users/{o['alice']['name']}/suspend", {"reason": "e2e"})
    assert _until(lambda: _status(gw, token) == (403, "principal_suspended")) < 1.0
    gw.api("POST", f"/users/{o['alice']['name']}/unsuspend")
    assert _until(lambda: _status(gw, token) == (200, None)) < 1.0
    # revoking the agent's key ends its tokens
    gw.api("DELETE", f"/keys/{o['bot_key']['api_key']['id']}")
    assert _until(lambda: _status(gw, token) == (401, "token_revoked")) < 1.0


def test_rotation_keeps_issued_tokens_valid(gw: Gateway) -> None:
    o = _setup(gw)
    old = exchange(gw, o["alice_key"], o["bot_key"]["key"]).json()["access_token"]
    old_kid = jwt.get_unverified_header(old)["kid"]
    done = subprocess.run(
        [str(Path(sys.executable).parent / "steward"), "tokens", "rotate-key", "--reason", "e2e",
         "-c", str(gw.config_path)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr

    def rotated() -> bool:
        kids = [k["kid"] for k in httpx.get(f"{gw.url}/.well-known/jwks.json").json()["keys"]]
        return len(kids) >= 2 and kids[0] != old_kid and old_kid in kids

    _until(rotated)
    new = exchange(gw, o["alice_key"], o["bot_key"]["key"]).json()["access_token"]
    assert jwt.get_unverified_header(new)["kid"] != old_kid
    assert _status(gw, new) == (200, None)
    assert _status(gw, old) == (200, None)  # the retired key verifies until its tokens expire


def test_a_sibling_process_accepts_a_token_signed_with_a_brand_new_key(
    make_gateway: Any, tmp_path: Path
) -> None:
    """Process A creates the first signing key while exchanging; process B, polling slowly,
    has not loaded it yet: it refreshes its snapshot once and accepts the token."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    a = make_gateway(url, name="a").start()
    b = make_gateway(url, name="b", server={"state_poll_ms": 1000}).start()
    o = _setup(a)
    b.wait_usable(o["alice_key"], timeout_s=15)
    token = exchange(a, o["alice_key"], o["bot_key"]["key"]).json()["access_token"]
    assert _status(b, token) == (200, None)
