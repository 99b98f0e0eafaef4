"""Crash-test writer: appends events from several concurrent tasks and prints each event id only
after append() returned (the moment a gateway would send its response). The test SIGKILLs it.

usage: python _crash_writer.py SPOOL_DIR SYNC_MODE ACK_FILE
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from steward.events.ids import new_id
from steward.events.sink import EventSink, audit_record, usage_record
from steward.events.spool import Spool

TASKS = 16


async def worker(sink: EventSink, ack_fd: int, n: int) -> None:
    i = 0
    while True:
        i += 1
        now = datetime.now(UTC).isoformat()
        row = {
            "id": new_id(),
            "ts": now,
            "request_id": f"r{n}-{i}",
            "endpoint": "chat",
            "status": 200,
            "input_tokens": i,
            "tags": {"task": n},
        }
        records = [usage_record(row)]
        if i % 5 == 0:
            records.append(
                audit_record(
                    {
                        "id": new_id(),
                        "ts": now,
                        "actor_type": "key",
                        "action": "gateway.authorize",
                        "outcome": "denied",
                    }
                )
            )
        await sink.emit(*records)
        # Acknowledged: one write per id so a kill never leaves an id half-printed unnoticed.
        os.write(ack_fd, "".join(r["row"]["id"] + "\n" for r in records).encode())


async def main() -> None:
    spool_dir, mode, ack_path = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    spool = Spool(spool_dir, sync=mode, segment_bytes=64 * 1024)  # type: ignore[arg-type]
    await spool.start()
    ack_fd = os.open(ack_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    sink = EventSink(spool)
    await asyncio.gather(*(worker(sink, ack_fd, n) for n in range(TASKS)))


if __name__ == "__main__":
    asyncio.run(main())
