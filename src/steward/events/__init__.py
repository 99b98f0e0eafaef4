"""events."""

from steward.events.shipper import Shipper
from steward.events.sink import EventSink
from steward.events.spool import Spool, SpoolError

__all__ = ["EventSink", "Shipper", "Spool", "SpoolError"]
