"""The snapshot section "catalogue": every gateway process holds the model states and alias
deployments in memory, reloaded within `server.state_poll_ms` of a change."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from steward.catalogue.spec import CatalogueView, Entry, Kind, Split, State
from steward.identity.snapshot import Section, register_section
from steward.store.models_catalogue import CatalogueDeployment, CatalogueModel

NAME = "catalogue"


def _entry(row: CatalogueModel) -> Entry:
    return Entry(
        kind=cast(Kind, row.kind),
        name=row.name,
        state=cast(State, row.state),
        owner_id=row.owner_id,
        data_classes=frozenset(row.data_classes) if row.data_classes is not None else None,
        reason=row.reason or "",
    )


def load(session: Session) -> CatalogueView:
    """Read the whole catalogue (a few rows per model in use)."""
    aliases: dict[str, Entry] = {}
    upstreams: dict[str, Entry] = {}
    for row in session.scalars(select(CatalogueModel)):
        (aliases if row.kind == "alias" else upstreams)[row.name] = _entry(row)
    splits = {
        d.alias: Split(d.alias, d.primary_model, d.candidate_model, float(d.percent or 0.0))
        for d in session.scalars(select(CatalogueDeployment))
    }
    return CatalogueView(aliases=aliases, upstreams=upstreams, splits=splits)


def _entry_json(e: Entry) -> dict[str, Any]:
    return {
        "kind": e.kind,
        "name": e.name,
        "state": e.state,
        "owner_id": e.owner_id,
        "data_classes": sorted(e.data_classes) if e.data_classes is not None else None,
        "reason": e.reason,
    }


def dump(view: CatalogueView) -> dict[str, Any]:
    """JSON for the snapshot's disk cache."""
    return {
        "entries": [_entry_json(e) for e in (*view.aliases.values(), *view.upstreams.values())],
        "splits": [
            {"alias": s.alias, "primary": s.primary, "candidate": s.candidate, "percent": s.percent}
            for s in view.splits.values()
        ],
    }


def parse(raw: dict[str, Any]) -> CatalogueView:
    """The inverse of `dump`."""
    aliases: dict[str, Entry] = {}
    upstreams: dict[str, Entry] = {}
    for e in raw.get("entries", []):
        dc = e.get("data_classes")
        entry = Entry(
            kind=e["kind"],
            name=e["name"],
            state=e["state"],
            owner_id=e.get("owner_id"),
            data_classes=frozenset(dc) if dc is not None else None,
            reason=e.get("reason", ""),
        )
        (aliases if entry.kind == "alias" else upstreams)[entry.name] = entry
    splits = {
        s["alias"]: Split(s["alias"], s.get("primary"), s.get("candidate"), float(s["percent"]))
        for s in raw.get("splits", [])
    }
    return CatalogueView(aliases=aliases, upstreams=upstreams, splits=splits)


SECTION = register_section(Section(NAME, load, dump, parse, CatalogueView))

__all__ = ["NAME", "SECTION", "dump", "load", "parse"]
