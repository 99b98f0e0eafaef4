"""Delegation tokens: signing and verification, the act claim, expiry, key rotation and JWKS."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from steward.identity.state import current_version
from steward.identity.tokens import TokenError, chain_of, issue, nest_act, verify
from steward.identity.tokens_keys import (
    KeyRing,
    SigningKeyUnavailable,
    list_keys,
    load_private_key,
    load_ring,
    rotate,
)
from steward.identity.tokens_settings import AgentTokenSettings
from steward.store.models import AuditEvent
from steward.store.models_tokens import SigningKeyRow

SETTINGS = AgentTokenSettings(issuer="https://steward.test", token_ttl_s=300, max_token_ttl_s=600)


def _rotate(engine: Engine, settings: AgentTokenSettings = SETTINGS, **kw: object) -> str:
    with Session(engine) as s, s.begin():
        done = rotate(s, settings, **kw)  # type: ignore[arg-type]
        assert done is not None
        return done.kid


def _ring(engine: Engine, now: datetime | None = None) -> KeyRing:
    with Session(engine) as s:
        return load_ring(s, now)


def _sign(
    engine: Engine, kid: str, *, chain: tuple[str, ...] = ("agent_a",), ttl: float = 60,
    issuer: str = SETTINGS.issuer, passphrase: str | None = None, now: float | None = None,
) -> str:  # fmt: skip
    with Session(engine) as s:
        key = load_private_key(s, kid, passphrase)
    now = time.time() if now is None else now
    return issue(
        private_key=key, kid=kid, issuer=issuer, token_id="jti_1", user_id="user_u",
        chain=chain, owner_id="user_o", key_id="key_a", subject_key_id="key_u",
        models=frozenset({"m1"}), scope="model:m1", issued_at=now, expires_at=now + ttl,
    )  # fmt: skip


def test_act_claim_nests_the_chain_outermost_actor_first() -> None:
    act = nest_act(["agent_c", "agent_b", "agent_a"])
    assert act == {"sub": "agent_c", "act": {"sub": "agent_b", "act": {"sub": "agent_a"}}}
    assert chain_of(act) == ("agent_c", "agent_b", "agent_a")
    assert nest_act(["agent_a"]) == {"sub": "agent_a"}
    with pytest.raises(TokenError, match="malformed"):
        chain_of({"sub": "agent_a", "act": {"nope": 1}})
    with pytest.raises(TokenError, match="no act claim"):
        chain_of(None)


def test_signed_token_verifies_and_carries_every_claim(engine_: Engine) -> None:
    kid = _rotate(engine_)
    token = _sign(engine_, kid, chain=("agent_b", "agent_a"))
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "EdDSA", "kid": kid, "typ": "JWT"}
    d = verify(token, _ring(engine_), SETTINGS.issuer)
    assert d.user_id == "user_u" and d.agent_id == "agent_b"
    assert d.chain == ("agent_b", "agent_a") and d.owner_id == "user_o"
    assert d.key_id == "key_a" and d.subject_key_id == "key_u"
    assert d.models == frozenset({"m1"}) and d.scope == "model:m1"
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["act"] == {"sub": "agent_b", "act": {"sub": "agent_a"}}
    assert claims["iss"] == claims["aud"] == SETTINGS.issuer
    assert claims["exp"] - claims["iat"] == 60


def test_tampered_foreign_and_expired_tokens_are_refused(engine_: Engine) -> None:
    kid = _rotate(engine_)
    ring = _ring(engine_)
    token = _sign(engine_, kid)
    head, body, sig = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["sub"] = "user_mallory"
    forged_body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
    with pytest.raises(TokenError) as err:
        verify(f"{head}.{forged_body.decode()}.{sig}", ring, SETTINGS.issuer)
    assert err.value.code == "invalid_token" and "signature" in err.value.message
    # signed by a key Steward never issued, under a known kid
    rogue = jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA",
                       headers={"kid": kid})  # fmt: skip
    with pytest.raises(TokenError, match="signature"):
        verify(rogue, ring, SETTINGS.issuer)
    with pytest.raises(TokenError) as err:
        verify(_sign(engine_, kid, issuer="https://elsewhere"), ring, SETTINGS.issuer)
    assert "not issued by this gateway" in err.value.message
    old = _sign(engine_, kid, ttl=30, now=time.time() - 60)
    with pytest.raises(TokenError) as err:
        verify(old, ring, SETTINGS.issuer)
    assert err.value.code == "token_expired"
    hs = jwt.encode(claims, "secret-secret-secret-secret-32b!", algorithm="HS256",
                    headers={"kid": kid})  # fmt: skip
    with pytest.raises(TokenError, match="algorithm must be EdDSA"):
        verify(hs, ring, SETTINGS.issuer)
    with pytest.raises(TokenError) as err:
        verify(token, KeyRing(), SETTINGS.issuer)
    assert err.value.code == "unknown_signing_key"
    with pytest.raises(TokenError, match="well-formed"):
        verify("ey.not.jwt", ring, SETTINGS.issuer)


def test_rotation_keeps_old_keys_verifying_until_their_tokens_expire(engine_: Engine) -> None:
    first = _rotate(engine_)
    before = current_version_of(engine_)
    token = _sign(engine_, first)
    second = _rotate(engine_, actor="cli:ops", reason="quarterly")
    assert current_version_of(engine_) > before  # gateways reload the ring
    ring = _ring(engine_)
    assert ring.active == second and set(ring.keys) == {first, second}
    assert verify(token, ring, SETTINGS.issuer).user_id == "user_u"  # the old key still verifies
    jwks = ring.jwks()["keys"]
    assert [k["kid"] for k in jwks] == [second, first]
    assert all(k["kty"] == "OKP" and k["crv"] == "Ed25519" and k["alg"] == "EdDSA" for k in jwks)
    assert all("d" not in k for k in jwks)  # never the private half
    with Session(engine_) as s:
        old = s.get(SigningKeyRow, first)
        assert old is not None and old.private_key is None  # erased on retirement
        assert old.verify_until is not None
        with pytest.raises(SigningKeyUnavailable, match="retired"):
            load_private_key(s, first, None)
        audit = s.scalars(select(AuditEvent).where(AuditEvent.action == "token_key.rotate"))
        rows = list(audit)
        assert [r.target_id for r in rows][-1] == second
        assert rows[-1].actor_id == "ops" and rows[-1].reason == "quarterly"
        statuses = {k.kid: k.status for k in list_keys(s)}
    assert statuses == {first: "retired", second: "active"}
    # past the grace period the retired key is no longer published nor accepted, then pruned
    later = datetime.now(UTC) + timedelta(seconds=SETTINGS.max_token_ttl_s + 60)
    assert set(_ring(engine_, later).keys) == {second}
    with Session(engine_) as s, s.begin():
        third = rotate(s, SETTINGS, now=later)
    assert third is not None and third.pruned == (first,) and third.retired == (second,)


def test_concurrent_automatic_rotations_create_one_key(engine_: Engine) -> None:
    first = _rotate(engine_)
    with Session(engine_) as s, s.begin():
        assert rotate(s, SETTINGS, expect_active=first) is not None
    with Session(engine_) as s, s.begin():  # a sibling process that saw the same old key
        assert rotate(s, SETTINGS, expect_active=first) is None
    assert len(_ring(engine_).keys) == 2


def test_private_keys_can_be_encrypted_at_rest(engine_: Engine) -> None:
    secret = AgentTokenSettings(signing_key_passphrase="correct horse battery staple")
    kid = _rotate(engine_, secret)
    with Session(engine_) as s:
        row = s.get(SigningKeyRow, kid)
        assert row is not None and row.encrypted and row.private_key is not None
        assert "ENCRYPTED PRIVATE KEY" in row.private_key
        with pytest.raises(SigningKeyUnavailable, match="signing_key_passphrase"):
            load_private_key(s, kid, None)
        with pytest.raises(SigningKeyUnavailable, match="cannot be decrypted"):
            load_private_key(s, kid, "wrong")
        assert load_private_key(s, kid, "correct horse battery staple") is not None


def test_settings_bound_the_lifetime() -> None:
    with pytest.raises(ValueError, match="exceeds agents.max_token_ttl_s"):
        AgentTokenSettings(token_ttl_s=7200, max_token_ttl_s=3600)
    with pytest.raises(ValueError):
        AgentTokenSettings(max_delegation_depth=0)


def current_version_of(engine: Engine) -> int:
    with Session(engine) as s:
        return current_version(s)


@pytest.fixture
def engine_(engine: Engine) -> Engine:
    return engine
