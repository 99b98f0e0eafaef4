"""Ship spooled events to the SQL store in batches, idempotently, without ever dropping one.

A background task reads each segment past its cursor (`<segment>.cursor`, replaced atomically),
inserts the rows with ON CONFLICT (id) DO NOTHING in one transaction per batch, then advances the
cursor. The usage events a batch actually adds (RETURNING id) update the usage rollups in the
same transaction (`steward.usage.rollup`), so each event is counted there exactly once. All file
and database work runs in a worker thread so the event loop never waits on it.

- Database unreachable: one warning per outage, capped exponential back-off, retry; the events
  stay in the spool.
- A line that cannot be parsed, an unknown kind, or a row the database rejects for good (an
  integrity or data error other than a duplicate id) goes to `dead-letter.jsonl` in the spool
  directory with the reason, and is counted, instead of blocking the segment forever.
- Segments of dead processes (their flock can be taken) are adopted, shipped and deleted, so a
  restarted process or a sibling worker ships what a crashed one left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any

import orjson
from sqlalchemy import Connection, DateTime, Engine, Float, Numeric, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.dml import Insert

from steward.events.spool import (
    CURSOR_SUFFIX,
    DEAD_LETTER_NAME,
    SEGMENT_SUFFIX,
    Spool,
    cursor_path,
    list_segments,
    read_cursor,
    write_cursor,
)
from steward.store.models import AuditEvent, GuardFinding, UsageEvent
from steward.store.models_evals import EvalSample
from steward.usage import rollup

log = logging.getLogger(__name__)

Database = Engine | sessionmaker[Session]
Converter = Callable[[Any], Any]
# Called in the insert's transaction with the rows that insert added (not the duplicates).
AfterInsert = Callable[[Connection, list[dict[str, Any]]], None]
_STALE_TMP_S = 300.0


def default_hooks() -> dict[str, AfterInsert]:
    """Table name -> what to do with its newly inserted rows: usage events feed the rollups."""
    return {"usage_events": rollup.apply}


def default_tables() -> dict[str, Table]:
    """Record kind -> table."""
    return {
        "usage": UsageEvent.__table__,  # type: ignore[dict-item]
        "audit": AuditEvent.__table__,  # type: ignore[dict-item]
        "finding": GuardFinding.__table__,  # type: ignore[dict-item]
        "eval_sample": EvalSample.__table__,  # type: ignore[dict-item]
    }


class RejectedRecord(ValueError):
    """A record that can never be inserted as it is; the message is the reason."""


# -- record -> row ------------------------------------------------------------------------------


def _to_datetime(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise RejectedRecord(f"bad timestamp {value!r}") from exc
    if not isinstance(value, datetime):
        raise RejectedRecord(f"bad timestamp {value!r}")
    # Stored in UTC: SQLite keeps no offset, so a local wall time would read back wrong.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise RejectedRecord(f"bad number {value!r}")
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise RejectedRecord(f"bad number {value!r}") from exc


def _converters(table: Table) -> dict[str, Converter | None]:
    out: dict[str, Converter | None] = {}
    for col in table.columns:
        conv: Converter | None = None
        if isinstance(col.type, DateTime):
            conv = _to_datetime
        elif isinstance(col.type, Numeric) and not isinstance(col.type, Float):
            conv = _to_decimal
        out[col.key] = conv
    return out


def _is_permanent(exc: BaseException) -> bool:
    """Errors that retrying cannot fix (the row itself is bad). Everything else, including
    a missing table, is treated as an outage and retried."""
    if isinstance(exc, (IntegrityError, DataError)):
        return True
    return isinstance(exc, StatementError) and not isinstance(exc, DBAPIError)


# -- reading segments ---------------------------------------------------------------------------


@dataclass
class _Batch:
    """Complete lines read from one segment, sorted into insertable rows and dead letters."""

    start: int
    end: int
    groups: dict[tuple[str, tuple[str, ...]], list[tuple[int, bytes, dict[str, Any]]]] = field(
        default_factory=dict
    )
    dead: list[tuple[int, bytes, str]] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(len(v) for v in self.groups.values())


@dataclass(frozen=True)
class _Schema:
    tables: dict[str, Table]
    converters: dict[str, dict[str, Converter | None]]

    def prepare(self, raw: bytes) -> tuple[Table, dict[str, Any]]:
        try:
            rec = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise RejectedRecord(f"unparseable line: {exc}") from exc
        if not isinstance(rec, dict):
            raise RejectedRecord("record is not a JSON object")
        kind = rec.get("kind")
        table = self.tables.get(kind) if isinstance(kind, str) else None
        if table is None:
            raise RejectedRecord(f"unknown kind {kind!r}")
        row = rec.get("row")
        if not isinstance(row, dict):
            raise RejectedRecord("record has no 'row' object")
        if not row.get("id"):
            raise RejectedRecord("row has no id")
        conv = self.converters[table.name]
        unknown = sorted(k for k in row if k not in conv)
        if unknown:
            raise RejectedRecord(f"unknown columns for {table.name}: {', '.join(unknown)}")
        out = {}
        for key, value in row.items():
            fn = conv[key]
            out[key] = fn(value) if fn is not None and value is not None else value
        return table, out


def _read_batch(f: IO[bytes], start: int, limit: int, schema: _Schema, final: bool) -> _Batch:
    """Read up to `limit` complete lines from `start`. A trailing line without its newline is
    still being written (live segment) or was torn by a crash (`final`: dead-lettered)."""
    f.seek(start)
    batch = _Batch(start=start, end=start)
    taken = 0
    while taken < limit:
        raw = f.readline()
        if not raw:
            break
        offset = batch.end
        if not raw.endswith(b"\n"):
            if final:
                batch.dead.append((offset, raw, "torn tail: incomplete line from a crashed writer"))
                batch.end += len(raw)
            break
        batch.end += len(raw)
        line = raw[:-1]
        if not line.strip():
            continue
        taken += 1
        try:
            table, row = schema.prepare(line)
        except RejectedRecord as exc:
            batch.dead.append((offset, line, str(exc)))
            continue
        key = (table.name, tuple(sorted(row)))
        batch.groups.setdefault(key, []).append((offset, line, row))
    return batch


@contextlib.contextmanager
def _adopt(segment: Path) -> Iterator[IO[bytes] | None]:
    """Open and lock a segment that no live process holds; yield None if one does (or if it
    was deleted by a sibling shipper meanwhile)."""
    try:
        f = open(segment, "rb")  # noqa: SIM115 - closed below, after the lock is released
    except FileNotFoundError:
        yield None
        return
    with f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
            return
        yield None if os.fstat(f.fileno()).st_nlink == 0 else f


# -- the shipper --------------------------------------------------------------------------------


class Shipper:
    """Moves records from a spool directory into the usage and audit tables."""

    def __init__(
        self,
        spool_dir: Path,
        db: Database,
        *,
        interval_s: float = 0.2,
        batch: int = 2000,
        own_spool: Spool | None = None,
        max_backoff_s: float = 30.0,
        tables: Mapping[str, Table] | None = None,
        after_insert: Mapping[str, AfterInsert] | None = None,
    ) -> None:
        self.spool_dir = Path(spool_dir)
        self.interval_s = interval_s
        self.batch = max(1, batch)
        self.max_backoff_s = max_backoff_s
        self._own = own_spool
        tbl = dict(tables) if tables is not None else default_tables()
        self._schema = _Schema(tbl, {t.name: _converters(t) for t in tbl.values()})
        self._tables_by_name = {t.name: t for t in tbl.values()}
        self._hooks = dict(after_insert if after_insert is not None else default_hooks())
        self._engine: Engine = self._resolve_engine(db)
        self._pass_lock = threading.Lock()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._in_outage = False
        self._consecutive_failures = 0
        self.shipped = 0
        self.failures = 0
        self.dead_lettered = 0
        self.last_error: str | None = None

    # -- configuration ---------------------------------------------------------------------

    @staticmethod
    def _resolve_engine(db: Database) -> Engine:
        if isinstance(db, Engine):
            return db
        bind = db.kw.get("bind")
        if not isinstance(bind, Engine):
            raise TypeError("the session factory must be bound to an Engine")
        return bind

    def set_database(self, db: Database) -> None:
        """Point the shipper at another engine (takes effect at the next pass)."""
        self._engine = self._resolve_engine(db)

    @property
    def dead_letter_path(self) -> Path:
        return self.spool_dir / DEAD_LETTER_NAME

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Start shipping in the background every `interval_s` (longer while failing)."""
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self._run(), name="steward-event-shipper")

    async def close(self, timeout_s: float = 10.0) -> bool:
        """Stop the background task, then make a final flush attempt. True if drained."""
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None
        drained = await self.flush(timeout_s)
        if not drained:
            log.warning(
                "event shipper stopped with events left in %s (%s); they ship on next start",
                self.spool_dir,
                self.last_error,
            )
        return drained

    async def flush(self, timeout_s: float = 10.0) -> bool:
        """Ship everything currently in the spool (except segments other live processes are
        writing). Retries with back-off until `timeout_s`; True once a full pass succeeded."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            if await self._attempt():
                return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            await asyncio.sleep(min(self._backoff_s(), remaining))

    async def _run(self) -> None:
        while not self._stopping.is_set():
            ok = await self._attempt()
            delay = self.interval_s if ok else self._backoff_s()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)

    async def _attempt(self) -> bool:
        try:
            await asyncio.to_thread(self.ship_pending)
        except Exception as exc:
            self._on_failure(exc)
            return False
        self._on_success()
        return True

    def _backoff_s(self) -> float:
        exp = min(self._consecutive_failures, 16)
        return float(min(self.max_backoff_s, self.interval_s * 2**exp))

    def _on_failure(self, exc: Exception) -> None:
        self.failures += 1
        self._consecutive_failures += 1
        self.last_error = f"{type(exc).__name__}: {exc}"[:500]
        if not self._in_outage:
            self._in_outage = True
            log.warning(
                "event shipping failed; events wait in %s and will be retried: %s",
                self.spool_dir,
                self.last_error,
                exc_info=not isinstance(exc, (DBAPIError, OSError)),
            )

    def _on_success(self) -> None:
        if self._in_outage:
            log.warning(
                "event shipping resumed after %d failed attempts", self._consecutive_failures
            )
        self._in_outage = False
        self._consecutive_failures = 0

    # -- one pass (worker thread) ----------------------------------------------------------

    def ship_pending(self) -> None:
        """Ship every segment this process may ship, to its end. Blocking: call it from a
        worker thread. Raises on a database outage (nothing is lost; call again later)."""
        with self._pass_lock:
            owned = set(self._own.owned_segments()) if self._own is not None else set()
            for seg in list_segments(self.spool_dir):
                if seg.name in owned:
                    self._ship_owned(seg)
                else:
                    self._ship_adopted(seg)
            self._cleanup(owned)

    def _ship_owned(self, seg: Path) -> None:
        try:
            f = open(seg, "rb")  # noqa: SIM115
        except FileNotFoundError:
            return
        with f:
            self._drain(seg, f, final=False)

    def _ship_adopted(self, seg: Path) -> None:
        with _adopt(seg) as f:
            if f is None:
                return
            self._drain(seg, f, final=True)
            # Fully shipped and nobody writes it any more (we hold its lock): remove it.
            seg.unlink()
            with contextlib.suppress(FileNotFoundError):
                cursor_path(seg).unlink()

    def _drain(self, seg: Path, f: IO[bytes], *, final: bool) -> None:
        size = os.fstat(f.fileno()).st_size
        # A cursor past the end means the unsynced tail was lost to a power cut after it had
        # been shipped: all that survives is shipped.
        cursor = min(read_cursor(seg), size)
        while True:
            batch = _read_batch(f, cursor, self.batch, self._schema, final)
            if batch.end == cursor:
                return
            rejected = self._insert(batch)
            dead = batch.dead + rejected
            if dead:
                self._dead_letter(seg, dead)
            write_cursor(seg, batch.end)
            self.shipped += batch.rows - len(rejected)
            cursor = batch.end

    def _statement(self, table: Table) -> Insert:
        dialect = self._engine.dialect.name
        if dialect == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing(index_elements=["id"])
        if dialect == "sqlite":
            return sqlite.insert(table).on_conflict_do_nothing(index_elements=["id"])
        raise RuntimeError(f"event shipping supports sqlite and postgresql, not {dialect}")

    def _insert(self, batch: _Batch) -> list[tuple[int, bytes, str]]:
        """Insert a batch in one transaction. If the database rejects a row for good, retry
        row by row and return the rejected ones (to dead-letter). Outages raise."""
        if not batch.groups:
            return []
        try:
            with self._engine.begin() as conn:
                for (name, _keys), items in batch.groups.items():
                    stmt = self._statement(self._tables_by_name[name])
                    self._execute(conn, name, stmt, [row for _, _, row in items])
            return []
        except Exception as exc:
            if not _is_permanent(exc):
                raise
        return self._insert_one_by_one(batch)

    def _execute(
        self, conn: Connection, name: str, stmt: Insert, rows: list[dict[str, Any]]
    ) -> None:
        """Insert; with a hook for the table, hand it exactly the rows this insert added."""
        hook = self._hooks.get(name)
        if hook is None:
            conn.execute(stmt, rows)
            return
        added = set(conn.scalars(stmt.returning(self._tables_by_name[name].c.id), rows))
        if added:
            fresh = []
            for row in rows:  # a duplicate line in the batch counts once
                if row["id"] in added:
                    added.discard(row["id"])
                    fresh.append(row)
            hook(conn, fresh)

    def _insert_one_by_one(self, batch: _Batch) -> list[tuple[int, bytes, str]]:
        rejected: list[tuple[int, bytes, str]] = []
        for (name, _keys), items in batch.groups.items():
            stmt = self._statement(self._tables_by_name[name])
            for offset, raw, row in items:
                try:
                    with self._engine.begin() as conn:
                        self._execute(conn, name, stmt, [row])
                except Exception as exc:
                    if not _is_permanent(exc):
                        raise
                    orig = getattr(exc, "orig", None) or exc
                    reason = f"rejected by the database: {type(orig).__name__}: {orig}"
                    rejected.append((offset, raw, reason[:1000]))
        return rejected

    def _dead_letter(self, seg: Path, entries: list[tuple[int, bytes, str]]) -> None:
        at = datetime.now(UTC).isoformat()
        data = b"".join(
            orjson.dumps(
                {
                    "at": at,
                    "segment": seg.name,
                    "offset": offset,
                    "reason": reason,
                    "line": raw.decode("utf-8", "replace"),
                },
                option=orjson.OPT_APPEND_NEWLINE,
            )
            for offset, raw, reason in sorted(entries)
        )
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
        fd = os.open(self.dead_letter_path, flags, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fdatasync(fd)
        finally:
            os.close(fd)
        self.dead_lettered += len(entries)
        log.warning(
            "%d spooled record(s) from %s moved to %s (first: %s)",
            len(entries),
            seg.name,
            self.dead_letter_path,
            entries[0][2],
        )

    def _cleanup(self, owned: set[str]) -> None:
        """Remove cursors whose segment is gone and stale temporary files of dead writers."""
        try:
            names = os.listdir(self.spool_dir)
        except FileNotFoundError:
            return
        present = set(names)
        now = time.time()
        for name in names:
            path = self.spool_dir / name
            if name.endswith(SEGMENT_SUFFIX + CURSOR_SUFFIX):
                if name[: -len(CURSOR_SUFFIX)] not in present | owned:
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
            elif name.startswith(".") and name.endswith(".tmp"):
                with contextlib.suppress(FileNotFoundError):
                    if now - path.stat().st_mtime > _STALE_TMP_S:
                        path.unlink()


__all__ = ["AfterInsert", "RejectedRecord", "Shipper", "default_hooks", "default_tables"]
