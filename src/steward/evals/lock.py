"""One replica at a time for a background job: a PostgreSQL session advisory lock
(pg_try_advisory_lock) held on a dedicated connection while the job runs, or, on SQLite (one
node), an exclusive flock on a file in the data directory. Whoever holds it keeps it until it
stops or its connection dies; the others try again at their next pass."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from hashlib import blake2b
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, Engine, text

log = logging.getLogger("steward.evals")


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a job name."""
    digest = blake2b(f"steward:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class JobLock:
    """A non-blocking, re-checkable lock for the job `name` (the evaluation worker, the SLO
    scheduler). The advisory-lock key is derived from the name unless given; the lock file is
    `<lock_dir>/<name>.lock` unless `path` is given; with neither (an in-memory SQLite store,
    nobody to share it with) the file lock always succeeds."""

    def __init__(
        self,
        engine: Engine,
        name: str,
        lock_dir: Path | None = None,
        *,
        key: int | None = None,
        path: Path | None = None,
    ) -> None:
        self.engine = engine
        self.name = name
        self.key = lock_key(name) if key is None else key
        if path is None and lock_dir is not None:
            path = Path(lock_dir) / f"{name}.lock"
        self.path = path
        self._conn: Connection | None = None
        self._file: IO[bytes] | None = None

    @property
    def postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @property
    def held(self) -> bool:
        return self._conn is not None or self._file is not None

    def acquire(self) -> bool:
        """Take the lock if free, or confirm it is still held. Never blocks. Blocking I/O:
        call it from a worker thread."""
        if self.postgres:
            return self._acquire_pg()
        return self._acquire_file()

    def _acquire_pg(self) -> bool:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT 1"))
                return True
            except Exception:
                log.warning("lost the connection holding the %s lock", self.name)
                self._drop_conn()
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            got = bool(
                conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar()
            )
        except Exception:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._conn = conn
        log.info("took the %s lock (pg advisory lock %d)", self.name, self.key)
        return True

    def _acquire_file(self) -> bool:
        if self._file is not None or self.path is None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = open(self.path, "ab")  # noqa: SIM115 - kept open while the lock is held
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            return False
        f.truncate(0)
        f.write(f"{os.getpid()}\n".encode())
        f.flush()
        self._file = f
        return True

    def _drop_conn(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def release(self) -> None:
        """Give the lock up (closing its connection or file)."""
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            self._drop_conn()
        if self._file is not None:
            f, self._file = self._file, None
            with contextlib.suppress(OSError):
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)
            f.close()
