"""UTF-8 byte offsets (what hyperscan reports) to str offsets (what callers use)."""

from __future__ import annotations

import re

# Deleting UTF-8 continuation bytes leaves one byte per code point.
_CONTINUATION = bytes(range(0x80, 0xC0))
_SURROGATES = re.compile("[\ud800-\udfff]")


def encode(text: str) -> bytes:
    """UTF-8 bytes of ``text`` with lone surrogates replaced by U+FFFD.

    Both are one code point and three bytes, so offsets are unchanged; hyperscan's UTF-8 mode
    requires valid UTF-8, which surrogates (e.g. from ``surrogateescape``) are not.
    """
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATES.sub("\ufffd", text).encode("utf-8")


def char_offsets(data: bytes, offsets: list[int]) -> dict[int, int]:
    """Map each byte offset in ``offsets`` to its code-point offset, in one forward pass."""
    mapping: dict[int, int] = {}
    prev_byte = prev_char = 0
    for off in sorted(set(offsets)):
        prev_char += len(data[prev_byte:off].translate(None, _CONTINUATION))
        prev_byte = off
        mapping[off] = prev_char
    return mapping
