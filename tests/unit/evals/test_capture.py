"""The capture stage: sampled, successful chat requests reach the spool as `eval_sample`
records with PII and secrets redacted; unsampled and failed requests leave nothing."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from steward.evals.capture import Capture, SampleCapture
from steward.evals.settings import EvaluationSettings
from steward.events.sink import EventSink
from steward.events.spool import Spool, list_segments
from steward.guard.runtime import GuardRuntime
from steward.guard.settings import GuardSettings
from tests.unit.evals._helpers import chat_context

NAMES = {"app-1": "support"}


def spooled(directory: Path) -> list[dict[str, object]]:
    out = []
    for seg in list_segments(directory):
        out += [orjson.loads(line) for line in seg.read_bytes().splitlines() if line]
    return out


@pytest.fixture
async def setup(tmp_path: Path):  # type: ignore[no-untyped-def]
    spool = Spool(tmp_path / "spool", sync="write")
    await spool.start()
    guard = GuardRuntime(GuardSettings(), tmp_path)

    def make(settings: dict[str, object]) -> tuple[Capture, SampleCapture]:
        cap = SampleCapture(EvaluationSettings.model_validate(settings), guard, EventSink(spool))
        return Capture(cap, lambda: NAMES), cap

    yield make, tmp_path / "spool"
    await spool.close()


async def test_sampled_request_is_redacted_and_spooled(setup) -> None:  # type: ignore[no-untyped-def]
    make, spool_dir = setup
    stage, cap = make({"sampling": {"apps": {"support": 1.0}}})
    ctx = chat_context(
        "My email is jane.doe@example.com and my key is AKIAIOSFODNN7EXAMPLE, help?",
        "Sure, I will write to jane.doe@example.com today.",
        response_format={"type": "json_object"},
    )
    await stage.on_finish(ctx)
    await cap.close()
    records = spooled(spool_dir)
    assert [r["kind"] for r in records] == ["eval_sample"]
    row = records[0]["row"]
    assert isinstance(row, dict)
    text = orjson.dumps(row).decode()
    assert "jane.doe@example.com" not in text and "AKIAIOSFODNN7EXAMPLE" not in text
    assert "[EMAIL_ADDRESS]" in row["messages"][0]["content"]
    assert row["answer"] == "Sure, I will write to [EMAIL_ADDRESS] today."
    assert row["redactions"] >= 3
    assert row["answer_findings"] == {"EMAIL_ADDRESS": 1}
    assert row["request_id"] == ctx.request_id and row["response_id"] == "chatcmpl-1"
    assert row["response_format"] == {"type": "json_object"}
    assert row["app_id"] == "app-1" and row["model"] == "gpt"


async def test_unsampled_and_failed_requests_leave_nothing(setup) -> None:  # type: ignore[no-untyped-def]
    make, spool_dir = setup
    stage, cap = make({"sampling": {"apps": {"other": 1.0}}})
    await stage.on_finish(chat_context("hi", "hello"))  # app 'support': rate 0
    stage2, cap2 = make({"sampling": {"default_rate": 1.0}})
    await stage2.on_finish(chat_context("hi", "oops", status=502))
    await cap.close()
    await cap2.close()
    assert spooled(spool_dir) == []


async def test_streamed_answer_is_assembled(setup) -> None:  # type: ignore[no-untyped-def]
    make, spool_dir = setup
    stage, cap = make({"sampling": {"default_rate": 1.0}})
    ctx = chat_context("Tell me a story", "", stream=True)
    ctx.response = None
    for piece in ("Once ", "upon ", "a time."):
        event = {"choices": [{"delta": {"content": piece}}]}
        assert stage.on_chunk(ctx, event) == [event]
    await stage.on_finish(ctx)
    await cap.close()
    (record,) = spooled(spool_dir)
    assert record["row"]["answer"] == "Once upon a time."  # type: ignore[index]
    assert record["row"]["stream"] is True  # type: ignore[index]


async def test_full_queue_drops_samples_not_requests(setup) -> None:  # type: ignore[no-untyped-def]
    make, spool_dir = setup
    stage, cap = make({"sampling": {"default_rate": 1.0, "queue": 1}})
    for _ in range(5):
        await stage.on_finish(chat_context("q", "a"))
    await cap.close()
    assert cap.dropped >= 1
    assert len(spooled(spool_dir)) == 5 - cap.dropped


async def test_guard_output_findings_count_even_when_masked(setup) -> None:  # type: ignore[no-untyped-def]
    """An answer the guard already masked still counts its findings (the model leaked them)."""
    from types import SimpleNamespace

    make, spool_dir = setup
    stage, cap = make({"sampling": {"default_rate": 1.0}})
    ctx = chat_context("q", "Reach me at [EMAIL_ADDRESS] or bob@example.org")
    key = ("output", "choices[0]", "EMAIL_ADDRESS", "pii", "email", "mask", "strict", None)
    ctx.guard = SimpleNamespace(findings={key: [1, "h"]}, worst="mask")
    await stage.on_finish(ctx)
    await cap.close()
    (record,) = spooled(spool_dir)
    # one masked by the guard, one left in the answer: the larger count per entity, not the sum
    assert record["row"]["answer_findings"] == {"EMAIL_ADDRESS": 1}  # type: ignore[index]


def test_messages_are_cut_to_the_budget_newest_first() -> None:
    from steward.evals.capture import clip_messages

    msgs = [
        {"role": "system", "content": "s" * 50},
        {"role": "user", "content": "u" * 30},
        {"role": "assistant", "content": "a" * 30},
        {"role": "user", "content": "q" * 20},
    ]
    assert clip_messages(msgs, 1000) == msgs
    cut = clip_messages(msgs, 60)
    assert [m["role"] for m in cut] == ["user", "assistant", "user"]
    assert [len(m["content"]) for m in cut] == [10, 30, 20]
    assert clip_messages(msgs, 5) == [{"role": "user", "content": "qqqqq"}]
