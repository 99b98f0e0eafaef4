"""The pipeline's stream path: stages that await (`awaits_chunks`) get the events through
`on_chunks`, the others through `on_chunk`, in order, each seeing what the one before passed."""

from __future__ import annotations

import asyncio
from typing import Any

from steward.gateway.context import RequestContext
from steward.gateway.pipeline import UPSTREAM, Pipeline
from steward.gateway.stages.base import Stage
from tests.unit.gateway._tool_calls_fixtures import context


class Tag(Stage):
    """Appends its name to each event's trail."""

    def __init__(self, name: str) -> None:
        self.name = name

    def on_chunk(self, ctx: RequestContext, event: dict[str, Any]) -> list[dict[str, Any]]:
        return [{**event, "trail": [*event["trail"], self.name]}]


class Hold(Stage):
    """Withholds events until it sees the last one, awaiting before it releases them all."""

    name = "hold"
    awaits_chunks = True

    def __init__(self) -> None:
        self.held: list[dict[str, Any]] = []

    async def on_chunks(
        self, ctx: RequestContext, events: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        self.held += [{**e, "trail": [*e["trail"], "hold"]} for e in events]
        if not any(e.get("last") for e in events):
            return []
        await asyncio.sleep(0)
        out, self.held = self.held, []
        return out


async def test_awaiting_stage_sits_in_order() -> None:
    pipeline = Pipeline((UPSTREAM, Tag("a"), Hold(), Tag("b")))
    ctx = context(stream=True)
    assert await pipeline.chunk(ctx, {"n": 1, "trail": []}) == []
    out = await pipeline.chunk(ctx, {"n": 2, "trail": [], "last": True})
    assert [(e["n"], e["trail"]) for e in out] == [(1, ["a", "hold", "b"]), (2, ["a", "hold", "b"])]


async def test_default_on_chunks_uses_on_chunk() -> None:
    stage = Tag("x")
    out = await stage.on_chunks(context(), [{"trail": []}, {"trail": ["y"]}])
    assert [e["trail"] for e in out] == [["x"], ["y", "x"]]
