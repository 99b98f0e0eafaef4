"""Approvals in the store: one pending request per exact call, decided by another person, used
once, expired on time, every step audited."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from steward.agents.approvals._store import ApprovalStore
from steward.agents.approvals.binding import approval_binding
from steward.agents.approvals.records import ApproverRefused, NotPending
from steward.agents.approvals.settings import ApprovalSettings
from steward.identity import Actor, Invalid
from steward.identity.snapshot import Principal
from steward.store.models import AuditEvent

from .conftest import World

ADMIN = Actor("admin", "adm_1", role="admin")
ARGS = {"order": "A-17", "amount": 900}


def _ask(store: ApprovalStore, p: Principal, args: dict[str, object] = ARGS):  # type: ignore[no-untyped-def]
    b = approval_binding("call_tool", "shop.refund", args, p)
    approval, created, _ = store.request(
        p, "call_tool", "shop.refund", dict(args), b, "refund over 500", "req_1", ["refund-limit"]
    )
    return approval, created


def _actions(world: World, approval_id: str) -> list[str]:
    with world.sessions() as s:
        rows = s.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.target_id == approval_id)
            .order_by(AuditEvent.ts)
        )
        return list(rows)


def test_a_request_is_pending_once_per_exact_call(store: ApprovalStore, world: World) -> None:
    first, created = _ask(store, world.key)
    assert created and first.status == "pending"
    assert first.agent_id == world.agent and first.owner_id == world.owner
    assert first.policies == ["refund-limit"] and first.reason == "refund over 500"
    again, created_again = _ask(store, world.key)
    assert not created_again and again.id == first.id
    other, created_other = _ask(store, world.key, {**ARGS, "amount": 901})
    assert created_other and other.id != first.id
    assert _actions(world, first.id) == ["approval.request"]


def test_approved_once_then_consumed(store: ApprovalStore, world: World) -> None:
    pending, _ = _ask(store, world.key)
    decided = store.decide(pending.id, True, actor=ADMIN, approver="alice", note="ok")
    assert decided.status == "approved" and decided.approver_id == world.alice
    assert decided.decided_by == "admin:adm_1"
    used, created = _ask(store, world.key)
    assert not created and used.id == pending.id and used.granted
    assert store.get(pending.id).status == "consumed"
    # the same call again needs a new approval
    fresh, created = _ask(store, world.key)
    assert created and fresh.id != pending.id and fresh.status == "pending"
    assert _actions(world, pending.id) == [
        "approval.request",
        "approval.approve",
        "approval.consume",
    ]


def test_multi_use_when_configured(sessions, world: World) -> None:  # type: ignore[no-untyped-def]
    store = ApprovalStore(sessions, ApprovalSettings(single_use=False))
    pending, _ = _ask(store, world.key)
    store.decide(pending.id, True, actor=ADMIN, approver="alice")
    for n in (1, 2, 3):
        used, _ = _ask(store, world.key)
        assert used.id == pending.id and used.granted and used.uses == n


def test_use_is_taken_by_one_caller_only(store: ApprovalStore, world: World) -> None:
    pending, _ = _ask(store, world.key)
    store.decide(pending.id, True, actor=ADMIN, approver="alice")
    assert store.use(pending.id).status == "approved"
    assert store.use(pending.id).status == "consumed"


def test_the_requester_may_not_approve(store: ApprovalStore, world: World) -> None:
    pending, _ = _ask(store, world.user_key)  # bob's own key asks
    with pytest.raises(ApproverRefused) as err:
        store.decide(pending.id, True, actor=ADMIN, approver="bob")
    assert err.value.code == "approver_is_requester"
    assert store.get(pending.id).status == "pending"
    assert store.decide(pending.id, True, actor=ADMIN, approver="alice").status == "approved"


def test_the_user_an_agent_acts_for_may_not_approve(store: ApprovalStore, world: World) -> None:
    import dataclasses

    delegated = dataclasses.replace(world.key, on_behalf_of=world.bob, token_id="jti-1")
    pending, _ = _ask(store, delegated)
    with pytest.raises(ApproverRefused):
        store.decide(pending.id, True, actor=ADMIN, approver=world.bob)


def test_the_agent_itself_may_not_approve(store: ApprovalStore, world: World) -> None:
    pending, _ = _ask(store, world.key)
    with pytest.raises(ApproverRefused) as err:
        store.decide(pending.id, True, actor=ADMIN, approver="refund-bot")
    assert err.value.code == "approver_is_requester"


def test_approving_needs_a_named_person(store: ApprovalStore, world: World) -> None:
    pending, _ = _ask(store, world.key)
    with pytest.raises(Invalid) as err:
        store.decide(pending.id, True, actor=ADMIN, approver=None)
    assert err.value.code == "approver_required"
    # denying does not
    assert store.decide(pending.id, False, actor=ADMIN, approver=None).status == "denied"


def test_a_denial_stands_for_the_same_call(store: ApprovalStore, world: World) -> None:
    pending, _ = _ask(store, world.key)
    store.decide(pending.id, False, actor=ADMIN, approver="alice", note="too much")
    again, created = _ask(store, world.key)
    assert not created and again.status == "denied" and again.note == "too much"
    with pytest.raises(NotPending):
        store.decide(pending.id, True, actor=ADMIN, approver="alice")


def test_pending_approvals_expire(sessions, world: World) -> None:  # type: ignore[no-untyped-def]
    store = ApprovalStore(sessions, ApprovalSettings(ttl_s=0.2))
    pending, _ = _ask(store, world.key)
    time.sleep(0.3)
    assert store.get(pending.id).status == "expired"
    with pytest.raises(NotPending):
        store.decide(pending.id, True, actor=ADMIN, approver="alice")
    assert _actions(world, pending.id) == ["approval.request", "approval.expire"]
    fresh, created = _ask(store, world.key)
    assert created and fresh.id != pending.id


def test_an_unused_grant_expires(sessions, world: World) -> None:  # type: ignore[no-untyped-def]
    store = ApprovalStore(sessions, ApprovalSettings(grant_ttl_s=0.2))
    pending, _ = _ask(store, world.key)
    store.decide(pending.id, True, actor=ADMIN, approver="alice")
    time.sleep(0.3)
    assert [a.id for a in store.expire_due()] == [pending.id]
    again, created = _ask(store, world.key)
    assert created and again.status == "pending"


def test_listing_filters(store: ApprovalStore, world: World) -> None:
    a, _ = _ask(store, world.key)
    b, _ = _ask(store, world.user_key)
    store.decide(b.id, False, actor=ADMIN, approver=None)
    assert [x.id for x in store.list_approvals(status="pending")] == [a.id]
    assert [x.id for x in store.list_approvals(agent="refund-bot")] == [a.id]
    assert {x.id for x in store.list_approvals()} == {a.id, b.id}
    assert store.list_approvals(status="pending")[0].names[world.agent] == "refund-bot"
    with pytest.raises(Invalid):
        store.list_approvals(status="maybe")
