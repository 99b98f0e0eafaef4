"""The kill switch: suspensions and resumptions in one audited transaction, `blocked()` on the
snapshot, and the agents' open approvals cancelled."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select

from steward.agents.approvals._store import ApprovalStore
from steward.agents.approvals.binding import approval_binding
from steward.agents.suspension_service import SuspensionService
from steward.agents.suspensions import blocked
from steward.identity import Actor, Invalid, NotFound
from steward.identity.snapshot import Principal
from steward.identity.state import current_version
from steward.store.models import AuditEvent

from .conftest import World

OPERATOR = Actor("cli", "oncall")


@pytest.fixture
def kill(world: World) -> SuspensionService:
    return SuspensionService(world.sessions, models=["gpt-x", "sim-fast"], tool_servers=["shop"])


def _ask(store: ApprovalStore, p: Principal, amount: int = 900) -> str:
    args = {"order": "A-17", "amount": amount}
    b = approval_binding("call_tool", "shop__refund", args, p)
    approval, _, _ = store.request(p, "call_tool", "shop__refund", args, b, "", None, [])
    return approval.id


def test_nothing_suspended_blocks_nothing(world: World) -> None:
    snap = world.snapshot()
    assert blocked(snap, world.key, model="gpt-x", tool_server="shop") is None


def test_suspending_an_agent_blocks_it_audits_and_bumps(
    world: World, kill: SuspensionService
) -> None:
    with world.sessions() as s:
        before = current_version(s)
    info = kill.suspend("agent", "refund-bot", "refunds looping", actor=OPERATOR)
    assert info.id == world.agent and info.reason == "refunds looping"
    with world.sessions() as s:
        assert current_version(s) > before
        row = s.scalars(select(AuditEvent).where(AuditEvent.action == "agent.suspend")).one()
    assert (row.actor_type, row.actor_id, row.reason) == ("cli", "oncall", "refunds looping")
    assert row.details and row.details["kill_switch"] is True
    snap = world.snapshot()
    reason = blocked(snap, world.principal(world.key.key_id))
    assert reason == "agent 'refund-bot' is suspended: refunds looping"
    # a delegation token principal (no key flag) is caught by the agent check
    token = dataclasses.replace(world.key, token_id="jti-1")
    assert blocked(snap, token) == "agent 'refund-bot' is suspended: refunds looping"
    kill.resume("agent", "refund-bot", "fixed", actor=OPERATOR)
    assert blocked(world.snapshot(), world.principal(world.key.key_id)) is None


def test_an_agent_in_the_delegation_chain_blocks(world: World, kill: SuspensionService) -> None:
    sub = world.identity.create_agent("sub-bot", owner="olivia", actor=OPERATOR)
    kill.suspend("agent", "refund-bot", "stop", actor=OPERATOR)
    acting = dataclasses.replace(
        world.key, agent_id=sub.id, chain=(world.agent, sub.id), token_id="jti"
    )
    assert "refund-bot" in (blocked(world.snapshot(), acting) or "")


def test_freezing_all_agents_blocks_agents_only(world: World, kill: SuspensionService) -> None:
    kill.freeze_agents("incident 42", actor=OPERATOR)
    snap = world.snapshot()
    assert blocked(snap, world.key) == "every agent is frozen: incident 42"
    assert blocked(snap, world.user_key) is None
    kill.thaw_agents(actor=OPERATOR)
    assert blocked(world.snapshot(), world.key) is None


def test_models_and_tool_servers(world: World, kill: SuspensionService) -> None:
    kill.suspend("model", "gpt-x", "bad answers", actor=OPERATOR)
    kill.suspend("tool-server", "shop", "breach", actor=OPERATOR)
    snap = world.snapshot()
    assert blocked(snap, world.user_key, model="gpt-x") == "model 'gpt-x' is suspended: bad answers"
    assert blocked(snap, world.user_key, model="sim-fast") is None
    assert blocked(snap, world.key, tool_server="shop") == "tool server 'shop' is suspended: breach"
    assert {(i.kind, i.name) for i in kill.list_suspensions()} == {
        ("model", "gpt-x"),
        ("tool-server", "shop"),
    }
    kill.resume("model", "gpt-x", actor=OPERATOR)
    assert blocked(world.snapshot(), world.user_key, model="gpt-x") is None


def test_a_suspended_user_stops_the_agents_acting_for_or_owned_by_them(
    world: World, kill: SuspensionService
) -> None:
    kill.suspend("user", "bob", "left the company", actor=OPERATOR)
    delegated = dataclasses.replace(world.key, on_behalf_of=world.bob, token_id="j")
    assert "bob" in (blocked(world.snapshot(), delegated) or "")
    kill.suspend("user", "olivia", "on leave", actor=OPERATOR)
    token = dataclasses.replace(world.key, token_id="j2")
    assert "accountable owner" in (blocked(world.snapshot(), token) or "")


def test_bad_input(kill: SuspensionService) -> None:
    with pytest.raises(NotFound):
        kill.suspend("model", "gpt-typo", "x", actor=OPERATOR)
    with pytest.raises(NotFound):
        kill.suspend("agent", "nobody", "x", actor=OPERATOR)
    with pytest.raises(Invalid):
        kill.suspend("agent", "refund-bot", "", actor=OPERATOR)
    with pytest.raises(Invalid):
        kill.suspend("planet", "earth", "x", actor=OPERATOR)


def test_suspending_an_agent_cancels_its_open_approvals(
    world: World, kill: SuspensionService, store: ApprovalStore
) -> None:
    mine = _ask(store, world.key)
    granted = _ask(store, world.key, amount=901)
    store.decide(granted, True, actor=OPERATOR, approver="alice")
    bobs = _ask(store, world.user_key)
    info = kill.suspend("agent", "refund-bot", "stop", actor=OPERATOR)
    assert sorted(info.cancelled_approvals) == sorted([mine, granted])
    assert store.get(mine).status == "cancelled"
    assert store.get(granted).status == "cancelled"
    assert store.get(bobs).status == "pending"
    with world.sessions() as s:
        cancels = s.scalars(
            select(AuditEvent.target_id).where(AuditEvent.action == "approval.cancel")
        )
        assert sorted(c or "" for c in cancels) == sorted([mine, granted])


def test_freezing_cancels_every_agents_approvals(
    world: World, kill: SuspensionService, store: ApprovalStore
) -> None:
    mine = _ask(store, world.key)
    bobs = _ask(store, world.user_key)
    kill.freeze_agents("incident", actor=OPERATOR)
    assert store.get(mine).status == "cancelled"
    assert store.get(bobs).status == "pending"


def test_the_approval_of_a_suspended_agent_cannot_be_granted(
    world: World, store: ApprovalStore
) -> None:
    from steward.identity import Conflict

    pending = _ask(store, world.key)
    # suspended through the identity service (no cancellation there; the gateway's listener
    # cancels later): approving is refused meanwhile
    world.identity.set_agent_suspended("refund-bot", True, "x", actor=OPERATOR)
    with pytest.raises(Conflict) as err:
        store.decide(pending, True, actor=OPERATOR, approver="alice")
    assert err.value.code == "requester_suspended"
    assert [a.id for a in store.cancel_suspended([world.agent], "suspended")] == [pending]


def test_suspending_a_tool_server_or_model_cancels_the_approvals_held_for_it(
    world: World, kill: SuspensionService, store: ApprovalStore
) -> None:
    refund = _ask(store, world.key)  # shop__refund
    other = store.request(
        world.key,
        "call_tool",
        "shopping__cart",
        {},
        approval_binding("call_tool", "shopping__cart", {}, world.key),
        "",
        None,
        [],
    )[0].id
    model = store.request(
        world.user_key,
        "invoke_model",
        "gpt-x",
        {},
        approval_binding("invoke_model", "gpt-x", {}, world.user_key),
        "",
        None,
        [],
    )[0].id
    assert kill.suspend("tool-server", "shop", "breach", actor=OPERATOR).cancelled_approvals == [
        refund
    ]
    assert store.get(other).status == "pending"  # shopping__ is another server
    assert kill.suspend("model", "gpt-x", "drift", actor=OPERATOR).cancelled_approvals == [model]
