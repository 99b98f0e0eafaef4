"""The notifier against a real webhook receiver on loopback: shapes, signatures, retries with
backoff, and the audit events it records through a real spool."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from steward.events.sink import EventSink
from steward.events.spool import Spool, list_segments
from steward.notify import NotificationSettings, Notifier, verify
from steward.notify.notifier import subscribed
from tests.fakes.webhook import FakeWebhook

SECRET = "whsec-test-123"


@pytest.fixture
def hook() -> Iterator[FakeWebhook]:
    with FakeWebhook() as h:
        yield h


@pytest.fixture
async def spool(tmp_path: Path) -> AsyncIterator[Spool]:
    s = Spool(tmp_path / "spool", sync="write")
    await s.start()
    yield s
    await s.close()


def audits(spool: Spool) -> list[dict[str, Any]]:
    rows = []
    for seg in list_segments(spool.directory):
        for line in seg.read_bytes().splitlines():
            rec = orjson.loads(line)
            if rec["kind"] == "audit":
                rows.append(rec["row"])
    return rows


async def wait_audits(spool: Spool, n: int, timeout_s: float = 10.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        rows = audits(spool)
        if len(rows) >= n:
            return rows
        await asyncio.sleep(0.02)
    raise AssertionError(f"{len(audits(spool))} audit events, wanted {n}")


def webhook(url: str, **kw: Any) -> dict[str, Any]:
    return {"name": "ops", "url": url, "backoff_ms": 50, "timeout_s": 2, **kw}


async def started(spool: Spool | None, *hooks: dict[str, Any], **kw: Any) -> Notifier:
    outcomes: list[tuple[str, str]] = kw.pop("outcomes", [])
    settings = NotificationSettings.model_validate({"webhooks": list(hooks), **kw})
    n = Notifier(
        settings,
        EventSink(spool) if spool else None,
        on_outcome=lambda w, o: outcomes.append((w, o)),
    )
    await n.start()
    return n


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


async def test_json_shape_headers_and_audit(hook: FakeWebhook, spool: Spool) -> None:
    n = await started(spool, webhook(hook.url))
    await n.notify("budget.threshold", {"budget": "payments", "threshold": 0.8, "spent": 80})
    (got,) = await asyncio.to_thread(hook.receiver.wait_for, 1)
    body = got.json()
    assert set(body) == {"id", "event", "at", "payload"}
    assert body["event"] == "budget.threshold"
    assert body["payload"] == {"budget": "payments", "threshold": 0.8, "spent": 80}
    assert got.headers["content-type"] == "application/json"
    assert got.headers["x-steward-event"] == "budget.threshold"
    assert got.headers["x-steward-delivery"] == body["id"]
    assert "x-steward-signature" not in got.headers
    (row,) = await wait_audits(spool, 1)
    assert row["action"] == "notification.sent"
    assert row["outcome"] == "succeeded"
    assert row["target_id"] == "ops"
    assert row["details"]["attempts"] == 1
    assert row["details"]["event"] == "budget.threshold"
    assert row["details"]["notification_id"] == body["id"]
    await n.close()


async def test_hmac_signature_of_the_raw_body(hook: FakeWebhook, spool: Spool) -> None:
    n = await started(spool, webhook(hook.url, secret=SECRET))
    await n.notify("anomaly", {"metric": "cost", "z": 4.2})
    (got,) = await asyncio.to_thread(hook.receiver.wait_for, 1)
    sig = got.headers["x-steward-signature"]
    assert sig.startswith("sha256=")
    assert verify(SECRET, got.body, sig)
    assert not verify("wrong-secret", got.body, sig)
    assert not verify(SECRET, got.body + b" ", sig)
    (row,) = await wait_audits(spool, 1)
    assert SECRET not in orjson.dumps(row).decode()
    await n.close()


async def test_slack_shape(hook: FakeWebhook, spool: Spool) -> None:
    n = await started(spool, webhook(hook.url, format="slack"))
    await n.notify(
        "budget.threshold",
        {
            "title": "Budget payments at 80%",
            "message": "Team payments has spent $80.00 of $100.00 this month.",
            "budget": "payments",
            "ratio": 0.8,
        },
    )
    (got,) = await asyncio.to_thread(hook.receiver.wait_for, 1)
    body = got.json()
    assert body["text"].startswith("Budget payments at 80%")
    kinds = [b["type"] for b in body["blocks"]]
    assert kinds == ["header", "section", "section", "context"]
    assert body["blocks"][0]["text"] == {"type": "plain_text", "text": "Budget payments at 80%"}
    assert "spent $80.00" in body["blocks"][1]["text"]["text"]
    fields = [f["text"] for f in body["blocks"][2]["fields"]]
    assert fields == ["*budget*\npayments", "*ratio*\n0.8"]
    assert "budget.threshold" in body["blocks"][3]["elements"][0]["text"]
    await n.close()


async def test_retries_5xx_with_exponential_backoff(hook: FakeWebhook, spool: Spool) -> None:
    hook.receiver.reply(503, 500)
    n = await started(spool, webhook(hook.url, backoff_ms=100, max_attempts=5))
    await n.notify("anomaly", {"x": 1})
    got = await asyncio.to_thread(hook.receiver.wait_for, 3)
    assert len({g.headers["x-steward-delivery"] for g in got}) == 1  # one delivery id
    assert len({g.body for g in got}) == 1
    gaps = [b.at - a.at for a, b in zip(got, got[1:], strict=False)]
    assert gaps[0] >= 0.1 * 0.95
    assert gaps[1] >= 0.2 * 0.95  # doubled
    (row,) = await wait_audits(spool, 1)
    assert row["action"] == "notification.sent"
    assert row["details"]["attempts"] == 3
    await asyncio.sleep(0.2)
    assert len(hook.receiver.requests) == 3
    await n.close()


async def test_429_retry_after_is_honoured(hook: FakeWebhook, spool: Spool) -> None:
    hook.receiver.reply(429, headers={"retry-after": "0.4"})
    n = await started(spool, webhook(hook.url, backoff_ms=10))
    await n.notify("anomaly", {})
    first, second = await asyncio.to_thread(hook.receiver.wait_for, 2)
    assert second.at - first.at >= 0.4 * 0.95
    await n.close()


async def test_gives_up_after_max_attempts(hook: FakeWebhook, spool: Spool) -> None:
    hook.receiver.reply(502, 502, 502)
    outcomes: list[tuple[str, str]] = []
    n = await started(spool, webhook(hook.url, max_attempts=3), outcomes=outcomes)
    await n.notify("anomaly", {})
    (row,) = await wait_audits(spool, 1)
    assert row["action"] == "notification.failed"
    assert row["outcome"] == "failed"
    assert row["reason"] == "HTTP 502"
    assert row["details"]["attempts"] == 3
    assert row["details"]["status"] == 502
    assert len(hook.receiver.requests) == 3
    assert outcomes == [("ops", "failed")]
    await n.close()


async def test_other_4xx_is_not_retried(hook: FakeWebhook, spool: Spool) -> None:
    hook.receiver.reply(400)
    n = await started(spool, webhook(hook.url))
    await n.notify("anomaly", {})
    (row,) = await wait_audits(spool, 1)
    assert row["action"] == "notification.failed"
    assert row["details"]["attempts"] == 1
    assert len(hook.receiver.requests) == 1
    await n.close()


async def test_connection_errors_are_retried_then_recorded(spool: Spool) -> None:
    n = await started(spool, webhook(closed_port_url(), max_attempts=3, backoff_ms=10))
    await n.notify("anomaly", {})
    (row,) = await wait_audits(spool, 1)
    assert row["action"] == "notification.failed"
    assert row["details"]["attempts"] == 3
    assert row["details"]["status"] is None
    assert row["reason"].startswith("ConnectError")
    assert row["details"]["host"] == "127.0.0.1"
    await n.close()


async def test_events_are_filtered_per_webhook(spool: Spool) -> None:
    with FakeWebhook() as budgets, FakeWebhook() as everything:
        n = await started(
            spool,
            webhook(budgets.url, name="budgets", events=["budget.*"]),
            webhook(everything.url, name="all"),
        )
        await n.notify("budget.threshold", {"n": 1})
        await n.notify("anomaly", {"n": 2})
        await n.notify("inventory.changed", {"n": 3})
        await wait_audits(spool, 4)
        assert [r.json()["event"] for r in budgets.receiver.requests] == ["budget.threshold"]
        assert len(everything.receiver.requests) == 3
        await n.close()


def test_subscriptions() -> None:
    assert subscribed(["*"], "anything")
    assert subscribed(["budget.*"], "budget.threshold")
    assert not subscribed(["budget.*"], "budgets")
    assert subscribed(["anomaly"], "anomaly")
    assert not subscribed(["anomaly"], "anomaly.cost")


async def test_notify_never_blocks_and_drops_when_full(spool: Spool) -> None:
    outcomes: list[tuple[str, str]] = []
    n = await started(
        spool,
        webhook("http://127.0.0.1:9/hook", max_attempts=2, backoff_ms=1000),
        queue_size=2,
        outcomes=outcomes,
    )
    t0 = time.perf_counter()
    for i in range(20):
        await n.notify("anomaly", {"i": i})
    assert time.perf_counter() - t0 < 0.5
    assert outcomes.count(("ops", "dropped")) >= 17
    await n.close(timeout_s=0.1)
    # what was queued or in flight at shutdown is recorded as failed, not lost silently
    rows = await wait_audits(spool, 1)
    assert all(r["action"] == "notification.failed" for r in rows)
    assert any("stopped" in r["reason"] for r in rows)


async def test_no_webhooks_costs_nothing() -> None:
    n = await started(None)
    await n.notify("anomaly", {})
    await n.close()
    assert n.webhooks == []


def test_webhook_config_validation() -> None:
    with pytest.raises(ValueError, match="http"):
        NotificationSettings.model_validate({"webhooks": [{"name": "x", "url": "ftp://h"}]})
    with pytest.raises(ValueError, match="twice"):
        NotificationSettings.model_validate(
            {"webhooks": [{"name": "x", "url": "http://h"}, {"name": "x", "url": "http://h"}]}
        )
    with pytest.raises(ValueError, match="at least one"):
        NotificationSettings.model_validate(
            {"webhooks": [{"name": "x", "url": "http://h", "events": []}]}
        )
    w = NotificationSettings.model_validate(
        {"webhooks": [{"name": "x", "url": "http://h", "secret": SECRET}]}
    ).webhooks[0]
    assert SECRET not in repr(w)
