"""Token exchange (RFC 8693) against live snapshot state: grants, nested delegation, the depth
limit, refusals, and token principals that follow suspensions and revocations."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from steward.gateway.errors import GatewayError
from steward.identity import IdentityService
from steward.identity.credentials import BearerResolver, resolve_bearer
from steward.identity.snapshot import Snapshot, load_snapshot
from steward.identity.tokens_exchange import (
    ACCESS_TOKEN,
    GRANT_TYPE,
    ExchangeError,
    decide,
    parse_request,
)
from steward.identity.tokens_issuer import TokenIssuer
from steward.identity.tokens_keys import SECTION, load_ring
from steward.identity.tokens_settings import AgentTokenSettings
from steward.store.db import session_factory
from steward.store.models_tokens import SigningKeyRow

SETTINGS = AgentTokenSettings(issuer="https://steward.test", max_delegation_depth=2)


@dataclass
class Org:
    svc: IdentityService
    engine: Engine
    alice_key: str  # user key, models gpt-a and gpt-b
    bot_key: str  # agent "bot" owned by olga
    helper_key: str  # agent "helper" owned by olga
    third_key: str  # agent "third" owned by olga
    app_key: str

    def snapshot(self) -> Snapshot:
        with Session(self.engine) as s:
            return load_snapshot(s)


@pytest.fixture
def org(service: IdentityService, engine: Engine) -> Org:
    service.create_team("ops")
    service.create_user("alice", teams=["ops"])
    service.create_user("olga", teams=["ops"])
    for name in ("bot", "helper", "third"):
        service.create_agent(name, owner="olga", team="ops")
    service.create_app("portal", team="ops")
    keys = {
        "alice": service.create_key(user="alice", models=["gpt-a", "gpt-b"])[1],
        "bot": service.create_key(agent="bot", models=["gpt-a", "gpt-c"])[1],
        "helper": service.create_key(agent="helper")[1],
        "third": service.create_key(agent="third")[1],
        "app": service.create_key(app="portal")[1],
    }
    return Org(service, engine, keys["alice"], keys["bot"], keys["helper"], keys["third"],
               keys["app"])  # fmt: skip


def _params(subject: str, actor: str, **extra: Any) -> dict[str, Any]:
    return {
        "grant_type": GRANT_TYPE,
        "subject_token": subject,
        "subject_token_type": ACCESS_TOKEN,
        "actor_token": actor,
        "actor_token_type": ACCESS_TOKEN,
        **extra,
    }


def _exchange(org: Org, resolver: BearerResolver, subject: str, actor: str, **extra: Any) -> str:
    snap = org.snapshot()
    grant = decide(snap, parse_request(_params(subject, actor, **extra), SETTINGS), SETTINGS,
                   resolver)  # fmt: skip
    issuer = TokenIssuer(SETTINGS, session_factory(org.engine))
    token = asyncio.run(issuer.sign(snap.section(SECTION), grant))
    return token


def _refused(org: Org, subject: str, actor: str, **extra: Any) -> ExchangeError:
    resolver = BearerResolver(SETTINGS)
    with pytest.raises(ExchangeError) as err:
        decide(org.snapshot(), parse_request(_params(subject, actor, **extra), SETTINGS),
               SETTINGS, resolver)  # fmt: skip
    return err.value


def _ids(org: Org) -> dict[str, str]:
    return {
        "alice": org.svc.get_user("alice").id,
        "olga": org.svc.get_user("olga").id,
        **{a: org.svc.get_agent(a).id for a in ("bot", "helper", "third")},
    }


def test_agent_acts_for_a_user_within_both_bounds(org: Org) -> None:
    resolver = BearerResolver(SETTINGS)
    token = _exchange(org, resolver, org.alice_key, org.bot_key)
    ids = _ids(org)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == ids["alice"] and claims["act"] == {"sub": ids["bot"]}
    assert claims["owner"] == ids["olga"]
    assert claims["exp"] - claims["iat"] == SETTINGS.token_ttl_s
    p = resolve_bearer(org.snapshot(), token, resolver)
    assert (p.kind, p.agent_id, p.on_behalf_of, p.owner_id) == (
        "agent", ids["bot"], ids["alice"], ids["olga"],
    )  # fmt: skip
    assert p.chain == (ids["bot"],) and p.token_id == claims["jti"]
    assert p.user_id == ids["alice"]  # the user's budgets and limits apply to the agent
    assert p.allowed_models == frozenset({"gpt-a"})  # alice's models x the bot key's models
    assert p.suspended is None


def test_sub_agent_nests_act_and_the_depth_limit_holds(org: Org) -> None:
    resolver = BearerResolver(SETTINGS)
    ids = _ids(org)
    first = _exchange(org, resolver, org.alice_key, org.bot_key, scope="model:gpt-a")
    second = _exchange(org, resolver, first, org.helper_key)
    claims = jwt.decode(second, options={"verify_signature": False})
    assert claims["sub"] == ids["alice"]
    assert claims["act"] == {"sub": ids["helper"], "act": {"sub": ids["bot"]}}
    p = resolve_bearer(org.snapshot(), second, resolver)
    assert p.chain == (ids["helper"], ids["bot"]) and p.agent_id == ids["helper"]
    assert p.allowed_models == frozenset({"gpt-a"})  # the parent's scope carries over
    assert claims["exp"] <= jwt.decode(first, options={"verify_signature": False})["exp"]
    err = _refused(org, second, org.third_key)
    assert (err.error, err.code, err.status) == ("invalid_grant", "delegation_depth_exceeded", 400)
    assert "max_delegation_depth" in err.description
    err = _refused(org, first, org.bot_key)
    assert err.code == "delegation_cycle"


def test_refusals_use_oauth_errors(org: Org) -> None:
    assert _refused(org, org.alice_key, "sk-stw-nope").error == "invalid_client"
    assert _refused(org, org.alice_key, "sk-stw-nope").status == 401
    err = _refused(org, org.alice_key, org.alice_key)
    assert (err.error, err.code) == ("unauthorized_client", "actor_not_agent")
    err = _refused(org, org.app_key, org.bot_key)
    assert (err.error, err.code) == ("invalid_grant", "subject_not_user")
    assert _refused(org, "sk-stw-unknown", org.bot_key).error == "invalid_grant"
    err = _refused(org, org.alice_key, org.bot_key, scope="model:gpt-z")
    assert err.error == "invalid_scope" and "gpt-z" in err.description
    err = _refused(org, org.alice_key, org.bot_key, requested_lifetime="999999")
    assert (err.error, err.code) == ("invalid_request", "lifetime_too_long")
    err = _refused(org, org.alice_key, org.bot_key, audience="https://elsewhere")
    assert err.error == "invalid_target"
    with pytest.raises(ExchangeError) as bad:
        parse_request({"grant_type": "client_credentials"}, SETTINGS)
    assert bad.value.error == "unsupported_grant_type"
    with pytest.raises(ExchangeError, match="subject_token_type is required"):
        parse_request({"grant_type": GRANT_TYPE, "subject_token": "x", "actor_token": "y"},
                      SETTINGS)  # fmt: skip
    # the actor may authenticate with its Authorization header instead of actor_token
    req = parse_request(
        {"grant_type": GRANT_TYPE, "subject_token": "s", "subject_token_type": ACCESS_TOKEN},
        SETTINGS, authorization="Bearer sk-stw-agent",
    )  # fmt: skip
    assert req.actor_token == "sk-stw-agent"
    as_json = parse_request(_params("s", "a", requested_lifetime=120), SETTINGS)
    assert as_json.lifetime_s == 120  # a JSON number is accepted too
    with pytest.raises(ExchangeError, match="must be a string"):
        parse_request(_params("s", "a", scope={"model": "x"}), SETTINGS)


def test_suspended_agents_owners_and_users_get_no_tokens(org: Org) -> None:
    org.svc.set_agent_suspended("bot", True)
    err = _refused(org, org.alice_key, org.bot_key)
    assert (err.error, err.code) == ("unauthorized_client", "agent_suspended")
    org.svc.set_agent_suspended("bot", False)
    org.svc.set_user_suspended("olga", True)
    assert _refused(org, org.alice_key, org.bot_key).code == "agent_owner_suspended"
    org.svc.set_user_suspended("olga", False)
    org.svc.set_user_suspended("alice", True)
    err = _refused(org, org.alice_key, org.bot_key)
    assert (err.error, err.code) == ("invalid_grant", "subject_suspended")


def test_owner_suspended_agent_cannot_get_keys(org: Org) -> None:
    org.svc.set_user_suspended("olga", True)
    with pytest.raises(Exception, match="is suspended") as err:
        org.svc.create_key(agent="bot")
    assert getattr(err.value, "code", None) == "agent_owner_suspended"


def test_token_principal_follows_live_state(org: Org) -> None:
    resolver = BearerResolver(SETTINGS)
    token = _exchange(org, resolver, org.alice_key, org.bot_key)
    assert resolver.resolve(org.snapshot(), token).suspended is None
    org.svc.set_agent_suspended("bot", True)
    assert "is suspended" in (resolver.resolve(org.snapshot(), token).suspended or "")
    org.svc.set_agent_suspended("bot", False)
    assert resolver.resolve(org.snapshot(), token).suspended is None
    org.svc.set_user_suspended("alice", True)
    assert "is suspended" in (resolver.resolve(org.snapshot(), token).suspended or "")
    org.svc.set_user_suspended("alice", False)
    bot_key_id = resolver.resolve(org.snapshot(), token).key_id
    org.svc.revoke_key(bot_key_id)
    with pytest.raises(GatewayError) as err:
        resolver.resolve(org.snapshot(), token)
    assert (err.value.status, err.value.code) == (401, "token_revoked")


def test_verified_tokens_are_cached_until_they_expire(org: Org) -> None:
    resolver = BearerResolver(SETTINGS)
    token = _exchange(org, resolver, org.alice_key, org.bot_key, requested_lifetime="60")
    snap = org.snapshot()
    first = resolver.resolve(snap, token)
    assert resolver.resolve(snap, token) is first and resolver.cached() == 1
    with pytest.raises(GatewayError) as err:
        resolver.resolve(snap, token, now=time.time() + 61)
    assert err.value.code == "token_expired" and resolver.cached() == 0
    small = BearerResolver(AgentTokenSettings(issuer=SETTINGS.issuer, token_cache_size=1))
    other = _exchange(org, resolver, org.alice_key, org.helper_key)
    small.resolve(snap, token)
    small.resolve(org.snapshot(), other)
    assert small.cached() == 1


def test_expired_subject_token_is_refused(org: Org) -> None:
    resolver = BearerResolver(SETTINGS)
    token = _exchange(org, resolver, org.alice_key, org.bot_key, requested_lifetime="1")
    time.sleep(1.1)
    err = _refused(org, token, org.helper_key)
    assert (err.error, err.code) == ("invalid_grant", "token_expired")


def test_issuer_rotates_an_old_key_and_old_tokens_still_verify(org: Org) -> None:
    resolver = BearerResolver(SETTINGS)
    token = _exchange(org, resolver, org.alice_key, org.bot_key)  # creates the first key
    with Session(org.engine) as s, s.begin():
        s.execute(update(SigningKeyRow).values(created_at=datetime.now(UTC) - timedelta(days=31)))
    with Session(org.engine) as s:
        ring = load_ring(s)
    old = ring.active
    issuer = TokenIssuer(SETTINGS, session_factory(org.engine))
    kid, _ = asyncio.run(issuer.signing_key(ring))
    assert kid != old
    snap = org.snapshot()
    assert set(snap.section(SECTION).keys) == {old, kid}
    assert BearerResolver(SETTINGS).resolve(snap, token).suspended is None
