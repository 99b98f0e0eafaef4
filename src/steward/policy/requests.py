"""A policy request written by a person (CLI, admin API, test files): principal by name,
action, resource, delegation and context; turned into a `Principal` and decided or explained."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from steward.identity.snapshot import Principal
from steward.policy.data import PolicyData
from steward.policy.engine import Decision, PolicyEngine

KINDS = ("user", "app", "agent", "service")
ACTIONS = ("invoke_model", "call_tool")


class RequestError(ValueError):
    """A request that names something unknown or is malformed."""


@dataclass(frozen=True)
class RequestSpec:
    principal: str  # kind:name, e.g. agent:support-bot
    action: str
    resource: str  # model alias or tool name
    server: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)
    on_behalf_of: str | None = None  # user name
    chain: tuple[str, ...] = ()  # agent names, outermost first
    key_models: tuple[str, ...] | None = None
    context: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RequestSpec:
        """From a test case or an API body; raises RequestError naming the bad field."""
        for key in ("principal", "action", "resource"):
            if not isinstance(raw.get(key), str) or not raw[key]:
                raise RequestError(f"'{key}' is required (a string)")
        args = raw.get("arguments") or {}
        ctx = raw.get("context") or {}
        if not isinstance(args, dict) or not isinstance(ctx, dict):
            raise RequestError("'arguments' and 'context' must be mappings")
        chain = raw.get("chain") or ()
        models = raw.get("key_models")
        if not isinstance(chain, list | tuple) or (
            models is not None and not isinstance(models, list)
        ):
            raise RequestError("'chain' and 'key_models' must be lists")
        return cls(
            principal=raw["principal"],
            action=raw["action"],
            resource=raw["resource"],
            server=raw.get("server"),
            arguments=dict(args),
            on_behalf_of=raw.get("on_behalf_of"),
            chain=tuple(str(c) for c in chain),
            key_models=tuple(str(m) for m in models) if models is not None else None,
            context=dict(ctx),
        )


def _id_of(data: PolicyData, kind: str, name: str) -> str:
    tables: dict[str, dict[str, Any]] = {
        "user": dict(data.users),
        "app": dict(data.apps),
        "agent": dict(data.agents),
        "service": dict(data.services),
    }
    table = tables[kind]
    for ref, info in table.items():
        if info.name == name or ref == name:
            return str(ref)
    raise RequestError(f"{kind} '{name}' is not known")


def to_principal(spec: RequestSpec, data: PolicyData) -> Principal:
    """The Principal a gateway would see for this request."""
    kind, sep, name = spec.principal.partition(":")
    if not sep or kind not in KINDS or not name:
        raise RequestError(
            f"principal '{spec.principal}' must be KIND:NAME with KIND one of {', '.join(KINDS)}"
        )
    if spec.action not in ACTIONS:
        raise RequestError(f"action '{spec.action}' must be one of {', '.join(ACTIONS)}")
    ref = _id_of(data, kind, name)
    owner = None
    if kind == "agent":
        owner_name = data.agents[ref].owner
        owner = next((u for u, i in data.users.items() if i.name == owner_name), owner_name)
    return Principal(
        key_id="explain",
        key_prefix="explain",
        kind=kind,
        user_id=ref if kind == "user" else None,
        team_id=None,
        app_id=ref if kind == "app" else None,
        agent_id=ref if kind == "agent" else None,
        service_account_id=ref if kind == "service" else None,
        allowed_models=frozenset(spec.key_models) if spec.key_models is not None else None,
        expires_at=None,
        suspended=None,
        owner_id=owner,
        on_behalf_of=_id_of(data, "user", spec.on_behalf_of) if spec.on_behalf_of else None,
        chain=tuple(_id_of(data, "agent", a) for a in spec.chain),
    )


def caller_context(spec: RequestSpec) -> dict[str, Any]:
    """The context a caller passes (`time` may be an ISO 8601 instant or unix seconds)."""
    ctx = dict(spec.context)
    when = ctx.pop("time", None)
    if isinstance(when, str):
        try:
            ctx["now"] = datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp()
        except ValueError as exc:
            raise RequestError(f"context.time '{when}' is not an ISO 8601 instant") from exc
    elif isinstance(when, int | float):
        ctx["now"] = float(when)
    return ctx


def decide(engine: PolicyEngine, spec: RequestSpec) -> Decision:
    """Decide a written request exactly as the gateway would."""
    principal = to_principal(spec, engine.state.data)
    ctx = caller_context(spec)
    if spec.action == "invoke_model":
        return engine.decide_model(principal, spec.resource, ctx)
    return engine.decide_tool(principal, spec.resource, spec.server, spec.arguments, ctx)


__all__ = ["RequestError", "RequestSpec", "caller_context", "decide", "to_principal"]
