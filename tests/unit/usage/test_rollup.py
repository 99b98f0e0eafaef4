"""Rollups: the aggregation arithmetic, the upsert, exactly-once shipping and rebuilding."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, delete, func, select

from steward.events import Shipper, Spool
from steward.events.sink import usage_record
from steward.events.spool import write_cursor
from steward.store.models import UsageEvent, usage_label_rollups, usage_rollups
from steward.usage.histogram import bucket_of
from steward.usage.rollup import aggregate, cost_e10, rebuild, write
from tests.unit.usage.conftest import NOW, EventFactory, event


def table_rows(engine: Engine, table: Table) -> list[dict[str, Any]]:
    """Every rollup row, buckets as aware UTC, in primary-key order."""
    keys = list(table.primary_key.columns)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(table).order_by(*keys))]
    for r in rows:
        b = r["bucket"]
        r["bucket"] = b.replace(tzinfo=UTC) if b.tzinfo is None else b.astimezone(UTC)
    return rows


def snapshot(engine: Engine) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return table_rows(engine, usage_rollups), table_rows(engine, usage_label_rollups)


def by_grain(rows: list[dict[str, Any]], grain: str) -> list[dict[str, Any]]:
    return [r for r in rows if r["grain"] == grain]


def apply_rows(engine: Engine, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        write(conn, aggregate(rows))


def test_sums_counts_cost_and_latency(engine: Engine, make_event: EventFactory) -> None:
    rows = [
        make_event(latency_ms=250.0, cached_tokens=10, reasoning_tokens=5),
        make_event(latency_ms=1200.0, cost_usd=Decimal("0.0000000001")),
        # served without a price: unpriced, tokens listed as unpriced
        make_event(cost_usd=None, input_tokens=50, output_tokens=10, latency_ms=80.0),
        # an upstream failure before any token: an error, not unpriced, no latency sample
        make_event(cost_usd=None, input_tokens=0, output_tokens=0, status=502, latency_ms=9.0),
        # the guard refused the prompt
        make_event(
            cost_usd=None,
            input_tokens=0,
            output_tokens=0,
            status=400,
            error_type="content_policy_violation",
            guard_action="block",
        ),
        # a stream that broke after tokens were used and could not be priced: unpriced
        make_event(cost_usd=None, input_tokens=7, output_tokens=3, status=502),
        # the guard withheld an answer on a stream that had already started
        make_event(status=200, guard_action="block"),
    ]
    apply_rows(engine, rows)
    main, labels = snapshot(engine)
    assert labels == []
    hour = by_grain(main, "hour")
    assert len(hour) == 1 and len(main) == 3  # one hour row, its day row, its month row
    h = hour[0]
    assert h["bucket"] == datetime(2026, 11, 18, 15, tzinfo=UTC)
    assert (h["team_id"], h["key_id"], h["app_id"], h["agent_id"]) == ("team_a", "key_a", "", "")
    assert h["requests"] == 7
    assert h["errors"] == 3
    assert h["blocked"] == 2
    assert h["priced_requests"] == 3
    assert h["unpriced_requests"] == 2
    assert h["input_tokens"] == 100 + 100 + 50 + 7 + 100
    assert h["output_tokens"] == 20 + 20 + 10 + 3 + 20
    assert (h["cached_tokens"], h["reasoning_tokens"]) == (10, 5)
    assert (h["unpriced_input_tokens"], h["unpriced_output_tokens"]) == (57, 13)
    assert h["cost_usd_e10"] == 12345678 * 2 + 1  # exact, to 1e-10 USD
    served = [250.0, 1200.0, 80.0, 250.0]  # status < 400 only
    assert abs(h["latency_ms_total"] - sum(served)) < 1e-6
    hist = [h[f"lat_{i:02d}"] for i in range(64)]
    assert sum(hist) == len(served)
    for ms in served:
        assert hist[bucket_of(ms)] >= 1
    for coarse in ("day", "month"):
        (row,) = by_grain(main, coarse)
        assert {k: v for k, v in row.items() if k not in ("grain", "bucket")} == {
            k: v for k, v in h.items() if k not in ("grain", "bucket")
        }
    assert by_grain(main, "day")[0]["bucket"] == datetime(2026, 11, 18, tzinfo=UTC)
    assert by_grain(main, "month")[0]["bucket"] == datetime(2026, 11, 1, tzinfo=UTC)


def test_hours_roll_up_into_days_and_months(engine: Engine, make_event: EventFactory) -> None:
    times = [
        datetime(2026, 10, 31, 23, 10, tzinfo=UTC),
        datetime(2026, 10, 31, 23, 50, tzinfo=UTC),
        datetime(2026, 11, 1, 0, 5, tzinfo=UTC),
        datetime(2026, 11, 1, 3, 0, tzinfo=timezone(timedelta(hours=2))),  # 01:00 UTC
        datetime(2026, 10, 31, 22, 30, tzinfo=timezone(timedelta(hours=-4, minutes=-30))),
    ]
    apply_rows(engine, [make_event(ts=t) for t in times])
    main, _ = snapshot(engine)
    hours = {r["bucket"]: r["requests"] for r in by_grain(main, "hour")}
    assert hours == {
        datetime(2026, 10, 31, 23, tzinfo=UTC): 2,
        datetime(2026, 11, 1, 0, tzinfo=UTC): 1,
        datetime(2026, 11, 1, 1, tzinfo=UTC): 1,
        datetime(2026, 11, 1, 3, tzinfo=UTC): 1,
    }
    days = {r["bucket"]: r["requests"] for r in by_grain(main, "day")}
    assert days == {datetime(2026, 10, 31, tzinfo=UTC): 2, datetime(2026, 11, 1, tzinfo=UTC): 3}
    months = {r["bucket"]: r["requests"] for r in by_grain(main, "month")}
    assert months == {datetime(2026, 10, 1, tzinfo=UTC): 2, datetime(2026, 11, 1, tzinfo=UTC): 3}


def test_dimensions_split_rows_and_absent_ones_are_empty(
    engine: Engine, make_event: EventFactory
) -> None:
    apply_rows(
        engine,
        [
            make_event(),
            make_event(model="claude", provider="anthropic", upstream_model="claude-haiku"),
            make_event(key_id="key_b", user_id=None, app_id="app_x", team_id=None),
        ],
    )
    hour = by_grain(snapshot(engine)[0], "hour")
    got = {(r["key_id"], r["user_id"], r["team_id"], r["app_id"], r["model"]) for r in hour}
    assert got == {
        ("key_a", "user_a", "team_a", "", "gpt"),
        ("key_a", "user_a", "team_a", "", "claude"),
        ("key_b", "", "", "app_x", "gpt"),
    }


def test_end_users_and_tags_have_label_rows(engine: Engine, make_event: EventFactory) -> None:
    apply_rows(
        engine,
        [
            make_event(end_user="alice@example.com", tags={"env": "prod", "feature": "search"}),
            make_event(end_user="alice@example.com", tags={"env": "prod"}),
            make_event(end_user="bob", app_id="app_x"),
            make_event(),  # no labels: only in the main rollup
        ],
    )
    main, labels = snapshot(engine)
    assert sum(r["requests"] for r in by_grain(main, "hour")) == 4
    assert by_grain(labels, "hour") == []  # labels keep days and months only
    day = {(r["label"], r["value"], r["app_id"]): r["requests"] for r in by_grain(labels, "day")}
    assert day == {
        ("end_user", "alice@example.com", ""): 2,
        ("end_user", "bob", "app_x"): 1,
        ("tag:env", "prod", ""): 2,
        ("tag:feature", "search", ""): 1,
    }
    cost = {(r["label"], r["value"]): r["cost_usd_e10"] for r in by_grain(labels, "month")}
    assert cost[("tag:env", "prod")] == 2 * cost_e10(Decimal("0.0012345678"))


def test_upserts_add_to_existing_rows(engine: Engine, make_event: EventFactory) -> None:
    apply_rows(engine, [make_event(), make_event(end_user="e")])
    apply_rows(engine, [make_event(), make_event(end_user="e", latency_ms=5000.0)])
    main, labels = snapshot(engine)
    (h,) = by_grain(main, "hour")
    assert h["requests"] == 4
    assert h["cost_usd_e10"] == 4 * 12345678
    assert h[f"lat_{bucket_of(250.0):02d}"] == 3 and h[f"lat_{bucket_of(5000.0):02d}"] == 1
    (lab,) = by_grain(labels, "month")
    assert lab["requests"] == 2


def test_cost_rounds_to_the_ledger_precision() -> None:
    assert cost_e10(Decimal("0.0000000001")) == 1
    assert cost_e10(Decimal("1.5")) == 15_000_000_000
    assert cost_e10(Decimal("0.00000000005")) == 0  # half to even
    assert cost_e10(Decimal("0.00000000015")) == 2
    assert cost_e10("0.25") == 2_500_000_000


def test_concurrent_writers_lose_nothing(engine: Engine) -> None:
    """Several transactions upserting the same rows at once (gateway replicas shipping)."""
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            for j in range(5):
                models = ["gpt", "claude", "mistral"][: 1 + (i + j) % 3]
                rows = [event(model=m, end_user=f"u{j % 2}") for m in models for _ in range(4)]
                apply_rows(engine, rows)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    main, labels = snapshot(engine)
    expected = sum(4 * (1 + (i + j) % 3) for i in range(4) for j in range(5))
    for grain in ("hour", "day", "month"):
        assert sum(r["requests"] for r in by_grain(main, grain)) == expected
    for grain in ("day", "month"):
        assert sum(r["requests"] for r in by_grain(labels, grain)) == expected


# -- through the shipper ------------------------------------------------------------------------


async def ship(spool_dir: Path, engine: Engine, spool: Spool) -> Shipper:
    shipper = Shipper(spool_dir, engine, interval_s=0.05, batch=7, own_spool=spool)
    assert await shipper.flush(10)
    return shipper


def spool_rows(n: int) -> list[dict[str, Any]]:
    """Rows as the gateway writes them to the spool (JSON types: strings for times and costs)."""
    out = []
    for i in range(n):
        row = event(
            ts=(NOW - timedelta(minutes=37 * i)).isoformat(),
            cost_usd=None if i % 5 == 0 else "0.0000123450",
            model=["gpt", "claude"][i % 2],
            end_user=f"user-{i % 3}" if i % 4 else None,
            tags={"env": "prod"} if i % 2 else None,
            status=500 if i % 7 == 3 else 200,
            latency_ms=10.0 * (i + 1),
        )
        out.append(row)
    return out


async def test_a_batch_shipped_twice_is_counted_once(tmp_path: Path, engine: Engine) -> None:
    spool_dir = tmp_path / "spool"
    spool = Spool(spool_dir)
    await spool.start()
    try:
        rows = spool_rows(40)
        # the same record twice in one batch (a retried append) counts once as well
        await spool.append([usage_record(r) for r in rows] + [usage_record(rows[3])])
        await ship(spool_dir, engine, spool)
        first = snapshot(engine)
        assert sum(r["requests"] for r in by_grain(first[0], "month")) == 40
        assert spool.segment is not None
        write_cursor(spool.segment, 0)  # as if the cursor update had been lost: ship it again
        shipper = await ship(spool_dir, engine, spool)
        assert shipper.shipped == 41
        assert snapshot(engine) == first
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(UsageEvent)) == 40
    finally:
        await spool.close()


async def test_rebuild_reproduces_the_shipped_rollups(tmp_path: Path, engine: Engine) -> None:
    spool_dir = tmp_path / "spool"
    spool = Spool(spool_dir)
    await spool.start()
    try:
        await spool.append([usage_record(r) for r in spool_rows(60)])
        await ship(spool_dir, engine, spool)
    finally:
        await spool.close()
    shipped = snapshot(engine)

    result = rebuild(engine, chunk=11)
    assert result.events == 60 and result.since is None
    assert result.rollup_rows == len(shipped[0]) + len(shipped[1])
    assert snapshot(engine) == shipped

    # from a time: the whole month of that time is rebuilt, older months are kept
    with engine.begin() as conn:
        conn.execute(delete(usage_rollups).where(usage_rollups.c.grain == "hour"))
    result = rebuild(engine, NOW - timedelta(days=2))
    assert result.since == datetime(2026, 11, 1, tzinfo=UTC)
    assert snapshot(engine) == shipped


async def test_rebuild_of_an_upgraded_store(tmp_path: Path, engine: Engine) -> None:
    """Events that predate the rollups (inserted without the hook) are counted by a rebuild."""
    spool_dir = tmp_path / "spool"
    spool = Spool(spool_dir)
    await spool.start()
    try:
        await spool.append([usage_record(r) for r in spool_rows(25)])
        plain = Shipper(spool_dir, engine, own_spool=spool, after_insert={})
        assert await plain.flush(10)
    finally:
        await spool.close()
    assert snapshot(engine) == ([], [])
    assert rebuild(engine).events == 25
    main, _ = snapshot(engine)
    assert sum(r["requests"] for r in by_grain(main, "day")) == 25
