"""Turn a DetectorConfig into specs and one hyperscan database."""

from __future__ import annotations

import importlib
import re
from typing import Any

import hyperscan

from ._injection import injection_specs
from ._pii import pii_specs
from ._secrets import PEM_MAX_LEN, secret_specs
from ._spec import Spec
from .config import CustomRegex, DetectorConfig
from .findings import GuardConfigError

CONFIDENTIAL = "confidential"
_BASE_FLAGS = hyperscan.HS_FLAG_UTF8
_UNBOUNDED_CAP = PEM_MAX_LEN
_HS_CODEPOINT = re.compile(r"\\x\{([0-9A-Fa-f]{1,6})\}")
_SYNTAX_HINT = (
    "The scanner compiles patterns with hyperscan: lookarounds, backreferences, atomic groups "
    "and patterns that can match an empty string are not supported (use \\b for boundaries)."
)


def build_specs(config: DetectorConfig) -> list[Spec]:
    """Every enabled spec: built-in detectors, term lists and custom regexes."""
    specs: list[Spec] = []
    if config.pii:
        specs += pii_specs(tuple(config.phone_regions))
    if config.secrets:
        specs += secret_specs(config.secret_keyword_distance, config.entropy_threshold)
    if config.injection:
        specs += injection_specs()
    specs += term_specs(config.terms, config.term_score)
    specs += [custom_spec(name, rx) for name, rx in config.regexes.items()]
    allowed = set(config.entities) if config.entities is not None else None
    disabled = set(config.disabled_entities)
    return [
        s for s in specs
        if s.entity not in disabled and (allowed is None or s.entity in allowed)
    ]


def _escape_term(term: str) -> str:
    out = []
    for ch in term:
        if ch == " ":
            out.append(r"\s+")
        elif ch.isalnum() or ord(ch) > 127:
            out.append(ch)
        else:
            out.append("\\" + ch)
    return "".join(out)


def term_specs(terms: dict[str, list[str]], score: float) -> list[Spec]:
    """One caseless literal per distinct term; whitespace inside a term matches any space."""
    specs = []
    for name, words in terms.items():
        # Runs of whitespace in a term are collapsed, and match any run of whitespace.
        seen: set[str] = set()
        for raw in words:
            term = " ".join(raw.split())
            key = term.casefold()
            if not term or key in seen:
                continue
            seen.add(key)
            specs.append(Spec(
                "TERM", CONFIDENTIAL, "terms", _escape_term(term), score, caseless=True,
                ucp=not term.isascii(), bounded=True, max_len=len(term) + 8, label=name,
            ))
    return specs


def _max_width(pattern: str) -> int:
    """The longest match of ``pattern`` per Python's parser, capped for unbounded ones."""
    try:
        parser: Any = importlib.import_module("re._parser")
        high = int(parser.parse(_to_python(pattern)).getwidth()[1])
    except Exception:  # noqa: BLE001 - hyperscan-only syntax; fall back to the cap
        return _UNBOUNDED_CAP
    return min(high, _UNBOUNDED_CAP)


def _to_python(pattern: str) -> str:
    return _HS_CODEPOINT.sub(lambda m: f"\\U{int(m.group(1), 16):08x}", pattern)


def start_finder(spec: Spec) -> tuple[re.Pattern[str], int] | None:
    """A Python twin of the spec's pattern anchored at the end, and how far back to look.

    Hyperscan reports where a match ends; tracking where it starts (HS_FLAG_SOM_LEFTMOST)
    makes the scan ~10x slower. So the database is compiled without it, and the leftmost start
    of each candidate is found afterwards by searching a short window before its end with this
    twin (``search(text, end - window, end)`` with ``\\Z`` at ``end``). None when Python
    cannot compile the pattern; that spec then falls back to hyperscan's own start tracking.
    """
    flags = re.IGNORECASE if spec.caseless else 0
    if not spec.ucp:
        flags |= re.ASCII  # hyperscan's \b, \w and caseless are ASCII-only without UCP
    try:
        twin = re.compile(f"(?:{_to_python(spec.pattern)})\\Z", flags)
    except re.error:
        return None
    # the look-back must cover the longest value the spec allows (JWTs run to 2 KB)
    return twin, max(spec.max_len, _max_width(spec.pattern))


def custom_spec(name: str, rx: str | CustomRegex) -> Spec:
    """A spec for one customer regex, validated now so a bad one fails at load."""
    custom = CustomRegex(pattern=rx) if isinstance(rx, str) else rx
    spec = Spec(
        "CUSTOM", custom.data_class, "regex", custom.pattern, custom.score,
        caseless=custom.case_insensitive, max_len=_max_width(custom.pattern), label=name,
    )
    try:
        compile_database([spec], [start_finder(spec) is None])
    except GuardConfigError as exc:
        raise GuardConfigError(
            f"guard.regexes.{name}: cannot compile {custom.pattern!r}: {exc}. {_SYNTAX_HINT}"
        ) from None
    return spec


def flags_of(spec: Spec, som: bool = False) -> int:
    """Hyperscan flags for one spec (``som``: hyperscan tracks the start of match)."""
    flags = _BASE_FLAGS
    if som:
        flags |= hyperscan.HS_FLAG_SOM_LEFTMOST
    if spec.caseless:
        flags |= hyperscan.HS_FLAG_CASELESS
    if spec.ucp:
        flags |= hyperscan.HS_FLAG_UCP
    return flags


def compile_database(specs: list[Spec], som: list[bool] | None = None) -> hyperscan.Database:
    """One block-mode database; a pattern's id is its index in ``specs``."""
    som = som or [False] * len(specs)
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    try:
        db.compile(
            expressions=[s.pattern.encode("utf-8") for s in specs],
            ids=list(range(len(specs))),
            elements=len(specs),
            flags=[flags_of(s, m) for s, m in zip(specs, som, strict=True)],
        )
    except hyperscan.error as exc:
        raise GuardConfigError(_culprit(specs, som, exc)) from None
    return db


def _culprit(specs: list[Spec], som: list[bool], exc: Exception) -> str:
    """Name the pattern that broke a combined compile (compiles them one by one)."""
    message = exc.args[0] if exc.args else str(exc)
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    if len(specs) == 1:
        return str(message)
    for spec, m in zip(specs, som, strict=True):
        try:
            compile_database([spec], [m])
        except GuardConfigError as single:
            where = spec.label or spec.detector
            return f"{spec.entity} pattern {where!r} ({spec.pattern!r}): {single}"
    return str(message)
