"""UUIDv7 identifiers (RFC 9562): time-ordered, so ids sort by creation and index well."""

from __future__ import annotations

import os
import threading
import time
import uuid

_last_ms = 0
_seq = 0
_lock = threading.Lock()  # ids are made on the event loop and in admin threads


def uuid7() -> uuid.UUID:
    """A UUIDv7: 48-bit Unix ms, a 12-bit sequence within the millisecond, 62 random bits."""
    with _lock:
        return _next()


def _next() -> uuid.UUID:
    global _last_ms, _seq
    ms = time.time_ns() // 1_000_000
    if ms <= _last_ms:
        ms = _last_ms
        _seq = (_seq + 1) & 0xFFF
        if _seq == 0:  # sequence exhausted within one millisecond: borrow the next one
            ms += 1
            _last_ms = ms
    else:
        _last_ms = ms
        _seq = int.from_bytes(os.urandom(2), "big") & 0x3FF
    rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | _seq << 64 | 0b10 << 62 | rand
    return uuid.UUID(int=value)


def new_id() -> str:
    return str(uuid7())


def short_id(prefix: str) -> str:
    """A readable principal id such as `team_0192f3...` (UUIDv7 hex, time-ordered)."""
    return f"{prefix}_{uuid7().hex}"
