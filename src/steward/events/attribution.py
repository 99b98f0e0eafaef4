"""Who acted, for every event: the acting agent, on whose behalf, the accountable owner and the
delegation chain, as the columns of usage and audit events (migration 0008)."""

from __future__ import annotations

from typing import Any

from steward.identity.snapshot import Principal


def delegation_fields(principal: Principal | None) -> dict[str, Any]:
    """The delegation columns of an event row for this principal (all None without one).

    Put them in every usage or audit row made on behalf of a request:
    `{**row, **delegation_fields(ctx.principal)}`."""
    if principal is None:
        return {"agent_id": None, "on_behalf_of": None, "owner_id": None, "chain": None}
    return {
        "agent_id": principal.agent_id,
        "on_behalf_of": principal.on_behalf_of,
        "owner_id": principal.owner_id,
        "chain": list(principal.chain) if principal.chain else None,
    }


__all__ = ["delegation_fields"]
