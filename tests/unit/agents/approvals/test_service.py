"""`gw.approvals`: notices to approvers, waiting for a decision (woken in-process, polling the
store across processes), redaction of stored arguments, cancellation on suspension."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from steward.agents.approvals.binding import approval_binding
from steward.agents.approvals.service import Approvals
from steward.agents.approvals.settings import ApprovalSettings
from steward.agents.suspension_service import SuspensionService
from steward.identity import Actor

from .conftest import World

ADMIN = Actor("admin", "adm_1", role="admin")
ARGS = {"order": "A-17", "amount": 900}


class Notices:
    """Records what the service hands to the notifier."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def __call__(self, event: str, payload: dict[str, Any]) -> None:
        self.sent.append((event, payload))

    def events(self) -> list[tuple[str, str]]:
        return [(e, p["status"]) for e, p in self.sent]


def _service(world: World, notices: Notices, **settings: Any) -> Approvals:
    return Approvals(world.sessions, ApprovalSettings(**settings), notify=notices)


async def test_a_request_notifies_approvers_once(world: World) -> None:
    notices = Notices()
    svc = _service(world, notices)
    first = await svc.request(world.key, "call_tool", "shop__refund", ARGS, "over 500", "r1")
    again = await svc.request(world.key, "call_tool", "shop__refund", ARGS, "over 500", "r2")
    assert again.id == first.id
    assert notices.events() == [("approval.requested", "pending")]
    payload = notices.sent[0][1]
    assert payload["agent"] == f"refund-bot ({world.agent})"
    assert payload["owner"] == f"olivia ({world.owner})"
    assert f"steward approvals approve {first.id}" in payload["message"]


async def test_wait_times_out_pending(world: World) -> None:
    svc = _service(world, Notices(), poll_ms=50)
    pending = await svc.request(world.key, "call_tool", "shop__refund", ARGS, "", None)
    started = time.monotonic()
    waited = await svc.wait(pending.id, 0.3)
    assert waited.status == "pending" and 0.25 < time.monotonic() - started < 2


async def test_a_decision_in_this_process_wakes_the_waiter_at_once(world: World) -> None:
    notices = Notices()
    svc = _service(world, notices, poll_ms=10000)  # only the wake-up can make it quick
    pending = await svc.request(world.key, "call_tool", "shop__refund", ARGS, "", None)

    async def approve_soon() -> None:
        await asyncio.sleep(0.2)
        await svc.decide(pending.id, True, actor=ADMIN, approver="alice")

    started = time.monotonic()
    waited, _ = await asyncio.gather(svc.wait(pending.id, 30), approve_soon())
    assert waited.status == "approved" and time.monotonic() - started < 3
    assert (await svc.get(pending.id)).status == "consumed"  # the waiter took the grant
    assert notices.events() == [("approval.requested", "pending"), ("approval.decided", "approved")]


async def test_a_decision_in_another_process_is_seen_by_polling(world: World) -> None:
    waiting = _service(world, Notices(), poll_ms=100)
    other = _service(world, Notices())  # another gateway process: no shared memory
    pending = await waiting.request(world.key, "call_tool", "shop__refund", ARGS, "", None)

    async def deny_soon() -> None:
        await asyncio.sleep(0.2)
        await other.decide(pending.id, False, actor=ADMIN, approver=None, note="no")

    waited, _ = await asyncio.gather(waiting.wait(pending.id, 30), deny_soon())
    assert waited.status == "denied" and waited.note == "no"


async def test_secrets_are_redacted_in_what_is_kept_but_bound_as_sent(world: World) -> None:
    secret = "sk-proj-A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0"
    svc = Approvals(
        world.sessions,
        ApprovalSettings(),
        redact=lambda text: text.replace(secret, "[REDACTED:API_KEY]"),
    )
    args = {"token": secret, "nested": [{"note": f"use {secret}"}]}
    approval = await svc.request(world.key, "call_tool", "vault__put", args, "", None)
    assert approval.arguments == {
        "token": "[REDACTED:API_KEY]",
        "nested": [{"note": "use [REDACTED:API_KEY]"}],
    }
    assert approval.binding == approval_binding("call_tool", "vault__put", args, world.key)


async def test_agents_suspended_elsewhere_have_their_approvals_cancelled(world: World) -> None:
    notices = Notices()
    svc = _service(world, notices)
    svc.on_snapshot(world.snapshot())  # the first snapshot: nothing suspended
    pending = await svc.request(world.key, "call_tool", "shop__refund", ARGS, "", None)
    # suspended through the identity service (the old path), not the kill switch service
    world.identity.set_agent_suspended("refund-bot", True, "x", actor=ADMIN)
    svc.on_snapshot(world.snapshot())
    for _ in range(100):
        if (await svc.get(pending.id)).status == "cancelled":
            break
        await asyncio.sleep(0.02)
    assert (await svc.get(pending.id)).status == "cancelled"
    assert ("approval.decided", "cancelled") in notices.events()
    await svc.close()


async def test_the_kill_switch_reports_what_it_cancelled(world: World) -> None:
    notices = Notices()
    svc = _service(world, notices)
    pending = await svc.request(world.key, "call_tool", "shop__refund", ARGS, "", None)
    info = SuspensionService(world.sessions).freeze_agents("incident", actor=ADMIN)
    await svc.announce(info.cancelled_approvals)
    assert info.cancelled_approvals == [pending.id]
    assert notices.events()[-1] == ("approval.decided", "cancelled")
