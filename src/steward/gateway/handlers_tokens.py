"""POST /v1/agents/token (RFC 8693 token exchange) and GET /.well-known/jwks.json.

Errors follow OAuth 2.0 (RFC 6749 section 5.2, RFC 8693 section 2.2.2): `{"error",
"error_description"}` plus Steward's finer `code`, status 400 (401 for a bad actor credential).
Every exchange, granted or refused, is an audit event `agent.token.exchange`."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import orjson

from steward.events.attribution import delegation_fields
from steward.events.ids import new_id
from steward.gateway.asgi import ClientGone, Receive, Scope, Send, header_dict, read_body
from steward.gateway.errors import GatewayError
from steward.identity.credentials import token_kid
from steward.identity.tokens_exchange import (
    ISSUED_TOKEN_TYPE,
    ExchangeError,
    Grant,
    decide,
    parse_request,
)
from steward.identity.tokens_keys import SECTION as SIGNING_KEYS

if TYPE_CHECKING:
    from steward.gateway.state import Gateway

log = logging.getLogger("steward.gateway")

MAX_BODY = 64 * 1024
_NO_STORE = [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")]


async def _send(
    send: Send, status: int, body: dict[str, Any], request_id: str, extra: list[Any] | None = None
) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"x-steward-request-id", request_id.encode()),
        *_NO_STORE,
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": orjson.dumps(body)})


def _params(raw: bytes, content_type: str) -> dict[str, Any]:
    """The form (application/x-www-form-urlencoded, as RFC 8693 says) or JSON parameters."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/json":
        try:
            data = orjson.loads(raw or b"{}")
        except orjson.JSONDecodeError as exc:
            raise ExchangeError("invalid_request", f"the body is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ExchangeError("invalid_request", "the JSON body must be an object")
        return data
    if media in ("application/x-www-form-urlencoded", ""):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ExchangeError("invalid_request", "the form body is not UTF-8") from None
        return {k: v if len(v) > 1 else v[0] for k, v in parse_qs(text).items()}
    raise ExchangeError(
        "invalid_request",
        f"unsupported content type '{media}'; send application/x-www-form-urlencoded or JSON",
    )


def _audit(request_id: str, grant: Grant | None, err: ExchangeError | None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": new_id(),
        "actor_type": "agent" if grant else "key",
        "actor_id": grant.chain[0] if grant else None,
        "action": "agent.token.exchange",
        "target_type": "token",
        "target_id": grant.token_id if grant else None,
        "outcome": "succeeded" if grant else "denied",
        "reason": err.description if err else None,
        "request_id": request_id,
        "details": {"code": err.code, "error": err.error}
        if err
        else {
            "expires_at": grant.expires_at if grant else None,
            "key_id": grant.key_id if grant else None,
            "scope": grant.scope if grant else None,
        },  # fmt: skip
        **delegation_fields(None),
    }
    if grant:
        row.update(
            agent_id=grant.chain[0],
            on_behalf_of=grant.user_id,
            owner_id=grant.owner_id,
            chain=list(grant.chain),
        )
    return row


async def token_exchange(gw: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    """POST /v1/agents/token."""
    request_id = new_id()
    headers = header_dict(scope)
    if scope["method"] != "POST":
        body = {"error": "invalid_request", "error_description": "use POST",
                "code": "method_not_allowed"}  # fmt: skip
        await _send(send, 405, body, request_id, [(b"allow", b"POST")])
        return
    grant: Grant | None = None
    try:
        try:
            raw = await read_body(receive, headers, MAX_BODY)
        except GatewayError as err:
            raise ExchangeError("invalid_request", err.message, err.code) from None
        settings = gw.config.agents
        params = _params(raw, headers.get("content-type", ""))
        request = parse_request(params, settings, headers.get("authorization"))
        snapshot = gw.snapshots.current
        grant = decide(snapshot, request, settings, gw.credentials)
        ring = snapshot.section(SIGNING_KEYS)
        token = await gw.token_issuer.sign(ring, grant)
        if token_kid(token) not in ring.keys:  # a key created just now: publish it at once
            await gw.snapshots.refresh()
    except ClientGone:
        return
    except ExchangeError as err:
        row = _audit(request_id, None, err)
        await gw.sink.emit(gw.sink.audit_record({"ts": datetime.now(UTC), **row}))
        extra = (
            [(b"www-authenticate", b'Bearer error="invalid_client"')] if err.status == 401 else []
        )
        await _send(send, err.status, err.body(), request_id, extra)
        return
    row = _audit(request_id, grant, None)
    await gw.sink.emit(gw.sink.audit_record({"ts": datetime.now(UTC), **row}))
    answer: dict[str, Any] = {
        "access_token": token,
        "issued_token_type": ISSUED_TOKEN_TYPE,
        "token_type": "Bearer",
        "expires_in": max(1, int(grant.expires_at - grant.issued_at)),
    }
    if grant.scope:
        answer["scope"] = grant.scope
    await _send(send, 200, answer, request_id)


async def jwks(gw: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    """GET /.well-known/jwks.json: the public keys that verify delegation tokens."""
    ring = gw.snapshots.current.section(SIGNING_KEYS)
    headers = [
        (b"content-type", b"application/jwk-set+json"),
        (b"cache-control", b"public, max-age=60"),
    ]
    if scope["method"] not in ("GET", "HEAD"):
        await _send(send, 405, {"error": "invalid_request", "error_description": "use GET"},
                    new_id(), [(b"allow", b"GET")])  # fmt: skip
        return
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": orjson.dumps(ring.jwks())})


__all__ = ["jwks", "token_exchange"]
