"""The local append-only event spool: records are durable here before a response completes.

Each process writes its own segment files (`<time_ns>-<pid>-<rand>.seg`, one orjson record per
line) and holds an exclusive `flock` on the active one, so a shipper can tell a live writer's
segment from a dead one's. In "fsync" mode one background thread runs `fdatasync` for every
write issued so far and wakes all the appends it covered (group commit); in "write" mode an
append returns once `os.write` to the O_APPEND descriptor is done (survives a process crash).

A Spool belongs to one event loop and one process: create it after forking.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterable
from datetime import date, datetime
from datetime import time as dtime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import orjson

log = logging.getLogger(__name__)

SyncMode = Literal["fsync", "write"]

SEGMENT_SUFFIX = ".seg"
CURSOR_SUFFIX = ".cursor"
DEAD_LETTER_NAME = "dead-letter.jsonl"
_TMP_PREFIX = "."
_TMP_SUFFIX = ".seg.tmp"
_ORJSON_OPTS = orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z


class SpoolError(RuntimeError):
    """The spool cannot accept records (closed, not started, or the disk failed)."""


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=str)
    if isinstance(obj, (datetime, date, dtime)):  # subclasses orjson does not take natively
        return obj.isoformat()
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj).decode("utf-8", "replace")
    raise TypeError(f"cannot serialise {type(obj).__name__} in a spool record")


def encode_records(records: Iterable[dict[str, Any]]) -> bytes:
    """One orjson line per record; datetimes become RFC 3339 (naive ones are taken as UTC)."""
    return b"".join(
        [
            orjson.dumps(r, default=_default, option=_ORJSON_OPTS | orjson.OPT_APPEND_NEWLINE)
            for r in records
        ]
    )


def cursor_path(segment: Path) -> Path:
    return segment.with_name(segment.name + CURSOR_SUFFIX)


def read_cursor(segment: Path) -> int:
    """Bytes of `segment` already shipped (0 if no cursor or an unreadable one)."""
    try:
        return max(0, int(cursor_path(segment).read_bytes().strip() or b"0"))
    except (OSError, ValueError):
        return 0


def write_cursor(segment: Path, offset: int) -> None:
    """Persist the shipped offset atomically (write + rename). Not fsynced on purpose: a lost
    cursor only means re-shipping rows the store already has, which inserts nothing."""
    final = cursor_path(segment)
    tmp = final.with_name(f"{_TMP_PREFIX}{final.name}.{os.getpid()}.tmp")
    tmp.write_bytes(str(offset).encode())
    os.replace(tmp, final)


def list_segments(directory: Path) -> list[Path]:
    """Segment files in time order (their names start with a zero-padded time_ns)."""
    try:
        names = [n for n in os.listdir(directory) if n.endswith(SEGMENT_SUFFIX)]
    except FileNotFoundError:
        return []
    return [directory / n for n in sorted(names) if not n.startswith(_TMP_PREFIX)]


def spool_depth(directory: Path) -> int:
    """Unshipped bytes over all segments in `directory` (every process's)."""
    total = 0
    for seg in list_segments(directory):
        try:
            size = seg.stat().st_size
        except FileNotFoundError:
            continue
        total += max(0, size - read_cursor(seg))
    return total


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


class Spool:
    """Durable, append-only, per-process event log with group commit."""

    def __init__(
        self,
        directory: Path,
        *,
        sync: SyncMode = "fsync",
        segment_bytes: int = 16 * 1024 * 1024,
    ) -> None:
        if sync not in ("fsync", "write"):
            raise ValueError(f"sync must be 'fsync' or 'write', not {sync!r}")
        self.directory = Path(directory)
        self.sync: SyncMode = sync
        self.segment_bytes = segment_bytes
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fd: int | None = None
        self._segment: Path | None = None
        self._size = 0
        self._broken = False
        self._closing = False
        # Shared with the sync thread, guarded by _cond:
        self._cond = threading.Condition()
        self._written_seq = 0
        self._retired: list[tuple[int, Path]] = []
        self._dir_dirty = False
        self._stop = False
        self._thread: threading.Thread | None = None
        # Loop thread only:
        self._seq = 0  # appends written so far; published to _written_seq by _kick
        self._kick_scheduled = False
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()
        self._owned: tuple[str, ...] = ()
        # Counters (for metrics and tests).
        self.appends = 0
        self.records = 0
        self.bytes_written = 0
        self.syncs = 0

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the directory and the first segment; start the group-commit thread."""
        if self._loop is not None:
            raise SpoolError("spool already started")
        self._loop = asyncio.get_running_loop()
        await asyncio.to_thread(self.directory.mkdir, parents=True, exist_ok=True)
        self._open_segment()
        if self.sync == "fsync":
            with self._cond:
                self._dir_dirty = False
            await asyncio.to_thread(fsync_dir, self.directory)
            self._thread = threading.Thread(
                target=self._sync_loop, name=f"steward-spool-sync-{os.getpid()}", daemon=True
            )
            self._thread.start()

    async def close(self) -> None:
        """Wait for pending syncs, then release the segment (a shipper may then adopt it).
        An empty segment is removed."""
        if self._loop is None or self._closing:
            return
        self._closing = True
        if self._thread is not None:
            with self._cond:
                self._written_seq = self._seq  # appends whose kick has not run yet
                self._stop = True
                self._cond.notify()
            await asyncio.to_thread(self._thread.join)
            self._thread = None
        with self._cond:
            retired, self._retired = self._retired, []
        for fd, _path in retired:
            os.close(fd)
        if self._fd is not None and self._segment is not None:
            if self._size == 0:
                with contextlib.suppress(OSError):
                    self._segment.unlink()
            os.close(self._fd)
            self._fd = None
        self._owned = ()
        self._fail_waiters(SpoolError("spool closed"))

    # -- the hot path ----------------------------------------------------------------------

    async def append(self, records: list[dict[str, Any]]) -> None:
        """Append records; return once they are durable per the sync mode."""
        if not records:
            return
        data = encode_records(records)
        fut = self._write(data, len(records))
        if fut is not None:
            await fut

    def _write(self, data: bytes, count: int) -> asyncio.Future[None] | None:
        if self._fd is None or self._closing or self._loop is None:
            raise SpoolError("spool is not open")
        if self._broken or (self._size and self._size + len(data) > self.segment_bytes):
            try:
                self._open_segment()
            except OSError as exc:
                raise SpoolError(f"cannot open a new spool segment: {exc}") from exc
        fd = self._fd
        assert fd is not None
        try:
            _write_all(fd, data)
        except OSError as exc:
            # A partial line may now end this segment: never write after it again.
            self._broken = True
            raise SpoolError(f"spool write failed: {exc}") from exc
        self._size += len(data)
        self.appends += 1
        self.records += count
        self.bytes_written += len(data)
        if self.sync == "write":
            return None
        fut: asyncio.Future[None] = self._loop.create_future()
        self._seq += 1
        self._waiters.append((self._seq, fut))
        if not self._kick_scheduled:
            # Wake the sync thread once the tasks that are ready now have written too, so
            # concurrent appends share one fdatasync instead of trickling in one by one.
            self._kick_scheduled = True
            self._loop.call_soon(self._kick)
        return fut

    def _kick(self) -> None:
        self._kick_scheduled = False
        with self._cond:
            self._written_seq = self._seq
            self._cond.notify()

    # -- segments --------------------------------------------------------------------------

    def _create_segment(self) -> tuple[int, Path]:
        """Create a segment under a hidden name, lock it, then rename it into place, so no
        shipper ever sees an unlocked live segment."""
        name = f"{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(4)}{SEGMENT_SUFFIX}"
        final = self.directory / name
        tmp = self.directory / f"{_TMP_PREFIX}{name}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC
        fd = os.open(tmp, flags, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.rename(tmp, final)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        return fd, final

    def _open_segment(self) -> None:
        """Switch to a fresh segment. The old one is closed (releasing its lock, so a shipper
        may adopt it) at once in "write" mode, or by the sync thread after one more fdatasync
        in "fsync" mode. Swapping under the lock keeps every sync cycle covering both."""
        fd, path = self._create_segment()
        old_fd, old_seg = self._fd, self._segment
        with self._cond:
            self._fd, self._segment, self._size, self._broken = fd, path, 0, False
            self._dir_dirty = True
            if old_fd is not None and old_seg is not None and self.sync == "fsync":
                self._retired.append((old_fd, old_seg))
                self._seq += 1  # force a sync cycle that retires it
                self._written_seq = self._seq
                self._cond.notify()
        self._owned = (*self._owned, path.name)
        if old_fd is not None and old_seg is not None and self.sync == "write":
            os.close(old_fd)
            self._owned = tuple(n for n in self._owned if n != old_seg.name)

    def owned_segments(self) -> tuple[str, ...]:
        """Names of the segments this spool still holds open (the shipper reads them unlocked
        and never deletes them)."""
        return self._owned

    @property
    def segment(self) -> Path | None:
        """The active segment file."""
        return self._segment

    def depth(self) -> int:
        """Unshipped bytes in the spool directory (all processes' segments)."""
        return spool_depth(self.directory)

    # -- group commit ----------------------------------------------------------------------

    def _sync_loop(self) -> None:
        synced = 0
        while True:
            with self._cond:
                while self._written_seq == synced and not self._stop:
                    self._cond.wait()
                if self._written_seq == synced and self._stop:
                    return
                target = self._written_seq
                fds = [fd for fd, _ in self._retired]
                if self._fd is not None:
                    fds.append(self._fd)
                retired, self._retired = self._retired, []
                dir_dirty, self._dir_dirty = self._dir_dirty, False
            err = self._sync_fds(fds, dir_dirty)
            for fd, _path in retired:
                os.close(fd)
            synced = target
            self.syncs += 1
            self._notify(target, err, [p.name for _, p in retired])

    def _sync_fds(self, fds: list[int], dir_dirty: bool) -> OSError | None:
        try:
            for fd in fds:
                os.fdatasync(fd)
            if dir_dirty:
                fsync_dir(self.directory)
        except OSError as exc:
            log.error("spool fdatasync failed in %s: %s", self.directory, exc)
            return exc
        return None

    def _notify(self, target: int, err: OSError | None, closed: list[str]) -> None:
        loop = self._loop
        if loop is None:
            return
        # A closed loop (RuntimeError) has nobody waiting any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._resolve, target, err, closed)

    def _resolve(self, target: int, err: OSError | None, closed: list[str]) -> None:
        if closed:
            self._owned = tuple(n for n in self._owned if n not in closed)
        if err is not None:
            self._broken = True  # after a failed fsync the page cache cannot be trusted
        waiters = self._waiters
        while waiters and waiters[0][0] <= target:
            _, fut = waiters.popleft()
            if fut.done():
                continue
            if err is None:
                fut.set_result(None)
            else:
                fut.set_exception(SpoolError(f"spool fdatasync failed: {err}"))

    def _fail_waiters(self, exc: Exception) -> None:
        while self._waiters:
            _, fut = self._waiters.popleft()
            if not fut.done():
                fut.set_exception(exc)


__all__ = [
    "CURSOR_SUFFIX",
    "DEAD_LETTER_NAME",
    "SEGMENT_SUFFIX",
    "Spool",
    "SpoolError",
    "SyncMode",
    "cursor_path",
    "encode_records",
    "list_segments",
    "read_cursor",
    "spool_depth",
    "write_cursor",
]
