"""The spool: durable appends, one line per record, per-process segments, group commit."""

from __future__ import annotations

import asyncio
import fcntl
import os
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from steward.events.spool import Spool, SpoolError, list_segments, write_cursor


def read_records(directory: Path) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for seg in list_segments(directory):
        out.extend(orjson.loads(line) for line in seg.read_bytes().splitlines())
    return out


async def test_append_writes_one_json_line_per_record(spool: Spool, spool_dir: Path) -> None:
    ts = datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    uid = uuid.UUID("01920000-0000-7000-8000-000000000000")
    await spool.append([{"kind": "usage", "row": {"id": "a", "ts": ts, "cost": Decimal("0.10")}}])
    await spool.append([{"kind": "audit", "row": {"id": uid}}, {"kind": "x", "row": {"n": 1}}])

    assert spool.segment is not None
    lines = spool.segment.read_bytes().splitlines()
    assert len(lines) == 3
    first = orjson.loads(lines[0])
    assert first["row"] == {"id": "a", "ts": "2025-01-02T03:04:05.678000Z", "cost": "0.10"}
    assert orjson.loads(lines[1])["row"]["id"] == str(uid)
    assert spool.records == 3 and spool.appends == 2


async def test_naive_datetimes_are_taken_as_utc(spool: Spool) -> None:
    await spool.append([{"row": {"ts": datetime(2025, 1, 1, 12, 0)}}])
    assert spool.segment is not None
    assert b'"2025-01-01T12:00:00Z"' in spool.segment.read_bytes()


async def test_unserialisable_record_fails_and_writes_nothing(spool: Spool) -> None:
    with pytest.raises(TypeError):
        await spool.append([{"row": {"x": object()}}])
    assert spool.segment is not None
    assert spool.segment.read_bytes() == b""


async def test_active_segment_is_locked_and_released_on_close(spool_dir: Path) -> None:
    spool = Spool(spool_dir, sync="write")
    await spool.start()
    await spool.append([{"n": 1}])
    seg = spool.segment
    assert seg is not None and seg.parent == spool_dir and seg.name.endswith(".seg")
    with open(seg, "rb") as f:
        with pytest.raises(BlockingIOError):
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        await spool.close()
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # free once the writer is gone
    assert seg.exists()


async def test_empty_segment_is_removed_on_close(spool_dir: Path) -> None:
    spool = Spool(spool_dir)
    await spool.start()
    await spool.close()
    assert list_segments(spool_dir) == []


async def test_append_after_close_is_an_error(spool_dir: Path) -> None:
    spool = Spool(spool_dir)
    await spool.start()
    await spool.close()
    with pytest.raises(SpoolError):
        await spool.append([{"n": 1}])


@pytest.mark.parametrize("sync", ["fsync", "write"])
async def test_rotation_keeps_every_record_in_order(spool_dir: Path, sync: str) -> None:
    spool = Spool(spool_dir, sync=sync, segment_bytes=4096)  # type: ignore[arg-type]
    await spool.start()
    for i in range(300):
        await spool.append([{"n": i, "pad": "x" * 40}])
    segments = list_segments(spool_dir)
    assert len(segments) > 3
    assert all(s.stat().st_size <= 4096 for s in segments)
    assert [r["n"] for r in read_records(spool_dir)] == list(range(300))
    # Only the newest segment is still held by the writer.
    assert spool.owned_segments() == (segments[-1].name,)
    await spool.close()


async def test_processes_sharing_a_directory_write_separate_segments(spool_dir: Path) -> None:
    a, b = Spool(spool_dir), Spool(spool_dir)
    await a.start()
    await b.start()
    await asyncio.gather(a.append([{"w": "a"}]), b.append([{"w": "b"}]))
    assert a.segment != b.segment
    assert sorted(str(r["w"]) for r in read_records(spool_dir)) == ["a", "b"]
    await a.close()
    await b.close()


async def test_concurrent_appends_share_fdatasyncs(spool: Spool, spool_dir: Path) -> None:
    await spool.append([{"warm": True}])
    syncs_before = spool.syncs
    await asyncio.gather(*(spool.append([{"n": i}]) for i in range(200)))
    syncs = spool.syncs - syncs_before
    assert 1 <= syncs <= 20, f"{syncs} fdatasync cycles for 200 concurrent appends"
    assert sorted(int(str(r["n"])) for r in read_records(spool_dir)[1:]) == list(range(200))


async def test_write_mode_never_fsyncs(spool_dir: Path) -> None:
    spool = Spool(spool_dir, sync="write")
    await spool.start()
    await asyncio.gather(*(spool.append([{"n": i}]) for i in range(50)))
    assert spool.syncs == 0 and spool.records == 50
    await spool.close()


async def test_depth_counts_unshipped_bytes(spool: Spool) -> None:
    assert spool.depth() == 0
    await spool.append([{"n": 1}, {"n": 2}])
    assert spool.segment is not None
    size = spool.segment.stat().st_size
    assert spool.depth() == size
    write_cursor(spool.segment, size - 8)
    assert spool.depth() == 8


async def test_cancelled_append_does_not_break_later_ones(spool: Spool) -> None:
    task = asyncio.create_task(spool.append([{"n": 1}]))
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await spool.append([{"n": 2}])
    assert spool.segment is not None
    assert len(spool.segment.read_bytes().splitlines()) == 2


async def test_no_temporary_files_left_behind(spool: Spool, spool_dir: Path) -> None:
    await spool.append([{"n": 1}])
    assert [n for n in os.listdir(spool_dir) if n.startswith(".")] == []


async def test_close_completes_appends_in_flight(spool_dir: Path) -> None:
    spool = Spool(spool_dir)
    await spool.start()
    pending = [asyncio.ensure_future(spool.append([{"n": i}])) for i in range(10)]
    await asyncio.sleep(0)  # the appends have written; their sync may not have started
    await spool.close()
    await asyncio.gather(*pending)  # none failed: all were synced before the close finished
    assert len(read_records(spool_dir)) == 10
