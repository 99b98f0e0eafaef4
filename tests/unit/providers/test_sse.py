"""The incremental SSE parser: events split anywhere, every line ending, comments, names."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from steward.providers._sse import SSEDecoder, SSEEvent, aiter_sse


def _feed_all(chunks: list[bytes]) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    return events + decoder.flush()


def _bytewise(raw: bytes) -> list[bytes]:
    return [raw[i : i + 1] for i in range(len(raw))]


STREAM = (
    b'event: message_start\ndata: {"a": 1}\n\n'
    b": keep-alive comment\n\n"
    b"data: first line\ndata: second line\n\n"
    b"event: ping\ndata: {}\n\n"
    b"data: caf\xc3\xa9 \xe2\x82\xac\n\n"
    b"data: [DONE]\n\n"
)
EXPECTED: list[SSEEvent] = [
    ("message_start", '{"a": 1}'),
    (None, "first line\nsecond line"),
    ("ping", "{}"),
    (None, "café €"),
    (None, "[DONE]"),
]


def test_whole_stream_in_one_chunk() -> None:
    assert _feed_all([STREAM]) == EXPECTED


def test_every_split_point_gives_the_same_events() -> None:
    for cut in range(len(STREAM) + 1):
        assert _feed_all([STREAM[:cut], STREAM[cut:]]) == EXPECTED, cut


def test_byte_by_byte() -> None:
    assert _feed_all(_bytewise(STREAM)) == EXPECTED


@pytest.mark.parametrize("newline", [b"\r\n", b"\r"], ids=["crlf", "cr"])
def test_other_line_endings(newline: bytes) -> None:
    raw = STREAM.replace(b"\n", newline)
    assert _feed_all([raw]) == EXPECTED
    assert _feed_all(_bytewise(raw)) == EXPECTED


def test_crlf_split_between_chunks_is_one_line_ending() -> None:
    assert _feed_all([b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]) == [(None, "a\nb")]


def test_event_is_delivered_as_soon_as_its_blank_line_arrives() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: x\n") == []
    assert decoder.feed(b"\n") == [(None, "x")]
    assert decoder.feed(b"data: y\n\ndata: z") == [(None, "y")]
    assert decoder.flush() == [(None, "z")]


def test_field_syntax_details() -> None:
    raw = (
        b"data:no-space\n\n"  # the space after the colon is optional
        b"data:  two spaces\n\n"  # only one is removed
        b"data\n\n"  # a field name alone is an empty value
        b"id: 7\nretry: 100\nfoo: bar\ndata: x\n\n"  # id, retry and unknown fields are ignored
        b"event: lonely\n\n"  # no data: nothing is dispatched and the name is reset
        b"data: after\n\n"
    )
    assert _feed_all([raw]) == [
        (None, "no-space"),
        (None, " two spaces"),
        (None, ""),
        (None, "x"),
        (None, "after"),
    ]


def test_leading_byte_order_mark_is_ignored_even_when_split() -> None:
    raw = b"\xef\xbb\xbfdata: x\n\n"
    assert _feed_all([raw]) == [(None, "x")]
    assert _feed_all(_bytewise(raw)) == [(None, "x")]


def test_invalid_utf8_is_replaced_not_raised() -> None:
    assert _feed_all([b"data: \xff\n\n"]) == [(None, "\ufffd")]


async def test_aiter_sse_over_an_async_byte_stream() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for cut in range(0, len(STREAM), 7):
            yield STREAM[cut : cut + 7]

    assert [event async for event in aiter_sse(chunks())] == EXPECTED
