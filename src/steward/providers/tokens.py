"""Offline token estimates, close to OpenAI's BPE counts (cl100k/o200k) without vocabulary files.

`count_tokens` follows the pre-tokenizer rules those encodings share: a run of letters is one
token and takes one leading space or punctuation mark with it; numbers split into groups of up to
three digits; a run of punctuation is one token; whitespace runs are tokens unless a single space
joins the next word. On top, camelCase humps and acronym ends start new tokens, and long words,
long digit runs and non-ASCII text (by its UTF-8 bytes) add fractional tokens.

A regex `findall` over those rules costs ~150 µs per 4 KiB in CPython (one match object per
token), so the rules are evaluated bit-parallel instead: each byte's class becomes a bit in one of
a few big integers, token starts are found with shifts and masks, and `int.bit_count` counts them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

__all__ = [
    "count_tokens",
    "estimate_chat_tokens",
    "estimate_embedding_tokens",
    "estimate_messages_tokens",
]

# Byte classes, one bit each; bytes >= 0x80 (UTF-8 sequences) count as letters.
_LETTER, _UPPER, _DIGIT, _PUNCT, _SPACE, _OTHER_WS = 1, 2, 4, 8, 16, 32


def _byte_class(i: int) -> int:
    if i >= 0x80:
        return _LETTER
    ch = chr(i)
    if ch.isalpha():
        return _LETTER | _UPPER if ch.isupper() else _LETTER
    if ch.isdigit():
        return _DIGIT
    if ch == " ":
        return _SPACE
    return _OTHER_WS if ch.isspace() else _PUNCT


_CLASS_TABLE = bytes(_byte_class(i) for i in range(256))
# Texts are measured in slices of at most this many bytes: big-int temporaries stay small
# (larger ones trip glibc's heap trimming and double the cost).
_SLICE = 4096
_ONES = int.from_bytes(b"\x01" * _SLICE, "little")  # bit 0 of every byte of a slice
_SEAM_MARKS = (b" ", b",", b'"', b".", b":", b";", b")", b"]", b"}")
_SEAM_TRIES = 8


def count_tokens(text: str) -> int:
    """Estimated BPE token count of `text`: deterministic, ~4 characters a token for English."""
    if not text:
        return 0
    data = text.encode("utf-8", "surrogatepass")
    # Fractions are kept in 24ths and rounded up once per text: a ceiling is subadditive, so
    # joining two texts never costs more than one token beyond their separate counts.
    starts, frac = 0, 8 * (len(data) - len(text))  # a third of a token per extra UTF-8 byte
    n, pos = len(data), 0
    while pos < n:
        end = n if n - pos <= _SLICE else _seam(data, pos + _SLICE // 2, pos + _SLICE)
        s, f = _count_slice(data[pos:end])
        starts += s
        frac += f
        pos = end
    return starts - (-frac // 24)


def _seam(data: bytes, low: int, high: int) -> int:
    """Where to end a slice, in [low, high]: before a space that follows a non-space, or before
    punctuation that follows a letter or digit. No rule looks across such a seam, so the slices'
    counts add up to the whole text's; failing that (no such place), cut at `high`."""
    for mark in _SEAM_MARKS:
        cut = data.rfind(mark, low, high)
        for _ in range(_SEAM_TRIES):
            if cut <= low:
                break
            before = _CLASS_TABLE[data[cut - 1]]
            if before & ((_LETTER | _DIGIT) if mark != b" " else (_LETTER | _DIGIT | _PUNCT)):
                return cut
            cut = data.rfind(mark, low, cut)
    return high


def _count_slice(data: bytes) -> tuple[int, int]:
    """Token starts and the fractional extra (in 24ths) of one slice of UTF-8 bytes.

    Each class is an int with bit 8*i set when byte i has it; `x << 8` moves every byte's
    previous neighbour onto it and `x >> 8` its next one. `a ^ (a & b)` is `a and not b`.
    """
    x = int.from_bytes(data.translate(_CLASS_TABLE), "little")
    letter = x & _ONES
    upper = (x >> 1) & _ONES
    digit = (x >> 2) & _ONES
    punct = (x >> 3) & _ONES
    space = (x >> 4) & _ONES
    ws = space | ((x >> 5) & _ONES)
    lower = letter ^ upper
    # Letters continuing a word, except camelCase humps ("getUser") and acronym ends ("HTTPServer").
    cont = letter & (letter << 8)
    cont ^= (upper & (lower << 8)) | (upper & (upper << 8) & (lower >> 8))
    # Ends of 9-letter stretches: a long word gains an eighth of a token per letter past eight.
    c2 = cont & (cont << 8)
    c4 = c2 & (c2 << 16)
    long_letters = c4 & (c4 << 32)
    # Numbers split every three digits: tokens start at offsets 0, 3 and 6 of a digit run, and
    # digits from offset 9 on add a third of a token each.
    digit_cont = digit & (digit << 8)
    d3 = digit_cont & (digit_cont << 16)  # digits with at least three before them in the run
    d6 = d3 & (d3 << 24)  # ... at least six
    d7 = d6 & (d6 << 8)  # ... at least seven
    d9 = d7 & (d7 << 16)  # ... at least nine
    # A punctuation run is a token, unless it is one mark leading a word ("(bar", ".name").
    punct_start = punct ^ (punct & (punct << 8))
    joined_punct = punct_start & (letter >> 8)
    joined_punct ^= joined_punct & (space << 8)
    # A whitespace run is a token, unless it is one space leading a word or punctuation run.
    ws_start = ws ^ (ws & (ws << 8))
    joined_space = space & ((letter | punct) >> 8)
    joined_space ^= joined_space & (ws << 8)
    # A newline followed by indentation is two tokens ("\n", "   ", " return").
    indent = (ws ^ space) & (space >> 8) & (space >> 16)
    starts = (
        (letter ^ cont)
        | (digit ^ digit_cont)
        | (d3 ^ (d3 & (d3 << 8)))
        | (d6 ^ d7)
        | (punct_start ^ joined_punct)
        | (ws_start ^ joined_space)
        | (indent << 1)  # bit 1: may coincide with a whitespace-run start
    )
    frac = 8 * d9.bit_count() + 3 * long_letters.bit_count()
    return starts.bit_count(), frac


# Framing the chat templates add (OpenAI's cookbook: 3 per message, 1 per name, 3 to prime
# the reply; Anthropic's are similar). Images are charged a typical fixed size.
_PER_MESSAGE = 3
_PER_NAME = 1
_REPLY_PRIMER = 3
_PER_TOOL = 8
_PER_TOOL_CALL = 3
_IMAGE_LOW = 85
_IMAGE = 765
_ANTHROPIC_IMAGE = 1_000
_ANTHROPIC_TOOLS_PROMPT = 300  # the tool-use system prompt Anthropic adds when tools are given


def _json_tokens(value: Any) -> int:
    """Tokens of a JSON value as the model sees it (strings as they are, others serialised)."""
    if value is None:
        return 0
    if isinstance(value, str):
        return count_tokens(value)
    try:
        return count_tokens(orjson.dumps(value).decode())
    except (TypeError, orjson.JSONEncodeError):
        return count_tokens(str(value))


def _openai_part_tokens(part: Any) -> int:
    if isinstance(part, str):
        return count_tokens(part)
    if not isinstance(part, Mapping):
        return 0
    kind = part.get("type")
    if kind == "text" or kind == "refusal":
        return count_tokens(_str(part.get(kind)))
    if kind == "image_url":
        image = part.get("image_url")
        low = isinstance(image, Mapping) and image.get("detail") == "low"
        return _IMAGE_LOW if low else _IMAGE
    if kind == "input_audio":
        # ~10 tokens a second of audio; base64 audio at 16 kbit/s is ~2.7 kB a second.
        data = part.get("input_audio")
        size = len(_str(data.get("data"))) if isinstance(data, Mapping) else 0
        return max(size // 270, 1)
    return _json_tokens(part)


def _openai_content_tokens(content: Any) -> int:
    if isinstance(content, str):
        return count_tokens(content)
    if isinstance(content, list):
        return sum(_openai_part_tokens(p) for p in content)
    return 0


def _openai_tool_calls_tokens(calls: Any) -> int:
    total = 0
    for call in _list(calls):
        fn = call.get("function") if isinstance(call, Mapping) else None
        if isinstance(fn, Mapping):
            total += _PER_TOOL_CALL + count_tokens(_str(fn.get("name")))
            total += count_tokens(_str(fn.get("arguments")))
    return total


def _tools_tokens(tools: Any, schema_keys: Iterable[str]) -> int:
    total = 0
    keys = tuple(schema_keys)
    for tool in _list(tools):
        if not isinstance(tool, Mapping):
            continue
        fn = tool.get("function")
        spec: Mapping[str, Any] = fn if isinstance(fn, Mapping) else tool
        total += _PER_TOOL + count_tokens(_str(spec.get("name")))
        total += count_tokens(_str(spec.get("description")))
        total += sum(_json_tokens(spec.get(k)) for k in keys)
    return total


def estimate_chat_tokens(body: Mapping[str, Any]) -> int:
    """Estimated prompt tokens of an OpenAI chat completions request body."""
    total = _REPLY_PRIMER
    for msg in _list(body.get("messages")):
        if not isinstance(msg, Mapping):
            continue
        total += _PER_MESSAGE + _openai_content_tokens(msg.get("content"))
        if msg.get("name"):
            total += _PER_NAME + count_tokens(_str(msg.get("name")))
        total += _openai_tool_calls_tokens(msg.get("tool_calls"))
    total += _tools_tokens(body.get("tools"), ("parameters",))
    fmt = body.get("response_format")
    if isinstance(fmt, Mapping) and isinstance(fmt.get("json_schema"), Mapping):
        total += _json_tokens(fmt["json_schema"].get("schema"))
    return total


def _anthropic_block_tokens(block: Any) -> int:
    if isinstance(block, str):
        return count_tokens(block)
    if not isinstance(block, Mapping):
        return 0
    kind = block.get("type")
    if kind == "text":
        return count_tokens(_str(block.get("text")))
    if kind == "thinking":
        return count_tokens(_str(block.get("thinking")))
    if kind in ("image", "document"):
        return _ANTHROPIC_IMAGE
    if kind == "tool_use":
        return (
            _PER_TOOL_CALL
            + count_tokens(_str(block.get("name")))
            + _json_tokens(block.get("input"))
        )
    if kind == "tool_result":
        return _PER_TOOL_CALL + _anthropic_content_tokens(block.get("content"))
    return _json_tokens(block)


def _anthropic_content_tokens(content: Any) -> int:
    if isinstance(content, str):
        return count_tokens(content)
    if isinstance(content, list):
        return sum(_anthropic_block_tokens(b) for b in content)
    return 0


def estimate_messages_tokens(body: Mapping[str, Any]) -> int:
    """Estimated input tokens of an Anthropic Messages request body."""
    total = _REPLY_PRIMER + _anthropic_content_tokens(body.get("system"))
    for msg in _list(body.get("messages")):
        if isinstance(msg, Mapping):
            total += _PER_MESSAGE + _anthropic_content_tokens(msg.get("content"))
    tools = _list(body.get("tools"))
    if tools:
        total += _ANTHROPIC_TOOLS_PROMPT + _tools_tokens(tools, ("input_schema",))
    return total


def estimate_embedding_tokens(input: str | list[Any]) -> int:
    """Estimated tokens of an embeddings `input`: a string, strings, or token-id arrays."""
    if isinstance(input, str):
        return count_tokens(input)
    total = 0
    for item in input:
        if isinstance(item, str):
            total += count_tokens(item)
        elif isinstance(item, list):
            total += len(item)
        elif isinstance(item, int):
            total += 1
    return total


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
