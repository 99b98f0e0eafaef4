"""Bearer credentials -> principal: Steward API keys and agents' delegation tokens.

API keys resolve through the snapshot's key hashes. A delegation token's signature is checked
once (by `kid`, against the snapshot's key ring) and its verified content cached until it
expires; the principal it stands for is rebuilt from live snapshot state whenever the snapshot
changes, so suspending an agent, its owner or the user it acts for, or revoking the agent's key,
stops the token on the next request rather than when it expires."""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass

import jwt

from steward.gateway.errors import GatewayError, unauthorized
from steward.identity.snapshot import Principal, Snapshot
from steward.identity.tokens import Delegation, TokenError, looks_like_jwt, verify
from steward.identity.tokens_directory import SECTION as DIRECTORY
from steward.identity.tokens_directory import Directory
from steward.identity.tokens_keys import SECTION as SIGNING_KEYS
from steward.identity.tokens_keys import KeyRing
from steward.identity.tokens_settings import AgentTokenSettings


class UnknownSigningKey(GatewayError):
    """A token signed with a key this process does not know (yet): the caller may refresh
    its snapshot once and retry, since a sibling process may have just rotated."""


class ExpiredKey(GatewayError):
    """An API key past its expiry; `principal` is who it stood for (for the audit row)."""

    def __init__(self, principal: Principal) -> None:
        super().__init__(
            401,
            f"API key {principal.key_prefix} has expired; ask an admin for a new one",
            type="authentication_error",
            code="key_expired",
        )
        self.principal = principal


@dataclass(slots=True)
class _Entry:
    delegation: Delegation
    kid: str
    version: int = -2  # the snapshot version `principal` was built for
    principal: Principal | None = None


def _token_error(err: TokenError) -> GatewayError:
    if err.code == "unknown_signing_key":
        return UnknownSigningKey(
            401, err.message, type="authentication_error", code="invalid_token"
        )
    return unauthorized(err.message, code=err.code)


def resolve_api_key(snapshot: Snapshot, key: str, now: float | None = None) -> Principal:
    """An API key's principal; 401 invalid_api_key (unknown, revoked) or key_expired."""
    principal = snapshot.keys.get(hashlib.sha256(key.encode()).hexdigest())
    if principal is None:
        raise unauthorized("invalid API key: it is unknown or revoked")
    now = time.time() if now is None else now
    if principal.expires_at is not None and principal.expires_at <= now:
        raise ExpiredKey(principal)
    return principal


def _live_key(snapshot: Snapshot, directory: Directory, key_id: str) -> Principal | None:
    digest = directory.key_hashes.get(key_id)
    return snapshot.keys.get(digest) if digest is not None else None


def _suspension(
    snapshot: Snapshot, directory: Directory, d: Delegation, actor: Principal
) -> str | None:
    """Why the token may not be used now (from live state), or None."""
    if actor.suspended:
        return actor.suspended
    if d.subject_key_id is not None:
        subject = _live_key(snapshot, directory, d.subject_key_id)
        if subject is not None and subject.suspended:
            return f"the key of the user this agent acts for: {subject.suspended}"
    problem = directory.user_problem(d.user_id, snapshot.names)
    if problem:
        return problem
    for agent_id in d.chain:
        problem = directory.agent_problem(agent_id, snapshot.names)
        if problem:
            return problem
    return None


def token_principal(snapshot: Snapshot, d: Delegation, now: float | None = None) -> Principal:
    """The principal a verified delegation token stands for, against this snapshot: the acting
    agent (with its key's team and app), on whose behalf (also its `user_id`, so the user's
    budgets and limits apply), the chain, the agent's current owner, and the narrower of the
    token's and the agent key's allowed models. Raises 401 if a key behind it was revoked."""
    directory: Directory = snapshot.section(DIRECTORY)
    actor = _live_key(snapshot, directory, d.key_id)
    if actor is None:
        raise unauthorized(
            "the agent key this delegation token was issued to has been revoked",
            code="token_revoked",
        )
    if d.subject_key_id is not None and _live_key(snapshot, directory, d.subject_key_id) is None:
        raise unauthorized(
            "the user key this delegation started from has been revoked", code="token_revoked"
        )
    now = time.time() if now is None else now
    if actor.expires_at is not None and actor.expires_at <= now:
        raise unauthorized(
            f"the agent key {actor.key_prefix} behind this token has expired", code="key_expired"
        )
    models = d.models
    if actor.allowed_models is not None:
        models = actor.allowed_models if models is None else models & actor.allowed_models
    agent = directory.agents.get(d.agent_id)
    return Principal(
        key_id=d.key_id,
        key_prefix=f"token:{d.token_id[:18]}",
        kind="agent",
        user_id=d.user_id,
        team_id=actor.team_id,
        app_id=actor.app_id,
        agent_id=d.agent_id,
        service_account_id=None,
        allowed_models=models,
        expires_at=d.expires_at,
        suspended=_suspension(snapshot, directory, d, actor),
        owner_id=agent.owner_id if agent is not None and agent.owner_id else d.owner_id,
        on_behalf_of=d.user_id,
        chain=d.chain,
        token_id=d.token_id,
    )


class BearerResolver:
    """Resolves bearer credentials for one gateway process, caching verified tokens (bounded,
    each until it expires)."""

    def __init__(self, settings: AgentTokenSettings) -> None:
        self.settings = settings
        self._cache: OrderedDict[str, _Entry] = OrderedDict()

    def _verified(self, snapshot: Snapshot, token: str, now: float) -> _Entry:
        entry = self._cache.get(token)
        if entry is not None:
            if entry.delegation.expires_at <= now:
                del self._cache[token]
                raise unauthorized(
                    "the delegation token has expired; exchange a new one", code="token_expired"
                )
            self._cache.move_to_end(token)
            return entry
        ring: KeyRing = snapshot.section(SIGNING_KEYS)
        try:
            delegation = verify(
                token, ring, self.settings.issuer, skew_s=self.settings.clock_skew_s, now=now
            )
        except TokenError as err:
            raise _token_error(err) from None
        kid = token_kid(token)
        entry = _Entry(delegation, kid)
        if self.settings.token_cache_size > 0:
            self._cache[token] = entry
            while len(self._cache) > self.settings.token_cache_size:
                self._cache.popitem(last=False)
        return entry

    def resolve_token(self, snapshot: Snapshot, token: str, now: float | None = None) -> Principal:
        """A delegation token's principal (401 invalid_token, token_expired, token_revoked)."""
        now = time.time() if now is None else now
        entry = self._verified(snapshot, token, now)
        if entry.version != snapshot.version or entry.principal is None:
            ring: KeyRing = snapshot.section(SIGNING_KEYS)
            if entry.kid not in ring.keys:  # its key was withdrawn since it was verified
                self._cache.pop(token, None)
                raise unauthorized(
                    "the key that signed this delegation token has been withdrawn",
                    code="invalid_token",
                )
            entry.principal = token_principal(snapshot, entry.delegation, now)
            entry.version = snapshot.version
        return entry.principal

    def delegation(self, snapshot: Snapshot, token: str, now: float | None = None) -> Delegation:
        """A delegation token's verified content (401 if it does not verify or has expired)."""
        return self._verified(snapshot, token, time.time() if now is None else now).delegation

    def resolve(self, snapshot: Snapshot, credential: str, now: float | None = None) -> Principal:
        """An API key's or a delegation token's principal; GatewayError 401 otherwise."""
        if looks_like_jwt(credential):
            return self.resolve_token(snapshot, credential, now)
        return resolve_api_key(snapshot, credential, now)

    def cached(self) -> int:
        """How many verified tokens are cached."""
        return len(self._cache)


def token_kid(token: str) -> str:
    """The `kid` of a token whose signature has been verified."""
    return str(jwt.get_unverified_header(token)["kid"])


def resolve_bearer(
    snapshot: Snapshot, token: str, resolver: BearerResolver | None = None
) -> Principal:
    """Who a bearer credential (API key or delegation token) stands for, from the snapshot.

    Pass the process's resolver (`gw.credentials`) for its issuer setting and its cache of
    verified tokens; without one, tokens are checked against the default settings, uncached."""
    resolver = resolver or BearerResolver(AgentTokenSettings(token_cache_size=0))
    return resolver.resolve(snapshot, token)


__all__ = [
    "BearerResolver",
    "ExpiredKey",
    "UnknownSigningKey",
    "resolve_api_key",
    "resolve_bearer",
    "token_principal",
]
