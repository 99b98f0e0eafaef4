"""Incremental Server-Sent Events parsing (the WHATWG `text/event-stream` format).

Bytes arrive in arbitrary pieces: an event, a line or a UTF-8 sequence may be split across chunks,
lines may end in LF, CRLF or CR. `SSEDecoder.feed` returns the events each chunk completes, so an
adapter can parse inside its own read loop without another async generator layer.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

SSEEvent = tuple[str | None, str]
"""(event name or None, data): the `event:` field and the `data:` lines joined with '\\n'."""

_BOM = b"\xef\xbb\xbf"
_UTF8 = "utf-8"


class SSEDecoder:
    """Feed raw bytes, receive complete events. `id:` and `retry:` fields are ignored."""

    __slots__ = ("_buf", "_event", "_data", "_started")

    def __init__(self) -> None:
        self._buf = b""
        self._event: str | None = None
        self._data: list[str] = []
        self._started = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Consume one chunk; return the events it completed (often none or one)."""
        buf = self._buf + chunk if self._buf else chunk
        if not self._started:
            if len(buf) < len(_BOM) and _BOM.startswith(buf):
                self._buf = buf  # could still be a byte-order mark split across chunks
                return []
            self._started = True
            if buf.startswith(_BOM):
                buf = buf[len(_BOM) :]
        held = b""
        if b"\r" in buf:
            if buf.endswith(b"\r"):
                # May be the first half of a CRLF whose LF is in the next chunk.
                held, buf = b"\r", buf[:-1]
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        end = buf.rfind(b"\n")
        if end < 0:
            self._buf = buf + held
            return []
        self._buf = buf[end + 1 :] + held
        out: list[SSEEvent] = []
        for line in buf[:end].split(b"\n"):
            self._line(line, out)
        return out

    def flush(self) -> list[SSEEvent]:
        """End of stream: an unterminated last line or event is delivered rather than dropped."""
        rest, self._buf = self._buf, b""
        out: list[SSEEvent] = []
        if rest:
            for line in rest.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n"):
                self._line(line, out)
        self._line(b"", out)
        return out

    def _line(self, line: bytes, out: list[SSEEvent]) -> None:
        if not line:
            if self._data:
                out.append((self._event, "\n".join(self._data)))
                self._data = []
            self._event = None
            return
        if line[0] == 0x3A:  # ":" starts a comment (keep-alives)
            return
        name, sep, value = line.partition(b":")
        if sep and value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            self._data.append(value.decode(_UTF8, "replace"))
        elif name == b"event":
            self._event = value.decode(_UTF8, "replace") or None


async def aiter_sse(chunks: AsyncIterable[bytes]) -> AsyncIterator[SSEEvent]:
    """Parse an async byte stream into (event name | None, data) pairs."""
    decoder = SSEDecoder()
    async for chunk in chunks:
        for event in decoder.feed(chunk):
            yield event
    for event in decoder.flush():
        yield event
