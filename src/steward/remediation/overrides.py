"""Runtime overrides that remediation puts in front of the configuration, and the snapshot
sections that carry them to every gateway process within the snapshot poll interval:

- `routing_overrides`: alias -> {"skip": n, ...}: the route stage skips the first n deployments
  of the alias (1: serve from its fallbacks);
- `guard_overrides`: app id -> profile name, applied on top of the profiles that attach;
- `sampling_overrides`: "app:<id>" or "model:<alias>" -> rate (read by the evaluation capture);
- `approval_overrides`: agent id -> reason: every tool call of the agent needs approval.

Writers change the `runtime_overrides` table and bump the state version in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from steward.events.ids import new_id
from steward.identity.snapshot import Section, Snapshot, register_section
from steward.identity.state import bump_version
from steward.store.models_slo import RuntimeOverride

KINDS = {
    "routing": "routing_overrides",
    "guard": "guard_overrides",
    "sampling": "sampling_overrides",
    "approval": "approval_overrides",
}


def _loader(kind: str, pick: Callable[[dict[str, Any]], Any]) -> Callable[[Session], Any]:
    def load(session: Session) -> MappingProxyType[str, Any]:
        rows = session.scalars(select(RuntimeOverride).where(RuntimeOverride.kind == kind))
        return MappingProxyType({r.target: pick(dict(r.value)) for r in rows})

    return load


def _register(kind: str, pick: Callable[[dict[str, Any]], Any]) -> None:
    register_section(
        Section(
            name=KINDS[kind],
            load=_loader(kind, pick),
            dump=dict,
            parse=lambda raw: MappingProxyType(dict(raw)),
            empty=lambda: MappingProxyType({}),
        )
    )


_register("routing", lambda v: {"skip": int(v.get("skip", 1)), "to": v.get("to")})
_register("guard", lambda v: str(v["profile"]))
_register("sampling", lambda v: float(v["rate"]))
_register("approval", lambda v: str(v.get("reason", "")))


# -- readers (hot path: dictionary lookups only) -------------------------------------------------


def routing_skip(snapshot: Snapshot, alias: str) -> int:
    """How many leading deployments of `alias` to skip (0: none)."""
    entry = snapshot.section("routing_overrides").get(alias)
    return int(entry["skip"]) if entry else 0


def guard_profile(snapshot: Snapshot, app_id: str | None) -> str | None:
    """The stricter guard profile remediation attached to the app, if any."""
    return snapshot.section("guard_overrides").get(app_id) if app_id else None


def sampling_rate(snapshot: Snapshot, app_id: str | None, model: str | None) -> float | None:
    """The raised sampling rate for the app (first) or the model alias, if any."""
    rates = snapshot.section("sampling_overrides")
    if not rates:
        return None
    if app_id and f"app:{app_id}" in rates:
        return float(rates[f"app:{app_id}"])
    if model and f"model:{model}" in rates:
        return float(rates[f"model:{model}"])
    return None


def approval_required(snapshot: Snapshot, agent_id: str | None) -> str | None:
    """Why every tool call of the agent needs human approval now, or None."""
    if not agent_id:
        return None
    reason = snapshot.section("approval_overrides").get(agent_id)
    return None if reason is None else (reason or "required by a remediation rule")


# -- writers -------------------------------------------------------------------------------------


def set_override(
    session: Session,
    kind: str,
    target: str,
    value: dict[str, Any],
    *,
    action_id: str | None,
    now: datetime,
    actor: str,
) -> None:
    """Create or replace the override of `kind` on `target` and publish it to the gateways."""
    if kind not in KINDS:
        raise ValueError(f"unknown override kind {kind!r}")
    session.execute(
        delete(RuntimeOverride).where(
            RuntimeOverride.kind == kind, RuntimeOverride.target == target
        )
    )
    session.add(
        RuntimeOverride(
            id=new_id(),
            kind=kind,
            target=target,
            value=value,
            action_id=action_id,
            created_at=now,
            created_by=actor,
        )
    )
    bump_version(session)


def clear_override(session: Session, kind: str, target: str, action_id: str | None) -> bool:
    """Remove the override if it is still the one `action_id` set; True when removed."""
    stmt = delete(RuntimeOverride).where(
        RuntimeOverride.kind == kind, RuntimeOverride.target == target
    )
    if action_id is not None:
        stmt = stmt.where(RuntimeOverride.action_id == action_id)
    removed = session.execute(stmt).rowcount  # type: ignore[attr-defined]
    if removed:
        bump_version(session)
    return bool(removed)


def list_overrides(session: Session) -> list[RuntimeOverride]:
    """Every override in force, oldest first."""
    return list(session.scalars(select(RuntimeOverride).order_by(RuntimeOverride.created_at)))


__all__ = [
    "KINDS",
    "approval_required",
    "clear_override",
    "guard_profile",
    "list_overrides",
    "routing_skip",
    "sampling_rate",
    "set_override",
]
