"""Delegation tokens: short-lived EdDSA (Ed25519) JWTs that say an agent acts for a user.

Claims (RFC 8693 section 4.1 for `act`; RFC 7519 for the rest):
    iss, aud   the configured issuer (`agents.issuer`)
    sub        the user the agent acts for
    act        {"sub": acting agent, "act": {"sub": the agent that delegated to it, ...}}
    owner      the acting agent's accountable owner (a user id)
    jti, iat, nbf, exp
    scope      optional, space-separated (e.g. "model:gpt-4o")
    stw        Steward's own claims: key (the acting agent's API key id), subject_key (the user's
               API key id the delegation started from), models (the allowed models, if bounded)
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from steward.identity.tokens_keys import ALGORITHM, KeyRing

JWT_TYPE = "JWT"


class TokenError(Exception):
    """A token that cannot be accepted; `code` is machine-readable (token_expired, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Delegation:
    """The verified content of a delegation token."""

    token_id: str
    user_id: str  # sub: on whose behalf
    chain: tuple[str, ...]  # acting agent first, then the agents that delegated to it
    owner_id: str  # the acting agent's accountable owner
    key_id: str  # the acting agent's API key
    subject_key_id: str | None  # the user's API key the delegation started from
    models: frozenset[str] | None  # the models the token may use (None: not bounded by it)
    scope: str | None
    issued_at: float
    expires_at: float

    @property
    def agent_id(self) -> str:
        return self.chain[0]


def nest_act(chain: Sequence[str]) -> dict[str, Any]:
    """The RFC 8693 `act` claim for a chain, acting agent first (outermost)."""
    if not chain:
        raise ValueError("a delegation chain has at least one agent")
    act: dict[str, Any] = {"sub": chain[-1]}
    for agent in reversed(chain[:-1]):
        act = {"sub": agent, "act": act}
    return act


def chain_of(act: Any, max_depth: int = 64) -> tuple[str, ...]:
    """The chain of actors in an `act` claim, outermost first."""
    chain: list[str] = []
    while act is not None:
        if not isinstance(act, dict) or not isinstance(act.get("sub"), str) or not act["sub"]:
            raise TokenError("invalid_token", "the token's act claim is malformed")
        chain.append(act["sub"])
        if len(chain) > max_depth:
            raise TokenError("invalid_token", "the token's act claim is nested too deeply")
        act = act.get("act")
    if not chain:
        raise TokenError("invalid_token", "the token has no act claim: it is no delegation token")
    return tuple(chain)


def issue(
    *,
    private_key: Ed25519PrivateKey,
    kid: str,
    issuer: str,
    token_id: str,
    user_id: str,
    chain: Sequence[str],
    owner_id: str,
    key_id: str,
    subject_key_id: str | None,
    models: frozenset[str] | None,
    scope: str | None,
    issued_at: float,
    expires_at: float,
) -> str:
    """Sign a delegation token."""
    stw: dict[str, Any] = {"key": key_id, "subject_key": subject_key_id}
    if models is not None:
        stw["models"] = sorted(models)
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": issuer,
        "sub": user_id,
        "act": nest_act(chain),
        "owner": owner_id,
        "jti": token_id,
        "iat": int(issued_at),
        "nbf": int(issued_at),
        "exp": int(expires_at),
        "stw": stw,
    }
    if scope:
        claims["scope"] = scope
    return jwt.encode(
        claims, private_key, algorithm=ALGORITHM, headers={"kid": kid, "typ": JWT_TYPE}
    )


def looks_like_jwt(token: str) -> bool:
    """Three base64url parts: what a delegation token looks like (API keys never do)."""
    return token.count(".") == 2 and token[:2] == "ey"


def _str(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise TokenError("invalid_token", f"the token's {name} claim is missing or malformed")
    return value


def _number(claims: dict[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TokenError("invalid_token", f"the token's {name} claim is missing or malformed")
    return float(value)


def _header(token: str) -> str:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise TokenError("invalid_token", f"the token is not a well-formed JWT: {exc}") from None
    if header.get("alg") != ALGORITHM:
        raise TokenError("invalid_token", f"the token's algorithm must be {ALGORITHM}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenError("invalid_token", "the token's header names no signing key (kid)")
    return kid


def _delegation(claims: dict[str, Any]) -> Delegation:
    stw = claims.get("stw")
    if not isinstance(stw, dict):
        raise TokenError("invalid_token", "the token carries no Steward claims (stw)")
    models = stw.get("models")
    if models is not None and not (
        isinstance(models, list) and all(isinstance(m, str) for m in models)
    ):
        raise TokenError("invalid_token", "the token's model list is malformed")
    subject_key = stw.get("subject_key")
    scope = claims.get("scope")
    return Delegation(
        token_id=_str(claims, "jti"),
        user_id=_str(claims, "sub"),
        chain=chain_of(claims.get("act")),
        owner_id=_str(claims, "owner"),
        key_id=_str(stw, "key"),
        subject_key_id=subject_key if isinstance(subject_key, str) else None,
        models=frozenset(models) if models is not None else None,
        scope=scope if isinstance(scope, str) else None,
        issued_at=_number(claims, "iat"),
        expires_at=_number(claims, "exp"),
    )


def verify(
    token: str, ring: KeyRing, issuer: str, *, skew_s: float = 0, now: float | None = None
) -> Delegation:
    """Check a delegation token's signature (by `kid`), issuer, audience and times.

    Raises TokenError: unknown_signing_key (no such kid in the ring: retired and expired, or
    not yet known to this process), invalid_token, token_expired."""
    kid = _header(token)
    entry = ring.keys.get(kid)
    if entry is None:
        raise TokenError(
            "unknown_signing_key",
            f"the token was signed with key '{kid}', which this gateway does not know",
        )
    try:
        claims = jwt.decode(
            token,
            entry.key,
            algorithms=[ALGORITHM],
            audience=issuer,
            issuer=issuer,
            options={
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "require": ["iss", "aud", "sub", "exp", "iat", "jti"],
            },  # fmt: skip
        )
    except jwt.InvalidSignatureError:
        raise TokenError("invalid_token", "the token's signature does not verify") from None
    except (jwt.InvalidIssuerError, jwt.InvalidAudienceError):
        raise TokenError(
            "invalid_token", f"the token was not issued by this gateway (issuer '{issuer}')"
        ) from None
    except jwt.PyJWTError as exc:
        raise TokenError("invalid_token", f"the token is invalid: {exc}") from None
    found = _delegation(claims)
    now = time.time() if now is None else now
    if found.expires_at <= now:
        raise TokenError("token_expired", "the delegation token has expired; exchange a new one")
    nbf = claims.get("nbf", found.issued_at)
    if isinstance(nbf, (int, float)) and nbf > now + skew_s:
        raise TokenError("invalid_token", "the delegation token is not valid yet (clock skew?)")
    return found


__all__ = [
    "Delegation",
    "TokenError",
    "chain_of",
    "issue",
    "looks_like_jwt",
    "nest_act",
    "verify",
]
