"""`gw.live`: the open streams and MCP sessions of each principal, closed within a snapshot
poll of their agent, app, key or user being suspended (or of every agent being frozen)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from steward.agents.suspensions import blocked
from steward.gateway.errors import GatewayError
from steward.identity.snapshot import Principal, Snapshot, SnapshotHolder

log = logging.getLogger("steward.live")

T = TypeVar("T")
Close = Callable[[str], Awaitable[None]]


@dataclass(eq=False, slots=True)
class LiveSession:
    """One open stream or MCP session: who it serves and how to end it."""

    principal: Principal
    close: Close
    closing: str | None = None  # the reason, once closing began
    task: asyncio.Task[None] | None = field(default=None, repr=False)


def closed_error(reason: str) -> GatewayError:
    """The error event a stream ends with when its principal is suspended mid-stream."""
    return GatewayError(
        403, f"stream closed: {reason}", type="permission_error", code="principal_suspended"
    )


def _current(snapshot: Snapshot, principal: Principal, by_key: dict[str, Principal]) -> str | None:
    """Why `principal` is blocked in `snapshot` (its key looked up afresh), or None."""
    if principal.token_id is None and principal.key_id:
        fresh = by_key.get(principal.key_id)
        if fresh is None:
            return "the API key was revoked"
        principal = fresh if fresh.suspended else principal
    return blocked(snapshot, principal)


class LiveSessions:
    """Tracks live sessions; `on_snapshot` (a SnapshotHolder listener) closes the blocked."""

    def __init__(self, snapshots: SnapshotHolder) -> None:
        self._snapshots = snapshots
        self._live: set[LiveSession] = set()

    def __len__(self) -> int:
        return len(self._live)

    @contextlib.asynccontextmanager
    async def track(self, principal: Principal, close: Close) -> AsyncIterator[LiveSession]:
        """Register a session for its lifetime; `close(reason)` is called (once) when its
        principal is suspended. A principal already blocked is closed at once."""
        session = LiveSession(principal, close)
        self._live.add(session)
        try:
            snap = self._snapshots.current
            reason = _current(snap, principal, self._index(snap))
            if reason is not None:
                self._close(session, reason)
            yield session
        finally:
            self._live.discard(session)

    async def run(
        self, principal: Principal | None, work: Coroutine[Any, Any, T]
    ) -> tuple[T | None, str | None]:
        """Run `work` (a stream's relay) as a live session: (its result, None), or (None, the
        reason) when the principal was suspended and the work cancelled."""
        task: asyncio.Task[T] = asyncio.ensure_future(work)
        if principal is None:
            return await task, None
        reasons: list[str] = []

        async def close(reason: str) -> None:
            reasons.append(reason)
            task.cancel()

        async with self.track(principal, close):
            try:
                return await task, None
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if reasons and (current is None or not current.cancelling()):
                    return None, reasons[0]
                raise

    @staticmethod
    def _index(snapshot: Snapshot) -> dict[str, Principal]:
        return {p.key_id: p for p in snapshot.keys.values()}

    def on_snapshot(self, snapshot: Snapshot) -> None:
        """Close every live session whose principal this snapshot blocks."""
        if not self._live:
            return
        by_key = self._index(snapshot)
        for session in list(self._live):
            if session.closing is None:
                reason = _current(snapshot, session.principal, by_key)
                if reason is not None:
                    self._close(session, reason)

    def _close(self, session: LiveSession, reason: str) -> None:
        session.closing = reason
        session.task = asyncio.get_running_loop().create_task(self._run_close(session, reason))

    @staticmethod
    async def _run_close(session: LiveSession, reason: str) -> None:
        try:
            await session.close(reason)
        except Exception:
            log.exception("closing a live session failed")


__all__ = ["Close", "LiveSession", "LiveSessions", "closed_error"]
