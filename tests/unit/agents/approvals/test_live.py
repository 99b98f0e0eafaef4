"""Live sessions: streams and MCP sessions of a principal that becomes suspended are closed."""

from __future__ import annotations

import asyncio
from typing import Any

from steward.agents.live import LiveSessions
from steward.agents.suspension_service import SuspensionService
from steward.identity import Actor
from steward.identity.snapshot import Snapshot

from .conftest import World

OPERATOR = Actor("cli", "oncall")


class _Holder:
    """Just what LiveSessions reads of a SnapshotHolder: the current snapshot."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.current = snapshot


async def test_a_session_is_closed_when_its_agent_is_suspended(world: World) -> None:
    holder = _Holder(world.snapshot())
    live = LiveSessions(holder)  # type: ignore[arg-type]
    closed: list[str] = []
    others: list[str] = []

    async def close(reason: str) -> None:
        closed.append(reason)

    async def close_other(reason: str) -> None:
        others.append(reason)

    async with live.track(world.key, close), live.track(world.user_key, close_other):
        assert len(live) == 2
        live.on_snapshot(holder.current)  # nothing suspended: nothing closed
        await asyncio.sleep(0)
        assert closed == []
        SuspensionService(world.sessions).suspend("agent", "refund-bot", "loop", actor=OPERATOR)
        live.on_snapshot(world.snapshot())
        live.on_snapshot(world.snapshot())  # a second change does not close twice
        await asyncio.sleep(0.01)
        assert closed == ["agent 'refund-bot' is suspended: loop"]
        assert others == []
    assert len(live) == 0


async def test_run_cancels_the_work_and_returns_the_reason(world: World) -> None:
    holder = _Holder(world.snapshot())
    live = LiveSessions(holder)  # type: ignore[arg-type]
    started = asyncio.Event()

    async def relay() -> bytes:
        started.set()
        await asyncio.sleep(30)
        return b"done"

    async def suspend_soon() -> None:
        await started.wait()
        SuspensionService(world.sessions).freeze_agents("incident", actor=OPERATOR)
        live.on_snapshot(world.snapshot())

    result: Any
    result, _ = await asyncio.gather(live.run(world.key, relay()), suspend_soon())
    assert result == (None, "every agent is frozen: incident")

    async def quick() -> bytes:
        return b"tail"

    assert await live.run(world.user_key, quick()) == (b"tail", None)


async def test_an_already_blocked_or_revoked_principal_is_closed_at_once(world: World) -> None:
    closed: list[str] = []

    async def close(reason: str) -> None:
        closed.append(reason)

    SuspensionService(world.sessions).suspend("user", "bob", "gone", actor=OPERATOR)
    live = LiveSessions(_Holder(world.snapshot()))  # type: ignore[arg-type]
    async with live.track(world.user_key, close):
        await asyncio.sleep(0.01)
    assert closed == ["user 'bob' is suspended: gone"]

    world.identity.revoke_key(world.key.key_id, "leaked", actor=OPERATOR)
    closed.clear()
    live = LiveSessions(_Holder(world.snapshot()))  # type: ignore[arg-type]
    async with live.track(world.key, close):
        await asyncio.sleep(0.01)
    assert closed == ["the API key was revoked"]
