"""Decisions: defaults, forbid beats permit, approval, shadow mode, delegation bounds."""

from __future__ import annotations

from steward.policy.audit import decision_row
from steward.policy.data import PolicyData
from steward.policy.sets import PolicySource
from tests.unit.policy.conftest import ORG, EngineFactory, principal

AGENT = principal("agent", "a1", owner_id="u1")
USER = principal("user", "u1")

REFUNDS = """
@id("small-refunds")
permit (principal == Agent::"support-bot", action == Action::"call_tool",
        resource == Tool::"billing.refund")
when { context.arguments has amount && context.arguments.amount <= 100 };

@id("large-refunds")
@approval("required")
permit (principal == Agent::"support-bot", action == Action::"call_tool",
        resource == Tool::"billing.refund")
when { context.arguments has amount && context.arguments.amount > 100 };
"""


def test_no_policies_models_permitted_tools_denied_to_agents(make_engine: EngineFactory) -> None:
    engine = make_engine()
    assert engine.decide_model(AGENT, "big").allowed
    assert engine.decide_model(USER, "big").allowed
    d = engine.decide_tool(AGENT, "billing.refund", "billing", {"amount": 5})
    assert (d.allowed, d.verdict, d.policies) == (False, "deny", ())
    assert "no policy permits agent 'support-bot' to call tool 'billing.refund'" in d.reason
    assert engine.decide_tool(USER, "billing.refund", "billing", {}).allowed


def test_default_tool_access_deny_covers_users(make_engine: EngineFactory) -> None:
    engine = make_engine(default_tool_access="deny")
    assert not engine.decide_tool(USER, "billing.refund", "billing", {}).allowed


def test_default_model_access_deny(make_engine: EngineFactory) -> None:
    engine = make_engine(
        (
            "models",
            'permit (principal in Team::"support", action == Action::"invoke_model", '
            'resource in ModelGroup::"cheap");',
        ),
        default_model_access="deny",
    )
    assert engine.decide_model(USER, "mini").allowed
    d = engine.decide_model(USER, "big")
    assert not d.allowed and "no policy permits user 'alice' to invoke model 'big'" in d.reason
    assert not engine.decide_model(principal("user", "u2"), "mini").allowed


def test_forbid_beats_permit(make_engine: EngineFactory) -> None:
    engine = make_engine(
        ("allow", 'permit (principal, action == Action::"call_tool", resource);'),
        (
            "deny",
            '@id("no-shell") @reason("shells are off limits")\n'
            'forbid (principal, action, resource == Tool::"shell.exec");',
        ),
    )
    assert engine.decide_tool(AGENT, "files.read", "files", {}).allowed
    d = engine.decide_tool(AGENT, "shell.exec", "shell", {"command": "ls"})
    assert (d.allowed, d.policies) == (False, ("deny/no-shell",))
    assert "shells are off limits" in d.reason


def test_approval_annotation(make_engine: EngineFactory) -> None:
    engine = make_engine(("refunds", REFUNDS))
    small = engine.decide_tool(AGENT, "billing.refund", "billing", {"amount": 80})
    assert (small.allowed, small.approval, small.policies) == (
        True,
        False,
        ("refunds/small-refunds",),
    )
    large = engine.decide_tool(AGENT, "billing.refund", "billing", {"amount": 800})
    assert (large.allowed, large.approval) == (True, True)
    assert large.policies == ("refunds/large-refunds",) and large.recordable
    missing = engine.decide_tool(AGENT, "billing.refund", "billing", {})
    assert not missing.allowed


def test_argument_of_wrong_type_is_denied(make_engine: EngineFactory) -> None:
    engine = make_engine(("refunds", REFUNDS))
    d = engine.decide_tool(AGENT, "billing.refund", "billing", {"amount": "800"})
    assert not d.allowed and "argument 'amount' must be a whole number" in d.reason
    d = engine.decide_tool(AGENT, "billing.refund", "billing", {"amount": 80.0})
    assert d.allowed  # a whole float is a whole number


def test_decimal_and_text_arguments(make_engine: EngineFactory) -> None:
    engine = make_engine(
        (
            "t",
            'permit (principal, action == Action::"call_tool", resource) when {'
            ' context.arguments has rate && context.arguments.rate.lessThan(decimal("0.5")) };\n'
            'forbid (principal, action == Action::"call_tool", resource)'
            ' when { context.arguments_json like "*rm -rf*" };',
        ),
    )
    assert engine.decide_tool(AGENT, "x.y", None, {"rate": 0.25}).allowed
    assert not engine.decide_tool(AGENT, "x.y", None, {"rate": 0.75}).allowed
    assert not engine.decide_tool(AGENT, "x.y", None, {"rate": 0.25, "cmd": "rm -rf /"}).allowed


def test_shadow_set_records_but_allows(make_engine: EngineFactory) -> None:
    engine = make_engine(
        (
            "trial",
            '@id("no-big") forbid (principal, action == Action::"invoke_model", '
            'resource == Model::"big");',
            "shadow",
        ),
    )
    d = engine.decide_model(USER, "big")
    assert (d.allowed, d.verdict, d.mode, d.policies) == (True, "deny", "shadow", ("trial/no-big",))
    assert d.reason.startswith("shadow mode (not enforced): ") and d.recordable
    ok = engine.decide_model(USER, "mini")
    assert (ok.allowed, ok.verdict, ok.recordable) == (True, "allow", False)


def test_enforced_denial_wins_over_shadow(make_engine: EngineFactory) -> None:
    engine = make_engine(
        ("trial", 'forbid (principal, action, resource == Model::"big");', "shadow"),
        ("real", '@id("no-big") forbid (principal, action, resource == Model::"big");'),
    )
    d = engine.decide_model(USER, "big")
    assert (d.allowed, d.mode, d.policies) == (False, "enforce", ("real/no-big",))


def test_key_models_are_a_builtin_policy(make_engine: EngineFactory) -> None:
    engine = make_engine()
    limited = principal("user", "u1", allowed_models=frozenset({"mini"}))
    assert engine.decide_model(limited, "mini").allowed
    d = engine.decide_model(limited, "big")
    assert (d.allowed, d.policies) == (False, ("steward/key-models",))


def test_agent_bounded_by_the_user_it_acts_for(make_engine: EngineFactory) -> None:
    engine = make_engine(
        (
            "tools",
            'permit (principal == Agent::"support-bot", action == Action::"call_tool", '
            'resource in ToolServer::"crm");',
        ),
        (
            "people",
            '@id("bob-no-crm") forbid (principal == User::"bob", action, '
            'resource in ToolServer::"crm");',
        ),
    )
    for_alice = principal("agent", "a1", owner_id="u1", on_behalf_of="u1")
    for_bob = principal("agent", "a1", owner_id="u1", on_behalf_of="u2")
    assert engine.decide_tool(for_alice, "crm.lookup", "crm", {}).allowed
    d = engine.decide_tool(for_bob, "crm.lookup", "crm", {})
    assert (d.allowed, d.policies) == (False, ("people/bob-no-crm",))
    assert "acts on behalf of user 'bob'" in d.reason


def test_delegation_chain_bounds_sub_agents(make_engine: EngineFactory) -> None:
    engine = make_engine(
        (
            "tools",
            'permit (principal, action == Action::"call_tool", resource) '
            "when { context.chain_depth <= 2 };\n"
            '@id("no-risky-parents") forbid (principal is Agent, action, resource) '
            'when { principal.risk_tier == "high" };',
        ),
    )
    sub = principal("agent", "a1", owner_id="u1", chain=("a1", "a2"), on_behalf_of="u1")
    d = engine.decide_tool(sub, "files.read", "files", {})
    assert not d.allowed and "delegation chain" in d.reason
    assert d.policies == ("tools/no-risky-parents",)
    alone = principal("agent", "a1", owner_id="u1", chain=("a1",), on_behalf_of="u1")
    assert engine.decide_tool(alone, "files.read", "files", {}).allowed


def test_forbid_that_errors_denies(make_engine: EngineFactory) -> None:
    engine = make_engine(
        (
            "t",
            'permit (principal, action == Action::"call_tool", resource);\n'
            '@id("owner-team") forbid (principal is Agent, action, resource) '
            "when { principal.owner.suspended };",
        ),
    )
    ghost = principal("agent", "a1", owner_id="u1")
    engine.load(
        PolicyData(sets=engine.state.data.sets, teams=ORG["teams"], users={}, agents=ORG["agents"])
    )
    d = engine.decide_tool(ghost, "files.read", "files", {})
    assert (d.allowed, d.policies) == (False, ("t/owner-team",)) and d.errors


def test_a_stored_set_that_no_longer_validates_keeps_its_last_good_version(
    make_engine: EngineFactory,
) -> None:
    good = 'forbid (principal, action == Action::"invoke_model", resource == Model::"big");'
    engine = make_engine(("rules", good))
    assert not engine.decide_model(USER, "big").allowed
    broken = PolicySource(
        "rules", good + "\nforbid (principal, action, resource) when { x };", version=2
    )
    engine.load(PolicyData(sets=(broken,), **ORG))
    assert not engine.decide_model(USER, "big").allowed  # v1 still in force, whole
    assert engine.decide_model(USER, "mini").allowed  # and none of v2 half-applied
    assert "policy set 'rules' is invalid" in engine.status()["failed"][0]
    fresh = make_engine()
    fresh.load(PolicyData(sets=(PolicySource("new", "forbid (", version=1),), **ORG))
    assert [s["name"] for s in fresh.status()["sets"]] == ["steward"]


def test_audit_row_describes_the_decision(make_engine: EngineFactory) -> None:
    engine = make_engine(("refunds", REFUNDS))
    held = engine.decide_tool(AGENT, "billing.refund", "billing", {"amount": 800})
    row = decision_row(
        held,
        AGENT,
        action="call_tool",
        target_type="tool",
        target_id="billing.refund",
        request_id="req-1",
    )
    assert (row["action"], row["outcome"], row["request_id"]) == (
        "policy.decision",
        "pending",
        "req-1",
    )
    assert row["details"]["policies"] == ["refunds/large-refunds"]
    assert row["details"]["owner_id"] == "u1" and row["details"]["action"] == "call_tool"
    denied = engine.decide_tool(AGENT, "shell.exec", None, {})
    assert (
        decision_row(
            denied, AGENT, action="call_tool", target_type="tool", target_id="x", request_id=None
        )["outcome"]
        == "denied"
    )


def test_reused_model_decisions_end_with_their_snapshot(make_engine: EngineFactory) -> None:
    engine = make_engine()
    assert engine.decide_model(USER, "big", {"endpoint": "chat"}).allowed
    assert engine.decide_model(USER, "big", {"endpoint": "chat"}).allowed  # reused
    rules = PolicySource(
        "rules", 'forbid (principal, action, resource == Model::"big");', version=1
    )
    engine.load(PolicyData(sets=(rules,), **ORG))  # a new snapshot, in the same second
    assert not engine.decide_model(USER, "big", {"endpoint": "chat"}).allowed
    limited = principal("user", "u1", allowed_models=frozenset({"mini"}))
    assert engine.decide_model(limited, "mini", {"endpoint": "chat"}).allowed
    assert not engine.decide_model(limited, "big", {"endpoint": "chat"}).allowed


def test_listing_shows_tools_permitted_for_some_arguments(make_engine: EngineFactory) -> None:
    """`may_call_tool` (MCP tools/list): a tool permitted only for some arguments is listed,
    one no permit can apply to or that a forbid always denies is not; the delegating user
    bounds the listing too."""
    engine = make_engine(
        ("refunds", REFUNDS),
        (
            "deny",
            '@id("no-shell") forbid (principal, action, resource == Tool::"shell.exec");\n'
            'permit (principal, action == Action::"call_tool", resource == Tool::"shell.exec");',
        ),
        (
            "people",
            '@id("bob-no-billing") forbid (principal == User::"bob", action, '
            'resource in ToolServer::"billing");',
        ),
    )
    assert not engine.decide_tool(AGENT, "billing.refund", "billing", {}).allowed
    assert engine.may_call_tool(AGENT, "billing.refund", "billing")
    assert not engine.may_call_tool(AGENT, "billing.delete", "billing")  # no permit applies
    assert not engine.may_call_tool(AGENT, "shell.exec", "shell")  # a forbid always applies
    assert engine.may_call_tool(USER, "shell.other", "shell")  # people: the default permits
    for_bob = principal("agent", "a1", owner_id="u1", on_behalf_of="u2")
    assert not engine.may_call_tool(for_bob, "billing.refund", "billing")


def test_a_remediation_override_holds_the_agents_allowed_tool_calls(
    make_engine: EngineFactory,
) -> None:
    """`require_approval` from a remediation rule: what policy allows now waits for a person;
    what policy denies stays denied; reverting the override frees it."""
    from steward.identity.snapshot import Snapshot

    engine = make_engine(("refunds", REFUNDS))
    engine.snapshot = Snapshot(
        version=1, keys={}, sections={"approval_overrides": {"a1": "quality SLO burning"}}
    )
    held = engine.decide_tool(AGENT, "billing.refund", "billing", {"amount": 80})
    assert (held.allowed, held.approval) == (True, True)
    assert "quality SLO burning" in held.reason
    assert not engine.decide_tool(AGENT, "billing.delete", "billing", {}).allowed
    engine.snapshot = Snapshot(version=2, keys={}, sections={"approval_overrides": {}})
    freed = engine.decide_tool(AGENT, "billing.refund", "billing", {"amount": 80})
    assert (freed.allowed, freed.approval) == (True, False)  # reverted: no longer held
