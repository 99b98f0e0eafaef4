"""Apply actions to findings: redact, mask, hash, pseudonymize (reversibly), or collect what must
block. Values never leave this module except as keyed hashes."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field

from steward.guard.profiles import Decision

_PLACEHOLDER = re.compile(r"<([A-Z][A-Z0-9_]*?)_(\d+)>")
TRANSFORMS = frozenset({"redact", "mask", "hash", "pseudonymize"})


@dataclass(frozen=True)
class Hit:
    """A finding in one text slot with the action decided for it."""

    entity: str
    data_class: str
    detector: str
    start: int
    end: int
    score: float
    label: str | None
    decision: Decision


class Keyed:
    """Keyed hashes (HMAC-SHA256) so equal values can be correlated without being stored."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def digest(self, value: str, n: int = 16) -> str:
        return hmac.new(
            self._key, value.encode("utf-8", "surrogatepass"), hashlib.sha256
        ).hexdigest()[:n]


@dataclass
class Pseudonyms:
    """value <-> `<ENTITY_n>` for one request. Numbering follows first occurrence, so a
    conversation replayed with its history gets the same placeholders every turn."""

    by_value: dict[tuple[str, str], str] = field(default_factory=dict)
    by_token: dict[str, str] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    # placeholders the caller may see restored: those made from the caller's own input.
    # Placeholders an output rule makes stay placeholders.
    restorable: frozenset[str] = frozenset()

    def seal_input(self) -> None:
        self.restorable = frozenset(self.by_token)

    def placeholder(self, entity: str, value: str) -> str:
        key = (entity, value)
        token = self.by_value.get(key)
        if token is None:
            n = self.counters.get(entity, 0) + 1
            self.counters[entity] = n
            token = f"<{entity}_{n}>"
            self.by_value[key] = token
            self.by_token[token] = value
        return token

    def restore(self, text: str) -> str:
        if not self.restorable or "<" not in text:
            return text
        allowed, values = self.restorable, self.by_token
        return _PLACEHOLDER.sub(
            lambda m: values[m.group(0)] if m.group(0) in allowed else m.group(0), text
        )

    @staticmethod
    def partial_tail(text: str) -> int:
        """Length of a trailing fragment that could still become a placeholder (`<EMAIL_AD`)."""
        i = text.rfind("<")
        if i < 0 or ">" in text[i:]:
            return 0
        tail = text[i + 1 :]
        if len(tail) > 48 or not all(c.isupper() or c.isdigit() or c == "_" for c in tail):
            return 0
        return len(text) - i


def replacement(hit: Hit, value: str, keyed: Keyed, pseudo: Pseudonyms) -> str:
    action = hit.decision.action
    if action == "redact":
        return f"[{hit.entity}]"
    if action == "mask":
        tail = value[-4:] if len(value) > 8 else ""
        return "****" + tail
    if action == "hash":
        return f"[{hit.entity}:{keyed.digest(value, 12)}]"
    return pseudo.placeholder(hit.entity, value)


def apply(text: str, hits: list[Hit], keyed: Keyed, pseudo: Pseudonyms) -> str:
    """The text with every transforming hit replaced (hits are sorted and non-overlapping)."""
    out: list[str] = []
    pos = 0
    for h in hits:
        if h.decision.action not in TRANSFORMS or h.start < pos:
            continue
        out.append(text[pos : h.start])
        out.append(replacement(h, text[h.start : h.end], keyed, pseudo))
        pos = h.end
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)
