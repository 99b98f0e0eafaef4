"""Validators for secrets: entropy, JWT headers, PEM block extents, placeholder values."""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections import Counter

import orjson

_PLACEHOLDER = re.compile(
    r"^(?:[*xX•.#_\-]+|\$\{?[A-Za-z_]\w*\}?|<.*>|\{\{?.*\}?\}|%(?:\(\w+\))?[sd]|\[.*\]"
    r"|(?:your|my|the)[_\-]?[a-z_]*"
    r"|changeme|change_me|password|passwd|secret|token|redacted|example|placeholder|null|none"
    r"|true|false|undefined|test|dummy|xxx+|\.\.\.)$",
    re.IGNORECASE,
)
_PEM_END = re.compile(r"-----END [A-Z0-9 ]{0,20}PRIVATE KEY(?: BLOCK)?-----")
# A PEM body: base64 lines, optional headers (Proc-Type, DEK-Info), literal or escaped newlines.
_PEM_BODY = re.compile(r"(?:[A-Za-z0-9+/=:, \-]|\r|\n|\\n|\\r)*")
# Matched against the reversed text before an END marker: lines (with literal or escaped
# newlines) of base64, read backwards. Reversing keeps the search linear.
_PEM_BODY_BACK = re.compile(r"(?:(?:\n\r?|n\\)?[A-Za-z0-9+/=]+)+")
_PEM_MAX = 16384


def shannon_entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    n = len(value)
    if n == 0:
        return 0.0
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def char_classes(value: str) -> int:
    """How many of lower, upper, digit and symbol occur in ``value``."""
    lower = upper = digit = other = 0
    for ch in value:
        if ch.islower():
            lower = 1
        elif ch.isupper():
            upper = 1
        elif ch.isdigit():
            digit = 1
        else:
            other = 1
    return lower + upper + digit + other


def is_placeholder(value: str) -> bool:
    """Template variables and stand-ins that are not real credentials."""
    return bool(_PLACEHOLDER.match(value))


_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


def looks_random(value: str, threshold: float) -> bool:
    """Long, mixed-class and high-entropy: the shape of a generated token (not a UUID)."""
    if len(value) < 20 or is_placeholder(value) or char_classes(value) < 2:
        return False
    if _UUID.match(value):
        return False
    # Hex strings carry 4 bits per char at most; scale the bar for them.
    bar = min(threshold, 3.0) if all(c in "0123456789abcdefABCDEF" for c in value) else threshold
    if any(value.count(ch) > len(value) // 3 for ch in set(value[:4])):
        return False
    return shannon_entropy(value) >= bar


def password_ok(value: str) -> bool:
    """A literal password value, not a placeholder or a code expression."""
    if not 6 <= len(value) <= 128 or is_placeholder(value):
        return False
    return not any(ch in value for ch in "()[]{}$<>")


def jwt_ok(value: str) -> bool:
    """Three base64url parts whose header decodes to a JSON object with an ``alg``."""
    header = value.split(".", 1)[0]
    try:
        raw = base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))
        parsed = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        return False
    return isinstance(parsed, dict) and "alg" in parsed


def pem_block(text: str, start: int, end: int) -> tuple[int, int] | None:
    """Extend a ``-----BEGIN ... PRIVATE KEY-----`` header to its END marker.

    Without an END marker (a truncated paste, or a stream chunk), the finding runs to the end
    of the base64 body, so the key material is still covered.
    """
    limit = min(len(text), start + _PEM_MAX)
    m = _PEM_END.search(text, end, limit)
    if m is not None and _PEM_BODY.fullmatch(text, end, m.start()):
        return start, m.end()
    body = _PEM_BODY.match(text, end, limit)
    stop = body.end() if body else end
    return start, stop


def pem_tail(text: str, start: int, end: int) -> tuple[int, int] | None:
    """Extend an ``-----END ... PRIVATE KEY-----`` marker back over the base64 body above it."""
    lo = max(0, start - _PEM_MAX)
    m = _PEM_BODY_BACK.match(text[lo:start][::-1])
    if m is None or m.end() < 16:
        return start, end
    return start - m.end(), end


def b64_instructions(value: str) -> bool:
    """A base64 blob that decodes to readable text containing instructions to a model."""
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), validate=False)
        decoded = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return False
    printable = sum(ch.isprintable() or ch.isspace() for ch in decoded)
    if printable < 0.95 * max(1, len(decoded)):
        return False
    lowered = decoded.lower()
    return any(
        w in lowered
        for w in ("ignore", "instruction", "system prompt", "you are", "disregard", "jailbreak")
    )
