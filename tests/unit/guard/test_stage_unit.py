"""The guard stages on their own: a detector that fails must block the request (fail closed)
unless every applicable profile says fail open, and either way the failure is an event.

The scanner is the outside of the stage, so a broken one is a stub object; everything else
(runtime, profiles, stages, context) is the real thing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from steward.gateway.context import RequestContext
from steward.gateway.errors import GatewayError
from steward.guard.runtime import GuardRuntime
from steward.guard.settings import GuardSettings
from steward.guard.stage import GuardInput, GuardOutput

SECRET = "sk-proj-A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0"


class BrokenScanner:
    """A detector backend that fails on every text."""

    def __init__(self) -> None:
        self.calls = 0

    def scan(self, text: str) -> list[Any]:
        self.calls += 1
        raise RuntimeError("detector crashed")


def runtime(tmp_path: Path, broken: bool = False, **guard: Any) -> GuardRuntime:
    rt = GuardRuntime(GuardSettings.model_validate(guard), tmp_path)
    if broken:
        rt.scanner = BrokenScanner()  # type: ignore[assignment]
    return rt


def context(content: str, model: str = "gpt-test", stream: bool = False) -> RequestContext:
    body = {"model": model, "messages": [{"role": "user", "content": content}]}
    return RequestContext(
        request_id="req-unit",
        endpoint="chat",
        wire="openai",
        started=0.0,
        received_at=datetime.now(UTC),
        headers={},
        body=body,
        stream=stream,
        model_alias=model,
    )


async def findings(stage: GuardInput, ctx: RequestContext) -> list[dict[str, Any]]:
    await stage.on_finish(ctx)
    return [e["row"] for e in ctx.extra_events if e["kind"] == "finding"]


async def test_a_detector_error_fails_closed_with_503_and_an_event(tmp_path: Path) -> None:
    rt = runtime(tmp_path, broken=True)
    stage = GuardInput(rt)
    ctx = context(f"my key is {SECRET}")
    with pytest.raises(GatewayError) as caught:
        await stage.on_request(ctx)
    err = caught.value
    assert (err.status, err.code, err.type) == (503, "guard_unavailable", "api_error")
    assert "messages[0].content" in err.message and "req-unit" in err.message
    assert SECRET not in err.message
    (row,) = await findings(stage, ctx)
    assert (row["entity"], row["data_class"], row["detector"], row["action"]) == (
        "DETECTOR_ERROR",
        "error",
        "RuntimeError",
        "block",
    )
    assert (row["direction"], row["location"], row["profile"]) == (
        "input",
        "messages[0].content",
        "default",
    )
    assert row["value_hash"] is None


async def test_a_fail_open_profile_lets_the_request_through_and_records_the_error(
    tmp_path: Path,
) -> None:
    rt = runtime(tmp_path, broken=True, profiles={"default": {"fail_open": True}})
    stage = GuardInput(rt)
    ctx = context(f"my key is {SECRET}")
    await stage.on_request(ctx)
    # unscanned, so unchanged: that is what failing open means
    assert ctx.body["messages"][0]["content"] == f"my key is {SECRET}"
    (row,) = await findings(stage, ctx)
    assert (row["entity"], row["action"], row["detector"]) == (
        "DETECTOR_ERROR",
        "allow",
        "RuntimeError",
    )


async def test_an_attached_fail_open_profile_cannot_loosen_the_default(tmp_path: Path) -> None:
    """Strictest wins: fail open only if every profile that applies says so."""
    rt = runtime(
        tmp_path,
        broken=True,
        profiles={"lenient": {"fail_open": True}},
        attach=[{"model": "gpt-lenient", "profile": "lenient"}],
    )
    ctx = context("hello", model="gpt-lenient")
    with pytest.raises(GatewayError) as caught:
        await GuardInput(rt).on_request(ctx)
    assert caught.value.code == "guard_unavailable"
    assert ctx.guard.profiles.names == ("default", "lenient")


async def test_a_detector_error_mid_stream_withholds_the_rest_of_the_answer(
    tmp_path: Path,
) -> None:
    rt = runtime(tmp_path)
    ctx = context("hello", stream=True)
    await GuardInput(rt).on_request(ctx)
    out = GuardOutput(rt)
    rt.scanner = BrokenScanner()  # type: ignore[assignment]
    chunk = {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"content": "Echo: hello "}, "finish_reason": None}],
    }
    with pytest.raises(GatewayError) as caught:
        out.on_chunk(ctx, chunk)
    assert (caught.value.status, caught.value.code) == (503, "guard_unavailable")
    assert "choices[0].message.content" in caught.value.message


async def test_a_disabled_guard_never_scans(tmp_path: Path) -> None:
    rt = runtime(tmp_path, broken=True, enabled=False)
    ctx = context(f"my key is {SECRET}")
    await GuardInput(rt).on_request(ctx)
    assert ctx.guard is None and rt.scanner.calls == 0  # type: ignore[attr-defined]


async def test_an_output_pseudonymize_rule_does_not_hand_back_new_values(
    tmp_path: Path,
) -> None:
    rt = runtime(tmp_path, profiles={"default": {"output": {"EMAIL_ADDRESS": "pseudonymize"}}})
    ctx = context("hello")
    await GuardInput(rt).on_request(ctx)
    ctx.response = {
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Write to bob@corp.example.com"},
            }
        ]
    }
    await GuardOutput(rt).on_response(ctx)
    assert "bob@corp.example.com" not in ctx.response["choices"][0]["message"]["content"]
