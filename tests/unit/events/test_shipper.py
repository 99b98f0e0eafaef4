"""The shipper: spool -> store in batches, idempotent, nothing lost through outages and crashes."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from sqlalchemy import Engine, select

from steward.events import EventSink, Shipper, Spool
from steward.events.sink import audit_record, usage_record
from steward.events.spool import encode_records, list_segments, read_cursor, write_cursor
from steward.store.db import make_engine, session_factory
from steward.store.models import UsageEvent
from tests.unit.events._rows import audit_ids, audit_row, count, usage_ids, usage_row

DOWN_URL = "postgresql://postgres@127.0.0.1:1/nowhere"  # nothing listens on port 1


def write_orphan(directory: Path, name: str, data: bytes) -> Path:
    """A segment left behind by a process that is gone (nobody holds its lock)."""
    directory.mkdir(parents=True, exist_ok=True)
    seg = directory / name
    seg.write_bytes(data)
    return seg


async def test_ships_usage_and_audit_rows(spool: Spool, spool_dir: Path, engine: Engine) -> None:
    sink = EventSink(spool)
    rows = [usage_row() for _ in range(5)]
    audit = audit_row()
    await sink.emit(*(sink.usage_record(r) for r in rows), sink.audit_record(audit))

    shipper = Shipper(spool_dir, engine, interval_s=0.05, batch=2, own_spool=spool)
    assert await shipper.flush(5)

    assert sorted(usage_ids(engine)) == sorted(r["id"] for r in rows)
    assert audit_ids(engine) == [audit["id"]]
    assert shipper.shipped == 6 and shipper.dead_lettered == 0
    with session_factory(engine)() as session:
        got = session.scalars(select(UsageEvent).where(UsageEvent.id == rows[0]["id"])).one()
    assert got.cost_usd == Decimal("0.0001234500")
    assert got.tags == {"env": "test"} and got.status == 200 and got.attempts == 0
    assert isinstance(got.ts, datetime)
    # The own, still active segment is kept (its writer is alive) with its cursor at the end.
    seg = spool.segment
    assert seg is not None and seg.exists() and read_cursor(seg) == seg.stat().st_size
    assert spool.depth() == 0


async def test_session_factory_is_accepted(spool: Spool, spool_dir: Path, engine: Engine) -> None:
    await spool.append([usage_record(usage_row())])
    shipper = Shipper(spool_dir, session_factory(engine), interval_s=0.05, batch=10)
    await spool.close()
    assert await shipper.flush(5)
    assert count(engine, UsageEvent) == 1


async def test_shipping_twice_inserts_once(spool: Spool, spool_dir: Path, engine: Engine) -> None:
    rows = [usage_row() for _ in range(20)]
    await spool.append([usage_record(r) for r in rows])
    shipper = Shipper(spool_dir, engine, interval_s=0.05, batch=7, own_spool=spool)
    assert await shipper.flush(5)
    assert spool.segment is not None
    write_cursor(spool.segment, 0)  # as if the cursor update had been lost
    assert await shipper.flush(5)
    assert shipper.shipped == 40
    assert sorted(usage_ids(engine)) == sorted(r["id"] for r in rows)


async def test_background_shipping_and_close(spool_dir: Path, engine: Engine) -> None:
    spool = Spool(spool_dir)
    await spool.start()
    shipper = Shipper(spool_dir, engine, interval_s=0.02, batch=100, own_spool=spool)
    await shipper.start()
    rows = [usage_row() for _ in range(30)]
    for r in rows:
        await spool.append([usage_record(r)])
    for _ in range(250):
        if count(engine, UsageEvent) == 30:
            break
        await asyncio.sleep(0.02)
    assert count(engine, UsageEvent) == 30
    await spool.close()
    assert await shipper.close()
    assert list_segments(spool_dir) == []  # released by its writer, shipped, then removed


async def test_database_down_keeps_events_and_ships_later(
    spool: Spool, spool_dir: Path, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    down = make_engine(DOWN_URL)
    shipper = Shipper(
        spool_dir, down, interval_s=0.01, batch=50, own_spool=spool, max_backoff_s=0.05
    )
    await shipper.start()
    rows = [usage_row() for _ in range(40)]
    with caplog.at_level(logging.WARNING, logger="steward.events.shipper"):
        for r in rows:  # requests keep being served: appends succeed during the outage
            await spool.append([usage_record(r)])
        for _ in range(200):
            if shipper.failures >= 3:
                break
            await asyncio.sleep(0.01)
    assert shipper.failures >= 3 and shipper.last_error
    assert shipper.shipped == 0 and spool.depth() > 0
    failed = [r for r in caplog.records if "event shipping failed" in r.getMessage()]
    assert len(failed) == 1  # one warning per outage, not per attempt

    shipper.set_database(engine)
    assert await shipper.flush(5)
    await shipper.close()
    down.dispose()
    assert sorted(usage_ids(engine)) == sorted(r["id"] for r in rows)
    assert spool.depth() == 0


async def test_flush_gives_up_at_its_timeout_and_keeps_everything(
    spool: Spool, spool_dir: Path, engine: Engine
) -> None:
    rows = [usage_row() for _ in range(3)]
    await spool.append([usage_record(r) for r in rows])
    await spool.close()
    down = make_engine(DOWN_URL)
    assert not await Shipper(spool_dir, down, interval_s=0.01).flush(0.2)
    down.dispose()
    assert len(list_segments(spool_dir)) == 1
    # A new process (a second shipper on the same directory) ships it once the store is back.
    assert await Shipper(spool_dir, engine, interval_s=0.01).flush(5)
    assert sorted(usage_ids(engine)) == sorted(r["id"] for r in rows)
    assert list_segments(spool_dir) == []


async def test_adopts_segments_of_dead_writers_but_not_live_ones(
    spool_dir: Path, engine: Engine
) -> None:
    dead = [usage_row() for _ in range(4)]
    orphan = write_orphan(
        spool_dir,
        "00000000000000000001-999999-deadbeef.seg",
        encode_records(usage_record(r) for r in dead),
    )
    live = Spool(spool_dir)  # a sibling worker that is still running
    await live.start()
    live_rows = [usage_row() for _ in range(2)]
    await live.append([usage_record(r) for r in live_rows])

    shipper = Shipper(spool_dir, engine, interval_s=0.01)
    assert await shipper.flush(5)
    assert sorted(usage_ids(engine)) == sorted(r["id"] for r in dead)
    assert not orphan.exists() and live.segment is not None and live.segment.exists()

    await live.close()  # the sibling exits: now its segment is adoptable too
    assert await shipper.flush(5)
    assert sorted(usage_ids(engine)) == sorted(r["id"] for r in dead + live_rows)
    assert list_segments(spool_dir) == [] and not any(spool_dir.glob("*.cursor"))


async def test_sibling_workers_each_ship_everything_once(spool_dir: Path, engine: Engine) -> None:
    spools = [Spool(spool_dir), Spool(spool_dir)]
    shippers = []
    for s in spools:
        await s.start()
        shippers.append(Shipper(spool_dir, engine, interval_s=0.01, batch=16, own_spool=s))
    for sh in shippers:
        await sh.start()
    rows = [usage_row() for _ in range(100)]
    await asyncio.gather(*(spools[i % 2].append([usage_record(r)]) for i, r in enumerate(rows)))
    for s in spools:
        await s.close()
    for sh in shippers:
        assert await sh.close()
    assert sorted(usage_ids(engine)) == sorted(r["id"] for r in rows)
    assert list_segments(spool_dir) == []


async def test_torn_tail_of_a_crashed_writer(spool_dir: Path, engine: Engine) -> None:
    rows = [usage_row() for _ in range(3)]
    whole = encode_records(usage_record(r) for r in rows)
    torn = encode_records([usage_record(usage_row())])[:25]  # no newline: the write was cut
    write_orphan(spool_dir, "00000000000000000001-1-00000000.seg", whole + torn)

    shipper = Shipper(spool_dir, engine, interval_s=0.01)
    assert await shipper.flush(5)
    assert sorted(usage_ids(engine)) == sorted(r["id"] for r in rows)
    assert shipper.dead_lettered == 1
    (entry,) = [orjson.loads(x) for x in shipper.dead_letter_path.read_bytes().splitlines()]
    assert entry["reason"].startswith("torn tail") and entry["offset"] == len(whole)
    assert list_segments(spool_dir) == []


async def test_partial_line_of_a_live_writer_waits(
    spool: Spool, spool_dir: Path, engine: Engine
) -> None:
    row = usage_row()
    line = encode_records([usage_record(row)])
    assert spool.segment is not None
    with open(spool.segment, "ab") as f:  # a write in progress: half a line so far
        f.write(line[:20])
    shipper = Shipper(spool_dir, engine, interval_s=0.01, own_spool=spool)
    assert await shipper.flush(5)
    assert shipper.dead_lettered == 0 and read_cursor(spool.segment) == 0
    with open(spool.segment, "ab") as f:
        f.write(line[20:])
    assert await shipper.flush(5)
    assert usage_ids(engine) == [row["id"]]


async def test_bad_records_are_dead_lettered_and_the_rest_ships(
    spool_dir: Path, engine: Engine
) -> None:
    good = [usage_row() for _ in range(3)]
    no_status = usage_row()
    del no_status["status"]  # NOT NULL without a default: the database rejects it for good
    lines = [
        encode_records([usage_record(good[0])]),
        b"{this is not json\n",
        encode_records([{"kind": "mystery", "row": {"id": "x"}}]),
        encode_records([usage_record(no_status)]),
        encode_records([usage_record(usage_row(colour="red"))]),
        encode_records([usage_record(usage_row(ts="yesterday"))]),
        encode_records([usage_record(good[1]), audit_record(audit_row()), usage_record(good[2])]),
    ]
    write_orphan(spool_dir, "00000000000000000001-1-00000000.seg", b"".join(lines))

    shipper = Shipper(spool_dir, engine, interval_s=0.01, batch=100)
    assert await shipper.flush(5)
    assert sorted(usage_ids(engine)) == sorted(r["id"] for r in good)
    assert count(engine, UsageEvent) == 3 and len(audit_ids(engine)) == 1
    assert shipper.dead_lettered == 5 and shipper.shipped == 4
    entries = [orjson.loads(x) for x in shipper.dead_letter_path.read_bytes().splitlines()]
    reasons = " | ".join(e["reason"] for e in entries)
    for expected in (
        "unparseable",
        "unknown kind 'mystery'",
        "rejected by the database",
        "unknown columns for usage_events: colour",
        "bad timestamp",
    ):
        assert expected in reasons
    rejected = next(e for e in entries if "rejected" in e["reason"])
    assert orjson.loads(rejected["line"])["row"]["id"] == no_status["id"]  # kept verbatim
    assert list_segments(spool_dir) == []


async def test_duplicate_ids_in_one_batch_are_not_an_error(spool_dir: Path, engine: Engine) -> None:
    row = usage_row()
    data = encode_records([usage_record(row), usage_record({**row, "status": 500})])
    write_orphan(spool_dir, "00000000000000000001-1-00000000.seg", data)
    shipper = Shipper(spool_dir, engine, interval_s=0.01)
    assert await shipper.flush(5)
    assert usage_ids(engine) == [row["id"]] and shipper.dead_lettered == 0
