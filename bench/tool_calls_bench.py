"""The tool-calls stage's cost per answer: the stages after the upstream call with and without
it, side by side in one run, on the same answers.

    .venv/bin/python bench/tool_calls_bench.py [--seconds 20]

Three pipelines run the real Account stage after the upstream: "without" the stage; "stage"
adds the ToolCalls stage with a decider that allows every call at no cost (the stage's own work:
finding calls, strict parsing, holding and releasing stream events, rewriting); "cedar" adds it
deciding with the real Cedar policy engine (one policy set, cached and parsed, an agent key).
Each scenario is one answer: non-streamed (`on_response`) or streamed (every event through the
pipeline's chunk path). Batches of the pipelines are interleaved; reports the median
microseconds per answer of each, and the differences. Writes bench/results/tool_calls.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from steward.config.models import PricingConfig
from steward.gateway.context import RequestContext
from steward.gateway.pipeline import UPSTREAM, Pipeline
from steward.gateway.stages import Account
from steward.gateway.stages._tool_calls_policy import ToolPolicy
from steward.gateway.stages.tool_calls import ToolCalls
from steward.identity.snapshot import Principal
from steward.policy.engine import PolicyEngine
from steward.policy.sets import PolicySource
from steward.policy.settings import PolicySettings
from steward.usage.pricing import Pricer

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "tool_calls.json"
POLICIES = """
@id("weather")
permit (principal is Agent, action == Action::"call_tool", resource == Tool::"get_weather");

@id("small-refunds")
permit (principal is Agent, action == Action::"call_tool", resource == Tool::"refund")
when { context.arguments has amount && context.arguments.amount <= 100 };
"""
AGENT = Principal(
    key_id="k1",
    key_prefix="sk-stw-bench",
    kind="agent",
    user_id=None,
    team_id="t1",
    app_id=None,
    agent_id="a1",
    service_account_id=None,
    allowed_models=None,
    expires_at=None,
    suspended=None,
    owner_id="u1",
)
USAGE = {"prompt_tokens": 60, "completion_tokens": 20, "total_tokens": 80}
TEXT = "Steward answers questions about governance, spend and safety. " * 6


def chat(calls: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": None if calls else TEXT}
    if calls:
        message["tool_calls"] = [
            {
                "id": f"call_{i}",
                "type": "function",
                "function": {"name": n, "arguments": json.dumps(a)},
            }
            for i, (n, a) in enumerate(calls)
        ]
    return {
        "id": "chatcmpl-b",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}
        ],
        "usage": USAGE,
    }


def messages(calls: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": TEXT}]
    content += [
        {"type": "tool_use", "id": f"toolu_{i}", "name": n, "input": a}
        for i, (n, a) in enumerate(calls)
    ]
    return {
        "id": "msg_b",
        "type": "message",
        "role": "assistant",
        "model": "m",
        "content": content,
        "stop_reason": "tool_use" if calls else "end_turn",
        "usage": {"input_tokens": 60, "output_tokens": 20},
    }


def chat_stream(calls: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    base = {"id": "chatcmpl-b", "object": "chat.completion.chunk", "created": 1, "model": "m"}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    out = [chunk({"role": "assistant", "content": ""})]
    if not calls:
        words = TEXT.split(" ")
        out += [
            chunk({"content": " ".join(words[i : i + 2]) + " "}) for i in range(0, len(words), 2)
        ]
    for j, (name, args) in enumerate(calls):
        text = json.dumps(args)
        head = {
            "index": j,
            "id": f"call_{j}",
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        out.append(chunk({"tool_calls": [head]}))
        out += [
            chunk({"tool_calls": [{"index": j, "function": {"arguments": text[i : i + 16]}}]})
            for i in range(0, len(text), 16)
        ]
    out.append(chunk({}, "tool_calls" if calls else "stop"))
    return out


WEATHER = ("get_weather", {"city": "Oslo", "units": "metric"})
REFUND_OK = ("refund", {"order": "A-1001", "amount": 40})
REFUND_BIG = ("refund", {"order": "A-1002", "amount": 4000})
SCENARIOS: dict[str, tuple[str, bool, Any]] = {
    "chat, no tool call": ("openai", False, chat([])),
    "chat, 1 allowed call": ("openai", False, chat([WEATHER])),
    "chat, 1 allowed + 1 denied call": ("openai", False, chat([WEATHER, REFUND_BIG])),
    "chat, 3 allowed calls (arguments rule)": (
        "openai",
        False,
        chat([WEATHER, REFUND_OK, REFUND_OK]),
    ),
    "messages, 1 allowed call": ("anthropic", False, messages([WEATHER])),
    "messages, 1 denied call": ("anthropic", False, messages([REFUND_BIG])),
    "chat stream, text only (~40 events)": ("openai", True, chat_stream([])),
    "chat stream, 1 allowed call": ("openai", True, chat_stream([WEATHER])),
    "chat stream, 1 denied call": ("openai", True, chat_stream([REFUND_BIG])),
}


@dataclass(frozen=True)
class _Allow:
    allowed: bool = True
    verdict: str = "allow"
    approval: bool = False
    mode: str = "enforce"
    policies: tuple[str, ...] = ()
    reason: str = "allowed"


class AllowAll:
    """A decider that costs nothing: isolates the stage's own work from the policy engine's."""

    decision = _Allow()

    def decide_tool(self, *_: Any) -> _Allow:
        return self.decision


def context(wire: str, stream: bool) -> RequestContext:
    return RequestContext(
        request_id="bench",
        endpoint="messages" if wire == "anthropic" else "chat",
        wire="anthropic" if wire == "anthropic" else "openai",
        started=0.0,
        received_at=datetime.now(UTC),
        headers={},
        stream=stream,
        principal=AGENT,
        model_alias="sim-fast",
    )


async def run_batch(pipeline: Pipeline, wire: str, stream: bool, raw: bytes, n: int) -> float:
    """Seconds for `n` answers through the stages after the upstream (inputs made beforehand)."""
    ctxs = [context(wire, stream) for _ in range(n)]
    bodies = [orjson.loads(raw) for _ in range(n)]
    start = time.perf_counter()
    for ctx, body in zip(ctxs, bodies, strict=True):
        if stream:
            for event in body:
                await pipeline.chunk(ctx, event)
        else:
            ctx.response = body
        await pipeline.after_upstream(ctx)
    return time.perf_counter() - start


def measure(pipelines: dict[str, Pipeline], seconds: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    per = seconds / len(SCENARIOS)
    for name, (wire, stream, body) in SCENARIOS.items():
        raw = orjson.dumps(body)
        samples: dict[str, list[float]] = {k: [] for k in pipelines}
        deadline = time.monotonic() + per
        n = 200
        while time.monotonic() < deadline or not samples["cedar"]:
            for label, pipeline in pipelines.items():  # interleaved: same machine conditions
                t = asyncio.run(run_batch(pipeline, wire, stream, raw, n))
                samples[label].append(t / n * 1e6)
        med = {k: statistics.median(v) for k, v in samples.items()}
        out[name] = {
            "without_us": round(med["without"], 2),
            "stage_us": round(med["stage"] - med["without"], 2),
            "cedar_us": round(med["cedar"] - med["without"], 2),
            "batches": len(samples["cedar"]),
        }
        print(
            f"{name:40s} {med['without']:9.2f} {med['stage'] - med['without']:9.2f} "
            f"{med['cedar'] - med['without']:9.2f}"
        )
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=20.0, help="total time (default 20)")
    args = parser.parse_args(argv)
    settings = PolicySettings(arguments={"amount": "Long"})
    engine = PolicyEngine(settings, (), [PolicySource("tools", POLICIES, origin="file:bench")])
    account = Account(Pricer(PricingConfig()))
    make: Callable[..., Pipeline] = lambda *s: Pipeline((UPSTREAM, *s))  # noqa: E731
    pipelines = {
        "without": make(account),
        "stage": make(ToolCalls(ToolPolicy(AllowAll(), None)), account),
        "cedar": make(ToolCalls(ToolPolicy(engine, None)), account),
    }
    print(
        f"tool-calls stage cost per answer (Python {platform.python_version()}, "
        f"{args.seconds:g} s total)"
    )
    print(f"{'us per answer (median)':40s} {'without':>9s} {'+stage':>9s} {'+cedar':>9s}")
    results = measure(pipelines, args.seconds)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps({"python": platform.python_version(), "results": results}, indent=2) + "\n"
    )
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
