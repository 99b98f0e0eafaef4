"""The in-memory snapshot of keys and principals that the hot path reads. It is reloaded when the
store's state version changes, and kept (and cached on disk) when the store is unreachable."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from steward.store.models import (
    Agent,
    ApiKey,
    App,
    GuardDocument,
    ServiceAccount,
    StateVersion,
    Team,
    User,
)
from steward.usage.budgets.records import load_budgets
from steward.usage.budgets.spec import BudgetSpec

log = logging.getLogger("steward.snapshot")


@dataclass(frozen=True, slots=True)
class Section:
    """A part of the snapshot that another package owns (policies, signing keys, pinned tools,
    suspensions...): how to read it from the store, write it to the disk cache and read it back.
    The value must be immutable (or never mutated): every request of a process shares it."""

    name: str
    load: Callable[[Session], Any]
    dump: Callable[[Any], Any]  # value -> JSON-able
    parse: Callable[[Any], Any]  # JSON -> value
    empty: Callable[[], Any]


_SECTIONS: dict[str, Section] = {}
# The modules that register sections, imported before the first snapshot is loaded: add yours.
SECTION_MODULES: tuple[str, ...] = (
    "steward.identity.tokens_keys",
    "steward.identity.tokens_directory",
    "steward.agents.suspensions",
    "steward.agents.mcp.store",
    "steward.catalogue.section",
    "steward.remediation.overrides",
    "steward.policy.data",
)


def register_section(section: Section) -> Section:
    """Register a snapshot section (at import time of the owning module)."""
    _SECTIONS[section.name] = section
    return section


def _sections() -> dict[str, Section]:
    for module in SECTION_MODULES:
        importlib.import_module(module)
    return _SECTIONS


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a key acts for, resolved once per snapshot, never per request."""

    key_id: str
    key_prefix: str
    kind: str  # user | app | agent | service
    user_id: str | None
    team_id: str | None
    app_id: str | None
    agent_id: str | None
    service_account_id: str | None
    allowed_models: frozenset[str] | None
    expires_at: float | None  # unix seconds
    suspended: str | None  # why the key may not be used, or None
    owner_id: str | None = None  # an agent's accountable owner (user id)
    on_behalf_of: str | None = None  # the user an agent acts for (from a delegation token)
    chain: tuple[str, ...] = ()  # delegation chain of agent ids, outermost actor first
    token_id: str | None = None  # jti of the delegation token, when authenticated by one


@dataclass(frozen=True, slots=True)
class Snapshot:
    version: int
    keys: dict[str, Principal]  # sha256(key) -> principal
    names: dict[str, str] = field(default_factory=dict)  # team/app/agent/user id -> name
    # registered confidential documents: id -> (name, winnowed fingerprints)
    documents: dict[str, tuple[str, list[int]]] = field(default_factory=dict)
    budgets: tuple[BudgetSpec, ...] = ()  # every budget (enforced by the limit stage)
    sections: dict[str, Any] = field(default_factory=dict)  # name -> value, see `Section`

    def section(self, name: str) -> Any:
        """A registered section's value (its empty value in a snapshot that lacks it)."""
        try:
            return self.sections[name]
        except KeyError:
            return _sections()[name].empty()

    @classmethod
    def empty(cls) -> Snapshot:
        return cls(version=-1, keys={})


def _suspension(key: ApiKey, suspended: dict[str, set[str]]) -> str | None:
    checks = (
        ("key", key.id if key.suspended else None),
        ("user", key.user_id if key.user_id in suspended["user"] else None),
        ("app", key.app_id if key.app_id in suspended["app"] else None),
        ("agent", key.agent_id if key.agent_id in suspended["agent"] else None),
        (
            "service account",
            key.service_account_id if key.service_account_id in suspended["sa"] else None,
        ),
    )
    for what, hit in checks:
        if hit:
            return f"the {what} this key belongs to is suspended"
    return None


def load_snapshot(session: Session) -> Snapshot:
    """Read every live key and the suspension state of the principals behind it."""
    row = session.get(StateVersion, 1)
    version = row.version if row else 0
    suspended = {
        "user": set(session.scalars(select(User.id).where(User.suspended.is_(True)))),
        "app": set(session.scalars(select(App.id).where(App.suspended.is_(True)))),
        "agent": set(session.scalars(select(Agent.id).where(Agent.suspended.is_(True))))
        # an agent whose accountable owner is suspended is stopped with its owner
        | set(
            session.scalars(
                select(Agent.id)
                .join(User, User.id == Agent.owner_id)
                .where(User.suspended.is_(True))
            )
        ),
        "sa": set(
            session.scalars(select(ServiceAccount.id).where(ServiceAccount.suspended.is_(True)))
        ),
    }
    owners: dict[str, str] = {
        row.id: row.owner_id for row in session.execute(select(Agent.id, Agent.owner_id))
    }
    keys: dict[str, Principal] = {}
    for key in session.scalars(select(ApiKey).where(ApiKey.revoked_at.is_(None))):
        keys[key.key_hash] = Principal(
            key_id=key.id,
            key_prefix=key.prefix,
            kind=key.principal_type,
            user_id=key.user_id,
            team_id=key.team_id,
            app_id=key.app_id,
            agent_id=key.agent_id,
            service_account_id=key.service_account_id,
            allowed_models=frozenset(key.allowed_models) if key.allowed_models else None,
            expires_at=key.expires_at.timestamp() if key.expires_at else None,
            suspended=_suspension(key, suspended),
            owner_id=owners.get(key.agent_id) if key.agent_id else None,
        )
    names: dict[str, str] = {}
    for model in (Team, User, App, Agent):
        names.update((i, n) for i, n in session.execute(select(model.id, model.name)))
    documents = {
        d.id: (d.name, list(d.fingerprints)) for d in session.scalars(select(GuardDocument))
    }
    return Snapshot(
        version=version,
        keys=keys,
        names=names,
        documents=documents,
        budgets=load_budgets(session),
        sections={name: sec.load(session) for name, sec in _sections().items()},
    )


def read_version(session: Session) -> int:
    row = session.get(StateVersion, 1)
    return row.version if row else 0


def _dump(snap: Snapshot) -> bytes:
    keys = {}
    for h, p in snap.keys.items():
        d = asdict(p)
        d["allowed_models"] = sorted(p.allowed_models) if p.allowed_models is not None else None
        d["chain"] = list(p.chain)
        keys[h] = d
    return orjson.dumps(
        {
            "version": snap.version,
            "keys": keys,
            "names": snap.names,
            "documents": snap.documents,
            "budgets": [b.to_json() for b in snap.budgets],
            "sections": {n: _sections()[n].dump(v) for n, v in snap.sections.items()},
        }
    )


def _load(data: bytes) -> Snapshot:
    raw: dict[str, Any] = orjson.loads(data)
    keys = {}
    for h, d in raw["keys"].items():
        am = d.get("allowed_models")
        d["allowed_models"] = frozenset(am) if am is not None else None
        d["chain"] = tuple(d.get("chain") or ())
        keys[h] = Principal(**d)
    documents = {k: (v[0], list(v[1])) for k, v in raw.get("documents", {}).items()}
    return Snapshot(
        version=int(raw["version"]),
        keys=keys,
        names=raw.get("names", {}),
        documents=documents,
        budgets=tuple(BudgetSpec.from_json(b) for b in raw.get("budgets", [])),
        sections={
            name: sec.parse(raw["sections"][name])
            for name, sec in _sections().items()
            if name in raw.get("sections", {})
        },
    )


class SnapshotHolder:
    """Holds the current snapshot and refreshes it in the background.

    Every `poll_s` it reads one row (the state version); only when that changed does it reload.
    A store outage keeps the last snapshot, so known keys keep working. The snapshot is also
    cached on disk (key hashes only) so a process that starts during an outage can serve.
    """

    def __init__(
        self, sessions: sessionmaker[Session], cache_file: Path, poll_s: float = 0.5
    ) -> None:
        self._sessions = sessions
        self._cache_file = cache_file
        self._poll_s = poll_s
        self.current = Snapshot.empty()
        self._task: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[Snapshot], None]] = []
        self.healthy = False

    def on_change(self, fn: Callable[[Snapshot], None]) -> None:
        self._listeners.append(fn)

    def _set(self, snap: Snapshot) -> None:
        self.current = snap
        for fn in self._listeners:
            fn(snap)

    def _reload_sync(self, force: bool) -> Snapshot | None:
        with self._sessions() as s:
            if not force and read_version(s) == self.current.version:
                return None
            return load_snapshot(s)

    async def refresh(self, force: bool = False) -> bool:
        """Reload if the version changed. Returns True when a new snapshot was installed."""
        try:
            snap = await asyncio.to_thread(self._reload_sync, force)
        except Exception as exc:  # the store is down: keep serving the last snapshot
            if self.healthy:
                log.warning("state store unreachable, serving the last snapshot: %s", exc)
            self.healthy = False
            return False
        if not self.healthy:
            self.healthy = True
        if snap is None:
            return False
        self._set(snap)
        await asyncio.to_thread(self._write_cache, snap)
        return True

    def _write_cache(self, snap: Snapshot) -> None:
        try:
            self._cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._cache_file.with_suffix(f".{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(_dump(snap))
            os.replace(tmp, self._cache_file)
        except OSError as exc:
            log.warning("could not cache the snapshot at %s: %s", self._cache_file, exc)

    async def start(self) -> None:
        if not await self.refresh(force=True):
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                self._set(_load(self._cache_file.read_bytes()))
                log.warning("started from the cached snapshot (version %s)", self.current.version)
        self._task = asyncio.create_task(self._loop(), name="steward-snapshot")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._poll_s)
            await self.refresh()

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
