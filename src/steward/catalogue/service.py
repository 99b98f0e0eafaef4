"""The catalogue service: models in use with their state, owner and data classes. The admin
API and the CLI are thin front ends over it. Every change commits with its audit event and a
state-version bump, so every gateway process applies it within `server.state_poll_ms`."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from steward.catalogue.records import ModelInfo
from steward.catalogue.refs import ModelRef, configured_refs, resolve
from steward.catalogue.routing import routable
from steward.catalogue.spec import STATES, TRANSITIONS, Entry, can_move
from steward.config.models import StewardConfig
from steward.events.ids import short_id
from steward.identity._base import NameCache, ServiceBase, as_utc, find, utcnow
from steward.identity.errors import Conflict, Invalid
from steward.identity.records import DATA_CLASSES, Actor
from steward.store.models import User
from steward.store.models_catalogue import CatalogueModel

_REASON_CHARS = 2000


def clean_data_classes(values: Sequence[str] | None) -> list[str] | None:
    """Sorted unique data classes from the inventory's vocabulary (None: not restricted)."""
    if values is None:
        return None
    classes = sorted({v.strip() for v in values if v.strip()})
    unknown = [c for c in classes if c not in DATA_CLASSES]
    if unknown:
        raise Invalid(
            f"unknown data class(es) {', '.join(unknown)}; known: {', '.join(DATA_CLASSES)}",
            code="invalid_data_class",
        )
    return classes


def _row(s: Session, ref: ModelRef) -> CatalogueModel | None:
    return s.scalar(
        select(CatalogueModel).where(
            CatalogueModel.kind == ref.kind, CatalogueModel.name == ref.name
        )
    )


class CatalogueService(ServiceBase):
    """Models in the store's catalogue, resolved against the configuration."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        config: StewardConfig,
        *,
        engine: Engine | None = None,
    ) -> None:
        super().__init__(session_factory, engine=engine)
        self.config = config
        self.enforce = config.catalogue.enforce

    # -- reading ------------------------------------------------------------------------------
    def _info(self, ref: ModelRef, row: CatalogueModel | None, names: NameCache) -> ModelInfo:
        configured = ref in set(configured_refs(self.config))
        entry = None if row is None else Entry(ref.kind, ref.name, row.state)  # type: ignore[arg-type]
        return ModelInfo(
            kind=ref.kind,
            name=ref.name,
            state=row.state if row else None,
            routable=routable(entry, self.enforce),
            configured=configured,
            owner=names.name(User, row.owner_id) if row else None,
            owner_id=row.owner_id if row else None,
            data_classes=list(row.data_classes) if row and row.data_classes is not None else None,
            reason=row.reason if row else "",
            updated_at=as_utc(row.updated_at) if row else None,
            updated_by=row.updated_by if row else "",
        )

    def list_models(self, state: str | None = None) -> list[ModelInfo]:
        """Every model the configuration uses or the catalogue lists; `state` filters
        (`unlisted`: configured models without an entry)."""
        if state is not None and state not in (*STATES, "unlisted"):
            raise Invalid(
                f"unknown state '{state}'; give one of {', '.join(STATES)} or unlisted",
                code="invalid_state",
            )
        with self._read() as s:
            names = NameCache(s)
            rows = {ModelRef(r.kind, r.name): r for r in s.scalars(select(CatalogueModel))}  # type: ignore[arg-type]
            refs = list(dict.fromkeys([*configured_refs(self.config), *sorted(rows, key=_order)]))
            out = [self._info(ref, rows.get(ref), names) for ref in refs]
        if state is not None:
            out = [m for m in out if (m.state or "unlisted") == state]
        return out

    def get_model(self, model: str) -> ModelInfo:
        """One model by alias or provider/model."""
        ref = resolve(self.config, model)
        with self._read() as s:
            return self._info(ref, _row(s, ref), NameCache(s))

    # -- changing -----------------------------------------------------------------------------
    def set_state(self, model: str, state: str, *, reason: str = "", actor: Actor) -> ModelInfo:
        """Move a model to `state` (adding it to the catalogue if needed), by the allowed
        transitions: proposed -> approved|blocked, approved -> deprecated|blocked,
        deprecated -> approved|blocked, blocked -> proposed|approved."""
        ref = resolve(self.config, model)
        if state not in STATES:
            raise Invalid(
                f"unknown state '{state}'; give one of {', '.join(STATES)}", code="invalid_state"
            )
        with self._write() as s:
            row = _row(s, ref)
            old = row.state if row else None
            if old == state:
                raise Conflict(f"{ref.name} is already {state}", code="state_unchanged")
            if not can_move(old, state):
                allowed = ", ".join(sorted(TRANSITIONS[old or "proposed"]))
                raise Invalid(
                    f"{ref.name} is {old}; it can move to {allowed}, not {state}",
                    code="invalid_transition",
                )
            row = self._upsert(s, ref, row, actor)
            row.state = state
            row.reason = reason.strip()[:_REASON_CHARS]
            self._changed(
                s,
                actor,
                "catalogue.model.state",
                "model",
                ref.name,
                reason=reason or None,
                details={"kind": ref.kind, "from": old, "to": state},
            )
        return self.get_model(ref.name)

    def set_owner(self, model: str, owner: str | None, *, actor: Actor) -> ModelInfo:
        """Make a user (name or id) accountable for a model; None clears the owner."""
        ref = resolve(self.config, model)
        with self._write() as s:
            user_id = find(s, User, owner).id if owner else None
            row = self._upsert(s, ref, _row(s, ref), actor)
            old = row.owner_id
            row.owner_id = user_id
            self._changed(
                s,
                actor,
                "catalogue.model.owner",
                "model",
                ref.name,
                details={"kind": ref.kind, "from": old, "to": user_id},
            )
        return self.get_model(ref.name)

    def set_data_classes(
        self, model: str, classes: Sequence[str] | None, *, actor: Actor
    ) -> ModelInfo:
        """The data classes a model may see (None: not restricted)."""
        ref = resolve(self.config, model)
        cleaned = clean_data_classes(classes)
        with self._write() as s:
            row = self._upsert(s, ref, _row(s, ref), actor)
            old = row.data_classes
            row.data_classes = cleaned
            self._changed(
                s,
                actor,
                "catalogue.model.data_classes",
                "model",
                ref.name,
                details={"kind": ref.kind, "from": old, "to": cleaned},
            )
        return self.get_model(ref.name)

    def sync(self, state: str, *, actor: Actor) -> list[ModelInfo]:
        """Add every configured model missing from the catalogue, in `state`."""
        if state not in STATES:
            raise Invalid(
                f"unknown state '{state}'; give one of {', '.join(STATES)}", code="invalid_state"
            )
        added: list[str] = []
        with self._write() as s:
            for ref in configured_refs(self.config):
                if _row(s, ref) is None:
                    row = self._upsert(s, ref, None, actor)
                    row.state = state
                    added.append(ref.name)
            if added:
                self._changed(
                    s,
                    actor,
                    "catalogue.model.sync",
                    "catalogue",
                    "models",
                    details={"state": state, "added": added},
                )
        return [m for m in self.list_models() if m.name in added]

    def _upsert(
        self, s: Session, ref: ModelRef, row: CatalogueModel | None, actor: Actor
    ) -> CatalogueModel:
        now = utcnow()
        if row is None:
            # a model added by an owner or data-class change keeps its routability: unlisted
            # models are routed unless `catalogue.enforce` is on
            row = CatalogueModel(
                id=short_id("cat"),
                kind=ref.kind,
                name=ref.name,
                state="proposed" if self.enforce else "approved",
                reason="",
                created_at=now,
            )
            s.add(row)
        row.updated_at = now
        row.updated_by = actor.label()
        return row


def _order(ref: ModelRef) -> tuple[str, str]:
    return (ref.kind, ref.name)


__all__ = ["CatalogueService", "clean_data_classes"]
