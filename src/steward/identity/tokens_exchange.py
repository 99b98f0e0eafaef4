"""OAuth 2.0 Token Exchange (RFC 8693) for agents: an agent presents its own credential (the
actor token) and the credential of the user it acts for (the subject token: the user's API key
or a delegation token, for a sub-agent), and gets a short-lived delegation token.

The checks run against the in-memory snapshot, like the gateway's hot path; only signing-key
rotation touches the store. The subject's own bounds carry over: the user's suspension, its
key's allowed models and expiry, and, for a sub-agent, the parent token's models and expiry."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from steward.events.ids import short_id
from steward.gateway.errors import GatewayError
from steward.identity.credentials import BearerResolver, resolve_api_key
from steward.identity.snapshot import Principal, Snapshot
from steward.identity.tokens import Delegation, looks_like_jwt
from steward.identity.tokens_directory import SECTION as DIRECTORY
from steward.identity.tokens_directory import Directory
from steward.identity.tokens_settings import AgentTokenSettings

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105 - a type URI
JWT_TOKEN = "urn:ietf:params:oauth:token-type:jwt"  # noqa: S105 - a type URI
API_KEY = "urn:steward:params:oauth:token-type:api-key"
TOKEN_TYPES = frozenset({ACCESS_TOKEN, JWT_TOKEN, API_KEY})
ISSUED_TOKEN_TYPE = ACCESS_TOKEN

# OAuth error -> HTTP status (RFC 6749 section 5.2: 400, but 401 for a failed client credential)
_STATUS = {"invalid_client": 401, "temporarily_unavailable": 503, "server_error": 500}


class ExchangeError(Exception):
    """A refused exchange: the OAuth `error`, its description, and Steward's finer `code`."""

    def __init__(self, error: str, description: str, code: str | None = None) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.code = code or error
        self.status = _STATUS.get(error, 400)

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "error_description": self.description, "code": self.code}


@dataclass(frozen=True, slots=True)
class ExchangeRequest:
    """The validated parameters of a token exchange."""

    subject_token: str
    subject_token_type: str
    actor_token: str
    actor_token_type: str
    scope_models: frozenset[str] | None = None
    scope: str | None = None
    lifetime_s: int | None = None


@dataclass(frozen=True, slots=True)
class Grant:
    """What a successful exchange decided, before signing."""

    token_id: str
    user_id: str
    chain: tuple[str, ...]
    owner_id: str
    key_id: str
    subject_key_id: str | None
    models: frozenset[str] | None
    scope: str | None
    issued_at: float
    expires_at: float
    team_id: str | None = None
    app_id: str | None = None


def _one(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, list):
        if len(value) != 1:
            raise ExchangeError("invalid_request", f"give {name} once")
        value = value[0]
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # a JSON body may give requested_lifetime as a number
    if not isinstance(value, str):
        raise ExchangeError("invalid_request", f"{name} must be a string")
    return value.strip()


def _token_type(params: Mapping[str, Any], name: str, required: bool) -> str:
    value = _one(params, name)
    if value is None:
        if required:
            raise ExchangeError("invalid_request", f"{name} is required (e.g. {ACCESS_TOKEN})")
        return ACCESS_TOKEN
    if value not in TOKEN_TYPES:
        known = ", ".join(sorted(TOKEN_TYPES))
        raise ExchangeError("invalid_request", f"unsupported {name} '{value}' (use: {known})")
    return value


def _scope(raw: str | None) -> frozenset[str] | None:
    if raw is None:
        return None
    models = set()
    for item in raw.split():
        kind, _, name = item.partition(":")
        if kind != "model" or not name:
            raise ExchangeError(
                "invalid_scope",
                f"unknown scope '{item}': scopes name models as model:NAME, space-separated",
            )
        models.add(name)
    return frozenset(models) if models else None


def _lifetime(raw: str | None, settings: AgentTokenSettings) -> int | None:
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ExchangeError("invalid_request", "requested_lifetime must be a positive integer")
    if int(raw) > settings.max_token_ttl_s:
        raise ExchangeError(
            "invalid_request",
            f"requested_lifetime {raw}s exceeds the maximum of {settings.max_token_ttl_s}s "
            "(agents.max_token_ttl_s)",
            code="lifetime_too_long",
        )
    return int(raw)


def parse_request(
    params: Mapping[str, Any], settings: AgentTokenSettings, authorization: str | None = None
) -> ExchangeRequest:
    """Validate the form (or JSON) parameters; the actor may instead authenticate with
    `Authorization: Bearer <its key>`."""
    grant = _one(params, "grant_type")
    if grant != GRANT_TYPE:
        raise ExchangeError(
            "unsupported_grant_type" if grant else "invalid_request",
            f"grant_type must be {GRANT_TYPE}",
        )
    subject = _one(params, "subject_token")
    if subject is None:
        raise ExchangeError(
            "invalid_request", "subject_token is required: the user's API key or token"
        )
    subject_type = _token_type(params, "subject_token_type", required=True)
    actor = _one(params, "actor_token")
    if actor is None and authorization:
        scheme, _, value = authorization.partition(" ")
        actor = value.strip() if scheme.lower() == "bearer" and value.strip() else None
    if actor is None:
        raise ExchangeError(
            "invalid_request",
            "actor_token is required: the acting agent's API key (or its delegation token)",
        )
    actor_type = _token_type(params, "actor_token_type", required="actor_token" in params)
    requested = _one(params, "requested_token_type")
    if requested is not None and requested not in (ACCESS_TOKEN, JWT_TOKEN):
        raise ExchangeError("invalid_request", f"requested_token_type must be {ACCESS_TOKEN}")
    for name in ("audience", "resource"):
        target = _one(params, name)
        if target is not None and target != settings.issuer:
            raise ExchangeError(
                "invalid_target",
                f"{name} '{target}' is not served here; tokens are for '{settings.issuer}'",
            )
    scope = _one(params, "scope")
    return ExchangeRequest(
        subject_token=subject,
        subject_token_type=subject_type,
        actor_token=actor,
        actor_token_type=actor_type,
        scope_models=_scope(scope),
        scope=scope,
        lifetime_s=_lifetime(_one(params, "requested_lifetime"), settings),
    )


def _credential(
    resolver: BearerResolver, snapshot: Snapshot, token: str, kind: str, now: float
) -> tuple[Principal, Delegation | None]:
    try:
        if looks_like_jwt(token):
            principal = resolver.resolve_token(snapshot, token, now)
            return principal, resolver.delegation(snapshot, token, now)
        return resolve_api_key(snapshot, token, now), None
    except GatewayError as err:
        if kind == "actor":
            raise ExchangeError("invalid_client", f"actor_token: {err.message}", err.code) from None
        raise ExchangeError("invalid_grant", f"subject_token: {err.message}", err.code) from None


def _actor(directory: Directory, actor: Principal, names: Mapping[str, str]) -> tuple[str, str]:
    """The acting agent and its owner; refuses unless an agent in good standing."""
    if actor.kind != "agent" or actor.agent_id is None:
        raise ExchangeError(
            "unauthorized_client",
            "actor_token must be an agent's credential (an agent key or its delegation token)",
            code="actor_not_agent",
        )
    refusal = directory.agent_refusal(actor.agent_id, names)
    agent = directory.agents.get(actor.agent_id)
    if refusal is not None or agent is None or agent.owner_id is None:
        code, reason = refusal or ("agent_without_owner", "the agent has no accountable owner")
        raise ExchangeError(
            "unauthorized_client", f"the acting agent may not get tokens: {reason}", code=code
        )
    if actor.suspended:  # the key itself, its app, or a delegation behind the actor token
        raise ExchangeError(
            "unauthorized_client", f"the acting agent may not get tokens: {actor.suspended}",
            code="credential_suspended",
        )  # fmt: skip
    return actor.agent_id, agent.owner_id


def _subject(directory: Directory, subject: Principal, names: Mapping[str, str]) -> str:
    """The user the subject stands for; refuses app, agent and service keys."""
    user_id = subject.on_behalf_of if subject.token_id else subject.user_id
    if user_id is None or (subject.kind != "user" and subject.token_id is None):
        raise ExchangeError(
            "invalid_grant",
            "subject_token must be a user's API key or a delegation token for a user",
            code="subject_not_user",
        )
    if subject.suspended:
        raise ExchangeError(
            "invalid_grant", f"the subject may not delegate: {subject.suspended}",
            code="subject_suspended",
        )  # fmt: skip
    problem = directory.user_problem(user_id, names)
    if problem:
        raise ExchangeError("invalid_grant", problem, code="subject_suspended")
    return user_id


def _models(
    subject: Principal, scope: frozenset[str] | None, scope_text: str | None
) -> frozenset[str] | None:
    bound = subject.allowed_models
    if scope is None:
        return bound
    if bound is not None and not scope <= bound:
        refused = ", ".join(sorted(scope - bound))
        raise ExchangeError(
            "invalid_scope",
            f"scope '{scope_text}' asks for models the user may not use: {refused}",
        )
    return scope


def _expiry(now: float, ttl: int, subject: Principal, actor: Principal) -> float:
    expires = now + ttl
    for bound in (subject.expires_at, actor.expires_at):
        if bound is not None:
            expires = min(expires, bound)
    if expires - now < 1:
        raise ExchangeError(
            "invalid_grant", "the subject or actor credential expires within a second",
            code="token_expired",
        )  # fmt: skip
    return expires


def decide(
    snapshot: Snapshot,
    request: ExchangeRequest,
    settings: AgentTokenSettings,
    resolver: BearerResolver,
    now: float | None = None,
) -> Grant:
    """Check an exchange against the snapshot and decide the token's content (or refuse)."""
    now = time.time() if now is None else now
    directory: Directory = snapshot.section(DIRECTORY)
    actor, _ = _credential(resolver, snapshot, request.actor_token, "actor", now)
    agent_id, owner_id = _actor(directory, actor, snapshot.names)
    subject, parent_token = _credential(resolver, snapshot, request.subject_token, "subject", now)
    user_id = _subject(directory, subject, snapshot.names)
    parent = subject.chain if subject.token_id else ()
    if agent_id in parent:
        raise ExchangeError(
            "invalid_grant",
            f"agent {agent_id} is already in the delegation chain; it cannot delegate to itself",
            code="delegation_cycle",
        )
    chain = (agent_id, *parent)
    if len(chain) > settings.max_delegation_depth:
        raise ExchangeError(
            "invalid_grant",
            f"the delegation chain would have {len(chain)} agents; at most "
            f"{settings.max_delegation_depth} are allowed (agents.max_delegation_depth)",
            code="delegation_depth_exceeded",
        )
    subject_key = parent_token.subject_key_id if parent_token else subject.key_id
    return Grant(
        token_id=short_id("tok"),
        user_id=user_id,
        chain=chain,
        owner_id=owner_id,
        key_id=actor.key_id,
        subject_key_id=subject_key,
        models=_models(subject, request.scope_models, request.scope),
        scope=request.scope,
        issued_at=now,
        expires_at=_expiry(now, request.lifetime_s or settings.token_ttl_s, subject, actor),
        team_id=actor.team_id,
        app_id=actor.app_id,
    )


__all__ = [
    "ACCESS_TOKEN",
    "API_KEY",
    "GRANT_TYPE",
    "ISSUED_TOKEN_TYPE",
    "JWT_TOKEN",
    "ExchangeError",
    "ExchangeRequest",
    "Grant",
    "decide",
    "parse_request",
]
