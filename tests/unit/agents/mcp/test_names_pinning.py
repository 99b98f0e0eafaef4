"""Tool namespacing, definition hashes and what a listing does to the pins."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from steward.agents.mcp.names import ToolNameError, namespaced, shadow_key, split
from steward.agents.mcp.pinning import Pin, assess, definition, tool_hash
from steward.agents.mcp.settings import McpServerConfig, McpSettings

SCHEMA = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}


# -- namespacing ---------------------------------------------------------------------------


def test_a_tool_is_offered_as_server__tool_and_split_back() -> None:
    assert namespaced("crm", "lookup_customer") == "crm__lookup_customer"
    assert split("crm__lookup_customer") == ("crm", "lookup_customer")
    # the first __ ends the server name: a tool's own double underscores survive
    assert split("crm__get__by_id") == ("crm", "get__by_id")


@given(
    server=st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?", fullmatch=True),
    tool=st.from_regex(r"[A-Za-z0-9._-]{1,60}", fullmatch=True),
)
def test_namespacing_round_trips_for_every_valid_name(server: str, tool: str) -> None:
    assert split(namespaced(server, tool)) == (server, tool)


@pytest.mark.parametrize("tool", ["", "has space", "ünïcode", "x" * 126, "a/b"])
def test_names_that_would_break_mcp_tool_name_rules_are_refused(tool: str) -> None:
    with pytest.raises(ToolNameError, match="MCP tool names"):
        namespaced("crm", tool)


@pytest.mark.parametrize("name", ["lookup", "__lookup", "crm__", "crm_lookup"])
def test_a_name_without_a_server_is_an_unknown_tool(name: str) -> None:
    with pytest.raises(ToolNameError, match="tools/list"):
        split(name)


def test_server_names_must_keep_namespacing_unambiguous() -> None:
    McpSettings(servers={"crm-eu": McpServerConfig(url="http://x/mcp")})
    for bad in ("CRM", "crm_eu", "crm__x", "-crm", ""):
        with pytest.raises(ValueError, match="not a valid server name"):
            McpSettings(servers={bad: McpServerConfig(url="http://x/mcp")})


def test_a_server_is_http_or_stdio_not_both() -> None:
    with pytest.raises(ValueError, match="exactly one of url"):
        McpServerConfig(url="http://x/mcp", command="python")
    with pytest.raises(ValueError, match="exactly one of url"):
        McpServerConfig()
    with pytest.raises(ValueError, match="http:// or https://"):
        McpServerConfig(url="ftp://x")
    assert McpServerConfig(command="python", args=["s.py"]).transport == "stdio"


def test_shadowing_ignores_case_and_separators() -> None:
    assert shadow_key("Send-Email") == shadow_key("send_email") == shadow_key("send.email")
    assert shadow_key("send_emails") != shadow_key("send_email")


# -- hashes --------------------------------------------------------------------------------


def test_the_hash_covers_name_description_and_schema_only() -> None:
    base = tool_hash(definition("lookup", "Find a customer.", SCHEMA))
    assert len(base) == 64
    assert (
        tool_hash(definition("lookup", "Find a customer.", dict(reversed(SCHEMA.items())))) == base
    )
    assert tool_hash(definition("lookup", "Find a customer and mail them.", SCHEMA)) != base
    assert tool_hash(definition("lookup2", "Find a customer.", SCHEMA)) != base
    wider = {**SCHEMA, "properties": {"q": {"type": "string"}, "cc": {"type": "string"}}}
    assert tool_hash(definition("lookup", "Find a customer.", wider)) != base
    assert tool_hash(definition("lookup", None, SCHEMA)) == tool_hash(
        definition("lookup", "", SCHEMA)
    )


# -- what a listing does ----------------------------------------------------------------------


def _approved(server: str, name: str, h: str) -> Pin:
    return Pin(server, name, "approved", h, h)


def test_new_tools_are_pinned_on_first_sight_by_default() -> None:
    changes = assess("crm", {"lookup": "h1", "refund": "h2"}, {})
    assert [(c.event, c.pin.name, c.pin.status) for c in changes] == [
        ("pin", "lookup", "approved"),
        ("pin", "refund", "approved"),
    ]
    assert all(c.pin.usable(c.pin.current_hash) for c in changes)


def test_new_tools_wait_for_an_admin_when_configured() -> None:
    (change,) = assess("crm", {"lookup": "h1"}, {}, new_tools="quarantine")
    assert (change.event, change.pin.status, change.pin.reason) == (
        "quarantine",
        "quarantined",
        "new",
    )
    assert not change.pin.usable("h1")


def test_an_unchanged_listing_changes_nothing() -> None:
    pins = {("crm", "lookup"): _approved("crm", "lookup", "h1")}
    assert assess("crm", {"lookup": "h1"}, pins) == []


def test_a_changed_definition_is_quarantined_and_keeps_the_approved_hash() -> None:
    pins = {("crm", "lookup"): _approved("crm", "lookup", "h1")}
    (change,) = assess("crm", {"lookup": "h2"}, pins)
    pin = change.pin
    assert (change.event, pin.status, pin.reason) == ("quarantine", "quarantined", "changed")
    assert (pin.approved_hash, pin.current_hash) == ("h1", "h2")
    assert not pin.usable("h2") and not pin.usable("h1")


def test_a_quarantined_tool_that_changes_again_stays_quarantined() -> None:
    held = Pin("crm", "lookup", "quarantined", "h1", "h2", "changed", "changed")
    (change,) = assess("crm", {"lookup": "h3"}, {("crm", "lookup"): held})
    assert (change.event, change.pin.status, change.pin.current_hash) == (
        "update",
        "quarantined",
        "h3",
    )
    # ...and going back to the approved definition does not release it by itself
    assert assess("crm", {"lookup": "h3"}, {("crm", "lookup"): change.pin}) == []


def test_a_new_tool_shadowing_another_servers_tool_is_quarantined() -> None:
    pins = {("mail", "send_email"): _approved("mail", "send_email", "h1")}
    changes = assess("evil", {"Send-Email": "h9", "weather": "h8"}, pins)
    by_name = {c.pin.name: c for c in changes}
    shadow = by_name["Send-Email"].pin
    assert (shadow.status, shadow.reason) == ("quarantined", "shadows")
    assert "mail__send_email" in (shadow.detail or "")
    assert by_name["weather"].pin.status == "approved"


def test_two_new_tools_with_confusable_names_on_one_server_hold_the_second() -> None:
    changes = assess("crm", {"refund": "h1", "Refund": "h2"}, {})
    statuses = {c.pin.name: c.pin.status for c in changes}
    assert sorted(statuses.values()) == ["approved", "quarantined"]


def test_pins_survive_the_snapshot_cache_round_trip() -> None:
    pin = Pin("crm", "lookup", "quarantined", "h1", "h2", "changed", "why")
    assert Pin.from_json(pin.to_json()) == pin
