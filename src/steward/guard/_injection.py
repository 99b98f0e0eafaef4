"""Prompt-injection and jailbreak heuristics, for prompts and for tool results."""

from __future__ import annotations

import base64
import re

from ._secret_checks import b64_instructions
from ._spec import Spec

INJECTION = "injection"
ENTITY = "PROMPT_INJECTION"

_S = r"\s+"
_QUAL = r"(?:(?:all|any|the|your|my|these|those|every|of)\s+){0,3}"
_PRIOR = r"(?:previous|prior|above|earlier|preceding|former|initial|original|system|old)"
_RULES = (
    r"(?:instructions?|prompts?|rules|directions|guidelines|directives|context|messages?"
    r"|commands?|constraints|guardrails|policies|programming)"
)
_HIDDEN = r"(?:system\s+prompt|system\s+message|initial\s+(?:prompt|instructions)" \
          r"|hidden\s+(?:prompt|instructions)|developer\s+(?:message|prompt)|pre-?prompt)"


_B64_WORDS = (
    "ignore", "Ignore", "IGNORE", "instructions", "Instructions", "INSTRUCTIONS", "system prompt",
    "disregard", "Disregard", "you are now", "You are now", "jailbreak",
)
_B64_FWD = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_B64_BACK = re.compile(r"[A-Za-z0-9+/]*")
_B64_MAX = 4096


def _b64_fragments(word: str) -> list[str]:
    """The base64 text that ``word`` always encodes to, at each of the 3 byte alignments."""
    out = []
    for k in range(3):
        encoded = base64.b64encode(b"\0" * k + word.encode()).decode().rstrip("=")
        lead = (4 * k + 2) // 3  # chars that still carry padding bits of the prefix
        tail = (len(encoded) * 6 - (k + len(word)) * 8) // 6 + 1  # chars mixing in the suffix
        out.append(encoded[lead : len(encoded) - tail])
    return [f for f in out if len(f) >= 6]


def _b64_trigger() -> str:
    """A literal alternation that fires only inside base64 carrying an instruction word."""
    frags = sorted({f for w in _B64_WORDS for f in _b64_fragments(w)})
    return "|".join(re.escape(f).replace("/", r"\/") for f in frags)


def _b64_blob(text: str, start: int, end: int) -> tuple[int, int] | None:
    """Grow the fragment to the whole base64 blob around it (at least 24 characters)."""
    back = _B64_BACK.match(text[max(0, start - _B64_MAX) : start][::-1])
    fwd = _B64_FWD.match(text, end, min(len(text), end + _B64_MAX))
    lo = start - (back.end() if back else 0)
    hi = fwd.end() if fwd else end
    return (lo, hi) if hi - lo >= 24 else None


def injection_specs() -> list[Spec]:
    """Heuristic rules, each with its own score (how rarely it appears in benign text)."""

    def rule(name: str, pattern: str, score: float, max_len: int = 160) -> Spec:
        return Spec(ENTITY, INJECTION, f"injection.{name}", pattern, score, caseless=True,
                    max_len=max_len)

    return [
        rule("ignore_instructions",
             rf"\b(?:ignore|disregard|forget|override|bypass|skip|drop)\s+{_QUAL}{_PRIOR}"
             rf"(?:\s+\w+)?\s+{_RULES}\b", 0.9),
        rule("ignore_everything",
             r"\b(?:ignore|disregard|forget)\s+(?:everything|all)\s+(?:(?:you\s+(?:were|have\s+been)"
             r"\s+told)|(?:above|before|previously|so\s+far))\b", 0.9),
        rule("reveal_prompt",
             rf"\b(?:reveal|print|show|output|repeat|leak|display|dump|tell\s+me|what\s+is|what's)"
             rf"\s+(?:\w+\s+){{0,3}}{_HIDDEN}\b", 0.85),
        rule("override_prompt",
             rf"\b(?:disregard|ignore|forget|override|bypass)\s+(?:\w+\s+){{0,2}}{_HIDDEN}\b", 0.9),
        rule("dan", r"\b(?:you\s+are\s+now|act\s+as|become)\s+(?:a\s+|an\s+)?(?:DAN|STAN|DUDE"
                    r"|AIM|jailbroken|unfiltered|uncensored|unrestricted)\b", 0.9),
        rule("do_anything_now", r"\bdo\s+anything\s+now\b", 0.85),
        rule("developer_mode",
             r"\b(?:developer|dev|god|debug|sudo|admin)\s+mode\s+(?:enabled|activated|on|engaged)\b"
             r"|\b(?:enable|activate|enter)\s+(?:developer|god|sudo|jailbreak)\s+mode\b", 0.85),
        rule("no_restrictions",
             r"\b(?:pretend|act|roleplay|role-play|imagine)\s+(?:to\s+be\s+|as\s+|that\s+you\s+are\s+)"
             r"(?:\w+\s+){0,4}(?:without|with\s+no|free\s+(?:of|from)|no)\s+(?:any\s+)?"
             r"(?:restrictions|filters|limits|limitations|rules|guidelines|censorship|ethics)\b",
             0.85),
        rule("no_ethics",
             r"\b(?:no|without|free\s+from)\s+(?:any\s+)?(?:ethical|moral|safety)\s+"
             r"(?:guidelines|restrictions|constraints|filters|boundaries)\b", 0.6),
        rule("new_instructions",
             r"\b(?:new|updated|real|actual|revised)\s+(?:system\s+)?instructions?\s*:", 0.7),
        rule("from_now_on", r"\bfrom\s+now\s+on,?\s+you\s+(?:will|must|are|shall|should)\b", 0.6),
        rule("chat_template_marker",
             r"<\|(?:im_start|im_end|system|endoftext|start_header_id|eot_id)\|>|\[/?INST\]"
             r"|<</?SYS>>", 0.75, max_len=24),
        rule("fake_system_header",
             r"(?:^|\n)[ \t]*(?:#{2,}|\*\*|\[)[ \t]*(?:system|new\s+instructions?|admin)"
             r"[ \t]*(?:\]|\*\*|:)?[ \t]*(?:\n|:)", 0.7, max_len=40),
        rule("begin_instructions",
             r"\b(?:BEGIN|START)\s+(?:SYSTEM\s+|NEW\s+|HIDDEN\s+)?INSTRUCTIONS\b", 0.75),
        rule("tool_hijack",
             r"\b(?:assistant|AI|model|agent),?\s+(?:you\s+must|must\s+now|should\s+now)\s+"
             r"(?:ignore|send|forward|email|upload|exfiltrate|call|execute|run)\b", 0.7),
        Spec(ENTITY, INJECTION, "injection.unicode_tags", r"[\x{E0000}-\x{E007F}]{2,}", 0.95,
             max_len=512),
        Spec(ENTITY, INJECTION, "injection.zero_width",
             r"[\x{200B}-\x{200D}\x{2060}\x{2062}-\x{2064}\x{FEFF}]{3,}", 0.7, max_len=512),
        Spec(ENTITY, INJECTION, "injection.bidi_override",
             r"[\x{202A}-\x{202E}\x{2066}-\x{2069}]", 0.55, max_len=3),
        Spec(ENTITY, INJECTION, "injection.base64_instructions", _b64_trigger(), 0.8,
             refine=_b64_blob, check=b64_instructions, max_len=512),
    ]
