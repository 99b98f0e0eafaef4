"""The approval binding: stable across key order and number spelling, different for any other
action, resource, argument or requester."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from steward.agents.approvals.binding import BindingError, approval_binding, canonical_json
from steward.identity.snapshot import Principal

AGENT = Principal(
    key_id="key_1",
    key_prefix="sk-stw-abc…",
    kind="agent",
    user_id=None,
    team_id=None,
    app_id=None,
    agent_id="agent_1",
    service_account_id=None,
    allowed_models=None,
    expires_at=None,
    suspended=None,
    owner_id="user_owner",
)
ARGS = {"order": "A-17", "amount": 250, "currency": "EUR", "lines": [1, 2.5, {"b": 1, "a": 2}]}


def test_canonical_json_sorts_keys_and_drops_whitespace() -> None:
    assert canonical_json({"b": [1, {"d": 1, "c": None}], "a": "é"}) == (
        '{"a":"é","b":[1,{"c":null,"d":1}]}'.encode()
    )


def test_known_vector() -> None:
    expected_doc = (
        '{"action":"call_tool","arguments":{"amount":250,"order":"A-17"},'
        '"requester":{"agent":"agent_1","app":null,"chain":[],"kind":"agent",'
        '"on_behalf_of":null,"service_account":null,"user":null},'
        '"resource":"shop.refund","v":1}'
    )
    got = approval_binding("call_tool", "shop.refund", {"order": "A-17", "amount": 250}, AGENT)
    assert got == hashlib.sha256(expected_doc.encode()).hexdigest()


def test_key_order_and_integral_floats_do_not_matter() -> None:
    a = approval_binding("call_tool", "shop.refund", ARGS, AGENT)
    shuffled = {
        "lines": [1.0, 2.5, {"a": 2, "b": 1.0}],
        "currency": "EUR",
        "amount": 250.0,
        "order": "A-17",
    }
    assert approval_binding("call_tool", "shop.refund", shuffled, AGENT) == a


def test_the_key_used_does_not_matter_but_the_agent_does() -> None:
    a = approval_binding("call_tool", "shop.refund", ARGS, AGENT)
    other_key = dataclasses.replace(AGENT, key_id="key_2", key_prefix="sk-stw-def…")
    assert approval_binding("call_tool", "shop.refund", ARGS, other_key) == a
    other_agent = dataclasses.replace(AGENT, agent_id="agent_2")
    assert approval_binding("call_tool", "shop.refund", ARGS, other_agent) != a


@pytest.mark.parametrize(
    "change",
    [
        {"action": "invoke_model"},
        {"resource": "shop.refund_all"},
        {"arguments": {**ARGS, "amount": 251}},
        {"arguments": {**ARGS, "amount": "250"}},
        {"arguments": {**ARGS, "extra": None}},
        {"arguments": {**ARGS, "lines": [2.5, 1, {"b": 1, "a": 2}]}},
        {"principal": dataclasses.replace(AGENT, on_behalf_of="user_alice")},
        {"principal": dataclasses.replace(AGENT, chain=("agent_1", "agent_sub"))},
        {"principal": dataclasses.replace(AGENT, kind="user", agent_id=None, user_id="u")},
    ],
)
def test_any_other_call_has_another_binding(change: dict[str, object]) -> None:
    base = {"action": "call_tool", "resource": "shop.refund", "arguments": ARGS, "principal": AGENT}
    changed = {**base, **change}
    assert approval_binding(**changed) != approval_binding(**base)  # type: ignore[arg-type]


def test_true_is_not_one() -> None:
    assert approval_binding("call_tool", "t", {"x": True}, AGENT) != approval_binding(
        "call_tool", "t", {"x": 1}, AGENT
    )


@pytest.mark.parametrize(
    "bad", [{"x": float("nan")}, {"x": float("inf")}, {"x": {1: "a"}}, {"x": object()}]
)
def test_arguments_that_are_not_json_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(BindingError):
        approval_binding("call_tool", "t", bad, AGENT)
