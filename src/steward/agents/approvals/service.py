"""`gw.approvals`: human approvals for the gateway. An action that policy holds for a person is
requested here; approvers are notified; the caller waits (polling the store at a modest
interval, or woken at once when the decision is made in this process) or answers pending.

The store is the truth shared by every gateway process; nothing here is on the path of an
ordinary request (only a held action touches the store)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from steward.agents.approvals._redact import Redactor, redact_values
from steward.agents.approvals._store import ApprovalStore
from steward.agents.approvals.binding import approval_binding
from steward.agents.approvals.notify import DECIDED, REQUESTED, decided_payload, requested_payload
from steward.agents.approvals.records import Approval
from steward.agents.approvals.settings import ApprovalSettings
from steward.agents.suspensions import SECTION, Suspensions
from steward.identity.records import Actor
from steward.identity.snapshot import Principal, Snapshot

log = logging.getLogger("steward.approvals")

Notify = Callable[[str, dict[str, Any]], Awaitable[None]]
SWEEP_S = 5.0  # how often a gateway records the expiry of approvals nobody read


class Approvals:
    """The approvals service the gateway, the MCP endpoint and the admin API share."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: ApprovalSettings,
        *,
        notify: Notify | None = None,
        redact: Redactor | None = None,
    ) -> None:
        self.settings = settings
        self.store = ApprovalStore(sessions, settings)
        self._notify = notify
        self._redact = redact if settings.redact_arguments else None
        self._wakers: dict[str, asyncio.Event] = {}
        self._waiting: dict[str, int] = {}  # approval id -> calls waiting in this process
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._stopped: frozenset[str] = frozenset()  # suspended agents already handled
        self._frozen = False

    # -- the interface for held actions -------------------------------------------------------

    async def request(
        self,
        principal: Principal,
        action: str,
        resource: str,
        arguments: dict[str, Any] | None,
        reason: str,
        request_id: str | None,
        policies: Sequence[str] = (),
    ) -> Approval:
        """Ask for approval of this exact call. If an approved, unexpired, unused approval with
        the same binding exists, it is used now and returned `approved` (the agent retried the
        call after approval); a pending or denied one is returned as it is; otherwise a new
        pending approval is created and approvers are notified. Raises BindingError for
        arguments that are not plain JSON."""
        binding = approval_binding(action, resource, arguments, principal)
        kept = arguments if self._redact is None else redact_values(arguments, self._redact)
        approval, created, expired = await asyncio.to_thread(
            self.store.request,
            principal,
            action,
            resource,
            kept,
            binding,
            reason,
            request_id,
            policies,
        )
        await self._announce_decided(expired)
        if created:
            await self._send(REQUESTED, requested_payload(approval))
        return approval

    async def wait(self, approval_id: str, timeout_s: float) -> Approval:
        """Wait up to `timeout_s` for a decision. Approved: the grant is taken for the caller
        (status `approved`; `consumed` if another call took a single-use grant first).
        Otherwise the current state (still `pending` after the timeout)."""
        deadline = time.monotonic() + max(0.0, timeout_s)
        waker = self._wakers.setdefault(approval_id, asyncio.Event())
        self._waiting[approval_id] = self._waiting.get(approval_id, 0) + 1
        try:
            while True:
                status = await asyncio.to_thread(self.store.status, approval_id)
                if status == "approved":
                    return await asyncio.to_thread(self.store.use, approval_id)
                left = deadline - time.monotonic()
                if status != "pending" or left <= 0:
                    return await self.get(approval_id)
                waker.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waker.wait(), min(left, self.settings.poll_ms / 1000))
        finally:
            self._waiting[approval_id] -= 1
            if not self._waiting[approval_id]:
                del self._waiting[approval_id]
                self._wakers.pop(approval_id, None)

    async def get(self, approval_id: str) -> Approval:
        """One approval (expired first if its time has passed)."""
        await self.expire_due()
        return await asyncio.to_thread(self.store.get, approval_id)

    async def list_approvals(
        self, status: str | None = None, agent: str | None = None, limit: int = 100
    ) -> list[Approval]:
        """Approvals, newest first."""
        await self.expire_due()
        return await asyncio.to_thread(self.store.list_approvals, status, agent, limit)

    async def expire_due(self) -> None:
        """Expire what is due now, with its audit events and `approval.decided` notices."""
        await self._announce_decided(await asyncio.to_thread(self.store.expire_due))

    async def announce(self, approval_ids: Sequence[str]) -> None:
        """Notify approvers of approvals decided elsewhere (cancelled by a suspension)."""
        for approval_id in approval_ids:
            await self._announce_decided([await asyncio.to_thread(self.store.get, approval_id)])

    # -- decisions (admin API) ----------------------------------------------------------------

    async def decide(
        self,
        approval_id: str,
        approve: bool,
        *,
        actor: Actor,
        approver: str | None,
        note: str = "",
    ) -> Approval:
        """Approve or deny; wakes the calls waiting in this process and notifies approvers."""
        await self.expire_due()
        approval = await asyncio.to_thread(
            lambda: self.store.decide(
                approval_id, approve, actor=actor, approver=approver, note=note
            )
        )
        self._wake(approval_id)
        await self._send(DECIDED, decided_payload(approval))
        return approval

    def _wake(self, approval_id: str) -> None:
        waker = self._wakers.get(approval_id)
        if waker is not None:
            waker.set()

    async def _send(self, event: str, payload: dict[str, Any]) -> None:
        if self._notify is None:
            return
        try:
            await self._notify(event, payload)
        except Exception:
            log.exception("could not queue the %s notification", event)

    async def _announce_decided(self, approvals: Sequence[Approval]) -> None:
        for approval in approvals:
            self._wake(approval.id)
            await self._send(DECIDED, decided_payload(approval))

    # -- expiry and suspensions ---------------------------------------------------------------

    async def start(self) -> None:
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep(), name="steward-approvals")

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_S)
            try:
                await self.expire_due()
            except Exception as exc:  # the store is down: the next sweep catches up
                log.warning("could not expire approvals: %s", exc)

    def on_snapshot(self, snapshot: Snapshot) -> None:
        """Cancel the open approvals of agents that became suspended (however they were
        suspended), once per change; conditional updates make every process agree."""
        s: Suspensions = snapshot.section(SECTION)
        stopped = frozenset(s.agents)
        frozen = s.all_agents is not None
        new = stopped - self._stopped
        cancel_all = frozen and not self._frozen
        self._stopped, self._frozen = stopped, frozen
        if cancel_all or new:
            ids = None if cancel_all else sorted(new)
            task = asyncio.get_running_loop().create_task(self._cancel(ids))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _cancel(self, agent_ids: list[str] | None) -> None:
        try:
            cancelled = await asyncio.to_thread(
                self.store.cancel_suspended, agent_ids, "the agent is suspended"
            )
        except Exception as exc:
            log.warning("could not cancel the approvals of suspended agents: %s", exc)
            return
        await self._announce_decided(cancelled)

    async def close(self) -> None:
        tasks = [t for t in (self._sweeper, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._sweeper = None


__all__ = ["Approvals"]
