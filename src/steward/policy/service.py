"""The policy service for the front ends (admin API and CLI): stored policy sets, versioned;
validation against the schema; applying a directory; explanations against the live store.

Every change validates the whole set first (a bad set is refused with Cedar's messages and
nothing is written), writes a new immutable version, its audit event and a state-version bump
in one transaction, so every gateway process applies it within `server.state_poll_ms`."""

from __future__ import annotations

import builtins
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from steward.events.ids import short_id
from steward.identity._base import ServiceBase, must_utc, utcnow
from steward.identity.errors import Conflict, Invalid, NotFound
from steward.identity.records import SYSTEM_ACTOR, Actor
from steward.policy.data import load_policy_data
from steward.policy.engine import PolicyEngine
from steward.policy.entities import ModelInfo
from steward.policy.sets import MODES, PolicyError, PolicySource, check_set_name, compile_set
from steward.policy.settings import PolicySettings
from steward.store.models_policy import PolicySetRow, PolicyVersionRow


@dataclass(frozen=True)
class PolicySetInfo:
    """A stored set as listed."""

    id: str
    name: str
    mode: str
    version: int
    description: str
    updated_at: datetime
    updated_by: str


@dataclass(frozen=True)
class PolicyVersionInfo:
    version: int
    mode: str
    sha256: str
    created_at: datetime
    created_by: str


@dataclass(frozen=True)
class PolicySummary:
    id: str
    effect: str
    approval: bool


@dataclass(frozen=True)
class PolicySetDetail:
    """A set at one version: its text, the policies in it, and every version's summary."""

    info: PolicySetInfo
    version: int
    mode: str
    text: str
    policies: list[PolicySummary]
    versions: list[PolicyVersionInfo]


@dataclass(frozen=True)
class Validation:
    """The outcome of validating a set without storing it."""

    valid: bool
    errors: list[str]
    policies: list[PolicySummary]


def validate_set(
    schema: Any, name: str, text: str, mode: str = "enforce", declared: Iterable[str] = ()
) -> Validation:
    """Parse and validate one set against `schema` (a cedarpy.Schema) and the declared tool
    arguments; never raises."""
    try:
        check_set_name(name)
        compiled = compile_set(PolicySource(name, text, mode), schema, declared)
    except PolicyError as exc:
        return Validation(False, list(exc.errors), [])
    return Validation(
        True, [], [PolicySummary(i.id, i.effect, i.approval) for i in compiled.info.values()]
    )


def _info(row: PolicySetRow) -> PolicySetInfo:
    return PolicySetInfo(
        id=row.id,
        name=row.name,
        mode=row.mode,
        version=row.version,
        description=row.description,
        updated_at=must_utc(row.updated_at),
        updated_by=row.updated_by,
    )


def _find(session: Session, name: str) -> PolicySetRow:
    row = session.scalar(select(PolicySetRow).where(PolicySetRow.name == name))
    if row is None:
        row = session.get(PolicySetRow, name)
    if row is None:
        raise NotFound(
            f"policy set '{name}' does not exist; check the name (list policy sets to see them)",
            code="policy_set_not_found",
        )
    return row


class PolicyService(ServiceBase):
    """Stored policy sets: list, show, create, update, delete, validate, apply, explain."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        settings: PolicySettings,
        *,
        models: Sequence[ModelInfo] = (),
        file_sets: Sequence[PolicySource] = (),
        engine: Engine | None = None,
    ) -> None:
        super().__init__(session_factory, engine=engine)
        self.settings = settings
        self.models = tuple(models)
        self.file_sets = tuple(file_sets)
        self._checker = PolicyEngine(settings, self.models)  # schema + built-ins, no data

    def __enter__(self) -> PolicyService:
        return self

    # -- reading ---------------------------------------------------------------------------

    def list(self) -> builtins.list[PolicySetInfo]:
        """Every stored set, by name."""
        with self._read() as s:
            return [_info(r) for r in s.scalars(select(PolicySetRow).order_by(PolicySetRow.name))]

    def get(self, name: str, version: int | None = None) -> PolicySetDetail:
        """A set at its current version (or `version`), with its history."""
        with self._read() as s:
            row = _find(s, name)
            number = version if version is not None else row.version
            ver = s.get(PolicyVersionRow, (row.id, number))
            if ver is None:
                raise NotFound(
                    f"policy set '{row.name}' has no version {number} (versions 1-{row.version})",
                    code="policy_version_not_found",
                )
            history = s.scalars(
                select(PolicyVersionRow)
                .where(PolicyVersionRow.set_id == row.id)
                .order_by(PolicyVersionRow.version)
            )
            versions = [
                PolicyVersionInfo(v.version, v.mode, v.sha256, must_utc(v.created_at), v.created_by)
                for v in history
            ]
            return PolicySetDetail(
                info=_info(row),
                version=ver.version,
                mode=ver.mode,
                text=ver.text,
                policies=self.validate(row.name, ver.text, ver.mode).policies,
                versions=versions,
            )

    # -- validating ------------------------------------------------------------------------

    def validate(self, name: str, text: str, mode: str = "enforce") -> Validation:
        """Parse and validate a set against the schema; never raises for a bad set."""
        return validate_set(self._checker.schema, name, text, mode, self.settings.arguments)

    def _checked(self, name: str, text: str, mode: str) -> None:
        result = self.validate(name, text, mode)
        if not result.valid:
            raise Invalid(
                f"policy set '{name}' is invalid and was not applied: " + "; ".join(result.errors),
                code="policy_invalid",
            )

    # -- changing --------------------------------------------------------------------------

    def create(
        self,
        name: str,
        text: str,
        *,
        mode: str = "enforce",
        description: str = "",
        actor: Actor = SYSTEM_ACTOR,
    ) -> PolicySetInfo:
        """Store a new set at version 1."""
        self._checked(name, text, mode)
        with self._write() as s:
            if s.scalar(select(PolicySetRow.id).where(PolicySetRow.name == name)) is not None:
                raise Conflict(
                    f"a policy set named '{name}' already exists; update it instead",
                    code="policy_set_exists",
                )
            row = self._new_row(name, mode, description, actor)
            s.add(row)
            s.flush()
            self._add_version(s, row, text, mode, actor, "policy.set_created")
            return _info(row)

    def update(
        self,
        name: str,
        text: str | None = None,
        *,
        mode: str | None = None,
        description: str | None = None,
        actor: Actor = SYSTEM_ACTOR,
    ) -> PolicySetInfo:
        """Store a new version of a set (its text and/or mode); unchanged input changes nothing."""
        with self._write() as s:
            row = _find(s, name)
            current = s.get(PolicyVersionRow, (row.id, row.version))
            assert current is not None
            new_text = text if text is not None else current.text
            new_mode = mode or row.mode
            if description is not None:
                row.description = description
            if new_text == current.text and new_mode == row.mode:
                return _info(row)
            self._checked(row.name, new_text, new_mode)
            self._add_version(s, row, new_text, new_mode, actor, "policy.set_updated")
            return _info(row)

    def put(
        self, name: str, text: str, *, mode: str = "enforce", actor: Actor = SYSTEM_ACTOR
    ) -> PolicySetInfo:
        """Create the set, or update it if it exists (what `steward policy apply` does)."""
        with self._read() as s:
            exists = s.scalar(select(PolicySetRow.id).where(PolicySetRow.name == name))
        if exists is None:
            return self.create(name, text, mode=mode, actor=actor)
        return self.update(name, text, mode=mode, actor=actor)

    def apply(
        self, sources: Sequence[PolicySource], *, actor: Actor = SYSTEM_ACTOR
    ) -> builtins.list[PolicySetInfo]:
        """Store several sets at once: all validate, or none is written."""
        problems = []
        for src in sources:
            result = self.validate(src.name, src.text, src.mode)
            problems += [f"{src.name}: {e}" for e in result.errors]
        if problems:
            raise Invalid(
                "nothing was applied; invalid policy sets: " + "; ".join(problems),
                code="policy_invalid",
            )
        out = []
        with self._write() as s:
            for src in sources:
                row = s.scalar(select(PolicySetRow).where(PolicySetRow.name == src.name))
                if row is None:
                    row = self._new_row(src.name, src.mode, "", actor)
                    s.add(row)
                    s.flush()
                    self._add_version(s, row, src.text, src.mode, actor, "policy.set_created")
                else:
                    cur = s.get(PolicyVersionRow, (row.id, row.version))
                    if cur is None or cur.text != src.text or row.mode != src.mode:
                        self._add_version(s, row, src.text, src.mode, actor, "policy.set_updated")
                out.append(_info(row))
        return out

    def delete(self, name: str, *, actor: Actor = SYSTEM_ACTOR) -> PolicySetInfo:
        """Remove a set and its versions (the audit trail keeps each version's digest)."""
        with self._write() as s:
            row = _find(s, name)
            info = _info(row)
            s.delete(row)
            self._changed(
                s,
                actor,
                "policy.set_deleted",
                "policy_set",
                row.name,
                details={"version": row.version},
            )
            return info

    @staticmethod
    def _new_row(name: str, mode: str, description: str, actor: Actor) -> PolicySetRow:
        if mode not in MODES:
            raise Invalid(f"mode must be one of: {', '.join(MODES)}", code="invalid_mode")
        now = utcnow()
        return PolicySetRow(
            id=short_id("pol"),
            name=name,
            mode=mode,
            version=0,
            description=description,
            created_at=now,
            updated_at=now,
            created_by=actor.label(),
            updated_by=actor.label(),
        )

    def _add_version(
        self, s: Session, row: PolicySetRow, text: str, mode: str, actor: Actor, action: str
    ) -> None:
        last = s.scalar(
            select(func.max(PolicyVersionRow.version)).where(PolicyVersionRow.set_id == row.id)
        )
        number = (last or 0) + 1
        digest = hashlib.sha256(text.encode()).hexdigest()
        now = utcnow()
        s.add(
            PolicyVersionRow(
                set_id=row.id,
                version=number,
                mode=mode,
                text=text,
                sha256=digest,
                created_at=now,
                created_by=actor.label(),
            )
        )
        row.version, row.mode, row.updated_at, row.updated_by = number, mode, now, actor.label()
        details: dict[str, Any] = {"version": number, "mode": mode, "sha256": digest}
        self._changed(s, actor, action, "policy_set", row.name, details=details)

    # -- deciding against the store --------------------------------------------------------

    def live_engine(self) -> PolicyEngine:
        """An engine loaded with the store's current sets and principals (and the files)."""
        engine = PolicyEngine(self.settings, self.models, self.file_sets)
        with self._read() as s:
            engine.load(load_policy_data(s))
        return engine


__all__ = [
    "PolicyService",
    "PolicySetDetail",
    "PolicySetInfo",
    "PolicySummary",
    "PolicyVersionInfo",
    "Validation",
    "validate_set",
]
