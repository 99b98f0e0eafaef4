"""Anthropic answers: tool_use blocks found, withheld as text blocks in place, and streamed blocks
held until complete and reassembled from input_json_delta fragments cut anywhere; the official
SDK still reads every answer Steward rewrites."""

from __future__ import annotations

import json
from typing import Any

from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import Message
from hypothesis import given, settings
from hypothesis import strategies as st

from steward.gateway.stages import _tool_calls_anthropic as wire
from steward.gateway.stages._tool_calls_model import (
    DENIED_FIELD,
    INVALID_ARGUMENTS,
    TOOL_NOT_ALLOWED,
    Denial,
    ToolCall,
)
from tests.unit.gateway._tool_calls_fixtures import anthropic_answer, anthropic_events


def deny(call: ToolCall) -> tuple[ToolCall, Denial]:
    return call, Denial(TOOL_NOT_ALLOWED, f"{call.name} is forbidden.", ("p1",))


def test_calls_and_withhold_replace_blocks_in_place() -> None:
    body = anthropic_answer(
        ("get_weather", {"city": "Oslo"}), ("refund", {"amount": 900}), text="Ok"
    )
    found = wire.calls(body)
    assert [(c.name, c.arguments, c.location) for c in found] == [
        ("get_weather", {"city": "Oslo"}, "content[1]"),
        ("refund", {"amount": 900}, "content[2]"),
    ]
    wire.withhold(body, [deny(found[1])])
    assert [b["type"] for b in body["content"]] == ["text", "tool_use", "text"]
    assert body["content"][2]["text"].startswith("[steward] The tool call refund (toolu_1)")
    assert body["stop_reason"] == "tool_use"
    [entry] = body[DENIED_FIELD]
    assert entry["id"] == "toolu_1" and entry["code"] == TOOL_NOT_ALLOWED
    parsed = Message.model_validate(body)
    assert parsed.model_extra == {DENIED_FIELD: [entry]}


def test_withhold_every_call_ends_the_turn() -> None:
    body = anthropic_answer(("refund", {"amount": 1}))
    wire.withhold(body, [deny(c) for c in wire.calls(body)])
    assert body["stop_reason"] == "end_turn"
    assert Message.model_validate(body).content[0].type == "text"


def test_malformed_blocks() -> None:
    body = anthropic_answer(("refund", {}))
    body["content"].append({"type": "tool_use", "id": "t9", "input": {}})
    body["content"].append({"type": "tool_use", "id": "t10", "name": "x", "input": [1]})
    body["content"].append(
        {"type": "server_tool_use", "id": "s1", "name": "web_search", "input": {}}
    )
    found = wire.calls(body)
    assert [c.name for c in found] == ["refund", "", "x"]
    assert found[1].error == "the tool_use block has no name"
    assert found[2].error_code == INVALID_ARGUMENTS and "not list" in (found[2].error or "")


def _run(
    events: list[dict[str, Any]], deny_names: set[str]
) -> tuple[list[dict[str, Any]], list[ToolCall]]:
    stream = wire.AnthropicStream()
    out: list[dict[str, Any]] = []
    seen: list[ToolCall] = []
    queue = list(events)
    while queue:
        passed, call = stream.feed(queue.pop(0))
        out += [stream.message_delta(e) if e["type"] == "message_delta" else e for e in passed]
        if call is not None:
            seen.append(call)
            released, backlog = stream.release(
                call, deny(call)[1] if call.name in deny_names else None
            )
            out += released
            queue[:0] = backlog
    return out, seen


def _accumulate(out: list[dict[str, Any]]) -> Any:
    snapshot = None
    bufs: dict[int, bytes] = {}
    for event in out:
        snapshot = accumulate_event(event=event, current_snapshot=snapshot, json_bufs=bufs)  # type: ignore[arg-type]
    return snapshot


def test_stream_holds_a_block_until_it_stops() -> None:
    events = anthropic_events([("lookup", '{"q": "x"}')], [[2, 5]], text="Hi")
    stream = wire.AnthropicStream()
    released = []
    for event in events[:-3]:  # up to the last input_json_delta
        passed, call = stream.feed(event)
        released += passed
        assert call is None
    assert [e["type"] for e in released] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
    ]
    passed, call = stream.feed(events[-3])  # content_block_stop of the tool_use block
    assert passed == [] and call is not None and call.arguments == {"q": "x"}


_NAMES = st.sampled_from(["get_weather", "refund", "lookup"])
_ARGS = st.dictionaries(
    st.text("abcxyz_", min_size=1, max_size=6),
    st.one_of(st.integers(-(10**6), 10**6), st.text(max_size=12), st.booleans()),
    max_size=4,
)


@settings(max_examples=150, deadline=None)
@given(
    calls=st.lists(st.tuples(_NAMES, _ARGS), min_size=1, max_size=4),
    cuts=st.lists(st.lists(st.integers(0, 80), max_size=12), min_size=4, max_size=4),
    deny_names=st.sets(_NAMES),
    text=st.text(max_size=15),
)
def test_stream_reassembly_matches_the_whole_answer(
    calls: list[tuple[str, dict[str, Any]]],
    cuts: list[list[int]],
    deny_names: set[str],
    text: str,
) -> None:
    texts = [(n, json.dumps(a)) for n, a in calls]
    out, seen = _run(anthropic_events(texts, cuts, text=text), deny_names)
    assert [(c.name, c.arguments) for c in seen] == calls
    final = _accumulate(out)
    tool_uses = [(b.name, b.input) for b in final.content if b.type == "tool_use"]
    allowed = [(n, a) for n, a in calls if n not in deny_names]
    assert tool_uses == allowed
    texts_out = [b.text for b in final.content if b.type == "text"]
    denied = [n for n, _ in calls if n in deny_names]
    assert len(texts_out) == len(denied) + (1 if text else 0)
    assert final.stop_reason == ("tool_use" if allowed else "end_turn")
    delta = next(e for e in out if e["type"] == "message_delta")
    assert [e["name"] for e in delta.get(DENIED_FIELD, [])] == denied
    assert [e["index"] for e in out if e["type"] == "content_block_start"] == list(
        range(len(final.content))
    )


def test_events_out_of_order_are_fed_again_after_the_block() -> None:
    events = anthropic_events([("refund", '{"a": 1}'), ("refund", '{"a": 2}')], [[], []])
    # a provider that starts the second block before stopping the first: the second block is
    # kept behind the first and still decided on its own
    stop_first = events.pop(3)
    events.insert(5, stop_first)
    out, seen = _run(events, {"refund"})
    assert [c.arguments for c in seen] == [{"a": 1}, {"a": 2}]
    assert not any(e.get("content_block", {}).get("type") == "tool_use" for e in out)


def test_pings_pass_while_a_block_is_held() -> None:
    events = anthropic_events([("lookup", "{}")], [[]])
    events.insert(2, {"type": "ping"})
    stream = wire.AnthropicStream()
    stream.feed(events[0])
    stream.feed(events[1])
    assert stream.feed(events[2]) == ([{"type": "ping"}], None)
