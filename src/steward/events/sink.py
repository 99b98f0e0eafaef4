"""The facade the gateway records through: wrap rows as spool records and append them durably."""

from __future__ import annotations

from typing import Any

from steward.events.ids import new_id
from steward.events.spool import Spool


def _record(kind: str, row: dict[str, Any]) -> dict[str, Any]:
    return {"kind": kind, "row": row if "id" in row else {"id": new_id(), **row}}


def usage_record(row: dict[str, Any]) -> dict[str, Any]:
    """A usage-event record (one per gateway request); an id is added if the row has none."""
    return _record("usage", row)


def audit_record(row: dict[str, Any]) -> dict[str, Any]:
    """An audit-event record (a decision or change); an id is added if the row has none."""
    return _record("audit", row)


class EventSink:
    """Durable event emission for the request path."""

    usage_record = staticmethod(usage_record)
    audit_record = staticmethod(audit_record)

    def __init__(self, spool: Spool) -> None:
        self.spool = spool

    async def emit(self, *records: dict[str, Any]) -> None:
        """Append the records in one write; returns once they are durable (one group-commit
        wait however many records)."""
        if records:
            await self.spool.append(list(records))


__all__ = ["EventSink", "audit_record", "usage_record"]
