"""`steward tokens rotate-key|keys` (delegation-token signing keys) and the exchange behind
`steward agents token`."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import typer
from sqlalchemy.exc import SQLAlchemyError

from steward.cli._common import (
    ConfigOption,
    JsonOption,
    ReasonOption,
    attr,
    cli_actor,
    fail,
    print_json,
    show_list,
)
from steward.cli._runtime import load_runtime
from steward.config import Runtime
from steward.events.ids import new_id
from steward.identity.credentials import BearerResolver
from steward.identity.snapshot import load_snapshot
from steward.identity.tokens_exchange import (
    ACCESS_TOKEN,
    GRANT_TYPE,
    ISSUED_TOKEN_TYPE,
    ExchangeError,
    decide,
    parse_request,
)
from steward.identity.tokens_issuer import TokenIssuer
from steward.identity.tokens_keys import SECTION, list_keys, rotate
from steward.store.db import make_engine, session_factory, upgrade
from steward.store.models import AuditEvent

tokens_app = typer.Typer(
    help="Signing keys of agents' delegation tokens (see docs/agents.md).", no_args_is_help=True
)

_KEY_COLUMNS = [
    ("KID", attr("kid")),
    ("STATUS", attr("status")),
    ("CREATED", attr("created_at")),
    ("RETIRED", attr("retired_at")),
    ("VERIFIES UNTIL", attr("verify_until")),
    ("ENCRYPTED", attr("encrypted")),
]


def _sessions(runtime: Runtime) -> Any:
    try:
        upgrade(runtime.database_url)
    except SQLAlchemyError as exc:
        fail(f"cannot open the database: {exc.__class__.__name__}")
    return session_factory(make_engine(runtime.database_url))


@tokens_app.command("rotate-key")
def rotate_key(
    reason: ReasonOption = "",
    revoke_previous: Annotated[
        bool,
        typer.Option(
            "--revoke-previous",
            help="Stop older keys verifying now (key compromise): their tokens are refused.",
        ),
    ] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a new signing key; older keys verify until their tokens expire."""
    runtime = load_runtime(config)
    sessions = _sessions(runtime)
    actor = cli_actor()
    with sessions() as session, session.begin():
        done = rotate(
            session,
            runtime.config.agents,
            actor=actor.label(),
            reason=reason,
            revoke_previous=revoke_previous,
        )
    assert done is not None
    if as_json:
        print_json(done)
        return
    typer.echo(f"New signing key {done.kid}; gateways sign with it within a second.")
    if done.retired:
        how = "revoked now" if revoke_previous else "verifying until their tokens expire"
        typer.echo(f"Retired: {', '.join(done.retired)} ({how}).")


@tokens_app.command("keys")
def keys(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """List the signing keys (never their private halves)."""
    runtime = load_runtime(config)
    with _sessions(runtime)() as session:
        found = list_keys(session)
    show_list(
        found, _KEY_COLUMNS, as_json, empty="No signing keys yet (the first exchange makes one)."
    )


def _local_exchange(runtime: Runtime, params: dict[str, str]) -> dict[str, Any]:
    """Exchange against the store directly, with the gateway's own checks and signer."""
    settings = runtime.config.agents
    sessions = _sessions(runtime)
    with sessions() as session:
        snapshot = load_snapshot(session)
    request = parse_request(params, settings)
    grant = decide(snapshot, request, settings, BearerResolver(settings))
    token = asyncio.run(TokenIssuer(settings, sessions).sign(snapshot.section(SECTION), grant))
    actor = cli_actor()
    with sessions() as session, session.begin():
        session.add(
            AuditEvent(
                id=new_id(), ts=datetime.now(UTC), actor_type=actor.type, actor_id=actor.id,
                action="agent.token.exchange", target_type="token", target_id=grant.token_id,
                outcome="succeeded", reason=None, request_id=None,
                details={"key_id": grant.key_id, "scope": grant.scope, "via": "cli"},
                agent_id=grant.chain[0], on_behalf_of=grant.user_id, owner_id=grant.owner_id,
                chain=list(grant.chain),
            )
        )  # fmt: skip
    answer: dict[str, Any] = {
        "access_token": token,
        "issued_token_type": ISSUED_TOKEN_TYPE,
        "token_type": "Bearer",
        "expires_in": int(grant.expires_at - grant.issued_at),
    }
    if grant.scope:
        answer["scope"] = grant.scope
    return answer


def _remote_exchange(url: str, params: dict[str, str]) -> dict[str, Any]:
    try:
        r = httpx.post(url.rstrip("/") + "/v1/agents/token", data=params, timeout=30)
    except httpx.HTTPError as exc:
        fail(f"cannot reach {url}: {exc}")
    body: dict[str, Any] = r.json() if r.headers.get("content-type", "").startswith(
        "application/json"
    ) else {"error": "server_error", "error_description": r.text[:200]}  # fmt: skip
    if r.status_code != 200:
        fail(f"{body.get('error')}: {body.get('error_description')} ({body.get('code')})")
    return body


def exchange_token(
    subject_token: str,
    actor_token: str,
    scope: str | None,
    lifetime: int | None,
    url: str | None,
    config: str | None,
    token_only: bool,
) -> None:
    """Run a token exchange (locally, or against a gateway with `url`) and print the answer."""
    params = {
        "grant_type": GRANT_TYPE,
        "subject_token": subject_token,
        "subject_token_type": ACCESS_TOKEN,
        "actor_token": actor_token,
        "actor_token_type": ACCESS_TOKEN,
    }
    if scope:
        params["scope"] = scope
    if lifetime is not None:
        params["requested_lifetime"] = str(lifetime)
    if url:
        answer = _remote_exchange(url, params)
    else:
        try:
            answer = _local_exchange(load_runtime(config), params)
        except ExchangeError as err:
            fail(f"{err.error}: {err.description} ({err.code})")
        except SQLAlchemyError as exc:
            fail(f"database error: {exc.__class__.__name__}")
    if token_only:
        typer.echo(answer["access_token"])
    else:
        typer.echo(json.dumps(answer, indent=2))


__all__ = ["exchange_token", "tokens_app"]
